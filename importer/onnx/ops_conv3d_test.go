package onnx

import (
	"errors"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// conv3dModel is x(N, 2, 4, 5, 6) -> Conv(5-D kernel w of dims wd, attributes) -> y.
func conv3dModel(wd []int64, attrs ...*onnxpb.AttributeProto) *onnxpb.ModelProto {
	n := int64(1)
	for _, d := range wd {
		n *= d
	}
	w := make([]float32, n)
	for k := range w {
		w[k] = float32(k%5) - 2
	}
	return &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}},
		Graph: &onnxpb.GraphProto{
			Node:        []*onnxpb.NodeProto{{Name: "c3", OpType: "Conv", Input: []string{"x", "w"}, Output: []string{"y"}, Attribute: attrs}},
			Initializer: []*onnxpb.TensorProto{floatInit("w", wd, w)},
			Input:       []*onnxpb.ValueInfoProto{valueInfo("x", "N", 2, 4, 5, 6)},
			Output:      []*onnxpb.ValueInfoProto{valueInfo("y", "N", 3, 3, 4, 5)},
		},
	}
}

// pool3dModel is x(N, 2, 4, 5, 6) -> op(attributes) -> y.
func pool3dModel(op string, attrs ...*onnxpb.AttributeProto) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}},
		Graph: &onnxpb.GraphProto{
			Node:   []*onnxpb.NodeProto{{Name: "p3", OpType: op, Input: []string{"x"}, Output: []string{"y"}, Attribute: attrs}},
			Input:  []*onnxpb.ValueInfoProto{valueInfo("x", "N", 2, 4, 5, 6)},
			Output: []*onnxpb.ValueInfoProto{valueInfo("y", "N", 2, 2, 2, 3)},
		},
	}
}

func ints3(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
}

func int3(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

// TestConv3DImport: 5-D nodes import as the 3-D layers with ONNX's pads order mapped
// onto (front, back, top, bottom, left, right), and bad attributes are named errors.
func TestConv3DImport(t *testing.T) {
	m, err := Read(marshal(t, conv3dModel([]int64{3, 2, 2, 2, 2}, ints3("pads", 1, 0, 2, 0, 1, 0))), "c3.onnx")
	if err != nil {
		t.Fatal(err)
	}
	var conv *layers.Conv3D
	for i := 0; i < m.Graph.Len(); i++ {
		if c, ok := m.Graph.Layer(i).(*layers.Conv3D); ok {
			conv = c
		}
	}
	if conv == nil {
		t.Fatal("no Conv3D in the graph")
	}
	if conv.Pad != layers.PadExplicit || conv.Pads != [6]int{1, 0, 0, 1, 2, 0} {
		t.Errorf("pads %v %v, want explicit [1 0 0 1 2 0]", conv.Pad, conv.Pads)
	}
	// weight (o, ci, z, y, x) moves to ((z, y, x), ci, o)
	if got, want := conv.W[(((1*2+0)*2+1)*2+1)*3+2], float32(((((2*2+1)*2+1)*2+0)*2+1)%5-2); got != want {
		t.Errorf("W[z1 y0 x1, c1, o2] = %v, want %v", got, want)
	}
	cases := []struct {
		name string
		m    *onnxpb.ModelProto
		kind error
		msg  string
	}{
		{"channels", conv3dModel([]int64{3, 3, 2, 2, 2}), layers.ErrShapeMismatch, `node "c3"`},
		{"group", conv3dModel([]int64{3, 1, 2, 2, 2}, int3("group", 2)), layers.ErrShapeMismatch, "group"},
		{"kernel_shape", conv3dModel([]int64{3, 2, 2, 2, 2}, ints3("kernel_shape", 2, 2)), layers.ErrInvalid, "kernel_shape"},
		{"pads count", conv3dModel([]int64{3, 2, 2, 2, 2}, ints3("pads", 1, 1, 1, 1)), layers.ErrInvalid, "pads"},
		{"negative stride", conv3dModel([]int64{3, 2, 2, 2, 2}, ints3("strides", 1, -1, 1)), layers.ErrInvalid, "strides"},
		{"auto_pad", conv3dModel([]int64{3, 2, 2, 2, 2}, &onnxpb.AttributeProto{Name: "auto_pad", Type: onnxpb.AttributeProto_STRING, S: []byte("FULL")}), layers.ErrInvalid, "auto_pad"},
		{"window too large", conv3dModel([]int64{3, 2, 5, 2, 2}), layers.ErrShapeMismatch, "window"},
		{"pool kernel", pool3dModel("MaxPool", ints3("kernel_shape", 2, 2)), layers.ErrInvalid, "kernel_shape"},
		{"pool zero kernel", pool3dModel("AveragePool", ints3("kernel_shape", 2, 0, 2)), layers.ErrInvalid, "kernel_shape"},
		{"avg ceil count_include_pad", pool3dModel("AveragePool", ints3("kernel_shape", 2, 2, 2), ints3("strides", 2, 2, 2), int3("ceil_mode", 1),
			int3("count_include_pad", 1)), layers.ErrUnsupported, "ceil_mode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(marshal(t, c.m), "c3.onnx")
			if !errors.Is(err, c.kind) {
				t.Fatalf("err = %v, want %v", err, c.kind)
			}
			if !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "c3.onnx") {
				t.Errorf("message %q does not name the file and %q", err, c.msg)
			}
		})
	}
}
