package onnx

import (
	"fmt"
	"math"

	"github.com/kinfer/kinfer/layers"
)

// The checks applyAttention makes at each product of a region.

func extRow(x *attnBase, e int64) (bb, t, f int) {
	d := x.dims
	rem := int(e)
	coords := make([]int, len(d))
	for a := len(d) - 1; a >= 0; a-- {
		coords[a] = rem % d[a]
		rem /= d[a]
	}
	t = 0
	for a := 0; a < len(d)-1; a++ {
		if a == x.bAxis {
			continue
		}
		t = t*d[a] + coords[a]
	}
	return coords[x.bAxis], t, coords[len(d)-1]
}

// attnProjection makes the base of a projection (MatMul or Gemm on a constant
// weight) of rows of x, which must be whole rows of an input or of the heads.
func (b *builder) attnProjection(n *node, x *tval, bases []*attnBase, ins []*tensor) (*attnBase, error) {
	w := ins[1]
	if len(w.dims) != 2 {
		return nil, fmt.Errorf("weight of shape %v", w.dims)
	}
	k, nn := w.dims[0], w.dims[1]
	wf := w.floats()
	var bias []float32
	if n.GetOpType() == "Gemm" {
		alpha, beta := n.float("alpha", 1), n.float("beta", 1)
		if n.int("transA", 0) != 0 {
			return nil, fmt.Errorf("Gemm transA")
		}
		if n.int("transB", 0) != 0 {
			k, nn = nn, k
			t := make([]float32, len(wf))
			for i := 0; i < nn; i++ {
				for j := 0; j < k; j++ {
					t[j*nn+i] = wf[i*k+j]
				}
			}
			wf = t
		}
		if alpha != 1 {
			t := make([]float32, len(wf))
			for i, v := range wf {
				t[i] = v * alpha
			}
			wf = t
		}
		if len(ins) > 2 && ins[2] != nil {
			c := ins[2].floats()
			if len(c) != nn {
				return nil, fmt.Errorf("Gemm C of %d values for %d columns", len(c), nn)
			}
			bias = make([]float32, nn)
			for j := range bias {
				bias[j] = c[j] * beta
			}
		}
		n.ignore("alpha", "beta", "transA", "transB")
	}
	d := x.t.dims
	if len(d) < 1 || d[len(d)-1] != k {
		return nil, fmt.Errorf("input %v does not end in the weight's %d rows", d, k)
	}
	if x.scale != 1 {
		return nil, fmt.Errorf("scaled projection input")
	}
	src := bases[x.base]
	rows := x.t.size() / k
	nb := &attnBase{kind: akProj, w: wf, bias: bias, in: k, n: nn, src: x.base, rowB: make([]int, rows), rowT: make([]int, rows)}
	nb.dims = append(append([]int(nil), d[:len(d)-1]...), nn)
	for r := 0; r < rows; r++ {
		row := x.t.i[r*k : (r+1)*k]
		switch src.kind {
		case akExt:
			if src.dims[len(src.dims)-1] != k || row[0]%int64(k) != 0 {
				return nil, fmt.Errorf("rows are not whole rows of %q", src.name)
			}
			for e, v := range row {
				if v != row[0]+int64(e) {
					return nil, fmt.Errorf("rows are not whole rows of %q", src.name)
				}
			}
			nb.rowB[r], nb.rowT[r], _ = extRow(src, row[0])
		case akHeads:
			// columns h*dv+e of row r are heads[g(b, h), t, e] for one (b, t)
			nb.kind = akOut
			if k != len(headsOf(src))*src.dv {
				return nil, fmt.Errorf("output projection of %d rows for %d heads of %d", k, len(headsOf(src)), src.dv)
			}
			tq := src.dims[len(src.dims)-2]
			bb, t := -1, -1
			for c, v := range row {
				g := int(v) / (tq * src.dv)
				tt := int(v) / src.dv % tq
				e := int(v) % src.dv
				if g >= len(src.gB) || e != c%src.dv || src.gH[g] != c/src.dv || (bb >= 0 && (src.gB[g] != bb || tt != t)) {
					return nil, fmt.Errorf("the heads are not concatenated in order before the output projection")
				}
				bb, t = src.gB[g], tt
			}
			nb.rowB[r], nb.rowT[r] = bb, t
		default:
			return nil, fmt.Errorf("projection of a %v", src.kind)
		}
	}
	return nb, nil
}

func headsOf(s *attnBase) map[int]bool {
	h := map[int]bool{}
	for _, v := range s.gH {
		h[v] = true
	}
	return h
}

