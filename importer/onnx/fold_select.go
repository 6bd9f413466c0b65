package onnx

import (
	"github.com/kinfer/kinfer/layers"
)

func foldGather(n *node, ins []*tensor) (*tensor, error) {
	x, err := needIn(n, ins, 0)
	if err != nil {
		return nil, err
	}
	idx, err := needIn(n, ins, 1)
	if err != nil {
		return nil, err
	}
	return gather(n, x, idx, n.int("axis", 0))
}

func foldSlice(n *node, ins []*tensor) (*tensor, error) {
	x, err := needIn(n, ins, 0)
	if err != nil {
		return nil, err
	}
	sl, err := sliceArgs(n, ins, x.dims)
	if err != nil {
		return nil, err
	}
	return sliceTensor(n, x, sl)
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
	out.take(x, src)
	return out, nil
}
