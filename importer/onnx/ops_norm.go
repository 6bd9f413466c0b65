package onnx

import (
	"sort"

	"github.com/kinfer/kinfer/layers"
)

// blockLayout reports whether every physical run of k elements holds one logical run
// (the last axes' block of the ONNX shape without batch) in the same order; then perm[j]
// is the logical offset within the block of physical offset j.
func blockLayout(idx []int32, k int) (perm []int, ok bool) {
	perm = make([]int, k)
	for j := range perm {
		perm[j] = j
	}
	if idx == nil {
		return perm, true
	}
	if len(idx)%k != 0 {
		return nil, false
	}
	for j := 0; j < k; j++ {
		perm[j] = int(idx[j]) % k
	}
	for j, v := range idx {
		base := int(idx[j-j%k]) - perm[0]
		if int(v) != base+perm[j%k] || base%k != 0 {
			return nil, false
		}
	}
	return perm, true
}

// broadcastBlock broadcasts a constant to the trailing dims (right-aligned).
func broadcastBlock(n *node, t *tensor, dims []int) ([]float32, error) {
	if t.isInt || len(t.dims) > len(dims) {
		return nil, n.errorf(layers.ErrShapeMismatch, "parameter of shape %v for normalized dims %v", t.dims, dims)
	}
	full := make([]int, len(dims))
	for k := range full {
		full[k] = 1
	}
	copy(full[len(dims)-len(t.dims):], t.dims)
	for k, v := range full {
		if v != 1 && v != dims[k] {
			return nil, n.errorf(layers.ErrShapeMismatch, "parameter of shape %v for normalized dims %v", t.dims, dims)
		}
	}
	ix := broadcastIndex(dims, full)
	f := t.floats()
	out := make([]float32, len(ix))
	for j, i := range ix {
		out[j] = f[i]
	}
	return out, nil
}

// opLayerNorm imports LayerNormalization (opset 17) over axes [axis, rank): the
// normalized block is taken in whatever layout the data has when each physical run
// holds one block (NHWC data normalized over C, H, W needs no transpose), with Scale
// and B permuted to match.
func opLayerNorm(b *builder, n *node) error {
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	if err := b.onlyOutput(n, 0); err != nil {
		return err
	}
	n.ignore("stash_type")
	r := len(d.shape)
	ax, err := normAxis(n, n.int("axis", -1), r)
	if err != nil {
		return err
	}
	if d.bAxis >= ax {
		return n.errorf(layers.ErrUnsupported, "normalizing over the batch axis (axis %d, batch at %d)", ax, d.bAxis)
	}
	dims := d.shape[ax:]
	k := shapeSize(dims)
	var params [2][]float32
	for i := range params {
		t, err := b.constIn(n, i+1)
		if err != nil {
			return err
		}
		if t == nil {
			if i == 0 {
				return n.errorf(layers.ErrBadFile, "missing Scale")
			}
			continue
		}
		if params[i], err = broadcastBlock(n, t, dims); err != nil {
			return err
		}
	}
	perm, ok := blockLayout(d.idx, k)
	if !ok {
		if err := b.materialize(nil, b.phys, n.GetName()); err != nil {
			return err
		}
		perm, _ = blockLayout(nil, k)
	}
	l := &layers.LayerNorm{Info: b.info(n.GetName(), "LayerNormalization"), Axes: 1, Eps: float64(n.float("epsilon", 1e-5))}
	for i, p := range params {
		if p == nil {
			continue
		}
		q := make([]float32, k)
		for j := range q {
			q[j] = p[perm[j]]
		}
		if i == 0 {
			l.Gamma = q
		} else {
			l.Beta = q
		}
	}
	l.OrigParams = int64(len(l.Gamma) + len(l.Beta))
	if b.phys.Last() != k {
		t := []int{d.size() / k, k}
		if t[0] == 1 {
			t = t[1:]
		}
		if err := b.reshapePhys(t, n.GetName()); err != nil {
			return err
		}
	}
	if err := b.emit(l); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}

