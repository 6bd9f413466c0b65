package onnx

import (
	"github.com/kinfer/kinfer/layers"
)

// dense emits a Dense layer acting on the last ONNX axis with W (K x N, row-major).
func (b *builder) dense(n *node, w []float32, k, units int, bias []float32) error {
	d := b.d
	last := len(d.shape) - 1
	if last < 0 || d.bAxis == last {
		return n.errorf(layers.ErrUnsupported, "matrix product over the batch axis")
	}
	if d.shape[last] != k {
		return n.errorf(layers.ErrShapeMismatch, "input %v does not end in %d features", d.shape, k)
	}
	size := d.size()
	rows := size / k
	var pi []int32 // physical column c holds logical column pi[c]
	var rowOf []int32
	if d.idx != nil {
		pi = make([]int32, k)
		rowOf = make([]int32, rows)
		ok := true
		for c := 0; c < k; c++ {
			pi[c] = d.idx[c] % int32(k)
		}
		for r := 0; r < rows && ok; r++ {
			rowOf[r] = d.idx[r*k] / int32(k)
			for c := 0; c < k; c++ {
				v := d.idx[r*k+c]
				if v/int32(k) != rowOf[r] || v%int32(k) != pi[c] {
					ok = false
					break
				}
			}
		}
		if !ok {
			if err := b.materialize(nil, b.phys, n.GetName()); err != nil {
				return err
			}
			pi, rowOf = nil, nil
		}
	}
	wl := w
	if pi != nil && !isIdentity(pi) {
		wl = make([]float32, len(w))
		for c := 0; c < k; c++ {
			copy(wl[c*units:(c+1)*units], w[int(pi[c])*units:(int(pi[c])+1)*units])
		}
	}
	if b.phys.Last() != k {
		t := []int{rows, k}
		if rows == 1 {
			t = []int{k}
		}
		if err := b.reshapePhys(t, n.GetName()); err != nil {
			return err
		}
	}
	if err := b.emit(&layers.Dense{Info: b.info(n.GetName(), n.GetOpType()), In: k, Units: units, W: wl, B: bias, Act: layers.ActLinear}); err != nil {
		return err
	}
	nd := d.clone()
	nd.shape[last] = units
	nd.idx = nil
	if rowOf != nil && !isIdentity(rowOf) {
		idx := make([]int32, rows*units)
		for r := 0; r < rows; r++ {
			for o := 0; o < units; o++ {
				idx[r*units+o] = rowOf[r]*int32(units) + int32(o)
			}
		}
		nd.idx = idx
	}
	return b.setOut(n.out(0), nd)
}

func opGemm(b *builder, n *node) error {
	if n.in(0) != b.cur {
		return n.errorf(layers.ErrUnsupported, "the data must be input A")
	}
	if n.int("transA", 0) != 0 {
		return n.errorf(layers.ErrUnsupported, "transA=1 on the data")
	}
	transB := n.int("transB", 0) != 0
	alpha, beta := n.float("alpha", 1), n.float("beta", 1)
	if len(b.d.shape) != 2 || b.d.bAxis != 0 {
		return n.errorf(layers.ErrUnsupported, "input of shape %v (Gemm takes a batch of vectors)", b.d.shape)
	}
	wt, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if wt == nil || len(wt.dims) != 2 || wt.isInt || wt.bAxis >= 0 {
		return n.errorf(layers.ErrBadFile, "B must be a float matrix")
	}
	k, units := wt.dims[0], wt.dims[1]
	if transB {
		k, units = units, k
	}
	w := make([]float32, k*units)
	for i := 0; i < k; i++ {
		for j := 0; j < units; j++ {
			v := wt.f[i*units+j]
			if transB {
				v = wt.f[j*k+i]
			}
			w[i*units+j] = alpha * v
		}
	}
	var bias []float32
	if c, err := b.constIn(n, 2); err != nil {
		return err
	} else if c != nil {
		dims, ok := broadcastDims(c.dims, []int{1, units})
		if !ok || len(dims) != 2 || dims[0] != 1 || c.hasBatch() {
			return n.errorf(layers.ErrUnsupported, "C of shape %v (only a per-unit bias)", c.dims)
		}
		ci := broadcastIndex([]int{units}, c.dims[max(0, len(c.dims)-1):])
		if len(c.dims) == 0 {
			ci = make([]int, units)
		}
		cf := c.floats()
		bias = make([]float32, units)
		for j := range bias {
			bias[j] = beta * cf[ci[j]]
		}
	}
	return b.dense(n, w, k, units, bias)
}

func opMatMul(b *builder, n *node) error {
	if n.in(0) != b.cur {
		return n.errorf(layers.ErrUnsupported, "constant times data (the data must be the left operand)")
	}
	wt, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if wt == nil {
		return n.errorf(layers.ErrBadFile, "missing right operand")
	}
	if len(wt.dims) != 2 || wt.isInt || wt.bAxis >= 0 {
		return n.errorf(layers.ErrUnsupported, "right operand of shape %v (a weight matrix is needed)", wt.dims)
	}
	if len(b.d.shape) < 2 {
		return n.errorf(layers.ErrUnsupported, "data of rank %d", len(b.d.shape))
	}
	return b.dense(n, append([]float32(nil), wt.f...), wt.dims[0], wt.dims[1], nil)
}
