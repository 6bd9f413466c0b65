package onnx

import (
	"strings"

	"github.com/kinfer/kinfer/layers"
)

func (b *builder) emitAttention(r *attnRegion, endv *tval, bases []*attnBase, batch int, fail func(string, ...any) error) error {
	if endv == nil {
		return fail("no output")
	}
	yb := bases[endv.base]
	if yb.kind != akOut || endv.scale != 1 || endv.isMask {
		return fail("the output is not the output projection")
	}
	hb := bases[yb.src]
	var sb *attnBase
	for _, x := range bases {
		if x.kind == akScore {
			if sb != nil {
				return fail("two score products")
			}
			sb = x
		}
	}
	pq, pk, pv := bases[sb.q], bases[sb.k], bases[hb.src]
	xq, xk, xv := bases[pq.src], bases[pk.src], bases[pv.src]
	heads := len(headsOf(sb))
	dk, dv, dout := sb.dk, hb.dv, yb.n
	tq, tk := sb.dims[len(sb.dims)-2], sb.dims[len(sb.dims)-1]
	// the end: one axis is the batch, the rest (steps..., features) row-major
	ed := endv.t.dims
	bAxis := -1
	for a, d := range ed {
		if d != batch {
			continue
		}
		ok := true
		for k, v := range endv.t.i {
			rr, col := int(v)/dout, int(v)%dout
			coords := unflat(k, ed)
			per := 0
			for c := range ed {
				if c != a {
					per = per*ed[c] + coords[c]
				}
			}
			if coords[a] != yb.rowB[rr] || per != yb.rowT[rr]*dout+col {
				ok = false
				break
			}
		}
		if ok {
			bAxis = a
			break
		}
	}
	if bAxis < 0 {
		return fail("the output %v is not (batch, steps, features) in some axis order", ed)
	}
	gather := func(p *attnBase, off, width int) (w, bias []float32) {
		w = make([]float32, p.in*heads*width)
		for i := 0; i < p.in; i++ {
			for c := 0; c < heads*width; c++ {
				w[i*heads*width+c] = p.w[i*p.n+off+c]
			}
		}
		if p.bias != nil {
			bias = append([]float32(nil), p.bias[off:off+heads*width]...)
		}
		return w, bias
	}
	if sb.qOff < 0 || sb.kOff < 0 || hb.vOff < 0 || sb.qOff+heads*dk > pq.n || sb.kOff+heads*dk > pk.n || hb.vOff+heads*dv > pv.n {
		return fail("head columns outside the projections")
	}
	name := b.nodes[r.softmax].GetName()
	if i := strings.LastIndex(name, "/"); i > 0 {
		name = name[:i] // torch's module path: "/layers.0/self_attn"
	}
	l := &layers.MultiHeadAttention{Info: b.info(name, "Attention"), Heads: heads, KeyDim: dk, ValueDim: dv,
		QDim: pq.in, KDim: pk.in, VDim: pv.in, OutDim: dout, Scale: float32(sb.scale)}
	l.Wq, l.Bq = gather(pq, sb.qOff, dk)
	l.Wk, l.Bk = gather(pk, sb.kOff, dk)
	l.Wv, l.Bv = gather(pv, hb.vOff, dv)
	l.Wo, l.Bo = yb.w, yb.bias
	l.ScoreBias = sb.bias
	names := []string{xq.name, xv.name}
	if xk.name != xv.name {
		l.HasKey = true
		names = append(names, xk.name)
	}
	if sb.mask != nil {
		l.HasMask, l.MaskAdd, l.MaskIsPad = true, sb.mask.add, sb.mask.pad
		names = append(names, sb.mask.src)
	}
	var vals []layers.Value
	var shapes []layers.Shape
	for k, v := range names {
		b.load(v)
		nb := b.d.nb()
		want := []int{tq, pq.in}
		switch {
		case k == 1:
			want = []int{tk, pv.in}
		case k == 2 && l.HasKey:
			want = []int{tk, pk.in}
		case k == len(names)-1 && l.HasMask:
			want = nb
		}
		if shapeSize(nb) != shapeSize(want) {
			return fail("input %q of per-sample shape %v, want %v", v, nb, want)
		}
		if err := b.materialize(nil, want, b.nodes[r.softmax].GetName()); err != nil {
			return err
		}
		vals, shapes = append(vals, b.val), append(shapes, b.phys.Clone())
	}
	if err := b.emitN(l, vals, shapes); err != nil {
		return err
	}
	st := b.states[xq.name]
	shape := append([]int(nil), ed...)
	shape[bAxis] = st.d.shape[st.d.bAxis]
	return b.setOut(r.end, &dyn{shape: shape, bAxis: bAxis})
}

func unflat(k int, d []int) []int {
	c := make([]int, len(d))
	for a := len(d) - 1; a >= 0; a-- {
		c[a] = k % d[a]
		k /= d[a]
	}
	return c
}

// opMatMulN imports MatMul of two computed tensors outside an attention pattern as
// layers.MatMul: both operands carry the batch on axis 0 and at least two axes per
// sample, which are multiplied per sample with the leading axes broadcast.