// physAxes returns, when the data's layout is a transpose of its per-sample ONNX shape
// (row-major or the NHWC / NLC layout of spatial ops), which per-sample axis each
// physical axis holds.
func physAxes(d *dyn) ([]int, bool) {
	nb := d.nb()
	id := make([]int, len(nb))
	for k := range id {
		id[k] = k
	}
	if d.idx == nil {
		return id, true
	}
	if len(nb) >= 2 { // channels last: (C, rest...) -> (rest..., C)
		p := append(append([]int(nil), id[1:]...), 0)
		if sameIdx(transposeIdx(nb, p), d.idx) {
			return p, true
		}
	}
	return nil, false
}

// opReduce imports ReduceMean, ReduceMax and ReduceSum over constant axes that exclude
// the batch: a mean or max over H and W of NHWC data is a GlobalPool2D, anything else a
// layers.Reduce over the matching physical axes.
// reduceOps maps the ONNX reductions onto layers.Reduce's operations.
var reduceOps = map[string]layers.ReduceOp{
	"ReduceMean": layers.ReduceMean, "ReduceMax": layers.ReduceMax, "ReduceSum": layers.ReduceSum,
	"ReduceMin": layers.ReduceMin, "ReduceProd": layers.ReduceProd, "ReduceSumSquare": layers.ReduceSumSquare,
	"ReduceL1": layers.ReduceL1, "ReduceL2": layers.ReduceL2, "ReduceLogSum": layers.ReduceLogSum,
	"ReduceLogSumExp": layers.ReduceLogSumExp,
}

func opReduce(b *builder, n *node) error {
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	r := len(d.shape)
	var axes []int64
	inputAxes := b.opset >= 18 || (n.GetOpType() == "ReduceSum" && b.opset >= 13)
	if inputAxes {
		if t, err := b.constIn(n, 1); err != nil {
			return err
		} else if t != nil {
			if !t.isInt {
				return n.errorf(layers.ErrInvalid, "axes must be integers")
			}
			axes = t.ints()
		}
	} else {
		axes = n.ints("axes", nil)
	}
	keep := n.int("keepdims", 1) != 0
	noop := n.int("noop_with_empty_axes", 0) != 0
	if len(axes) == 0 {
		if noop {
			return b.setOut(n.out(0), d.clone())
		}
		return n.errorf(layers.ErrUnsupported, "reducing every axis, the batch included")
	}
	red := make([]bool, r)
	for _, a := range axes {
		k, err := normAxis(n, a, r)
		if err != nil {
			return err
		}
		if k == d.bAxis {
			return n.errorf(layers.ErrUnsupported, "reducing the batch axis")
		}
		red[k] = true
	}
	// per-sample axes (the ONNX shape without batch) that are reduced
	var redNB []bool
	var outShape []int
	for k, v := range d.shape {
		if k != d.bAxis {
			redNB = append(redNB, red[k])
		}
		if !red[k] {
			outShape = append(outShape, v)
		} else if keep {
			outShape = append(outShape, 1)
		}
	}
	bAxis := d.bAxis
	if !keep {
		for k := 0; k < d.bAxis; k++ {
			if red[k] {
				bAxis--
			}
		}
	}
	pa, ok := physAxes(d)
	if !ok {
		if err := b.materialize(nil, d.nb(), n.GetName()); err != nil {
			return err
		}
		pa, _ = physAxes(&dyn{shape: d.shape, bAxis: d.bAxis})
	}
	nb := d.nb()
	phys := make([]int, len(pa))
	for k, a := range pa {
		phys[k] = nb[a]
	}
	if err := b.reshapePhys(phys, n.GetName()); err != nil {
		return err
	}
	var rAxes []int
	for k, a := range pa {
		if redNB[a] {
			rAxes = append(rAxes, k)
		}
	}
	op := reduceOps[n.GetOpType()]
	var l layers.Layer
	if len(phys) == 3 && len(rAxes) == 2 && rAxes[0] == 0 && rAxes[1] == 1 && (op == layers.ReduceMean || op == layers.ReduceMax) {
		l = &layers.GlobalPool2D{Info: b.info(n.GetName(), n.GetOpType()), Max: op == layers.ReduceMax, KeepDims: keep}
	} else {
		l = &layers.Reduce{Info: b.info(n.GetName(), n.GetOpType()), Op: op, Axes: rAxes, KeepDims: keep}
	}
	if err := b.emit(l); err != nil {
		return err
	}
	// the layout of the result: the kept physical axes in their order, over the output's
	// per-sample axes
	newNB := map[int]int{} // old per-sample axis -> new per-sample axis
	j := 0
	for a, isRed := range redNB {
		if !isRed || keep {
			newNB[a] = j
			j++
		}
	}
	nd := &dyn{shape: outShape, bAxis: bAxis}
	var outNB, perm []int
	for k, v := range outShape {
		if k != bAxis {
			outNB = append(outNB, v)
		}
	}
	for _, a := range pa {
		if !redNB[a] || keep {
			perm = append(perm, newNB[a])
		}
	}
	if !sort.IntsAreSorted(perm) {
		nd.idx = transposeIdx(outNB, perm)
	}
	return b.setOut(n.out(0), nd)
}

