package onnx

import (
	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

func foldSqueeze(n *node, ins []*tensor) (*tensor, error) {
	op := n.GetOpType()
	x, err := needIn(n, ins, 0)
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
	return c, nil
}

func foldConcat(n *node, ins []*tensor) (*tensor, error) {
	return concat(n, ins, n.int("axis", 0))
}

func foldConstantOfShape(n *node, ins []*tensor) (*tensor, error) {
	s, err := needIn(n, ins, 0)
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
	return t, nil
}

func foldReshape(n *node, ins []*tensor) (*tensor, error) {
	op := n.GetOpType()
	x, err := needIn(n, ins, 0)
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
		s, err := needIn(n, ins, 1)
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
	return c, nil
}

func foldExpand(n *node, ins []*tensor) (*tensor, error) {
	x, err := needIn(n, ins, 0)
	if err != nil {
		return nil, err
	}
	s, err := needIn(n, ins, 1)
	if err != nil {
		return nil, err
	}
	dims, bAxis, err := shapeArg(n, s)
	if err != nil {
		return nil, err
	}
	shape := newFloat(dims, nil)
	shape.bAxis = bAxis
	return broadcastTo(n, x, shape)
}

func foldTranspose(n *node, ins []*tensor) (*tensor, error) {
	x, err := needIn(n, ins, 0)
	if err != nil {
		return nil, err
	}
	perm, err := permArg(n, len(x.dims))
	if err != nil {
		return nil, err
	}
	return transposeTensor(x, perm), nil
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

// take fills t's values, and its batch flags when x has some, with x's at the flat
// indices src.
func (t *tensor) take(x *tensor, src []int) {
	if x.isInt {
		t.i = make([]int64, len(src))
		for k, s := range src {
			t.i[k] = x.i[s]
		}
	} else {
		t.f = make([]float32, len(src))
		for k, s := range src {
			t.f[k] = x.f[s]
		}
	}
	if x.batch != nil {
		t.batch = make([]bool, len(src))
		for k, s := range src {
			t.batch[k] = x.batch[s]
		}
	}
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
	out.take(x, src)
	return out
}

// transposeIndex returns, for each flat output index of a transpose of dims by perm,
// the flat input index it reads.
func transposeIndex(dims []int, perm []int) []int {
	od, ost := transposeStrides(dims, perm)
	return stridedIndex[int](od, ost)
}

// transposeStrides returns the dims of a transpose of dims by perm and, per output
// axis, the input stride it walks.
func transposeStrides(dims, perm []int) (od, ost []int) {
	st := strides(dims)
	od = make([]int, len(perm))
	ost = make([]int, len(perm))
	for k, p := range perm {
		od[k], ost[k] = dims[p], st[p]
	}
	return od, ost
}

// stridedIndex returns, for each flat row-major index over dims, the offset
// sum(idx[a]*st[a]): the flat input index a transpose or broadcast reads.
func stridedIndex[T int | int32](dims, st []int) []T {
	out := make([]T, shapeSize(dims))
	idx := make([]int, len(dims))
	off := 0
	for o := range out {
		out[o] = T(off)
		for a := len(dims) - 1; a >= 0; a-- {
			idx[a]++
			off += st[a]
			if idx[a] < dims[a] {
				break
			}
			off -= st[a] * idx[a]
			idx[a] = 0
		}
	}
	return out
}
