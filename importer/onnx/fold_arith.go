package onnx

import (
	"math"

	"github.com/kinfer/kinfer/layers"
)

func foldRange(n *node, ins []*tensor) (*tensor, error) {
	var v [3]*tensor
	var err error
	for k := range v {
		if v[k], err = needIn(n, ins, k); err != nil {
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
		return newInt([]int{cnt}, out), nil
	}
	out := make([]float32, cnt)
	for k := range out {
		out[k] = float32(s + float64(k)*d)
	}
	return newFloat([]int{cnt}, out), nil
}

func foldWhere(n *node, ins []*tensor) (*tensor, error) {
	var v [3]*tensor
	var err error
	for k := range v {
		if v[k], err = needIn(n, ins, k); err != nil {
			return nil, err
		}
	}
	return where(n, v[0], v[1], v[2])
}

func foldBinary(n *node, ins []*tensor) (*tensor, error) {
	op := n.GetOpType()
	if op == "Max" || op == "Min" {
		if len(ins) != 2 {
			return nil, n.errorf(layers.ErrUnsupported, "%d inputs", len(ins))
		}
	}
	a, err := needIn(n, ins, 0)
	if err != nil {
		return nil, err
	}
	b, err := needIn(n, ins, 1)
	if err != nil {
		return nil, err
	}
	return binaryConst(n, op, a, b)
}

func foldReduceProd(n *node, ins []*tensor) (*tensor, error) {
	x, err := needIn(n, ins, 0)
	if err != nil {
		return nil, err
	}
	axes, err := axesArg(n, ins)
	if err != nil {
		return nil, err
	}
	return reduceProd(n, x, axes, n.int("keepdims", 1) != 0, n.int("noop_with_empty_axes", 0) != 0)
}

func foldUnary(n *node, ins []*tensor) (*tensor, error) {
	op := n.GetOpType()
	x, err := needIn(n, ins, 0)
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
		return c, nil
	}
	for k, v := range c.f {
		c.f[k] = float32(unary(op, float64(v)))
	}
	return c, nil
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
	return stridedIndex[int](out, st)
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
	out.take(x, src)
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
