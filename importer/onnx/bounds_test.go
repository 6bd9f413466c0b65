package onnx

import (
	"errors"
	"runtime"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// padModel is x(N,1,1,1) -> Pad(p on every spatial side) -> y: a 120-byte file whose
// output has (2p+1)^2 values a sample.
func padModel(p int64) *onnxpb.ModelProto {
	pads := &onnxpb.TensorProto{Name: "pads", Dims: []int64{8}, DataType: int32(onnxpb.TensorProto_INT64),
		Int64Data: []int64{0, 0, p, p, 0, 0, p, p}}
	return &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: "", Version: 13}},
		Graph: &onnxpb.GraphProto{
			Name:        "pad",
			Node:        []*onnxpb.NodeProto{{Name: "pad", OpType: "Pad", Input: []string{"x", "pads"}, Output: []string{"y"}}},
			Initializer: []*onnxpb.TensorProto{pads},
			Input:       []*onnxpb.ValueInfoProto{valueInfo("x", "N", 1, 1, 1)},
			Output:      []*onnxpb.ValueInfoProto{valueInfo("y", "N", 1, 2*int(p)+1, 2*int(p)+1)},
		},
	}
}

// TestSampleCap: a huge constant Pad is refused before its layout tables are built,
// and the per-sample bound shrinks with the batch the model will run with.
func TestSampleCap(t *testing.T) {
	huge := marshal(t, padModel(4000)) // 64M values a sample
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	_, err := Read(huge, "pad.onnx")
	runtime.ReadMemStats(&b)
	if !errors.Is(err, layers.ErrTooLarge) {
		t.Fatalf("64M values a sample: err = %v, want ErrTooLarge", err)
	}
	if got := b.TotalAlloc - a.TotalAlloc; got > 8<<20 {
		t.Errorf("refusing the Pad allocated %d bytes, want < 8 MiB", got)
	}
	mid := marshal(t, padModel(700)) // 1401^2 = 1.96M values = 7.5 MiB a sample
	for _, c := range []struct {
		opt Options
		ok  bool
	}{
		{Options{}, true},                                 // 64 x 7.5 MiB = 480 MiB of 4 GiB
		{Options{MaxBatch: 256}, true},                    // 1.9 GiB
		{Options{MaxBatch: 1024}, false},                  // 7.5 GiB
		{Options{MaxBatch: 1, MaxTensorBytes: 8 << 20}, true},
		{Options{MaxBatch: 2, MaxTensorBytes: 8 << 20}, false},
	} {
		_, err := ReadWith(mid, "pad.onnx", c.opt)
		if c.ok && err != nil {
			t.Errorf("%+v: %v", c.opt, err)
		}
		if !c.ok && !errors.Is(err, layers.ErrTooLarge) {
			t.Errorf("%+v: err = %v, want ErrTooLarge", c.opt, err)
		}
	}
}
