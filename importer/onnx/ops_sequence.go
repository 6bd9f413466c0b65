package onnx

import (
	"fmt"
	"math"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// ONNX sequence types have no kinfer value: where a sequence's elements are known at
// import (SplitToSequence with a constant split, SequenceConstruct) and it is read at a
// constant position, rewriteSequences turns the reads into tensor ops before import:
//   - SequenceAt(SplitToSequence(x, split, axis, keepdims), i) -> Gather (no split,
//     keepdims 0) or Slice of x along axis;
//   - SequenceAt(SequenceConstruct(a, b, ...), i) -> Identity of the i-th input;
//   - ConcatFromSequence(SequenceConstruct(...), axis, new_axis) -> Concat (each input
//     Unsqueezed first with new_axis 1);
//   - SequenceLength(SequenceConstruct(...)) -> a constant.
// The sequence nodes are then dead and dropped; a sequence op still read after the
// rewrite is refused as unsupported, naming it.

// seqOps are the ONNX sequence ops, refused by name when the rewrite leaves one live.
var seqOps = []string{"SplitToSequence", "SequenceAt", "SequenceConstruct", "SequenceEmpty",
	"SequenceInsert", "SequenceErase", "SequenceLength", "ConcatFromSequence", "SequenceMap"}

// registerSequence refuses the sequence ops the rewrite could not remove.
func registerSequence(h map[string]handler) {
	for _, op := range seqOps {
		h[op] = func(b *builder, n *node) error {
			return n.errorf(layers.ErrUnsupported, "sequence op %s (kinfer takes a sequence only where its elements and the positions read are constants at import: SplitToSequence with a constant split or SequenceConstruct, read by SequenceAt at a constant position, ConcatFromSequence or SequenceLength of SequenceConstruct)", n.GetOpType())
		}
	}
}

// rewriteSequences returns nodes with the constant-position sequence reads rewritten
// (the input slice is not modified); new constants are added to consts.
func rewriteSequences(nodes []*onnxpb.NodeProto, opset int64, consts map[string]*tensor) ([]*onnxpb.NodeProto, error) {
	prod := map[string]*onnxpb.NodeProto{} // sequence value -> its producer
	constNode := map[string]*onnxpb.NodeProto{}
	any := false
	for _, np := range nodes {
		if d := np.GetDomain(); d != "" && d != "ai.onnx" {
			continue
		}
		switch np.GetOpType() {
		case "SplitToSequence", "SequenceConstruct":
			if len(np.GetOutput()) == 1 {
				prod[np.GetOutput()[0]] = np
			}
			any = true
		case "Constant":
			if len(np.GetOutput()) == 1 {
				constNode[np.GetOutput()[0]] = np
			}
		}
	}
	if !any {
		return nodes, nil
	}
	fresh := 0
	constant := func(base string, t *tensor) string {
		for {
			name := fmt.Sprintf("%s:kinfer_seq_%d", base, fresh)
			fresh++
			if _, taken := consts[name]; !taken {
				consts[name] = t
				return name
			}
		}
	}
	// constInt reads a constant integer input (initializer or Constant node).
	constInt := func(n *node, name string) ([]int64, []int, error) {
		t := consts[name]
		if t == nil {
			if c := constNode[name]; c != nil {
				for _, a := range c.GetAttribute() {
					if a.GetName() == "value" && a.GetT() != nil {
						var err error
						if t, err = fromProto(a.GetT(), "Constant"); err != nil {
							return nil, nil, n.wrap(err)
						}
					}
				}
			}
		}
		if t == nil {
			return nil, nil, n.errorf(layers.ErrUnsupported, "input %q is not a constant (sequence positions and splits must be known at import)", name)
		}
		if !t.isInt {
			return nil, nil, n.errorf(layers.ErrBadFile, "input %q is not an integer tensor", name)
		}
		return t.ints(), t.dims, nil
	}
	out := make([]*onnxpb.NodeProto, 0, len(nodes))
	for _, np := range nodes {
		op := np.GetOpType()
		if d := np.GetDomain(); (d != "" && d != "ai.onnx") || len(np.GetInput()) == 0 || len(np.GetOutput()) != 1 {
			out = append(out, np)
			continue
		}
		src := prod[np.GetInput()[0]]
		if src == nil || (op != "SequenceAt" && src.GetOpType() != "SequenceConstruct") {
			out = append(out, np)
			continue
		}
		n := newNode(np, opset)
		var rw []*onnxpb.NodeProto
		var err error
		switch op {
		case "SequenceAt":
			if len(np.GetInput()) != 2 {
				return nil, n.errorf(layers.ErrBadFile, "%d inputs", len(np.GetInput()))
			}
			var pos []int64
			var dims []int
			if pos, dims, err = constInt(n, np.GetInput()[1]); err != nil {
				return nil, err
			}
			if len(dims) != 0 || len(pos) != 1 {
				return nil, n.errorf(layers.ErrBadFile, "position of shape %v (a scalar)", dims)
			}
			if src.GetOpType() == "SequenceConstruct" {
				rw, err = seqConstructAt(n, src, pos[0])
			} else {
				rw, err = splitAt(n, src, pos[0], opset, constInt, constant)
			}
		case "SequenceLength":
			l := int64(len(src.GetInput()))
			rw = []*onnxpb.NodeProto{{Name: np.GetName(), OpType: "Identity", Input: []string{constant(np.GetOutput()[0], newInt([]int{}, []int64{l}))}, Output: np.GetOutput()}}
		case "ConcatFromSequence":
			rw, err = concatFromConstruct(n, src, opset, constant)
		default:
			out = append(out, np)
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := n.done(); err != nil {
			return nil, err
		}
		out = append(out, rw...)
	}
	return out, nil
}

func seqConstructAt(n *node, src *onnxpb.NodeProto, i int64) ([]*onnxpb.NodeProto, error) {
	l := int64(len(src.GetInput()))
	if i < 0 {
		i += l
	}
	if i < 0 || i >= l {
		return nil, n.errorf(layers.ErrInvalid, "position out of range for a sequence of %d", l)
	}
	return []*onnxpb.NodeProto{{Name: n.GetName(), OpType: "Identity", Input: []string{src.GetInput()[i]}, Output: n.GetOutput()}}, nil
}

// splitAt is element i of SplitToSequence src as a Gather or Slice of its input.
func splitAt(n *node, src *onnxpb.NodeProto, i int64, opset int64,
	constInt func(*node, string) ([]int64, []int, error), constant func(string, *tensor) string) ([]*onnxpb.NodeProto, error) {
	s := newNode(src, opset)
	if len(src.GetInput()) == 0 || src.GetInput()[0] == "" {
		return nil, s.errorf(layers.ErrBadFile, "no input")
	}
	axis := s.int("axis", 0)
	keep := s.int("keepdims", 1)
	if err := s.done(); err != nil {
		return nil, err
	}
	x, name, o := src.GetInput()[0], n.GetName(), n.GetOutput()
	axes := constant(o[0], newInt([]int{1}, []int64{axis}))
	slice := func(start, end int64) []*onnxpb.NodeProto {
		return []*onnxpb.NodeProto{{Name: name, OpType: "Slice", Output: o, Input: []string{x,
			constant(o[0], newInt([]int{1}, []int64{start})), constant(o[0], newInt([]int{1}, []int64{end})), axes}}}
	}
	if len(src.GetInput()) < 2 || src.GetInput()[1] == "" { // chunks of 1
		if keep == 0 {
			idx := constant(o[0], newInt([]int{}, []int64{i}))
			return []*onnxpb.NodeProto{{Name: name, OpType: "Gather", Input: []string{x, idx}, Output: o,
				Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: axis}}}}, nil
		}
		end := i + 1
		if end == 0 {
			end = math.MaxInt64 // the last element
		}
		return slice(i, end), nil
	}
	split, dims, err := constInt(s, src.GetInput()[1])
	if err != nil {
		return nil, err
	}
	for _, v := range split {
		if v < 0 || v > layers.MaxElements {
			return nil, s.errorf(layers.ErrInvalid, "split %v", split)
		}
	}
	if len(dims) == 0 { // equal chunks of split[0], the last one shorter
		if i < 0 {
			return nil, n.errorf(layers.ErrUnsupported, "a negative position (%d) into SplitToSequence %q by a scalar split", i, src.GetName())
		}
		if split[0] == 0 || i > layers.MaxElements {
			return nil, s.errorf(layers.ErrInvalid, "split %d at position %d", split[0], i)
		}
		return slice(i*split[0], (i+1)*split[0]), nil
	}
	l := int64(len(split))
	if i < 0 {
		i += l
	}
	if i < 0 || i >= l {
		return nil, n.errorf(layers.ErrInvalid, "position out of range for a sequence of %d", l)
	}
	var start int64
	for _, v := range split[:i] {
		start += v
	}
	return slice(start, start+split[i]), nil
}

