package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastMHA runs MultiHeadAttention as GEMMs: the projections over every row of the
// batch with weights packed at compile (one GEMM for Q, K and V together when the
// query, key and value are one tensor), then per sample and head S = Q_h K_h^T and
// O_h = softmax(S) V_h with the same GEMM kernel on K_h^T and V_h packed per call (a
// copy of kd*Tv and Tv*vd floats, small next to the Tq*Tv*(kd+vd) FMAs it feeds), the
// scale folded into the query weights, and the output projection over every row.
type fastMHA struct {
	l                *layers.MultiHeadAttention
	isa              asm.ISA
	tq, tv           int
	hk, hv           int
	qkv              gemmLayer // fused [Wq*scale | Wk | Wv]; k == 0 when not built
	q, k, v, o       gemmLayer
	mrows            int // mask rows per sample (0: no mask)
	msize            int
	isaS, isaO       asm.ISA // GEMM paths of the score and output products
	packSLen, packOL int
}

func newFastMHA(l *layers.MultiHeadAttention, ins []layers.Shape, _ layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	if len(ins) < 2 || len(ins[0]) != 2 || len(ins[1]) != 2 {
		return compiled{}, false
	}
	k := &fastMHA{l: l, isa: isa, tq: ins[0][0], tv: ins[1][0], hk: l.Heads * l.KeyDim, hv: l.Heads * l.ValueDim}
	lin := layers.ActLinear
	wq, bq := scaled(l.Wq, l.Scale), scaled(l.Bq, l.Scale)
	k.q = newGemmLayer(isa, l.QDim, k.hk, wq, bq, lin)
	k.k = newGemmLayer(isa, l.KDim, k.hk, l.Wk, l.Bk, lin)
	k.v = newGemmLayer(isa, l.VDim, k.hv, l.Wv, l.Bv, lin)
	k.o = newGemmLayer(isa, k.hv, l.OutDim, l.Wo, l.Bo, lin)
	if !l.HasKey && l.QDim == l.VDim && k.tq == k.tv {
		n := 2*k.hk + k.hv
		w := make([]float32, l.QDim*n)
		for r := 0; r < l.QDim; r++ {
			copy(w[r*n:], wq[r*k.hk:(r+1)*k.hk])
			copy(w[r*n+k.hk:], l.Wk[r*k.hk:(r+1)*k.hk])
			copy(w[r*n+2*k.hk:], l.Wv[r*k.hv:(r+1)*k.hv])
		}
		var b []float32
		if bq != nil || l.Bk != nil || l.Bv != nil {
			b = make([]float32, n)
			copy(b, bq)
			copy(b[k.hk:], l.Bk)
			copy(b[2*k.hk:], l.Bv)
		}
		k.qkv = newGemmLayer(isa, l.QDim, n, w, b, lin)
	}
	if l.HasMask {
		m := ins[len(ins)-1]
		k.mrows, k.msize = layers.MaskRows(m), m.Size()
	}
	k.isaS, k.isaO = gemmISA(isa, k.tv), gemmISA(isa, l.ValueDim)
	k.packSLen = asm.PackedLen(k.isaS, l.KeyDim, k.tv)
	k.packOL = asm.PackedLen(k.isaO, k.tv, l.ValueDim)
	return compiled{kn: k, name: "attention gemm/" + isa.String() + " + softmax", scratchLen: k.scratch(maxBatch)}, true
}

func scaled(w []float32, s float32) []float32 {
	if w == nil {
		return nil
	}
	out := make([]float32, len(w))
	for i, v := range w {
		out[i] = v * s
	}
	return out
}

// scratch: Q, K, V and the heads' outputs of every row, then one head's K^T, packed
// K^T, scores, V_h and packed V_h.
func (k *fastMHA) scratch(batch int) int {
	rows := batch * (k.tq*k.hk + k.tv*k.hk + k.tv*k.hv + k.tq*k.hv)
	l := k.l
	return rows + l.KeyDim*k.tv + k.packSLen + k.tq*k.tv + k.tv*l.ValueDim + k.packOL
}

