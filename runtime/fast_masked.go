package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// maskedLSTM runs a masked LSTM (layers.Masked) on the GEMM path: one GEMM for the
// input projection of every step, per step one GEMM h*U over the batch and the fused
// gate pass for the samples whose step is kept; a masked sample keeps its h and c, and
// its output row repeats h (zero before its first kept step, or with
// ZeroMaskedOutput), as the reference does. h lives in its own rows (not the output),
// so a zeroed output never feeds the next step. Kept steps compute what the unmasked
// GEMM kernel computes, bit for bit.
type maskedLSTM struct {
	k *fastLSTM // the GEMM-path kernel: packed weights, gate kind
}

func newMaskedLSTM(l *layers.LSTM, in layers.Shape, isa asm.ISA, maxBatch int) (*maskedLSTM, int, bool) {
	if isa == asm.Generic || len(in) != 2 || !l.Act.PerElement() || !l.RecAct.PerElement() {
		return nil, 0, false
	}
	k := newGemmLSTM(l, in[0], isa, maxBatch)
	// scratch: projections, step gates, h, c, and a stepped flag per sample
	u4 := 4 * l.Units
	return &maskedLSTM{k: k}, maxBatch * (k.t*u4 + u4 + 2*l.Units + 1), true
}

// newGemmLSTM packs an LSTM's weights for the GEMM path (x*W + b, h*U) and picks its
// gate pass; t is the sequence length.
func newGemmLSTM(l *layers.LSTM, t int, isa asm.ISA, maxBatch int) *fastLSTM {
	u4 := 4 * l.Units
	gisa := gemmISA(isa, u4)
	k := &fastLSTM{l: l, isa: isa, gisa: gisa, t: t, maxBatch: maxBatch,
		packedW: make([]float32, asm.PackedLen(gisa, l.In, u4)),
		packedU: make([]float32, asm.PackedLen(gisa, l.Units, u4))}
	asm.PackB(gisa, k.packedW, l.In, u4, l.W, l.B)
	asm.PackB(gisa, k.packedU, l.Units, u4, l.U, nil)
	if l.Act.Kind == layers.Tanh {
		switch l.RecAct.Kind {
		case layers.Sigmoid:
			k.fused = true
		case layers.HardSigmoid:
			k.fused, k.gate = true, asm.GateAct{Hard: true, A: l.RecAct.Alpha, B: l.RecAct.Beta}
		}
	}
	return k
}

// step advances one sample's state (h then c) by one input row x on the GEMM path;
// scratch holds 8*Units floats.
func (k *fastLSTM) step(state, x, scratch []float32) {
	l, u := k.l, k.l.Units
	u4 := 4 * u
	inf := float32(math.Inf(1))
	zx, z := scratch[:u4], scratch[u4:2*u4]
	h, c := state[:u], state[u:2*u]
	asm.Gemm(k.gisa, 1, u4, l.In, x, l.In, k.packedW, zx, u4, -inf, inf)
	asm.Gemm(k.gisa, 1, u4, u, h, u, k.packedU, z, u4, -inf, inf)
	if k.fused {
		asm.LSTMStep(k.isa, z, zx, c, h, u, k.gate)
	} else {
		k.gatesGo(z, zx, c, h)
	}
}

// run computes batch samples of x (T, In) with mask (T flags per sample) into dst.
func (m *maskedLSTM) run(dst, src, mask, scratch []float32, batch int) {
	k := m.k
	l, t, u := k.l, k.t, k.l.Units
	u4 := 4 * u
	inf := float32(math.Inf(1))
	zx := scratch[:batch*t*u4]
	rest := scratch[batch*t*u4:]
	z, h, c, stepped := rest[:batch*u4], rest[batch*u4:batch*(u4+u)], rest[batch*(u4+u):batch*(u4+2*u)], rest[batch*(u4+2*u):batch*(u4+2*u+1)]
	asm.Gemm(k.gisa, batch*t, u4, l.In, src, l.In, k.packedW, zx, u4, -inf, inf)
	for b := 0; b < batch; b++ {
		if l.H0 != nil {
			copy(h[b*u:], l.H0)
		} else {
			clear(h[b*u : (b+1)*u])
		}
		if l.C0 != nil {
			copy(c[b*u:], l.C0)
		} else {
			clear(c[b*u : (b+1)*u])
		}
		stepped[b] = 0
	}
	outLen := u
	if l.ReturnSequences {
		outLen = t * u
	}
	for s := 0; s < t; s++ {
		ti := s
		if l.GoBackwards {
			ti = t - 1 - s
		}
		asm.Gemm(k.gisa, batch, u4, u, h, u, k.packedU, z, u4, -inf, inf)
		o := s
		if l.KeepTimeOrder {
			o = ti
		}
		for b := 0; b < batch; b++ {
			hb := h[b*u : (b+1)*u]
			keep := mask[b*t+ti] != 0
			if keep {
				zb := z[b*u4 : (b+1)*u4]
				xb := zx[(b*t+ti)*u4 : (b*t+ti+1)*u4]
				cb := c[b*u : (b+1)*u]
				if k.fused {
					asm.LSTMStep(k.isa, zb, xb, cb, hb, u, k.gate)
				} else {
					k.gatesGo(zb, xb, cb, hb)
				}
				stepped[b] = 1
			}
			if !l.ReturnSequences && s < t-1 {
				continue
			}
			y := dst[b*outLen : (b+1)*outLen]
			if l.ReturnSequences {
				y = y[o*u : (o+1)*u]
			}
			if !keep && (l.ZeroMaskedOutput || stepped[b] == 0) {
				clear(y)
			} else {
				copy(y, hb)
			}
		}
	}
}

