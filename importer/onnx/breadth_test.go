package onnx

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// kinds counts the layer types of a fixture's graph.
func kinds(t *testing.T, name string) map[string]int {
	t.Helper()
	m, err := Load(filepath.Join(fixtures, name+".onnx"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for i := 0; i < m.Graph.Len(); i++ {
		out[fmt.Sprintf("%T", m.Graph.Layer(i))]++
	}
	return out
}

// TestDecomposedLayerNormPattern checks that torch's LayerNorm below opset 17 becomes
// one LayerNorm layer with gamma and beta folded in, not the element-wise chain.
func TestDecomposedLayerNormPattern(t *testing.T) {
	for _, name := range []string{"torchb_layernorm_op11", "torchb_layernorm_op13"} {
		k := kinds(t, name)
		if k["*layers.LayerNorm"] != 2 || k["*layers.Merge"] != 0 || k["*layers.Affine"] != 0 || k["*layers.Unary"] != 0 {
			t.Errorf("%s: layers %v, want 2 LayerNorm and no Merge, Affine or Unary", name, k)
		}
	}
}

// TestBreadthLayers checks which layers carry the new op families (the numbers are
// checked against ORT by the runtime's zoo test).
func TestBreadthLayers(t *testing.T) {
	for name, want := range map[string]string{
		"helperb_remap_op13":      "*layers.Remap",
		"helperb_unary_op13":      "*layers.Unary",
		"torchb_lstm_y_yh_op13":   "*layers.Remap",
		"torchb_bilstm_y_yh_op13": "*layers.Remap",
	} {
		if k := kinds(t, name); k[want] == 0 {
			t.Errorf("%s: layers %v, want a %s", name, k, want)
		}
	}
	m, err := Load(filepath.Join("../../testdata/onnx_backend/pytorch-operator/test_operator_addconstant/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Graph.Meta("float64_io"); got == "" || m.Graph.Inputs()[0].DType != layers.Float32 {
		t.Errorf("DOUBLE model: float64_io %q, input type %v", got, m.Graph.Inputs()[0].DType)
	}
}
