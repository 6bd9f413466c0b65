package onnx

import (
	"math"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// foldable lists the ops evaluated at import time when all their inputs are constant.
var foldable = map[string]bool{
	"Constant": true, "Identity": true, "Dropout": true, "Cast": true, "CastLike": true,
	"Shape": true, "Size": true, "Gather": true, "Unsqueeze": true, "Squeeze": true,
	"Concat": true, "ConstantOfShape": true, "Slice": true, "Reshape": true,
	"Expand": true, "Transpose": true, "Flatten": true, "Range": true, "Where": true,
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Max": true,
	"Min": true, "Equal": true, "Less": true, "Greater": true, "Not": true,
	"Neg": true, "Sqrt": true, "Reciprocal": true, "Abs": true, "Floor": true,
	"Ceil": true, "Exp": true, "Log": true, "Relu": true, "Sigmoid": true, "Tanh": true,
	"Erf": true, "ReduceProd": true,
}

// evalConst evaluates n on constant inputs (nil for absent optional inputs).
func evalConst(n *node, ins []*tensor) ([]*tensor, error) {
	op := n.GetOpType()
	need := func(k int) (*tensor, error) {
		if k >= len(ins) || ins[k] == nil {
			return nil, n.errorf(layers.ErrBadFile, "missing input %d", k)
		}
		return ins[k], nil
	}
	one := func(t *tensor, err error) ([]*tensor, error) {
		if err != nil {
			return nil, err
		}
		if t.size() > maxFolded {
			return nil, n.errorf(layers.ErrUnsupported, "folded constant of shape %v is too large", t.dims)
		}
		return []*tensor{t}, nil
	}
	switch op {
	case "Constant":
		return one(constantValue(n))
	case "Identity", "Dropout":
		n.ignore("seed", "ratio", "training_mode")
		x, err := need(0)
		return one(x, err)
	case "Cast", "CastLike":
		x, err := need(0)
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
				return one(c, nil)
			}
		} else {
			like, err := need(1)
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
		return one(c, nil)
	case "Size":
		x, err := need(0)
		if err != nil {
			return nil, err
		}
		if x.hasBatch() {
			return nil, n.errorf(layers.ErrUnsupported, "size of a batch-dependent tensor")
		}
		return one(newInt(nil, []int64{int64(x.size())}), nil)
	case "Shape":
		x, err := need(0)
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
		return one(shapeSlice(n, t))
	case "Gather":
		x, err := need(0)
		if err != nil {
			return nil, err
		}
		idx, err := need(1)
		if err != nil {
			return nil, err
		}
		return one(gather(n, x, idx, n.int("axis", 0)))
	case "Unsqueeze", "Squeeze":
		x, err := need(0)
		if err != nil {
			return nil, err
		}
		axes, err := axesArg(n, ins)
		if err != nil {
			return nil, err
		}
		dims, err := squeezeDims(n, x.dims, axes, op == "Unsqueeze")
		if err != nil {
			return nil, err
		}
		c := x.clone()
		c.dims = dims
		if x.bAxis >= 0 {
			c.bAxis = remapAxisAfterSqueeze(x.dims, dims, x.bAxis, axes, op == "Unsqueeze")
		}
		return one(c, nil)
	case "Concat":
		return one(concat(n, ins, n.int("axis", 0)))
	case "ConstantOfShape":
		s, err := need(0)
		if err != nil {
			return nil, err
		}
		val := newFloat(nil, []float32{0})
		if a := n.attr("value", onnxpb.AttributeProto_TENSOR); a != nil {
			v, err := fromProto(a.GetT(), "value")
			if err != nil {
				return nil, n.wrap(err)
			}
			if v.size() != 1 {
				return nil, n.errorf(layers.ErrBadFile, "value has %d elements, want 1", v.size())
			}
			val = v
		}
		dims, bAxis, err := shapeArg(n, s)
		if err != nil {
			return nil, err
		}
		t := &tensor{dims: dims, isInt: val.isInt, bAxis: bAxis}
		if shapeSize(dims) > maxFolded {
			return nil, n.errorf(layers.ErrUnsupported, "ConstantOfShape of %v is too large", dims)
		}
		if val.isInt {
			t.i = make([]int64, shapeSize(dims))
			for k := range t.i {
				t.i[k] = val.i[0]
			}
		} else {
			t.f = make([]float32, shapeSize(dims))
			for k := range t.f {
				t.f[k] = val.f[0]
			}
		}
		return one(t, nil)
	case "Slice":
		x, err := need(0)
		if err != nil {
			return nil, err
		}
		sl, err := sliceArgs(n, ins, x.dims)
		if err != nil {
			return nil, err
		}
		return one(sliceTensor(n, x, sl))
	case "Reshape", "Flatten":
		x, err := need(0)
		if err != nil {
			return nil, err
		}
		if x.bAxis >= 0 {
			return nil, n.errorf(layers.ErrUnsupported, "reshaping a batch-broadcast constant")
		}
		var dims []int
		if op == "Flatten" {
			ax, err := normAxis(n, n.int("axis", 1), len(x.dims)+1)
			if err != nil {
				return nil, err
			}
			dims = []int{shapeSize(x.dims[:ax]), shapeSize(x.dims[ax:])}
		} else {
			s, err := need(1)
			if err != nil {
				return nil, err
			}
			dims, err = reshapeTarget(n, x.dims, s.ints(), n.int("allowzero", 0) != 0)
			if err != nil {
				return nil, err
			}
		}
		c := x.clone()
		c.dims = dims
		return one(c, nil)
	case "Expand":
		x, err := need(0)
		if err != nil {
			return nil, err
		}
		s, err := need(1)
		if err != nil {
			return nil, err
		}
		dims, bAxis, err := shapeArg(n, s)
		if err != nil {
			return nil, err
		}
		shape := newFloat(dims, nil)
		shape.bAxis = bAxis
		return one(broadcastTo(n, x, shape))
	case "Transpose":
		x, err := need(0)
		if err != nil {
			return nil, err
		}
		perm, err := permArg(n, len(x.dims))
		if err != nil {
			return nil, err
		}
		return one(transposeTensor(x, perm), nil)
	case "Range":
		var v [3]*tensor
		var err error
		for k := range v {
			if v[k], err = need(k); err != nil {
				return nil, err
			}
			if v[k].size() != 1 || v[k].hasBatch() {
				return nil, n.errorf(layers.ErrUnsupported, "range input %d is not a scalar", k)
			}
		}
		s, l, d := float64(v[0].floats()[0]), float64(v[1].floats()[0]), float64(v[2].floats()[0])
		if d == 0 {
			return nil, n.errorf(layers.ErrInvalid, "range delta 0")
		}
		cnt := int(math.Max(math.Ceil((l-s)/d), 0))
		if cnt > maxFolded {
			return nil, n.errorf(layers.ErrUnsupported, "range of %d elements", cnt)
		}
		if v[0].isInt {
			out := make([]int64, cnt)
			for k := range out {
				out[k] = v[0].i[0] + int64(k)*v[2].ints()[0]
			}
			return one(newInt([]int{cnt}, out), nil)
		}
		out := make([]float32, cnt)
		for k := range out {
			out[k] = float32(s + float64(k)*d)
		}
		return one(newFloat([]int{cnt}, out), nil)
	case "Where":
		var v [3]*tensor
		var err error
		for k := range v {
			if v[k], err = need(k); err != nil {
				return nil, err
			}
		}
		return one(where(n, v[0], v[1], v[2]))
	case "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Equal", "Less", "Greater":
		if op == "Max" || op == "Min" {
			if len(ins) != 2 {
				return nil, n.errorf(layers.ErrUnsupported, "%d inputs", len(ins))
			}
		}
		a, err := need(0)
		if err != nil {
			return nil, err
		}
		b, err := need(1)
		if err != nil {
			return nil, err
		}
		return one(binaryConst(n, op, a, b))
	case "ReduceProd":
		x, err := need(0)
		if err != nil {
			return nil, err
		}
		axes, err := axesArg(n, ins)
		if err != nil {
			return nil, err
		}
		return one(reduceProd(n, x, axes, n.int("keepdims", 1) != 0, n.int("noop_with_empty_axes", 0) != 0))
	case "Not", "Neg", "Sqrt", "Reciprocal", "Abs", "Floor", "Ceil", "Exp", "Log", "Relu", "Sigmoid", "Tanh", "Erf":
		x, err := need(0)
		if err != nil {
			return nil, err
		}
		if x.hasBatch() && x.bAxis < 0 {
			return nil, n.errorf(layers.ErrUnsupported, "arithmetic on the batch size")
		}
		c := x.clone()
		if c.isInt {
			for k, v := range c.i {
				switch op {
				case "Not":
					c.i[k] = b2i(v == 0)
				case "Neg":
					c.i[k] = -v
				case "Abs":
					if v < 0 {
						c.i[k] = -v
					}
				case "Relu":
					c.i[k] = max(v, 0)
				case "Floor", "Ceil":
				default:
					return nil, n.errorf(layers.ErrUnsupported, "%s on integers", op)
				}
			}
			return one(c, nil)
		}
		for k, v := range c.f {
			c.f[k] = float32(unary(op, float64(v)))
		}
		return one(c, nil)
	}
	return nil, n.errorf(layers.ErrUnsupported, "op type %s on constants", op)
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// unary evaluates a float unary op (also used by the activation-pattern interpreter).
func unary(op string, x float64) float64 {
	switch op {
	case "Neg":
		return -x
	case "Sqrt":
		return math.Sqrt(x)
	case "Reciprocal":
		return 1 / x
	case "Abs":
		return math.Abs(x)
	case "Floor":
		return math.Floor(x)
	case "Ceil":
		return math.Ceil(x)
	case "Exp":
		return math.Exp(x)
	case "Log":
		return math.Log(x)
	case "Relu":
		return math.Max(x, 0)
	case "Sigmoid":
		return 1 / (1 + math.Exp(-x))
	case "Tanh":
		return math.Tanh(x)
	case "Erf":
		return math.Erf(x)
	case "Softplus":
		return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
	case "Softsign":
		return x / (1 + math.Abs(x))
	case "Not":
		if x == 0 {
			return 1
		}
		return 0
	case "Identity":
		return x
	}
	return math.NaN()
}

// binop evaluates a float binary op.
func binop(op string, a, b float64) float64 {
	switch op {
	case "Add":
		return a + b
	case "Sub":
		return a - b
	case "Mul":
		return a * b
	case "Div":
		return a / b
	case "Pow":
		return math.Pow(a, b)
	case "Max":
		return math.Max(a, b)
	case "Min":
		return math.Min(a, b)
	case "Equal":
		return float64(b2i(a == b))
	case "Less":
		return float64(b2i(a < b))
	case "Greater":
		return float64(b2i(a > b))
	}
	return math.NaN()
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

// normAxis resolves a possibly negative axis against rank.
func normAxis(n *node, ax int64, rank int) (int, error) {
	if ax < 0 {
		ax += int64(rank)
	}
	if ax < 0 || ax >= int64(rank) {
		return 0, n.errorf(layers.ErrInvalid, "axis %d out of range for rank %d", ax, rank)
	}
	return int(ax), nil
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

// axesArg reads Squeeze/Unsqueeze/ReduceX axes from the attribute (old opsets) or the
// second input (opset 13).
func axesArg(n *node, ins []*tensor) ([]int64, error) {
	if n.has("axes") {
		return n.ints("axes", nil), nil
	}
	if len(ins) > 1 && ins[1] != nil {
		if ins[1].hasBatch() {
			return nil, n.errorf(layers.ErrUnsupported, "batch-dependent axes")
		}
		return ins[1].ints(), nil
	}
	if n.in(1) != "" {
		return nil, n.errorf(layers.ErrUnsupported, "axes computed at run time")
	}
	return nil, nil
}

// squeezeDims returns the dims after Squeeze/Unsqueeze of axes.
func squeezeDims(n *node, dims []int, axes []int64, unsq bool) ([]int, error) {
	if unsq {
		r := len(dims) + len(axes)
		mark := make([]bool, r)
		for _, a := range axes {
			k, err := normAxis(n, a, r)
			if err != nil {
				return nil, err
			}
			if mark[k] {
				return nil, n.errorf(layers.ErrInvalid, "repeated axis %d", a)
			}
			mark[k] = true
		}
		out := make([]int, 0, r)
		j := 0
		for k := 0; k < r; k++ {
			if mark[k] {
				out = append(out, 1)
			} else {
				if j >= len(dims) {
					return nil, n.errorf(layers.ErrInvalid, "axes %v do not fit rank %d", axes, len(dims))
				}
				out = append(out, dims[j])
				j++
			}
		}
		return out, nil
	}
	mark := make([]bool, len(dims))
	if len(axes) == 0 {
		for k, d := range dims {
			mark[k] = d == 1
		}
	}
	for _, a := range axes {
		k, err := normAxis(n, a, len(dims))
		if err != nil {
			return nil, err
		}
		if dims[k] != 1 {
			return nil, n.errorf(layers.ErrShapeMismatch, "squeezing axis %d of size %d", a, dims[k])
		}
		mark[k] = true
	}
	out := []int{}
	for k, d := range dims {
		if !mark[k] {
			out = append(out, d)
		}
	}
	return out, nil
}

// remapAxisAfterSqueeze finds where axis ax of dims lands after squeeze/unsqueeze.
func remapAxisAfterSqueeze(old, new []int, ax int, axes []int64, unsq bool) int {
	if unsq {
		r := len(new)
		mark := make([]bool, r)
		for _, a := range axes {
			if a < 0 {
				a += int64(r)
			}
			if a >= 0 && a < int64(r) {
				mark[a] = true
			}
		}
		j := 0
		for k := 0; k < r; k++ {
			if mark[k] {
				continue
			}
			if j == ax {
				return k
			}
			j++
		}
		return -1
	}
	removed := map[int]bool{}
	for _, a := range axes {
		if a < 0 {
			a += int64(len(old))
		}
		removed[int(a)] = true
	}
	if len(axes) == 0 {
		for k, d := range old {
			removed[k] = d == 1 && k != ax
		}
	}
	if removed[ax] {
		return -1
	}
	j := 0
	for k := 0; k < ax; k++ {
		if !removed[k] {
			j++
		}
	}
	return j
}

func gather(n *node, x, idx *tensor, axis int64) (*tensor, error) {
	ax, err := normAxis(n, axis, len(x.dims))
	if err != nil {
		return nil, err
	}
	if idx.hasBatch() || ax == x.bAxis {
		return nil, n.errorf(layers.ErrUnsupported, "gathering along the batch axis")
	}
	if !idx.isInt {
		return nil, n.errorf(layers.ErrBadFile, "float indices")
	}
	outer, inner := shapeSize(x.dims[:ax]), shapeSize(x.dims[ax+1:])
	d := x.dims[ax]
	dims := append(append(append([]int(nil), x.dims[:ax]...), idx.dims...), x.dims[ax+1:]...)
	if shapeSize(dims) > maxFolded {
		return nil, n.errorf(layers.ErrUnsupported, "gather result %v too large", dims)
	}
	out := &tensor{dims: dims, isInt: x.isInt, bAxis: -1}
	if x.bAxis >= 0 {
		out.bAxis = x.bAxis
		if x.bAxis > ax {
			out.bAxis += len(idx.dims) - 1
		}
	}
	cnt := outer * len(idx.i) * inner
	if x.isInt {
		out.i = make([]int64, 0, cnt)
	} else {
		out.f = make([]float32, 0, cnt)
	}
	if x.batch != nil {
		out.batch = make([]bool, 0, cnt)
	}
	for o := 0; o < outer; o++ {
		for _, v := range idx.i {
			if v < 0 {
				v += int64(d)
			}
			if v < 0 || v >= int64(d) {
				return nil, n.errorf(layers.ErrInvalid, "index %d out of range for axis of size %d", v, d)
			}
			base := (o*d + int(v)) * inner
			if x.isInt {
				out.i = append(out.i, x.i[base:base+inner]...)
			} else {
				out.f = append(out.f, x.f[base:base+inner]...)
			}
			if x.batch != nil {
				out.batch = append(out.batch, x.batch[base:base+inner]...)
			}
		}
	}
	return out, nil
}

func concat(n *node, ins []*tensor, axis int64) (*tensor, error) {
	var ts []*tensor
	for _, t := range ins {
		if t != nil {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		return nil, n.errorf(layers.ErrBadFile, "no inputs")
	}
	rank := len(ts[0].dims)
	ax, err := normAxis(n, axis, max(rank, 1))
	if err != nil {
		return nil, err
	}
	isInt := ts[0].isInt
	dims := append([]int(nil), ts[0].dims...)
	if rank == 0 {
		return nil, n.errorf(layers.ErrInvalid, "concatenating scalars")
	}
	dims[ax] = 0
	anyBatch := false
	for _, t := range ts {
		if len(t.dims) != rank || t.isInt != isInt || t.bAxis != ts[0].bAxis || t.bAxis == ax {
			return nil, n.errorf(layers.ErrUnsupported, "inputs of differing rank, type or batch broadcast")
		}
		for k := range t.dims {
			if k != ax && t.dims[k] != ts[0].dims[k] {
				return nil, n.errorf(layers.ErrShapeMismatch, "input dims %v and %v", t.dims, ts[0].dims)
			}
		}
		dims[ax] += t.dims[ax]
		anyBatch = anyBatch || t.batch != nil
	}
	outer := shapeSize(dims[:ax])
	out := &tensor{dims: dims, isInt: isInt, bAxis: ts[0].bAxis}
	if anyBatch {
		out.batch = []bool{}
	}
	for o := 0; o < outer; o++ {
		for _, t := range ts {
			blk := shapeSize(t.dims[ax:])
			if isInt {
				out.i = append(out.i, t.i[o*blk:(o+1)*blk]...)
			} else {
				out.f = append(out.f, t.f[o*blk:(o+1)*blk]...)
			}
			if anyBatch {
				if t.batch != nil {
					out.batch = append(out.batch, t.batch[o*blk:(o+1)*blk]...)
				} else {
					out.batch = append(out.batch, make([]bool, blk)...)
				}
			}
		}
	}
	return out, nil
}

// shapeArg turns a 1-D int tensor into dims; an element marked as the batch size
// becomes an axis of size 1 reported as bAxis.
func shapeArg(n *node, s *tensor) ([]int, int, error) {
	if !s.isInt || len(s.dims) > 1 || s.bAxis >= 0 {
		return nil, -1, n.errorf(layers.ErrBadFile, "shape input must be a 1-D integer tensor")
	}
	dims := make([]int, len(s.i))
	bAxis := -1
	total := int64(1)
	for k, v := range s.i {
		if s.isBatchMarked(k) {
			if bAxis >= 0 || v != 1 {
				return nil, -1, n.errorf(layers.ErrUnsupported, "shape with batch-size entries %v", s.i)
			}
			bAxis, v = k, 1
		}
		if v < 0 || v > layers.MaxElements {
			return nil, -1, n.errorf(layers.ErrInvalid, "shape %v has dimension %d", s.i, v)
		}
		if v > 0 && total > int64(maxFolded)/v {
			return nil, -1, n.errorf(layers.ErrUnsupported, "shape %v is too large to fold", s.i)
		}
		total *= max(v, 1)
		dims[k] = int(v)
	}
	return dims, bAxis, nil
}

// reshapeTarget resolves a Reshape target (0 copies, -1 infers) for constants.
func reshapeTarget(n *node, in []int, target []int64, allowZero bool) ([]int, error) {
	out := make([]int, len(target))
	free, known := -1, 1
	for k, v := range target {
		switch {
		case v == 0 && !allowZero:
			if k >= len(in) {
				return nil, n.errorf(layers.ErrInvalid, "target %v copies a missing dimension", target)
			}
			out[k] = in[k]
		case v == -1:
			if free >= 0 {
				return nil, n.errorf(layers.ErrInvalid, "target %v has two -1", target)
			}
			free = k
			continue
		case v < 0 || v > layers.MaxElements:
			return nil, n.errorf(layers.ErrInvalid, "target %v", target)
		default:
			out[k] = int(v)
		}
		if out[k] > 0 && known > layers.MaxElements/out[k] {
			return nil, n.errorf(layers.ErrInvalid, "target %v too large", target)
		}
		known *= out[k]
	}
	size := shapeSize(in)
	if free >= 0 {
		if known == 0 || size%known != 0 {
			return nil, n.errorf(layers.ErrShapeMismatch, "cannot reshape %v to %v", in, target)
		}
		out[free] = size / known
	} else if known != size {
		return nil, n.errorf(layers.ErrShapeMismatch, "cannot reshape %v to %v", in, target)
	}
	bound := 1
	for _, d := range out {
		if d > 1 && bound > maxFolded/d {
			return nil, n.errorf(layers.ErrUnsupported, "target %v too large", target)
		}
		bound *= max(d, 1)
	}
	return out, nil
}

func permArg(n *node, rank int) ([]int, error) {
	p := n.ints("perm", nil)
	perm := make([]int, rank)
	if p == nil {
		for k := range perm {
			perm[k] = rank - 1 - k
		}
		return perm, nil
	}
	if len(p) != rank {
		return nil, n.errorf(layers.ErrInvalid, "perm %v for rank %d", p, rank)
	}
	seen := make([]bool, rank)
	for k, v := range p {
		if v < 0 || v >= int64(rank) || seen[v] {
			return nil, n.errorf(layers.ErrInvalid, "perm %v is not a permutation", p)
		}
		seen[v] = true
		perm[k] = int(v)
	}
	return perm, nil
}

func strides(dims []int) []int {
	s := make([]int, len(dims))
	acc := 1
	for k := len(dims) - 1; k >= 0; k-- {
		s[k] = acc
		acc *= dims[k]
	}
	return s
}

// transposeTensor permutes a constant's axes: output axis k is input axis perm[k].
func transposeTensor(x *tensor, perm []int) *tensor {
	dims := make([]int, len(perm))
	for k, p := range perm {
		dims[k] = x.dims[p]
	}
	src := transposeIndex(x.dims, perm)
	out := &tensor{dims: dims, isInt: x.isInt, bAxis: -1}
	for k, p := range perm {
		if p == x.bAxis {
			out.bAxis = k
		}
	}
	if x.isInt {
		out.i = make([]int64, len(src))
		for k, s := range src {
			out.i[k] = x.i[s]
		}
	} else {
		out.f = make([]float32, len(src))
		for k, s := range src {
			out.f[k] = x.f[s]
		}
	}
	if x.batch != nil {
		out.batch = make([]bool, len(src))
		for k, s := range src {
			out.batch[k] = x.batch[s]
		}
	}
	return out
}

// transposeIndex returns, for each flat output index of a transpose of dims by perm,
// the flat input index it reads.
func transposeIndex(dims []int, perm []int) []int {
	st := strides(dims)
	od := make([]int, len(perm))
	ost := make([]int, len(perm))
	for k, p := range perm {
		od[k] = dims[p]
		ost[k] = st[p]
	}
	n := shapeSize(dims)
	out := make([]int, n)
	idx := make([]int, len(od))
	off := 0
	for o := 0; o < n; o++ {
		out[o] = off
		for a := len(od) - 1; a >= 0; a-- {
			idx[a]++
			off += ost[a]
			if idx[a] < od[a] {
				break
			}
			off -= ost[a] * idx[a]
			idx[a] = 0
		}
	}
	return out
}

// broadcastDims is numpy broadcasting of two shapes.
func broadcastDims(a, b []int) ([]int, bool) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for k := 0; k < r; k++ {
		da, db := 1, 1
		if j := k - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := k - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[k] = da
		case da == 1:
			out[k] = db
		default:
			return nil, false
		}
	}
	return out, true
}

// broadcastIndex maps each flat index of out to the flat index of in (broadcast).
func broadcastIndex(out, in []int) []int {
	r := len(out)
	st := make([]int, r)
	ist := strides(in)
	for k := range in {
		if in[k] != 1 {
			st[k+r-len(in)] = ist[k]
		}
	}
	n := shapeSize(out)
	res := make([]int, n)
	idx := make([]int, r)
	off := 0
	for o := 0; o < n; o++ {
		res[o] = off
		for a := r - 1; a >= 0; a-- {
			idx[a]++
			off += st[a]
			if idx[a] < out[a] {
				break
			}
			off -= st[a] * idx[a]
			idx[a] = 0
		}
	}
	return res
}

// alignedBAxis returns t's batch axis position in a broadcast of rank r.
func alignedBAxis(t *tensor, r int) int {
	if t.bAxis < 0 {
		return -1
	}
	return t.bAxis + r - len(t.dims)
}

func broadcastTo(n *node, x, shape *tensor) (*tensor, error) {
	dims, ok := broadcastDims(x.dims, shape.dims)
	if !ok {
		return nil, n.errorf(layers.ErrShapeMismatch, "cannot broadcast %v to %v", x.dims, shape.dims)
	}
	if shapeSize(dims) > maxFolded {
		return nil, n.errorf(layers.ErrUnsupported, "expanded shape %v too large", dims)
	}
	ba, bb := alignedBAxis(x, len(dims)), alignedBAxis(shape, len(dims))
	if ba >= 0 && bb >= 0 && ba != bb {
		return nil, n.errorf(layers.ErrUnsupported, "two different batch axes")
	}
	if x.batch != nil {
		return nil, n.errorf(layers.ErrUnsupported, "expanding the batch size")
	}
	src := broadcastIndex(dims, x.dims)
	out := &tensor{dims: dims, isInt: x.isInt, bAxis: max(ba, bb)}
	if x.isInt {
		out.i = make([]int64, len(src))
		for k, s := range src {
			out.i[k] = x.i[s]
		}
	} else {
		out.f = make([]float32, len(src))
		for k, s := range src {
			out.f[k] = x.f[s]
		}
	}
	return out, nil
}

func binaryConst(n *node, op string, a, b *tensor) (*tensor, error) {
	dims, ok := broadcastDims(a.dims, b.dims)
	if !ok {
		return nil, n.errorf(layers.ErrShapeMismatch, "cannot broadcast %v and %v", a.dims, b.dims)
	}
	if shapeSize(dims) > maxFolded {
		return nil, n.errorf(layers.ErrUnsupported, "result %v too large", dims)
	}
	aMarked, bMarked := a.batch != nil && a.hasBatch(), b.batch != nil && b.hasBatch()
	if aMarked || bMarked {
		// multiples of the batch size stay symbolic under multiplication by constants
		if op != "Mul" || (aMarked && bMarked) || !a.isInt || !b.isInt {
			return nil, n.errorf(layers.ErrUnsupported, "arithmetic on the batch size")
		}
	}
	ba, bb := alignedBAxis(a, len(dims)), alignedBAxis(b, len(dims))
	if ba >= 0 && bb >= 0 && ba != bb {
		return nil, n.errorf(layers.ErrUnsupported, "two different batch axes")
	}
	ia, ib := broadcastIndex(dims, a.dims), broadcastIndex(dims, b.dims)
	out := &tensor{dims: dims, bAxis: max(ba, bb)}
	cmp := op == "Equal" || op == "Less" || op == "Greater"
	if a.isInt && b.isInt {
		out.isInt = true
		out.i = make([]int64, len(ia))
		for k := range ia {
			x, y := a.i[ia[k]], b.i[ib[k]]
			var v int64
			switch op {
			case "Add":
				v = x + y
			case "Sub":
				v = x - y
			case "Mul":
				v = x * y
			case "Div":
				if y == 0 {
					return nil, n.errorf(layers.ErrInvalid, "integer division by zero")
				}
				v = x / y
			case "Max":
				v = max(x, y)
			case "Min":
				v = min(x, y)
			case "Equal":
				v = b2i(x == y)
			case "Less":
				v = b2i(x < y)
			case "Greater":
				v = b2i(x > y)
			default:
				v = int64(binop(op, float64(x), float64(y)))
			}
			out.i[k] = v
		}
		if aMarked || bMarked {
			m := a
			if bMarked {
				m = b
			}
			src := broadcastIndex(dims, m.dims)
			out.batch = make([]bool, len(src))
			for k, j := range src {
				out.batch[k] = m.batch[j]
			}
		}
		return out, nil
	}
	af, bf := a.floats(), b.floats()
	if cmp {
		out.isInt = true
		out.i = make([]int64, len(ia))
		for k := range ia {
			out.i[k] = int64(binop(op, float64(af[ia[k]]), float64(bf[ib[k]])))
		}
		return out, nil
	}
	out.f = make([]float32, len(ia))
	for k := range ia {
		x, y := af[ia[k]], bf[ib[k]]
		switch op {
		case "Add":
			out.f[k] = x + y
		case "Sub":
			out.f[k] = x - y
		case "Mul":
			out.f[k] = x * y
		case "Div":
			out.f[k] = x / y
		default:
			out.f[k] = float32(binop(op, float64(x), float64(y)))
		}
	}
	return out, nil
}

func where(n *node, c, a, b *tensor) (*tensor, error) {
	d1, ok := broadcastDims(c.dims, a.dims)
	if ok {
		d1, ok = broadcastDims(d1, b.dims)
	}
	if !ok {
		return nil, n.errorf(layers.ErrShapeMismatch, "cannot broadcast %v, %v, %v", c.dims, a.dims, b.dims)
	}
	if shapeSize(d1) > maxFolded {
		return nil, n.errorf(layers.ErrUnsupported, "result %v too large", d1)
	}
	if c.hasBatch() || a.bAxis >= 0 || b.bAxis >= 0 || a.isInt != b.isInt {
		return nil, n.errorf(layers.ErrUnsupported, "batch-dependent condition or mixed types")
	}
	ic, ia, ib := broadcastIndex(d1, c.dims), broadcastIndex(d1, a.dims), broadcastIndex(d1, b.dims)
	out := &tensor{dims: d1, isInt: a.isInt, bAxis: -1}
	if a.batch != nil || b.batch != nil {
		out.batch = make([]bool, len(ic))
	}
	cv := c.ints()
	for k := range ic {
		src, j := a, ia[k]
		if cv[ic[k]] == 0 {
			src, j = b, ib[k]
		}
		if out.isInt {
			out.i = append(out.i, src.i[j])
		} else {
			out.f = append(out.f, src.f[j])
		}
		if out.batch != nil && src.batch != nil {
			out.batch[k] = src.batch[j]
		}
	}
	return out, nil
}

// sliceSpec is a resolved Slice: per axis start, step and count.
type sliceSpec struct {
	start, step, count []int
}

// sliceArgs resolves Slice's starts/ends/axes/steps (inputs since opset 10,
// attributes before) against dims.
func sliceArgs(n *node, ins []*tensor, dims []int) (sliceSpec, error) {
	r := len(dims)
	sp := sliceSpec{start: make([]int, r), step: make([]int, r), count: append([]int(nil), dims...)}
	for k := range sp.step {
		sp.step[k] = 1
	}
	get := func(k int) ([]int64, error) {
		if k >= len(ins) || ins[k] == nil {
			if n.in(k) != "" {
				return nil, n.errorf(layers.ErrUnsupported, "slice input %d computed at run time", k)
			}
			return nil, nil
		}
		if ins[k].hasBatch() {
			return nil, n.errorf(layers.ErrUnsupported, "slice bounds depend on the batch size")
		}
		return ins[k].ints(), nil
	}
	var starts, ends, axes, steps []int64
	var err error
	if n.has("starts") {
		starts, ends, axes = n.ints("starts", nil), n.ints("ends", nil), n.ints("axes", nil)
	} else {
		if starts, err = get(1); err != nil {
			return sp, err
		}
		if ends, err = get(2); err != nil {
			return sp, err
		}
		if axes, err = get(3); err != nil {
			return sp, err
		}
		if steps, err = get(4); err != nil {
			return sp, err
		}
	}
	if len(starts) != len(ends) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return sp, n.errorf(layers.ErrBadFile, "starts, ends, axes and steps differ in length")
	}
	seen := make([]bool, r)
	for k := range starts {
		ax := int64(k)
		if axes != nil {
			ax = axes[k]
		}
		a, err := normAxis(n, ax, r)
		if err != nil {
			return sp, err
		}
		if seen[a] {
			return sp, n.errorf(layers.ErrInvalid, "axis %d repeated", ax)
		}
		seen[a] = true
		st := int64(1)
		if steps != nil {
			st = steps[k]
		}
		if st == 0 {
			return sp, n.errorf(layers.ErrInvalid, "step 0")
		}
		d := int64(dims[a])
		s, e := starts[k], ends[k]
		if s < 0 {
			s += d
		}
		if e < 0 {
			e += d
		}
		var cnt int64
		if st > 0 {
			s, e = min(max(s, 0), d), min(max(e, 0), d)
			if e > s {
				cnt = (e - s + st - 1) / st
			}
		} else {
			s, e = min(max(s, 0), d-1), min(max(e, -1), d-1)
			if s > e {
				cnt = (s - e - st - 1) / -st
			}
		}
		sp.start[a], sp.step[a], sp.count[a] = int(s), int(st), int(cnt)
	}
	return sp, nil
}

// sliceIndex lists the flat input indices a slice selects, in output order.
func sliceIndex(dims []int, sp sliceSpec) []int {
	st := strides(dims)
	n := shapeSize(sp.count)
	out := make([]int, 0, n)
	if n == 0 {
		return out
	}
	idx := make([]int, len(dims))
	for {
		off := 0
		for a := range dims {
			off += (sp.start[a] + idx[a]*sp.step[a]) * st[a]
		}
		out = append(out, off)
		a := len(dims) - 1
		for ; a >= 0; a-- {
			idx[a]++
			if idx[a] < sp.count[a] {
				break
			}
			idx[a] = 0
		}
		if a < 0 {
			return out
		}
	}
}

func sliceTensor(n *node, x *tensor, sp sliceSpec) (*tensor, error) {
	if x.bAxis >= 0 && sp.count[x.bAxis] != 1 {
		return nil, n.errorf(layers.ErrUnsupported, "slicing the batch axis")
	}
	src := sliceIndex(x.dims, sp)
	out := &tensor{dims: sp.count, isInt: x.isInt, bAxis: x.bAxis}
	if x.isInt {
		out.i = make([]int64, len(src))
		for k, s := range src {
			out.i[k] = x.i[s]
		}
	} else {
		out.f = make([]float32, len(src))
		for k, s := range src {
			out.f[k] = x.f[s]
		}
	}
	if x.batch != nil {
		out.batch = make([]bool, len(src))
		for k, s := range src {
			out.batch[k] = x.batch[s]
		}
	}
	return out, nil
}

// reduceProd multiplies over axes; a product over one batch-size multiple stays one.
func reduceProd(n *node, x *tensor, axes []int64, keep, noop bool) (*tensor, error) {
	if x.bAxis >= 0 {
		return nil, n.errorf(layers.ErrUnsupported, "reducing a batch-broadcast constant")
	}
	r := len(x.dims)
	mark := make([]bool, r)
	if len(axes) == 0 {
		if noop {
			return x, nil
		}
		for k := range mark {
			mark[k] = true
		}
	}
	for _, a := range axes {
		k, err := normAxis(n, a, r)
		if err != nil {
			return nil, err
		}
		mark[k] = true
	}
	var od, kd []int
	for k, d := range x.dims {
		if mark[k] {
			kd = append(kd, 1)
		} else {
			kd = append(kd, d)
			od = append(od, d)
		}
	}
	if keep {
		od = kd
	}
	out := &tensor{dims: od, isInt: x.isInt, bAxis: -1}
	cnt := shapeSize(kd)
	if x.isInt {
		out.i = make([]int64, cnt)
		for k := range out.i {
			out.i[k] = 1
		}
	} else {
		out.f = make([]float32, cnt)
		for k := range out.f {
			out.f[k] = 1
		}
	}
	if x.batch != nil {
		out.batch = make([]bool, cnt)
	}
	dst := broadcastIndex(x.dims, kd) // input element -> output element
	for k, o := range dst {
		if x.isInt {
			out.i[o] *= x.i[k]
		} else {
			out.f[o] *= x.f[k]
		}
		if x.isBatchMarked(k) {
			if out.batch[o] {
				return nil, n.errorf(layers.ErrUnsupported, "product of two batch sizes")
			}
			out.batch[o] = true
		}
	}
	return out, nil
}