// maskedRunner is a masked LSTM kernel: the GEMM path or the whole-sequence one.
type maskedRunner interface {
	run(dst, src, mask, scratch []float32, batch int)
}

// fastMasked is the kernel of a layers.Masked LSTM or Bidirectional(LSTM).
type fastMasked struct {
	f, b  maskedRunner // b: the backward direction of a Bidirectional
	u     int
	merge string
	n     int // per-sample output of one direction
}

// newMaskedRunner picks the whole-sequence kernel for small layers, else the GEMM path.
func newMaskedRunner(l *layers.LSTM, in layers.Shape, isa asm.ISA, mb int) (maskedRunner, int, string, bool) {
	if k, sc, ok := newMaskedSeq(l, in, isa, mb); ok {
		return k, sc, "masked lstm whole-sequence kernel/" + isa.String() + " (contiguous masks; else gemm)", true
	}
	k, sc, ok := newMaskedLSTM(l, in, isa, mb)
	if !ok {
		return nil, 0, "", false
	}
	return k, sc, "masked lstm gemm/" + k.k.gisa.String(), true
}

func newFastMasked(l *layers.Masked, ins []layers.Shape, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
	in := ins[0]
	switch r := l.Layer.(type) {
	case *layers.LSTM:
		k, sc, name, ok := newMaskedRunner(r, in, isa, mb)
		if !ok {
			return compiled{}, false
		}
		return compiled{kn: &fastMasked{f: k, u: r.Units}, name: name, scratchLen: sc}, true
	case *layers.GRU, *layers.SimpleRNN:
		k, sc, name, ok := newMaskedRec(l.Layer.(layers.Recurrent), in, isa, mb)
		if !ok {
			return compiled{}, false
		}
		return compiled{kn: &fastMasked{f: k, u: r.(layers.Recurrent).Recurrence().Units}, name: name, scratchLen: sc}, true
	case *layers.Bidirectional:
		f, sf, name, ok := newMaskedDirection(r.Fwd, in, isa, mb)
		if !ok {
			return compiled{}, false
		}
		b, sb, _, ok := newMaskedDirection(r.Bwd, in, isa, mb)
		if !ok {
			return compiled{}, false
		}
		fr := r.Fwd.Recurrence()
		n := fr.Units
		if fr.ReturnSequences {
			n *= in[0]
		}
		return compiled{kn: &fastMasked{f: f, b: b, u: fr.Units, merge: r.Merge, n: n},
			name: "masked bidirectional " + r.Merge + " {" + name + "}", scratchLen: 2*mb*n + max(sf, sb)}, true
	}
	return compiled{}, false
}

// newMaskedDirection compiles one masked direction of a Bidirectional layer.
func newMaskedDirection(r layers.Recurrent, in layers.Shape, isa asm.ISA, mb int) (maskedRunner, int, string, bool) {
	if l, ok := r.(*layers.LSTM); ok {
		return newMaskedRunner(l, in, isa, mb)
	}
	return newMaskedRec(r, in, isa, mb)
}

func (k *fastMasked) runN(dst []float32, srcs [][]float32, scratch []float32, batch int) {
	if k.b == nil {
		k.f.run(dst, srcs[0], srcs[1], scratch, batch)
		return
	}
	n, u := k.n, k.u
	fy, by, ls := scratch[:batch*n], scratch[batch*n:2*batch*n], scratch[2*batch*n:]
	k.f.run(fy, srcs[0], srcs[1], ls, batch)
	k.b.run(by, srcs[0], srcs[1], ls, batch)
	mergeDirections(dst, fy, by, k.merge, batch*n, u)
}

// mergeDirections merges a Bidirectional layer's two outputs (m values each, rows of u).
func mergeDirections(dst, fy, by []float32, merge string, m, u int) {
	switch merge {
	case "concat":
		for r := 0; r < m/u; r++ {
			copy(dst[2*r*u:(2*r+1)*u], fy[r*u:(r+1)*u])
			copy(dst[(2*r+1)*u:(2*r+2)*u], by[r*u:(r+1)*u])
		}
	case "sum":
		for i := range dst[:m] {
			dst[i] = fy[i] + by[i]
		}
	case "mul":
		for i := range dst[:m] {
			dst[i] = fy[i] * by[i]
		}
	default:
		for i := range dst[:m] {
			dst[i] = (fy[i] + by[i]) / 2
		}
	}
}

// fastEmbedding copies one row of the table per id. The runtime checks every id against
// the vocabulary before running; the kernel still writes a zero row for a bad id (as
// the reference does), so no input can make it read out of bounds or panic.
type fastEmbedding struct {
	l *layers.Embedding
	n int // ids per sample
}

func (k *fastEmbedding) run(dst, src, _ []float32, batch int) {
	d, w := k.l.OutputDim, k.l.W
	for i, v := range src[:batch*k.n] {
		id := uint32(layers.ID(v))
		if id >= uint32(k.l.InputDim) {
			clear(dst[i*d : (i+1)*d])
			continue
		}
		copy(dst[i*d:(i+1)*d], w[int(id)*d:int(id+1)*d])
	}
}