// concatFromConstruct is ConcatFromSequence of SequenceConstruct src as a Concat.
func concatFromConstruct(n *node, src *onnxpb.NodeProto, opset int64, constant func(string, *tensor) string) ([]*onnxpb.NodeProto, error) {
	axis := n.int("axis", 0)
	newAxis := n.int("new_axis", 0)
	if newAxis != 0 && newAxis != 1 {
		return nil, n.errorf(layers.ErrInvalid, "new_axis %d", newAxis)
	}
	o := n.GetOutput()
	ins := append([]string(nil), src.GetInput()...)
	var rw []*onnxpb.NodeProto
	if newAxis == 1 {
		for k, in := range ins {
			u := &onnxpb.NodeProto{Name: fmt.Sprintf("%s/unsqueeze_%d", n.GetName(), k), OpType: "Unsqueeze",
				Input: []string{in}, Output: []string{fmt.Sprintf("%s:kinfer_seq_unsqueeze_%d", o[0], k)}}
			if opset >= 13 {
				u.Input = append(u.Input, constant(o[0], newInt([]int{1}, []int64{axis})))
			} else {
				u.Attribute = []*onnxpb.AttributeProto{{Name: "axes", Type: onnxpb.AttributeProto_INTS, Ints: []int64{axis}}}
			}
			rw = append(rw, u)
			ins[k] = u.Output[0]
		}
	}
	rw = append(rw, &onnxpb.NodeProto{Name: n.GetName(), OpType: "Concat", Input: ins, Output: o,
		Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: axis}}})
	return rw, nil
}
