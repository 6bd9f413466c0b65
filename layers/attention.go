package layers

import (
	"fmt"
	"math"
)

// MultiHeadAttention is scaled dot-product attention with learned projections (Keras
// MultiHeadAttention, torch nn.MultiheadAttention). Its inputs are, in order: the query
// (Tq, QDim), the value (Tv, VDim), the key (Tv, KDim) when HasKey (else the value is
// the key), and a mask when HasMask: one flag per (query, key) pair, of shape (Tq, Tv),
// (1, Tv) or (Tv) (a key padding mask), 1 to attend and 0 to mask.
//
// Per sample and head h, with Q = query Wq + Bq, K = key Wk + Bk, V = value Wv + Bv
// split into Heads blocks of KeyDim (Q, K) and ValueDim (V) columns:
//
//	S = (Q_h * Scale) K_h^T; S[i][j] += MaskAdd where masked (j > i too when Causal)
//	O_h = softmax(S) V_h;  out = O Wo + Bo
//
// Weights are row-major: Wq (QDim, Heads*KeyDim) is Keras's (QDim, Heads, KeyDim)
// kernel, Wo (Heads*ValueDim, OutDim) its (Heads, ValueDim, OutDim) one. Biases may be
// nil (use_bias=False).
type MultiHeadAttention struct {
	Info
	Heads, KeyDim, ValueDim  int
	QDim, KDim, VDim, OutDim int
	Wq, Wk, Wv, Wo           []float32
	Bq, Bk, Bv, Bo           []float32
	Scale                    float32
	Causal                   bool
	HasKey, HasMask          bool
	// MaskAdd is added to a masked score: Keras adds -1e9 (a fully masked row then
	// attends uniformly), torch uses -Inf.
	MaskAdd float32
	// MaskIsPad inverts the flags: a nonzero flag masks (torch's key_padding_mask).
	MaskIsPad bool
	// ScoreBias, when set, holds Tq*Tv constants added to every head's scores after the
	// scale (an additive attn_mask baked into an ONNX export, such as torch's causal
	// mask of 0 and -Inf).
	ScoreBias []float32
}

// Masks reports whether mask flag f masks its score.
func (l *MultiHeadAttention) Masks(f float32) bool { return (f == 0) != l.MaskIsPad }

// NumInputs is the number of inputs the layer reads.
func (l *MultiHeadAttention) NumInputs() int {
	n := 2
	if l.HasKey {
		n++
	}
	if l.HasMask {
		n++
	}
	return n
}

// check validates the configuration and the weights.
func (l *MultiHeadAttention) check() error {
	for _, d := range []int{l.Heads, l.KeyDim, l.ValueDim, l.QDim, l.KDim, l.VDim, l.OutDim} {
		if d <= 0 || d > MaxElements {
			return errf(ErrInvalid, "heads %d, key_dim %d, value_dim %d, query/key/value/output features %d/%d/%d/%d", l.Heads, l.KeyDim, l.ValueDim, l.QDim, l.KDim, l.VDim, l.OutDim)
		}
	}
	if l.Heads > MaxElements/l.KeyDim || l.Heads > MaxElements/l.ValueDim {
		return errf(ErrInvalid, "%d heads of %d/%d features", l.Heads, l.KeyDim, l.ValueDim)
	}
	hk, hv := l.Heads*l.KeyDim, l.Heads*l.ValueDim
	for _, w := range []struct {
		name string
		w    []float32
		n    int
		opt  bool
	}{
		{"query kernel", l.Wq, l.QDim * hk, false}, {"key kernel", l.Wk, l.KDim * hk, false},
		{"value kernel", l.Wv, l.VDim * hv, false}, {"output kernel", l.Wo, hv * l.OutDim, false},
		{"query bias", l.Bq, hk, true}, {"key bias", l.Bk, hk, true},
		{"value bias", l.Bv, hv, true}, {"output bias", l.Bo, l.OutDim, true},
	} {
		if w.opt && w.w == nil {
			continue
		}
		if err := checkLen(w.name, w.w, w.n); err != nil {
			return err
		}
	}
	if l.Scale != l.Scale || math.IsInf(float64(l.Scale), 0) {
		return errf(ErrInvalid, "score scale %g", l.Scale)
	}
	return nil
}

