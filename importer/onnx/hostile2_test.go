package onnx

import (
	"errors"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// TestSeqLensMessageBounded: a constant sequence_lens can be a large folded tensor
// (FuzzCompileONNX found a ConstantOfShape of 14M lengths feeding an LSTM). The error
// used to print every value (300 MB of formatting, seconds); it names one.
func TestSeqLensMessageBounded(t *testing.T) {
	m := recModel("GRU", 3)
	m.Graph.Node[1].Input = append(m.Graph.Node[1].Input, "lens")
	lens := make([]int32, 1<<20)
	m.Graph.Initializer = append(m.Graph.Initializer, &onnxpb.TensorProto{Name: "lens", Dims: []int64{int64(len(lens))},
		DataType: int32(onnxpb.TensorProto_INT32), Int32Data: lens})
	_, err := Read(marshal(t, m), "lens.onnx")
	if err == nil || !errors.Is(err, layers.ErrUnsupported) || !strings.Contains(err.Error(), "constant sequence_lens[0] = 0") {
		t.Fatalf("err = %v", err)
	}
	if n := len(err.Error()); n > 400 {
		t.Errorf("message is %d bytes: %.200s...", n, err.Error())
	}
}
