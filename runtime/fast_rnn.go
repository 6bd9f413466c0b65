package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastRNN runs a SimpleRNN (ONNX RNN) as one GEMM for the input projection of every
// timestep of the whole batch (x W + B), then per step one GEMM h U over the batch, the
// add and the activation (a vector kernel where asm has one).
type fastRNN struct {
	l       *layers.SimpleRNN
	isa     asm.ISA
	gisa    asm.ISA
	t       int
	packedW []float32 // In x u with bias
	packedU []float32 // u x u
	// seq: asm.RNNSeq runs each sample's whole sequence in one call over units padded
	// to up; packedW then holds the padded kernel and bias, uw the padded U.
	seq  bool
	relu bool
	up   int
	uw   []float32
	// inK: asm.RNNSeqX projects each step's input itself from the padded kernel xw and
	// bias xb (no packedW, no projection scratch); same bounds as the GRU's.
	inK    bool
	xw, xb []float32
	// acts: a stage of a recStack only (newActsRNN), its activation as asm.RecAct
	acts   bool
	actAct asm.RecAct
	groups []*asm.RecStack // as fastGRU's
}

// newSeqRNN compiles a tanh or relu SimpleRNN of at most seqMaxUnits units for
// asm.RNNSeq where it has a vector kernel: one GEMM x W + b for all timesteps into
// rows of up, then one call per sample for the whole recurrence.
func newSeqRNN(l *layers.SimpleRNN, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	relu := l.Act == layers.ActReLU
	if !asm.GRUSeqAsm(isa) || l.Act.Kind != layers.Tanh && !relu || l.Units > seqMaxUnits {
		return compiled{}, false
	}
	u := l.Units
	up := asm.LSTMSeqPad(u)
	k := &fastRNN{l: l, isa: isa, t: in[0], gisa: gemmISA(isa, up), seq: true, relu: relu, up: up}
	w, b := padCols(l.W, l.In, u, up), padCols(l.B, 1, u, up)
	if l.B == nil {
		b = nil
	}
	k.uw = padCols(l.U, u, u, up)
	if l.In <= seqMaxIn && u <= gruSeqMaxInK {
		k.inK, k.xw, k.xb = true, w, b
		if b == nil {
			k.xb = make([]float32, up)
		}
		name := "simplernn whole-sequence " + l.Act.String() + " kernel/" + isa.String() + " (input projected in the step loop)"
		return compiled{k: k, name: name, scratchLen: max((k.t+1)*up, k.buildGroups(maxBatch))}, true
	}
	k.packedW = make([]float32, asm.PackedLen(k.gisa, l.In, up))
	asm.PackB(k.gisa, k.packedW, l.In, up, w, b)
	name := "simplernn gemm/" + k.gisa.String() + " + whole-sequence " + l.Act.String() + " kernel/" + isa.String()
	// scratch: padded projections (batch*t*up), hs rows (t+1)*up
	return compiled{k: k, name: name, scratchLen: maxBatch*k.t*up + (k.t+1)*up}, true
}

// padCols copies rows of n values into rows of np >= n, zero padded (nil w: zeros).
func padCols(w []float32, rows, n, np int) []float32 {
	out := make([]float32, rows*np)
	for r := 0; r < rows && w != nil; r++ {
		copy(out[r*np:r*np+n], w[r*n:(r+1)*n])
	}
	return out
}

func (k *fastRNN) runSeq(dst, src, scratch []float32, batch int) {
	l, t, u, up := k.l, k.t, k.l.Units, k.up
	outLen := u
	if l.ReturnSequences {
		outLen = t * u
	}
	if k.inK {
		hs, in := scratch[:(t+1)*up], l.In
		for b := 0; b < batch; b++ {
			if g := min(batch-b, len(k.groups)+1); g > 1 {
				runGroup(k.groups[g-2], l.Recurrence(), dst, src, scratch, b, g, t, up)
				b += g - 1
				continue
			}
			clear(hs[:up])
			copy(hs, l.H0)
			asm.RNNSeqX(k.isa, src[b*t*in:(b+1)*t*in], in, k.xw, k.xb, k.uw, hs, t, u, l.GoBackwards, k.relu)
			seqRowsOut(dst[b*outLen:(b+1)*outLen], hs, t, u, up, l.ReturnSequences, l.GoBackwards && l.KeepTimeOrder)
		}
		return
	}
	inf := float32(math.Inf(1))
	zx := scratch[:batch*t*up]
	hs := scratch[batch*t*up : batch*t*up+(t+1)*up]
	asm.Gemm(k.gisa, batch*t, up, l.In, src, l.In, k.packedW, zx, up, -inf, inf)
	for b := 0; b < batch; b++ {
		clear(hs[:up])
		copy(hs, l.H0)
		asm.RNNSeq(k.isa, zx[b*t*up:(b+1)*t*up], k.uw, hs, t, u, l.GoBackwards, k.relu)
		seqRowsOut(dst[b*outLen:(b+1)*outLen], hs, t, u, up, l.ReturnSequences, l.GoBackwards && l.KeepTimeOrder)
	}
}