// attnScores checks that a (G..., T, dk) and c (G..., dk, S) are per (sample, head)
// column blocks of projections, and returns the scores' base.
func attnScores(a, c *tval, bases []*attnBase) (*attnBase, error) {
	ad, cd := a.t.dims, c.t.dims
	if len(ad) < 3 || len(cd) != len(ad) || !sameInts(ad[:len(ad)-2], cd[:len(cd)-2]) || ad[len(ad)-1] != cd[len(cd)-2] {
		return nil, fmt.Errorf("operands %v and %v", ad, cd)
	}
	pq, pk := bases[a.base], bases[c.base]
	if pk.kind != akProj || a.isMask || c.isMask {
		return nil, fmt.Errorf("keys are not a projection")
	}
	g := shapeSize(ad[:len(ad)-2])
	tq, dk, tk := ad[len(ad)-2], ad[len(ad)-1], cd[len(cd)-1]
	nb := &attnBase{kind: akScore, dims: append(append([]int(nil), ad[:len(ad)-1]...), tk), q: a.base, k: c.base, dk: dk,
		scale: a.scale * c.scale, gB: make([]int, g), gH: make([]int, g)}
	c0 := make([]int, g)
	for gi := 0; gi < g; gi++ {
		v := a.t.i[gi*tq*dk]
		c0[gi] = int(v) % pq.n
	}
	off := c0[0]
	for _, x := range c0 {
		off = min(off, x)
	}
	nb.qOff = off
	for gi := 0; gi < g; gi++ {
		if (c0[gi]-off)%dk != 0 {
			return nil, fmt.Errorf("query head columns are not blocks of %d", dk)
		}
		nb.gH[gi] = (c0[gi] - off) / dk
		for t := 0; t < tq; t++ {
			for e := 0; e < dk; e++ {
				v := int(a.t.i[(gi*tq+t)*dk+e])
				r, col := v/pq.n, v%pq.n
				if col != c0[gi]+e || pq.rowT[r] != t || (t > 0 || e > 0) && pq.rowB[r] != nb.gB[gi] {
					return nil, fmt.Errorf("query of head %d, step %d is not one block of one row", gi, t)
				}
				nb.gB[gi] = pq.rowB[r]
			}
		}
	}
	// keys: kT[g, e, j] = P_k[row(b_g, j), kOff + h_g*dk + e]
	v0 := int(c.t.i[0])
	nb.kOff = v0%pk.n - nb.gH[0]*dk
	for gi := 0; gi < g; gi++ {
		for e := 0; e < dk; e++ {
			for j := 0; j < tk; j++ {
				v := int(c.t.i[(gi*dk+e)*tk+j])
				r, col := v/pk.n, v%pk.n
				if col != nb.kOff+nb.gH[gi]*dk+e || pk.rowT[r] != j || pk.rowB[r] != nb.gB[gi] {
					return nil, fmt.Errorf("keys of head %d are not the same block of each key's row", gi)
				}
			}
		}
	}
	if err := checkHeads(nb.gB, nb.gH); err != nil {
		return nil, err
	}
	return nb, nil
}

// checkHeads checks that every (sample, head) pair occurs once.
func checkHeads(gB, gH []int) error {
	seen := map[[2]int]bool{}
	nh := 0
	for i := range gB {
		k := [2]int{gB[i], gH[i]}
		if seen[k] {
			return fmt.Errorf("sample %d head %d appears twice", gB[i], gH[i])
		}
		seen[k] = true
		nh = max(nh, gH[i]+1)
	}
	if len(seen) == 0 || len(gB)%nh != 0 {
		return fmt.Errorf("%d head blocks for %d heads", len(gB), nh)
	}
	return nil
}

// attnHeads checks P (the softmax, iota) times V (G..., S, dv) per (sample, head).
func attnHeads(p, c *tval, bases []*attnBase) (*attnBase, error) {
	pb, pv := bases[p.base], bases[c.base]
	cd := c.t.dims
	if !isIota(p.t) || pv.kind != akProj || len(cd) != len(pb.dims) || cd[len(cd)-2] != pb.dims[len(pb.dims)-1] || c.scale != 1 {
		return nil, fmt.Errorf("values %v for probabilities %v", cd, pb.dims)
	}
	g := len(pb.gB)
	tk, dv := cd[len(cd)-2], cd[len(cd)-1]
	nb := *pb
	nb.kind = akHeads
	nb.vv = p.base // the probabilities (and through them the scores)
	nb.dims = append(append([]int(nil), pb.dims[:len(pb.dims)-1]...), dv)
	nb.dv = dv
	nb.vOff = int(c.t.i[0])%pv.n - pb.gH[0]*dv
	nb.src = c.base
	for gi := 0; gi < g; gi++ {
		for j := 0; j < tk; j++ {
			for e := 0; e < dv; e++ {
				v := int(c.t.i[(gi*tk+j)*dv+e])
				r, col := v/pv.n, v%pv.n
				if col != nb.vOff+pb.gH[gi]*dv+e || pv.rowT[r] != j || pv.rowB[r] != pb.gB[gi] {
					return nil, fmt.Errorf("values of head %d are not the same block of each key's row", gi)
				}
			}
		}
	}
	return &nb, nil
}

