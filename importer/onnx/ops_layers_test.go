package onnx

import (
	"errors"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

func ints(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
}

func str(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_STRING, S: []byte(v)}
}

func intInit(name string, v ...int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: name, Dims: []int64{int64(len(v))}, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: v}
}

// oneNode is x (N, 2, 3, 4) -> node -> y at opset 18.
func oneNode(node *onnxpb.NodeProto, inits ...*onnxpb.TensorProto) *onnxpb.ModelProto {
	node.Output = []string{"y"}
	return &onnxpb.ModelProto{IrVersion: 8, OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: "", Version: 18}},
		Graph: &onnxpb.GraphProto{Name: "g", Node: []*onnxpb.NodeProto{node}, Initializer: inits,
			Input: []*onnxpb.ValueInfoProto{valueInfo("x", "N", 2, 3, 4)}, Output: []*onnxpb.ValueInfoProto{valueInfo("y")}}}
}

func TestNewOpErrors(t *testing.T) {
	w := floatInit("w", []int64{2, 1, 2, 2}, make([]float32, 8))
	cases := []struct {
		name string
		m    *onnxpb.ModelProto
		want error
	}{
		{"convT group does not divide", oneNode(&onnxpb.NodeProto{OpType: "ConvTranspose", Input: []string{"x", "w"},
			Attribute: []*onnxpb.AttributeProto{{Name: "group", Type: onnxpb.AttributeProto_INT, I: 3}}}, w), layers.ErrShapeMismatch},
		{"convT kernel_shape", oneNode(&onnxpb.NodeProto{OpType: "ConvTranspose", Input: []string{"x", "w"},
			Attribute: []*onnxpb.AttributeProto{ints("kernel_shape", 3, 3)}}, w), layers.ErrShapeMismatch},
		{"convT output_shape too large", oneNode(&onnxpb.NodeProto{OpType: "ConvTranspose", Input: []string{"x", "w"},
			Attribute: []*onnxpb.AttributeProto{ints("output_shape", 9, 9)}}, w), layers.ErrInvalid},
		{"convT data kernel", oneNode(&onnxpb.NodeProto{OpType: "ConvTranspose", Input: []string{"x", "x"}}), layers.ErrUnsupported},
		{"resize cubic", oneNode(&onnxpb.NodeProto{OpType: "Resize", Input: []string{"x", "", "s"},
			Attribute: []*onnxpb.AttributeProto{str("mode", "cubic")}}, floatInit("s", []int64{4}, []float32{1, 1, 2, 2})), layers.ErrUnsupported},
		{"resize channels", oneNode(&onnxpb.NodeProto{OpType: "Resize", Input: []string{"x", "", "s"}},
			floatInit("s", []int64{4}, []float32{1, 2, 2, 2})), layers.ErrUnsupported},
		{"resize crop_and_resize", oneNode(&onnxpb.NodeProto{OpType: "Resize", Input: []string{"x", "", "s"},
			Attribute: []*onnxpb.AttributeProto{str("coordinate_transformation_mode", "tf_crop_and_resize")}},
			floatInit("s", []int64{4}, []float32{1, 1, 2, 2})), layers.ErrUnsupported},
		{"resize no scales", oneNode(&onnxpb.NodeProto{OpType: "Resize", Input: []string{"x"}}), layers.ErrInvalid},
		{"resize negative size", oneNode(&onnxpb.NodeProto{OpType: "Resize", Input: []string{"x", "", "", "z"}},
			intInit("z", 1, 2, -3, 4)), layers.ErrInvalid},
		{"layernorm over batch", oneNode(&onnxpb.NodeProto{OpType: "LayerNormalization", Input: []string{"x", "g"},
			Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: 0}}},
			floatInit("g", []int64{1}, []float32{1})), layers.ErrUnsupported},
		{"layernorm scale shape", oneNode(&onnxpb.NodeProto{OpType: "LayerNormalization", Input: []string{"x", "g"}},
			floatInit("g", []int64{3}, []float32{1, 1, 1})), layers.ErrShapeMismatch},
		{"layernorm no scale", oneNode(&onnxpb.NodeProto{OpType: "LayerNormalization", Input: []string{"x"}}), layers.ErrBadFile},
		{"reduce batch", oneNode(&onnxpb.NodeProto{OpType: "ReduceMean", Input: []string{"x", "a"}}, intInit("a", 0, 1)), layers.ErrUnsupported},
		{"reduce axis range", oneNode(&onnxpb.NodeProto{OpType: "ReduceMax", Input: []string{"x", "a"}}, intInit("a", 4)), layers.ErrInvalid},
		{"reduce all", oneNode(&onnxpb.NodeProto{OpType: "ReduceSum", Input: []string{"x"}}), layers.ErrUnsupported},
		{"prelu slope shape", oneNode(&onnxpb.NodeProto{OpType: "PRelu", Input: []string{"x", "p"}},
			floatInit("p", []int64{3, 1, 1}, []float32{1, 2, 3})), layers.ErrShapeMismatch},
	}
	for _, c := range cases {
		if _, err := Read(marshal(t, c.m), "t.onnx"); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

// TestReduceLayouts: a ReduceSum over C of NHWC data (after a Conv) keeps the channel
// axis physical, and ReduceMean with noop_with_empty_axes and no axes is the identity.
func TestReduceLayouts(t *testing.T) {
	conv := &onnxpb.NodeProto{OpType: "Conv", Input: []string{"x", "w"}, Output: []string{"c"}}
	red := &onnxpb.NodeProto{OpType: "ReduceSum", Input: []string{"c", "a"}, Output: []string{"y"}}
	m := oneNode(red, floatInit("w", []int64{2, 2, 1, 1}, []float32{1, 0, 0, 1}), intInit("a", 1))
	m.Graph.Node = []*onnxpb.NodeProto{conv, red}
	g, err := Read(marshal(t, m), "t.onnx")
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 24)
	for i := range x {
		x[i] = float32(i)
	}
	y, err := g.Graph.Reference(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < 12; j++ { // identity conv: y = x[c=0] + x[c=1] in NCHW order
		if want := x[j] + x[12+j]; y[j] != want {
			t.Fatalf("y[%d] = %v, want %v (all %v)", j, y[j], want, y)
		}
	}
	m = oneNode(&onnxpb.NodeProto{OpType: "ReduceMean", Input: []string{"x"},
		Attribute: []*onnxpb.AttributeProto{{Name: "noop_with_empty_axes", Type: onnxpb.AttributeProto_INT, I: 1}}})
	g, err = Read(marshal(t, m), "t.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if y, _ := g.Graph.Reference(x, 1); y[23] != 23 {
		t.Errorf("noop reduce changed the data: %v", y)
	}
}