func newFastRNN(l *layers.SimpleRNN, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	if isa == asm.Generic || len(in) != 2 {
		return compiled{}, false
	}
	if c, ok := newSeqRNN(l, in, isa, maxBatch); ok {
		return c, true
	}
	u := l.Units
	k := &fastRNN{l: l, isa: isa, t: in[0], gisa: gemmISA(isa, u)}
	k.packedW = make([]float32, asm.PackedLen(k.gisa, l.In, u))
	asm.PackB(k.gisa, k.packedW, l.In, u, l.W, l.B)
	k.packedU = make([]float32, asm.PackedLen(k.gisa, u, u))
	asm.PackB(k.gisa, k.packedU, u, u, l.U, nil)
	name := "simplernn gemm/" + k.gisa.String() + " + " + l.Act.String()
	// scratch: projections (batch*t*u), step sums and h (batch*u each)
	return compiled{k: k, name: name, scratchLen: maxBatch * (k.t*u + 2*u)}, true
}

func (k *fastRNN) run(dst, src, scratch []float32, batch int) {
	if k.seq {
		k.runSeq(dst, src, scratch, batch)
		return
	}
	k.runMask(dst, src, nil, scratch, batch)
}

// runMask is the GEMM path, with a mask (t flags per sample) or none: a masked
// sample's h stays at that step, and a stepped flag per sample follows the h rows in
// scratch.
func (k *fastRNN) runMask(dst, src, mask, scratch []float32, batch int) {
	k.gemmRun(dst, src, mask, scratch, batch, k.t, nil, false)
}

// gemmRun is runMask over t steps; with state (batch 1, a stream) h starts from and is
// written back to state, and stepped says whether an earlier chunk kept a step.
func (k *fastRNN) gemmRun(dst, src, mask, scratch []float32, batch, t int, state []float32, stepped0 bool) {
	l, u := k.l, k.l.Units
	inf := float32(math.Inf(1))
	zx := scratch[:batch*t*u]
	z := scratch[batch*t*u : batch*(t*u+u)]
	h := scratch[batch*(t*u+u) : batch*(t*u+2*u)]
	var stepped []float32
	if mask != nil {
		stepped = scratch[batch*(t*u+2*u) : batch*(t*u+2*u+1)]
		clear(stepped)
		if stepped0 {
			stepped[0] = 1
		}
	}
	asm.Gemm(k.gisa, batch*t, u, l.In, src, l.In, k.packedW, zx, u, -inf, inf)
	for b := 0; b < batch; b++ {
		initRow(h[b*u:(b+1)*u], l.H0)
	}
	if state != nil {
		copy(h[:u], state[:u])
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
		asm.Gemm(k.gisa, batch, u, u, h, u, k.packedU, z, u, -inf, inf)
		for b := 0; b < batch; b++ {
			zb, xb := z[b*u:(b+1)*u], zx[(b*t+ti)*u:(b*t+ti+1)*u]
			for j := range zb {
				zb[j] += xb[j]
			}
		}
		applyActivation(k.isa, l.Act, z[:batch*u], u)
		if mask == nil {
			copy(h, z[:batch*u])
		} else {
			for b := 0; b < batch; b++ {
				if mask[b*t+ti] != 0 {
					copy(h[b*u:(b+1)*u], z[b*u:(b+1)*u])
				}
			}
		}
		if l.ReturnSequences {
			o := s
			if l.KeepTimeOrder {
				o = ti
			}
			for b := 0; b < batch; b++ {
				y, hb := dst[b*outLen+o*u:b*outLen+(o+1)*u], h[b*u:(b+1)*u]
				if mask == nil {
					copy(y, hb)
				} else {
					maskedOut(y, hb, mask[b*t+ti] != 0, stepped[b], l.ZeroMaskedOutput)
				}
			}
		}
		if mask != nil {
			for b := 0; b < batch; b++ {
				if mask[b*t+ti] != 0 {
					stepped[b] = 1
				}
			}
		}
	}
	if state != nil {
		copy(state[:u], h[:u])
	}
	if !l.ReturnSequences {
		finalRows(dst, h, mask, stepped, batch, t, u, l.GoBackwards, l.ZeroMaskedOutput)
	}
}