// OutputShapeN implements MultiInput.
func (l *MultiHeadAttention) OutputShapeN(ins []Shape) (Shape, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	if len(ins) != l.NumInputs() {
		return nil, errf(ErrInvalid, "attention takes %d inputs (query, value%s%s), got %d", l.NumInputs(),
			map[bool]string{true: ", key"}[l.HasKey], map[bool]string{true: ", mask"}[l.HasMask], len(ins))
	}
	q, v := ins[0], ins[1]
	k := v
	if l.HasKey {
		k = ins[2]
	}
	if len(q) != 2 || len(v) != 2 || len(k) != 2 {
		return nil, errf(ErrUnsupported, "attention over inputs %v, %v, %v: only (steps, features) inputs are supported", q, v, k)
	}
	if q[1] != l.QDim || v[1] != l.VDim || k[1] != l.KDim {
		return nil, errf(ErrShapeMismatch, "query %v, value %v, key %v do not end in %d, %d, %d features", q, v, k, l.QDim, l.VDim, l.KDim)
	}
	if k[0] != v[0] {
		return nil, errf(ErrShapeMismatch, "key %v and value %v differ in steps", k, v)
	}
	if l.ScoreBias != nil && len(l.ScoreBias) != q[0]*v[0] {
		return nil, errf(ErrShapeMismatch, "score bias of %d values for %d queries and %d keys", len(l.ScoreBias), q[0], v[0])
	}
	if l.HasMask {
		m := ins[len(ins)-1]
		ok := len(m) == 1 && m[0] == v[0] || len(m) == 2 && (m[0] == q[0] || m[0] == 1) && m[1] == v[0]
		if !ok {
			return nil, errf(ErrShapeMismatch, "mask %v does not fit %d queries and %d keys (want (%d, %d), (1, %d) or (%d))", m, q[0], v[0], q[0], v[0], v[0], v[0])
		}
	}
	return Shape{q[0], l.OutDim}, nil
}

// OutputShape implements Layer (self-attention on one input, when that is the layout).
func (l *MultiHeadAttention) OutputShape(in Shape) (Shape, error) {
	if l.HasKey || l.HasMask {
		return nil, errf(ErrInvalid, "attention needs %d inputs", l.NumInputs())
	}
	return l.OutputShapeN([]Shape{in, in})
}

// MaskRows is the number of mask rows per sample for mask shape m: Tq, or 1 when one
// row applies to every query.
func MaskRows(m Shape) int {
	if len(m) == 2 {
		return m[0]
	}
	return 1
}

// ScratchLenN implements MultiInput: Q, K, V, one score row and the heads' outputs
// of one sample.
func (l *MultiHeadAttention) ScratchLenN(ins []Shape, _ int) int {
	tq, tv := ins[0][0], ins[1][0]
	hk, hv := l.Heads*l.KeyDim, l.Heads*l.ValueDim
	return tq*hk + tv*hk + tv*hv + tv + tq*hv
}

// ScratchLen implements Layer.
func (l *MultiHeadAttention) ScratchLen(in Shape, batch int) int {
	return l.ScratchLenN([]Shape{in, in}, batch)
}

// project computes y (rows, n) = x (rows, k) W + b in float64 sums.
func project(y, x, w, b []float32, rows, k, n int) {
	for r := 0; r < rows; r++ {
		xr := x[r*k : (r+1)*k]
		for j := 0; j < n; j++ {
			var s float64
			if b != nil {
				s = float64(b[j])
			}
			for i, xv := range xr {
				s += float64(xv) * float64(w[i*n+j])
			}
			y[r*n+j] = float32(s)
		}
	}
}