// opPRelu imports PRelu with constant slopes: one slope is a leaky ReLU, otherwise the
// slopes are laid out like the data (the importer's NHWC for NCHW models) and kept at
// their smallest period.
func opPRelu(b *builder, n *node) error {
	t, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if t == nil || t.isInt {
		return n.errorf(layers.ErrBadFile, "missing slope")
	}
	if r := len(b.d.shape); b.opset < 7 && len(t.dims) == 1 && t.dims[0] > 1 && r > 2 {
		// PRelu-6 applied a 1-D slope on the channel axis
		dims := make([]int, r-1)
		for k := range dims {
			dims[k] = 1
		}
		dims[0] = t.dims[0]
		t = &tensor{dims: dims, f: t.f, bAxis: -1}
	}
	v, err := b.expand(n, t)
	if err != nil {
		return err
	}
	if periodic(v, 1) {
		if err := b.activation(n, layers.LeakyReLU(v[0])); err != nil {
			return err
		}
		return b.setOut(n.out(0), b.d.clone())
	}
	p := len(v)
	for k := len(b.phys) - 1; k >= 0; k-- {
		if q := shapeSize(b.phys[k:]); periodic(v, q) {
			p = q
			break
		}
	}
	if err := b.emit(&layers.PReLU{Info: b.info(n.GetName(), "PRelu"), Alpha: append([]float32(nil), v[:p]...), OrigParams: int64(t.size())}); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}

func opBatchNorm(b *builder, n *node) error {
	eps := n.float("epsilon", 1e-5)
	n.ignore("momentum")
	if n.int("training_mode", 0) != 0 {
		return n.errorf(layers.ErrUnsupported, "training_mode=1")
	}
	if n.has("spatial") && n.int("spatial", 1) != 1 {
		return n.errorf(layers.ErrUnsupported, "spatial=0")
	}
	if err := b.onlyOutput(n, 0); err != nil {
		return err
	}
	var p [4][]float32
	for k := range p {
		t, err := b.constIn(n, k+1)
		if err != nil {
			return err
		}
		if t == nil || len(t.dims) != 1 || t.isInt {
			return n.errorf(layers.ErrBadFile, "input %d must be a 1-D float constant", k+1)
		}
		p[k] = t.f
	}
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	if d.bAxis != 0 || len(d.shape) < 2 {
		return n.errorf(layers.ErrUnsupported, "input of shape %v with the batch at axis %d", d.shape, d.bAxis)
	}
	s, t, err := layers.FoldBatchNorm(p[0], p[1], p[2], p[3], float64(eps))
	if err != nil {
		return n.wrap(err)
	}
	ch := len(s)
	if d.shape[1] != ch {
		return n.errorf(layers.ErrShapeMismatch, "%d channels in the statistics, input %v", ch, d.shape)
	}
	dims := make([]int, len(d.shape)-1)
	for k := range dims {
		dims[k] = 1
	}
	dims[0] = ch
	sv, err := b.expand(n, newFloat(dims, s))
	if err != nil {
		return err
	}
	tv, err := b.expand(n, newFloat(dims, t))
	if err != nil {
		return err
	}
	if err := b.affine(n, sv, tv, int64(4*ch)); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}
