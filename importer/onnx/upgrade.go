package onnx

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// upgradeNodes rewrites the nodes of a model below opset 11 into the form of the
// opset the handlers read (docs/onnx-opsets.md): attributes that became inputs become
// constant inputs, attributes that stopped meaning anything at inference (is_test,
// consumed_inputs, the pre-7 broadcast flag) are dropped, Upsample becomes Resize.
// Each rewritten node is a copy; the file's protos are not changed.
func upgradeNodes(nodes []*onnxpb.NodeProto, opset int64, consts map[string]*tensor) ([]*onnxpb.NodeProto, error) {
	if opset >= 11 {
		return nodes, nil
	}
	out := make([]*onnxpb.NodeProto, len(nodes))
	fresh := 0
	constant := func(base string, t *tensor) string {
		for {
			name := fmt.Sprintf("%s:kinfer_upgrade_%d", base, fresh)
			fresh++
			if _, taken := consts[name]; !taken {
				consts[name] = t
				return name
			}
		}
	}
	for i, np := range nodes {
		if d := np.GetDomain(); d != "" && d != "ai.onnx" {
			out[i] = np
			continue
		}
		n := proto.Clone(np).(*onnxpb.NodeProto)
		out[i] = n
		w := newNode(n, opset)
		var err error
		switch op := n.GetOpType(); op {
		case "Add", "Sub", "Mul", "Div", "Pow", "Gemm", "Sum", "Max", "Min", "Mean":
			// pre-7 broadcast aligned B at axis of A: a constant B is reshaped by opArith
			// (which reads axis below opset 7); anything else refuses the attribute
			dropAttrs(n, "broadcast", "consumed_inputs")
		case "BatchNormalization":
			if w.has("spatial") && w.int("spatial", 1) != 1 {
				err = w.errorf(layers.ErrUnsupported, "spatial=0")
			}
			if opset < 7 && w.has("is_test") && w.int("is_test", 0) == 0 {
				err = w.errorf(layers.ErrUnsupported, "is_test=0 (training)")
			}
			dropAttrs(n, "spatial", "is_test", "consumed_inputs")
		case "Dropout":
			dropAttrs(n, "is_test", "consumed_inputs")
		case "Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "Tanh", "Neg", "Abs", "Exp", "Log",
			"Sqrt", "Reciprocal", "Floor", "Ceil", "HardSigmoid", "PRelu", "Clip":
			dropAttrs(n, "consumed_inputs")
		case "Concat":
			if opset < 4 && !w.has("axis") {
				n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: "axis", Type: onnxpb.AttributeProto_INT, I: 1})
			}
		case "Reshape":
			if w.has("shape") && len(n.GetInput()) == 0 {
				err = w.errorf(layers.ErrBadFile, "no inputs")
			} else if w.has("shape") {
				s := w.ints("shape", nil)
				dropAttrs(n, "shape", "consumed_inputs")
				n.Input = append(n.Input[:1:1], constant(n.GetName(), newInt([]int{len(s)}, append([]int64(nil), s...))))
			}
		case "Pad":
			if opset < 2 && w.has("paddings") {
				for _, a := range n.Attribute {
					if a.GetName() == "paddings" {
						a.Name = "pads"
					}
				}
			}
		case "Upsample", "Resize":
			err = upgradeResize(w, n, opset, constant)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// upgradeResize turns Upsample (7-9) and Resize-10 into Resize-11 with the
// coordinate mapping they had: asymmetric, nearest rounding down.
func upgradeResize(w *node, n *onnxpb.NodeProto, opset int64, constant func(string, *tensor) string) error {
	mode := w.str("mode", "nearest")
	if mode != "nearest" && mode != "linear" && mode != "bilinear" {
		return w.errorf(layers.ErrUnsupported, "mode %q", mode)
	}
	if mode == "bilinear" {
		mode = "linear"
	}
	if len(n.GetInput()) == 0 {
		return w.errorf(layers.ErrBadFile, "no inputs")
	}
	scales := n.GetInput()[1:]
	if w.has("scales") { // Upsample-7
		s := w.floats("scales")
		scales = []string{constant(n.GetName(), newFloat([]int{len(s)}, append([]float32(nil), s...)))}
	}
	if len(scales) != 1 {
		return w.errorf(layers.ErrBadFile, "%d inputs", len(n.GetInput()))
	}
	n.OpType = "Resize"
	n.Input = []string{n.GetInput()[0], "", scales[0]}
	n.Attribute = []*onnxpb.AttributeProto{
		{Name: "mode", Type: onnxpb.AttributeProto_STRING, S: []byte(mode)},
		{Name: "coordinate_transformation_mode", Type: onnxpb.AttributeProto_STRING, S: []byte("asymmetric")},
		{Name: "nearest_mode", Type: onnxpb.AttributeProto_STRING, S: []byte("floor")},
	}
	return nil
}

// dropAttrs removes the named attributes from n.
func dropAttrs(n *onnxpb.NodeProto, names ...string) {
	keep := n.Attribute[:0]
	for _, a := range n.Attribute {
		drop := false
		for _, s := range names {
			drop = drop || a.GetName() == s
		}
		if !drop {
			keep = append(keep, a)
		}
	}
	n.Attribute = keep
}