// ForwardN implements MultiInput.
func (l *MultiHeadAttention) ForwardN(dst []float32, srcs [][]float32, scratch []float32, ins []Shape, batch int) {
	tq, tv := ins[0][0], ins[1][0]
	hk, hv := l.Heads*l.KeyDim, l.Heads*l.ValueDim
	q := scratch[:tq*hk]
	k := scratch[tq*hk : tq*hk+tv*hk]
	v := scratch[tq*hk+tv*hk : tq*hk+tv*hk+tv*hv]
	s := scratch[tq*hk+tv*hk+tv*hv : tq*hk+tv*hk+tv*hv+tv]
	o := scratch[tq*hk+tv*hk+tv*hv+tv : tq*hk+tv*hk+tv*hv+tv+tq*hv]
	keyIn := 1
	if l.HasKey {
		keyIn = 2
	}
	var mshape Shape
	if l.HasMask {
		mshape = ins[len(ins)-1]
	}
	for b := 0; b < batch; b++ {
		project(q, srcs[0][b*tq*l.QDim:], l.Wq, l.Bq, tq, l.QDim, hk)
		project(k, srcs[keyIn][b*tv*l.KDim:], l.Wk, l.Bk, tv, l.KDim, hk)
		project(v, srcs[1][b*tv*l.VDim:], l.Wv, l.Bv, tv, l.VDim, hv)
		for i := range q {
			q[i] *= l.Scale
		}
		var mask []float32
		if l.HasMask {
			mask = srcs[len(srcs)-1][b*mshape.Size() : (b+1)*mshape.Size()]
		}
		for h := 0; h < l.Heads; h++ {
			for i := 0; i < tq; i++ {
				qi := q[i*hk+h*l.KeyDim : i*hk+(h+1)*l.KeyDim]
				for j := 0; j < tv; j++ {
					kj := k[j*hk+h*l.KeyDim : j*hk+(h+1)*l.KeyDim]
					var d float64
					for e, x := range qi {
						d += float64(x) * float64(kj[e])
					}
					s[j] = float32(d)
				}
				if l.ScoreBias != nil {
					for j, c := range l.ScoreBias[i*tv : (i+1)*tv] {
						s[j] += c
					}
				}
				l.maskRow(s, mask, MaskRows(mshape), i)
				softmaxRow(s, false)
				oi := o[i*hv+h*l.ValueDim : i*hv+(h+1)*l.ValueDim]
				for e := range oi {
					var d float64
					for j, p := range s {
						d += float64(p) * float64(v[j*hv+h*l.ValueDim+e])
					}
					oi[e] = float32(d)
				}
			}
		}
		project(dst[b*tq*l.OutDim:], o, l.Wo, l.Bo, tq, hv, l.OutDim)
	}
}

// maskRow adds MaskAdd to the masked scores of query i's row s. mask holds rows rows
// of len(s) flags (nil: no mask).
func (l *MultiHeadAttention) maskRow(s, mask []float32, rows, i int) {
	if mask != nil {
		r := mask[:len(s)]
		if rows > 1 {
			r = mask[i*len(s) : (i+1)*len(s)]
		}
		for j, f := range r {
			if l.Masks(f) {
				s[j] += l.MaskAdd
			}
		}
	}
	if l.Causal {
		// a masked entry is counted once, as Keras combines the masks with a logical and
		for j := i + 1; j < len(s); j++ {
			if mask == nil || !l.Masks(maskFlag(mask, rows, len(s), i, j)) {
				s[j] += l.MaskAdd
			}
		}
	}
}

func maskFlag(mask []float32, rows, tv, i, j int) float32 {
	if rows > 1 {
		return mask[i*tv+j]
	}
	return mask[j]
}

// Forward implements Layer (self-attention on one input).
func (l *MultiHeadAttention) Forward(dst, src, scratch []float32, in Shape, batch int) {
	l.ForwardN(dst, [][]float32{src, src}, scratch, []Shape{in, in}, batch)
}

// Weights implements Layer.
func (l *MultiHeadAttention) Weights() [][]float32 {
	var w [][]float32
	for _, p := range [][]float32{l.Wq, l.Bq, l.Wk, l.Bk, l.Wv, l.Bv, l.Wo, l.Bo, l.ScoreBias} {
		if p != nil {
			w = append(w, p)
		}
	}
	return w
}

// Config implements Layer.
func (l *MultiHeadAttention) Config() string {
	return fmt.Sprintf("heads=%d key_dim=%d value_dim=%d out=%d bias=%v causal=%v key=%v mask=%v pad_mask=%v score_bias=%v scale=%g mask_add=%g",
		l.Heads, l.KeyDim, l.ValueDim, l.OutDim, l.Bq != nil, l.Causal, l.HasKey, l.HasMask, l.MaskIsPad, l.ScoreBias != nil, l.Scale, l.MaskAdd)
}

// FLOPsN implements MultiInput.
func (l *MultiHeadAttention) FLOPsN(ins []Shape) int64 {
	if len(ins) < 2 || len(ins[0]) != 2 || len(ins[1]) != 2 {
		return 0
	}
	tq, tv := int64(ins[0][0]), int64(ins[1][0])
	hk, hv := int64(l.Heads*l.KeyDim), int64(l.Heads*l.ValueDim)
	f := 2 * tq * int64(l.QDim) * hk
	f += 2 * tv * (int64(l.KDim)*hk + int64(l.VDim)*hv)
	f += 2*tq*tv*(hk+hv) + 5*tq*tv*int64(l.Heads)
	f += 2 * tq * hv * int64(l.OutDim)
	return f
}

// FLOPs implements Layer.
func (l *MultiHeadAttention) FLOPs(in Shape) int64 { return l.FLOPsN([]Shape{in, in}) }
