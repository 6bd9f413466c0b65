package onnx

import (
	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// foldOps evaluates an op on constant inputs (nil for absent optional inputs), for the
// ops folded at import time when all their inputs are constant: a new foldable op is
// one entry here.
var foldOps map[string]func(n *node, ins []*tensor) (*tensor, error)

// foldable reports whether op is evaluated at import time on constant inputs.
var foldable = map[string]bool{}

func init() {
	foldOps = map[string]func(n *node, ins []*tensor) (*tensor, error){
		"Constant":        foldConstant,
		"Identity":        foldIdentity,
		"Dropout":         foldIdentity,
		"Cast":            foldCast,
		"CastLike":        foldCast,
		"Size":            foldSize,
		"Shape":           foldShape,
		"Gather":          foldGather,
		"Unsqueeze":       foldSqueeze,
		"Squeeze":         foldSqueeze,
		"Concat":          foldConcat,
		"ConstantOfShape": foldConstantOfShape,
		"Slice":           foldSlice,
		"Reshape":         foldReshape,
		"Flatten":         foldReshape,
		"Expand":          foldExpand,
		"Transpose":       foldTranspose,
		"Range":           foldRange,
		"Where":           foldWhere,
		"Add":             foldBinary,
		"Sub":             foldBinary,
		"Mul":             foldBinary,
		"Div":             foldBinary,
		"Pow":             foldBinary,
		"Max":             foldBinary,
		"Min":             foldBinary,
		"Equal":           foldBinary,
		"Less":            foldBinary,
		"Greater":         foldBinary,
		"ReduceProd":      foldReduceProd,
		"Not":             foldUnary,
		"Neg":             foldUnary,
		"Sqrt":            foldUnary,
		"Reciprocal":      foldUnary,
		"Abs":             foldUnary,
		"Floor":           foldUnary,
		"Ceil":            foldUnary,
		"Exp":             foldUnary,
		"Log":             foldUnary,
		"Relu":            foldUnary,
		"Sigmoid":         foldUnary,
		"Tanh":            foldUnary,
		"Erf":             foldUnary,
	}
	for op := range foldOps {
		foldable[op] = true
	}
}

// evalConst evaluates n on constant inputs (nil for absent optional inputs).
func evalConst(n *node, ins []*tensor) ([]*tensor, error) {
	f := foldOps[n.GetOpType()]
	if f == nil {
		return nil, n.errorf(layers.ErrUnsupported, "op type %s on constants", n.GetOpType())
	}
	t, err := f(n, ins)
	if err != nil {
		return nil, err
	}
	if t.size() > maxFolded {
		return nil, n.errorf(layers.ErrUnsupported, "folded constant of shape %v is too large", t.dims)
	}
	return []*tensor{t}, nil
}

// needIn returns constant input k, which must be present.
func needIn(n *node, ins []*tensor, k int) (*tensor, error) {
	if k >= len(ins) || ins[k] == nil {
		return nil, n.errorf(layers.ErrBadFile, "missing input %d", k)
	}
	return ins[k], nil
}

func foldConstant(n *node, ins []*tensor) (*tensor, error) {
	return constantValue(n)
}

func foldIdentity(n *node, ins []*tensor) (*tensor, error) {
	n.ignore("seed", "ratio", "training_mode")
	x, err := needIn(n, ins, 0)
	return x, err
}

func foldCast(n *node, ins []*tensor) (*tensor, error) {
	op := n.GetOpType()
	x, err := needIn(n, ins, 0)
	if err != nil {
		return nil, err
	}
	n.ignore("saturate", "round_mode")
	toFloat := false
	if op == "Cast" {
		to := onnxpb.TensorProto_DataType(n.int("to", 0))
		if elemBytes(int32(to)) == 0 {
			return nil, n.errorf(layers.ErrUnsupported, "cast to %v", to)
		}
		toFloat = to == onnxpb.TensorProto_FLOAT || to == onnxpb.TensorProto_DOUBLE || to == onnxpb.TensorProto_FLOAT16 || to == onnxpb.TensorProto_BFLOAT16
		if to == onnxpb.TensorProto_BOOL {
			c := x.clone()
			if c.isInt {
				for k, v := range c.i {
					c.i[k] = b2i(v != 0)
				}
			} else {
				c.i, c.f, c.isInt = make([]int64, len(c.f)), nil, true
				for k, v := range x.f {
					c.i[k] = b2i(v != 0)
				}
			}
			return c, nil
		}
	} else {
		like, err := needIn(n, ins, 1)
		if err != nil {
			return nil, err
		}
		toFloat = !like.isInt
	}
	c := x.clone()
	if toFloat && c.isInt {
		c.f, c.i, c.isInt = x.floats(), nil, false
	} else if !toFloat && !c.isInt {
		c.i, c.f, c.isInt = x.ints(), nil, true
	}
	if toFloat && c.batch != nil {
		c.batch = nil
		if x.hasBatch() {
			return nil, n.errorf(layers.ErrUnsupported, "casting the batch size to float")
		}
	}
	return c, nil
}

func foldSize(n *node, ins []*tensor) (*tensor, error) {
	x, err := needIn(n, ins, 0)
	if err != nil {
		return nil, err
	}
	if x.hasBatch() {
		return nil, n.errorf(layers.ErrUnsupported, "size of a batch-dependent tensor")
	}
	return newInt(nil, []int64{int64(x.size())}), nil
}

func foldShape(n *node, ins []*tensor) (*tensor, error) {
	x, err := needIn(n, ins, 0)
	if err != nil {
		return nil, err
	}
	dims := make([]int64, len(x.dims))
	for k, d := range x.dims {
		dims[k] = int64(d)
	}
	t := newInt([]int{len(dims)}, dims)
	if x.bAxis >= 0 {
		t.batch = make([]bool, len(dims))
		t.batch[x.bAxis] = true
	}
	return shapeSlice(n, t)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func constantValue(n *node) (*tensor, error) {
	n.ignore("sparse_value", "value_string", "value_strings")
	for _, name := range []string{"sparse_value", "value_string", "value_strings"} {
		if n.has(name) {
			return nil, n.errorf(layers.ErrUnsupported, "attribute %s", name)
		}
	}
	if a := n.attr("value", onnxpb.AttributeProto_TENSOR); a != nil {
		t, err := fromProto(a.GetT(), "value")
		return t, n.wrap(err)
	}
	if a := n.attr("value_float", onnxpb.AttributeProto_FLOAT); a != nil {
		return newFloat(nil, []float32{a.GetF()}), nil
	}
	if a := n.attr("value_floats", onnxpb.AttributeProto_FLOATS); a != nil {
		return newFloat([]int{len(a.GetFloats())}, append([]float32(nil), a.GetFloats()...)), nil
	}
	if a := n.attr("value_int", onnxpb.AttributeProto_INT); a != nil {
		return newInt(nil, []int64{a.GetI()}), nil
	}
	if a := n.attr("value_ints", onnxpb.AttributeProto_INTS); a != nil {
		return newInt([]int{len(a.GetInts())}, append([]int64(nil), a.GetInts()...)), nil
	}
	if n.err != nil {
		return nil, n.err
	}
	return nil, n.errorf(layers.ErrBadFile, "Constant without a value")
}

// shapeSlice applies Shape's start/end attributes (opset 15).
func shapeSlice(n *node, t *tensor) (*tensor, error) {
	r := int64(len(t.i))
	start, end := n.int("start", 0), n.int("end", r)
	clampI := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return min(max(v, 0), r)
	}
	start, end = clampI(start), clampI(end)
	if end < start {
		end = start
	}
	c := newInt([]int{int(end - start)}, append([]int64(nil), t.i[start:end]...))
	if t.batch != nil {
		c.batch = append([]bool(nil), t.batch[start:end]...)
	}
	return c, nil
}