// attnScoreBias records constant c added to scores t (after their scale): it must
// broadcast to the scores and be the same for every (sample, head).
func attnScoreBias(sb *attnBase, t *tval, c *tensor) error {
	if !isIota(t.t) || sb.bias != nil || sb.mask != nil {
		return fmt.Errorf("not added to the scores once, before any other mask")
	}
	sd := sb.dims
	if len(c.dims) > len(sd) {
		return fmt.Errorf("constant %v for scores %v", c.dims, sd)
	}
	if _, err := layers.BroadcastShape(layers.Shape(c.dims), layers.Shape(sd)); err != nil {
		return fmt.Errorf("constant %v does not broadcast to scores %v", c.dims, sd)
	}
	tq, tk := sd[len(sd)-2], sd[len(sd)-1]
	cf := c.floats()
	bias := make([]float32, tq*tk)
	set := make([]bool, tq*tk)
	st := layers.BroadcastStrides(layers.Shape(c.dims), layers.Shape(sd))
	var bad error
	layers.Odometer(layers.Shape(sd), st, func(o, i int) {
		k := o % (tq * tk)
		v := cf[i]
		if set[k] && bias[k] != v && !(v != v && bias[k] != bias[k]) {
			bad = fmt.Errorf("the constant differs between heads or samples")
		}
		bias[k], set[k] = v, true
	})
	if bad != nil {
		return bad
	}
	for _, v := range bias {
		if v != v || v > 0 && math.IsInf(float64(v), 1) {
			return fmt.Errorf("constant holds %v", v)
		}
	}
	sb.bias = bias
	return nil
}

// attnMaskOf records mask m added to scores s: a graph input (N, S) (a flag per key)
// or (N, T, S), through Where(flag, add, 0) or Where(flag, 0, add).
func attnMaskOf(sb *attnBase, s, m *tval, bases []*attnBase) error {
	src := bases[m.base]
	if src.kind != akExt || sb.mask != nil {
		return fmt.Errorf("not a graph input")
	}
	mk := &attnMask{src: src.name}
	switch {
	case m.onFals == 0 && m.onTrue != 0:
		mk.pad, mk.add = true, float32(m.onTrue)
	case m.onTrue == 0 && m.onFals != 0:
		mk.add = float32(m.onFals)
	default:
		return fmt.Errorf("Where(mask, %g, %g)", m.onTrue, m.onFals)
	}
	if mk.add > 0 || math.IsNaN(float64(mk.add)) {
		return fmt.Errorf("mask adds %g", mk.add)
	}
	// broadcast the mask's indices over the scores
	sd := sb.dims
	md := m.t.dims
	if len(md) > len(sd) {
		return fmt.Errorf("mask %v for scores %v", md, sd)
	}
	tq, tk := sd[len(sd)-2], sd[len(sd)-1]
	perKey, perQuery := true, true
	st := layers.BroadcastStrides(layers.Shape(md), layers.Shape(sd))
	var bad error
	layers.Odometer(layers.Shape(sd), st, func(o, i int) {
		if bad != nil {
			return
		}
		g, q, j := o/(tq*tk), o/tk%tq, o%tk
		bb, t, f := extRow(src, m.t.i[i])
		pos := t*src.dims[len(src.dims)-1] + f // flat over the per-sample axes
		if bb != sb.gB[g] {
			bad = fmt.Errorf("mask of another sample")
		}
		perKey = perKey && pos == j
		perQuery = perQuery && pos == q*tk+j
	})
	if bad != nil {
		return bad
	}
	if !perKey && !perQuery {
		return fmt.Errorf("mask elements do not follow the keys")
	}
	mk.perQuery = !perKey
	sb.mask = mk
	return nil
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// emitAttention checks the region's output layout and emits the layer.
