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
		{Options{}, true},                // 64 x 7.5 MiB = 480 MiB of 4 GiB
		{Options{MaxBatch: 256}, true},   // 1.9 GiB
		{Options{MaxBatch: 1024}, false}, // 7.5 GiB
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

// TestFoldBudget: the folded constants of a chain of ops are bounded in total, not
// only one by one.
func TestFoldBudget(t *testing.T) {
	defer func(v int64) { maxFoldedBytes = v }(maxFoldedBytes)
	maxFoldedBytes = 1 << 20
	chain := func(adds int) []byte {
		one := &onnxpb.TensorProto{Dims: []int64{1}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{1}}
		nodes := []*onnxpb.NodeProto{{OpType: "ConstantOfShape", Input: []string{"s"}, Output: []string{"c0"},
			Attribute: []*onnxpb.AttributeProto{{Name: "value", Type: onnxpb.AttributeProto_TENSOR, T: one}}}}
		last := "c0"
		for k := 1; k <= adds; k++ {
			out := "c" + string(rune('0'+k))
			nodes = append(nodes, &onnxpb.NodeProto{OpType: "Add", Input: []string{last, "c0"}, Output: []string{out}})
			last = out
		}
		nodes = append(nodes,
			&onnxpb.NodeProto{OpType: "ReduceProd", Input: []string{last}, Output: []string{"p"}},
			&onnxpb.NodeProto{OpType: "Cast", Input: []string{"p"}, Output: []string{"pf"},
				Attribute: []*onnxpb.AttributeProto{{Name: "to", Type: onnxpb.AttributeProto_INT, I: int64(onnxpb.TensorProto_FLOAT)}}},
			&onnxpb.NodeProto{OpType: "Add", Input: []string{"x", "pf"}, Output: []string{"y"}})
		return marshal(t, &onnxpb.ModelProto{IrVersion: 8, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}},
			Graph: &onnxpb.GraphProto{Name: "fold", Node: nodes,
				Initializer: []*onnxpb.TensorProto{{Name: "s", Dims: []int64{1}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{1 << 14}}},
				Input:       []*onnxpb.ValueInfoProto{valueInfo("x", "N", 2)}, Output: []*onnxpb.ValueInfoProto{valueInfo("y", "N", 2)}}})
	}
	// each folded tensor is 128 KiB (ReduceProd and Cast keep one value each): 7 fit
	// 1 MiB, 8 do not
	if _, err := Read(chain(6), "fold.onnx"); err != nil {
		t.Errorf("7 folded tensors of 128 KiB within 1 MiB: %v", err)
	}
	if _, err := Read(chain(7), "fold.onnx"); !errors.Is(err, layers.ErrTooLarge) {
		t.Errorf("8 folded tensors of 128 KiB over 1 MiB: err = %v, want ErrTooLarge", err)
	}
}