func (k *fastMHA) runN(dst []float32, srcs [][]float32, scratch []float32, batch int) {
	l := k.l
	nq, nk := batch*k.tq, batch*k.tv
	p := 0
	take := func(n int) []float32 { s := scratch[p : p+n]; p += n; return s }
	var q, kk, v []float32
	ldq, ldk, ldv := k.hk, k.hk, k.hv
	self := k.qkv.k > 0 && &srcs[0][0] == &srcs[1][0]
	if self {
		n := 2*k.hk + k.hv
		all := take(nq * n)
		k.qkv.gemm(nq, srcs[0], all)
		q, kk, v = all, all[k.hk:], all[2*k.hk:]
		ldq, ldk, ldv = n, n, n
	} else {
		q, kk, v = take(nq*k.hk), take(nk*k.hk), take(nk*k.hv)
		keyIn := srcs[1]
		if l.HasKey {
			keyIn = srcs[2]
		}
		k.q.gemm(nq, srcs[0], q)
		k.k.gemm(nk, keyIn, kk)
		k.v.gemm(nk, srcs[1], v)
	}
	o := take(nq * k.hv)
	kt := take(l.KeyDim * k.tv)
	packS := take(k.packSLen)
	s := take(k.tq * k.tv)
	vh := take(k.tv * l.ValueDim)
	packO := take(k.packOL)
	inf := float32(math.Inf(1))
	kd, vd := l.KeyDim, l.ValueDim
	for b := 0; b < batch; b++ {
		var mask []float32
		if k.mrows > 0 {
			mask = srcs[len(srcs)-1][b*k.msize : (b+1)*k.msize]
		}
		for h := 0; h < l.Heads; h++ {
			kb := kk[b*k.tv*ldk+h*kd:]
			for j := 0; j < k.tv; j++ {
				r := kb[j*ldk : j*ldk+kd]
				for e, x := range r {
					kt[e*k.tv+j] = x
				}
			}
			asm.PackB(k.isaS, packS, kd, k.tv, kt, nil)
			asm.Gemm(k.isaS, k.tq, k.tv, kd, q[b*k.tq*ldq+h*kd:], ldq, packS, s, k.tv, -inf, inf)
			if l.ScoreBias != nil {
				for i, c := range l.ScoreBias {
					s[i] += c
				}
			}
			if mask != nil || l.Causal {
				for i := 0; i < k.tq; i++ {
					maskScores(l, s[i*k.tv:(i+1)*k.tv], mask, k.mrows, i)
				}
			}
			asm.Softmax(k.isa, s, k.tv)
			vb := v[b*k.tv*ldv+h*vd:]
			for j := 0; j < k.tv; j++ {
				copy(vh[j*vd:(j+1)*vd], vb[j*ldv:j*ldv+vd])
			}
			asm.PackB(k.isaO, packO, k.tv, vd, vh, nil)
			asm.Gemm(k.isaO, k.tq, vd, k.tv, s, k.tv, packO, o[b*k.tq*k.hv+h*vd:], k.hv, -inf, inf)
		}
	}
	k.o.gemm(nq, o, dst)
}

// maskScores adds the layer's MaskAdd to the masked entries of query i's scores, as
// the reference does.
func maskScores(l *layers.MultiHeadAttention, s, mask []float32, rows, i int) {
	tv := len(s)
	if mask != nil {
		r := mask[:tv]
		if rows > 1 {
			r = mask[i*tv : (i+1)*tv]
		}
		for j, f := range r {
			if l.Masks(f) {
				s[j] += l.MaskAdd
			}
		}
	}
	if l.Causal {
		for j := i + 1; j < tv; j++ {
			if mask == nil || (rows > 1 && !l.Masks(mask[i*tv+j])) || (rows <= 1 && !l.Masks(mask[j])) {
				s[j] += l.MaskAdd
			}
		}
	}
}

// fastLayerNorm runs LayerNorm with the vector row kernel (scale and shift of ones and
// zeros when the layer has none).
type fastLayerNorm struct {
	isa  asm.ISA
	n    int
	g, b []float32
	eps  float32
	per  int
}

func newFastLayerNorm(l *layers.LayerNorm, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if l.Axes < 1 || l.Axes > len(in) || l.Eps > math.MaxFloat32 {
		return compiled{}, false
	}
	n := layers.Shape(in[len(in)-l.Axes:]).Size()
	k := &fastLayerNorm{isa: isa, n: n, g: l.Gamma, b: l.Beta, eps: float32(l.Eps), per: in.Size()}
	if k.g == nil {
		k.g = make([]float32, n)
		for i := range k.g {
			k.g[i] = 1
		}
	}
	if k.b == nil {
		k.b = make([]float32, n)
	}
	return compiled{k: k, name: "layernorm rows/" + isa.String(), inPlace: true}, true
}

func (k *fastLayerNorm) run(dst, src, _ []float32, batch int) {
	asm.LayerNorm(k.isa, dst[:batch*k.per], src[:batch*k.per], k.g, k.b, k.n, k.eps)
}

// hasAttention reports whether a model has a compiled attention layer: its per-sample
// score and value products do not split across a team, so a large batch is split into
// parts as for convolutions.
func hasAttention(us []unit) bool {
	for _, u := range us {
		if _, ok := u.c.kn.(*fastMHA); ok {
			return true
		}
	}
	return false
}
