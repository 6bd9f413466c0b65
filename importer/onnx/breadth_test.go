package onnx

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
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

// TestComposeRemap: a Remap after a Remap reads the first one's input, with each
// filled element keeping the fill of the table that filled it.
func TestComposeRemap(t *testing.T) {
	src := []float32{10, 20, 30}
	run := func(ls ...*layers.Remap) []float32 {
		x := src
		for _, l := range ls {
			y := make([]float32, len(l.Idx))
			l.Forward(y, x, nil, layers.Shape{len(x)}, 1)
			x = y
		}
		return x
	}
	for _, tc := range []struct{ a, b layers.Remap }{
		{layers.Remap{Idx: []int32{-1, 0, 1, 2, -1}, Fill: 1.5, InSize: 3, Out: layers.Shape{5}},
			layers.Remap{Idx: []int32{-1, 0, 2, 4, 3}, Fill: -2, InSize: 5, Out: layers.Shape{5}}},
		{layers.Remap{Idx: []int32{2, -1, 0}, Fill: 7, InSize: 3, Out: layers.Shape{3}},
			layers.Remap{Idx: []int32{1, 1, -1, 0}, Fill: 7, InSize: 3, Out: layers.Shape{4}}},
		{layers.Remap{Idx: []int32{2, -1, 0}, Fills: []float32{0, 4, 0}, InSize: 3, Out: layers.Shape{3}},
			layers.Remap{Idx: []int32{1, 2, -1}, Fill: 5, InSize: 3, Out: layers.Shape{3}}},
	} {
		a, b := tc.a, tc.b
		want := run(&a, &b)
		c := b
		c.Idx = append([]int32(nil), b.Idx...)
		composeRemap(&c, &a)
		if _, err := c.OutputShape(layers.Shape{3}); err != nil {
			t.Fatal(err)
		}
		got := run(&c)
		for k := range want {
			if got[k] != want[k] {
				t.Errorf("composed %v (fill %g, fills %v) gives %v, want %v", c.Idx, c.Fill, c.Fills, got, want)
				break
			}
		}
	}
}

// TestOpset6AxisBroadcast: Add/Mul with broadcast=1 and axis (opset 6) align the
// constant at axis, as the same model at opset 7 with the constant reshaped does; and
// Pad in wrap mode (opset 19) tiles the data.
func TestOpset6AxisBroadcast(t *testing.T) {
	model := func(opset int64, bdims []int64, attrs bool) *onnxpb.ModelProto {
		var at []*onnxpb.AttributeProto
		if attrs {
			at = []*onnxpb.AttributeProto{{Name: "broadcast", Type: onnxpb.AttributeProto_INT, I: 1}, {Name: "axis", Type: onnxpb.AttributeProto_INT, I: 1}}
		}
		return &onnxpb.ModelProto{IrVersion: 7, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: opset}}, Graph: &onnxpb.GraphProto{
			Node: []*onnxpb.NodeProto{
				{Name: "add", OpType: "Add", Input: []string{"x", "b"}, Output: []string{"a"}, Attribute: at},
				{Name: "mul", OpType: "Mul", Input: []string{"a", "b"}, Output: []string{"y"}, Attribute: at},
			},
			Initializer: []*onnxpb.TensorProto{floatInit("b", bdims, []float32{0.5, -2, 3})},
			Input:       []*onnxpb.ValueInfoProto{valueInfo("x", "N", 3, 2, 2)},
			Output:      []*onnxpb.ValueInfoProto{valueInfo("y", "N", 3, 2, 2)},
		}}
	}
	x := make([]float32, 12)
	for k := range x {
		x[k] = float32(k) - 5
	}
	var outs [2][]float32
	for k, m := range []*onnxpb.ModelProto{model(6, []int64{3}, true), model(7, []int64{3, 1, 1}, false)} {
		im, err := Read(marshal(t, m), "axis.onnx")
		if err != nil {
			t.Fatal(err)
		}
		ys, err := im.Graph.ReferenceN([][]float32{x}, 1)
		if err != nil {
			t.Fatal(err)
		}
		outs[k] = ys[0]
	}
	for k := range outs[0] {
		if outs[0][k] != outs[1][k] {
			t.Fatalf("opset 6 axis broadcast %v, opset 7 %v", outs[0], outs[1])
		}
	}
	if want := (x[4] + -2) * -2; outs[0][4] != want {
		t.Errorf("channel 1: got %g, want %g", outs[0][4], want)
	}
	// Pad wrap on W: [a b] -> [b a b a]
	m := model(19, []int64{3, 1, 1}, false)
	m.Graph.Node = []*onnxpb.NodeProto{{Name: "pad", OpType: "Pad", Input: []string{"x", "pads"}, Output: []string{"y"},
		Attribute: []*onnxpb.AttributeProto{{Name: "mode", Type: onnxpb.AttributeProto_STRING, S: []byte("wrap")}}}}
	m.Graph.Initializer = []*onnxpb.TensorProto{{Name: "pads", Dims: []int64{8}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{0, 0, 0, 1, 0, 0, 0, 1}}}
	m.Graph.Output[0] = valueInfo("y", "N", 3, 2, 4)
	im, err := Read(marshal(t, m), "wrap.onnx")
	if err != nil {
		t.Fatal(err)
	}
	ys, err := im.Graph.ReferenceN([][]float32{x}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := ys[0][:4]; got[0] != x[1] || got[1] != x[0] || got[2] != x[1] || got[3] != x[0] {
		t.Errorf("wrap pad row 0: %v from %v", got, x[:2])
	}
}
