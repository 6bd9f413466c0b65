package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastGRU runs a GRU as one GEMM for the input projection of every timestep of the
// whole batch (x W + B), then per step one GEMM h U (+ RB) over the batch and a gate
// pass per sample (activations on the vector kernels where asm has them, softmax over
// the units included). With reset_after=False the candidate's product needs r first:
// the step is h U_zr, the z and r gates, then (r*h) U_h as a second GEMM.
type fastGRU struct {
	l        *layers.GRU
	isa      asm.ISA
	gisaW    asm.ISA // GEMM path of the input projection (3u columns)
	gisaU    asm.ISA // of h U (3u with reset_after, else the 2u z/r columns)
	gisaH    asm.ISA // of (r*h) U_h (u columns, reset_after=False only)
	t        int
	packedW  []float32 // In x 3u with bias B
	packedU  []float32 // u x 3u with bias RB (reset_after), else u x 2u (z, r)
	packedUh []float32 // u x u, the candidate's columns (reset_after=False)
	// seq: asm.GRUSeq runs each sample's whole sequence in one call over units padded
	// to up; packedW then holds the padded In x 3up kernel and bias (with the z and r
	// recurrent biases folded in), uw the padded U, rbh the candidate's recurrent bias.
	seq  bool
	up   int
	gate asm.GateAct
	uw   []float32
	rbh  []float32
	// inK: asm.GRUSeqX projects each step's input itself from the padded kernel xw and
	// bias xb (no packedW, no projection scratch).
	inK    bool
	xw, xb []float32
	// acts: a stage of a recStack only (never a kernel of its own: newActsGRU), with
	// activations the fixed whole-sequence kernels lack, as asm.RecAct
	acts           bool
	recAct, actAct asm.RecAct
	// groups[g-2] runs g samples (2 <= g <= 4) as independent stages of one
	// asm.RecStack call, their chains' latencies overlapping (inK, batch >= 2)
	groups []*asm.RecStack
}

// gruSeqMaxInK bounds the layers whose whole-sequence kernel projects the input in the
// step loop: at most seqMaxIn inputs and 16 units (the x sums are redone per 8-unit
// chunk, in the shadow of the step chain while the chunks are few).
const gruSeqMaxInK = 16

func newFastGRU(l *layers.GRU, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	if isa == asm.Generic || len(in) != 2 {
		return compiled{}, false
	}
	if c, ok := newSeqGRU(l, in, isa, maxBatch); ok {
		return c, true
	}
	u := l.Units
	u3 := 3 * u
	k := &fastGRU{l: l, isa: isa, t: in[0], gisaW: gemmISA(isa, u3)}
	k.packedW = make([]float32, asm.PackedLen(k.gisaW, l.In, u3))
	asm.PackB(k.gisaW, k.packedW, l.In, u3, l.W, l.B)
	if l.ResetAfter {
		k.gisaU = gemmISA(isa, u3)
		k.packedU = make([]float32, asm.PackedLen(k.gisaU, u, u3))
		asm.PackB(k.gisaU, k.packedU, u, u3, l.U, l.RB)
	} else {
		uzr, uh := splitCols(l.U, u, u3, 2*u)
		k.gisaU, k.gisaH = gemmISA(isa, 2*u), gemmISA(isa, u)
		k.packedU = make([]float32, asm.PackedLen(k.gisaU, u, 2*u))
		asm.PackB(k.gisaU, k.packedU, u, 2*u, uzr, nil)
		k.packedUh = make([]float32, asm.PackedLen(k.gisaH, u, u))
		asm.PackB(k.gisaH, k.packedUh, u, u, uh, nil)
	}
	name := "gru gemm/" + k.gisaW.String() + " + " + l.RecAct.String() + "/" + l.Act.String() + " gates"
	if !l.ResetAfter {
		name += " (reset before U_h: two GEMMs per step)"
	}
	// scratch: projections (batch*t*3u), step sums (batch*3u), h and r*h (batch*u each)
	return compiled{k: k, name: name, scratchLen: maxBatch * (k.t*u3 + u3 + 2*u)}, true
}

// splitCols splits a rows x n matrix into its first m columns and the rest.
func splitCols(w []float32, rows, n, m int) (a, b []float32) {
	a, b = make([]float32, rows*m), make([]float32, rows*(n-m))
	for r := 0; r < rows; r++ {
		copy(a[r*m:(r+1)*m], w[r*n:r*n+m])
		copy(b[r*(n-m):(r+1)*(n-m)], w[r*n+m:(r+1)*n])
	}
	return a, b
}

// newSeqGRU compiles a tanh-candidate GRU with sigmoid or hard-sigmoid gates of at
// most seqMaxUnits units for asm.GRUSeq where it has a vector kernel: one GEMM x W + b
// for all timesteps into the padded gate layout, then one call per sample for the
// whole recurrence (the same bound as the LSTM's: wider layers win with one GEMM per
// step over the batch).
func newSeqGRU(l *layers.GRU, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	if !asm.GRUSeqAsm(isa) || l.Act.Kind != layers.Tanh || l.Units > seqMaxUnits {
		return compiled{}, false
	}
	var gate asm.GateAct
	switch l.RecAct.Kind {
	case layers.Sigmoid:
	case layers.HardSigmoid:
		gate = asm.GateAct{Hard: true, A: l.RecAct.Alpha, B: l.RecAct.Beta}
	default:
		return compiled{}, false
	}
	u := l.Units
	up := asm.LSTMSeqPad(u)
	n := 3 * up
	k := &fastGRU{l: l, isa: isa, t: in[0], seq: true, up: up, gate: gate, gisaW: gemmISA(isa, n)}
	w := make([]float32, l.In*n)
	asm.PadGRUGates(w, l.W, l.In, u)
	bias := make([]float32, 3*u)
	copy(bias, l.B)
	if l.RB != nil {
		for j := 0; j < 2*u; j++ {
			bias[j] += l.RB[j]
		}
	}
	b := make([]float32, n)
	asm.PadGRUGates(b, bias, 1, u)
	if l.ResetAfter {
		k.rbh = make([]float32, up)
		if l.RB != nil {
			copy(k.rbh, l.RB[2*u:])
		}
	}
	k.uw = make([]float32, u*n)
	asm.PadGRUGates(k.uw, l.U, u, u)
	reset := ""
	if !l.ResetAfter {
		reset = " (reset before U_h)"
	}
	if asm.GRUSeqXAsm(isa) && l.In <= seqMaxIn && u <= gruSeqMaxInK {
		k.inK, k.xw, k.xb = true, w, b
		name := "gru whole-sequence " + l.RecAct.String() + "/tanh kernel/" + isa.String() + reset + " (input projected in the step loop)"
		// scratch: hs rows (t+1)*up, rh 2*up (or a group's, see buildGroups)
		return compiled{k: k, name: name, scratchLen: max((k.t+3)*up, k.buildGroups(maxBatch))}, true
	}
	k.packedW = make([]float32, asm.PackedLen(k.gisaW, l.In, n))
	asm.PackB(k.gisaW, k.packedW, l.In, n, w, b)
	name := "gru gemm/" + k.gisaW.String() + " + whole-sequence " + l.RecAct.String() + "/tanh kernel/" + isa.String() + reset
	// scratch: padded projections (batch*t*3up), hs rows (t+1)*up, rh 2*up
	return compiled{k: k, name: name, scratchLen: maxBatch*k.t*n + (k.t+3)*up}, true
}

// runSeq projects the batch's inputs with one GEMM, then runs asm.GRUSeq per sample and
// writes its output rows from the hs rows.
func (k *fastGRU) runSeq(dst, src, scratch []float32, batch int) {
	l, t, u, up := k.l, k.t, k.l.Units, k.up
	outLen := u
	if l.ReturnSequences {
		outLen = t * u
	}
	if k.inK {
		hs, rh := scratch[:(t+1)*up], scratch[(t+1)*up:(t+3)*up]
		in := l.In
		for b := 0; b < batch; b++ {
			if g := min(batch-b, len(k.groups)+1); g > 1 {
				runGroup(k.groups[g-2], l.Recurrence(), dst, src, scratch, b, g, t, up)
				b += g - 1
				continue
			}
			clear(hs[:up])
			copy(hs, l.H0)
			asm.GRUSeqX(k.isa, src[b*t*in:(b+1)*t*in], in, k.xw, k.xb, k.uw, k.rbh, hs, rh, t, u, l.GoBackwards, l.ResetAfter, k.gate)
			seqRowsOut(dst[b*outLen:(b+1)*outLen], hs, t, u, up, l.ReturnSequences, l.GoBackwards && l.KeepTimeOrder)
		}
		return
	}
	n := 3 * up
	inf := float32(math.Inf(1))
	zx := scratch[:batch*t*n]
	hs := scratch[batch*t*n : batch*t*n+(t+1)*up]
	rh := scratch[batch*t*n+(t+1)*up : batch*t*n+(t+3)*up]
	asm.Gemm(k.gisaW, batch*t, n, l.In, src, l.In, k.packedW, zx, n, -inf, inf)
	for b := 0; b < batch; b++ {
		clear(hs[:up])
		copy(hs, l.H0)
		asm.GRUSeq(k.isa, zx[b*t*n:(b+1)*t*n], k.uw, k.rbh, hs, rh, t, u, l.GoBackwards, l.ResetAfter, k.gate)
		seqRowsOut(dst[b*outLen:(b+1)*outLen], hs, t, u, up, l.ReturnSequences, l.GoBackwards && l.KeepTimeOrder)
	}
}

// seqRowsOut writes one sample's output from the hs rows of a whole-sequence kernel
// (row s+1 = h after the s-th processed step): the last h, or every step's h in
// processing order, or in time order for a backwards pass that keeps it (reversed).
func seqRowsOut(y, hs []float32, t, u, up int, seq, reversed bool) {
	if !seq {
		copy(y[:u], hs[t*up:t*up+u])
		return
	}
	for o := 0; o < t; o++ {
		s := o + 1
		if reversed {
			s = t - o
		}
		copy(y[o*u:(o+1)*u], hs[s*up:s*up+u])
	}
}

func (k *fastGRU) run(dst, src, scratch []float32, batch int) {
	if k.seq {
		k.runSeq(dst, src, scratch, batch)
		return
	}
	k.runMask(dst, src, nil, scratch, batch)
}

// runMask is the GEMM path, with a mask (t flags per sample) or none: a masked
// sample's gate pass is skipped at that step (its h stays), and a stepped flag per
// sample follows the h rows in scratch.
func (k *fastGRU) runMask(dst, src, mask, scratch []float32, batch int) {
	k.gemmRun(dst, src, mask, scratch, batch, k.t, nil, false)
}

// gemmRun is runMask over t steps; with state (batch 1, a stream) h starts from and is
// written back to state, and stepped says whether an earlier chunk kept a step.
func (k *fastGRU) gemmRun(dst, src, mask, scratch []float32, batch, t int, state []float32, stepped0 bool) {
	l, u := k.l, k.l.Units
	u3 := 3 * u
	inf := float32(math.Inf(1))
	zx := scratch[:batch*t*u3]
	zh := scratch[batch*t*u3 : batch*(t*u3+u3)]
	h := scratch[batch*(t*u3+u3) : batch*(t*u3+u3+u)]
	rh := scratch[batch*(t*u3+u3+u) : batch*(t*u3+u3+2*u)]
	var stepped []float32
	if mask != nil {
		stepped = scratch[batch*(t*u3+u3+2*u) : batch*(t*u3+u3+2*u+1)]
		clear(stepped)
		if stepped0 {
			stepped[0] = 1
		}
	}
	asm.Gemm(k.gisaW, batch*t, u3, l.In, src, l.In, k.packedW, zx, u3, -inf, inf)
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
		if l.ResetAfter {
			asm.Gemm(k.gisaU, batch, u3, u, h, u, k.packedU, zh, u3, -inf, inf)
		} else {
			asm.Gemm(k.gisaU, batch, 2*u, u, h, u, k.packedU, zh, u3, -inf, inf)
		}
		for b := 0; b < batch; b++ {
			if mask != nil && mask[b*t+ti] == 0 {
				continue
			}
			zs, xs := zh[b*u3:(b+1)*u3], zx[(b*t+ti)*u3:(b*t+ti+1)*u3]
			a := zs[:2*u]
			for j := range a {
				a[j] += xs[j]
			}
			applyActivation(k.isa, l.RecAct, a, u)
		}
		if !l.ResetAfter {
			for b := 0; b < batch; b++ {
				r, hb, rb := zh[b*u3+u:b*u3+2*u], h[b*u:(b+1)*u], rh[b*u:(b+1)*u]
				for j := range rb {
					rb[j] = r[j] * hb[j]
				}
			}
			asm.Gemm(k.gisaH, batch, u, u, rh, u, k.packedUh, zh[2*u:], u3, -inf, inf)
		}
		for b := 0; b < batch; b++ {
			hb := h[b*u : (b+1)*u]
			keep := mask == nil || mask[b*t+ti] != 0
			if keep {
				zs, xs := zh[b*u3:(b+1)*u3], zx[(b*t+ti)*u3+2*u:(b*t+ti+1)*u3]
				z, r, c := zs[:u], zs[u:2*u], zs[2*u:]
				if l.ResetAfter {
					for j := range c {
						c[j] = xs[j] + r[j]*c[j]
					}
				} else {
					for j := range c {
						c[j] += xs[j]
					}
				}
				applyActivation(k.isa, l.Act, c, u)
				for j := range hb {
					hb[j] = z[j]*hb[j] + (1-z[j])*c[j]
				}
			}
			if l.ReturnSequences {
				o := s
				if l.KeepTimeOrder {
					o = ti
				}
				y := dst[b*outLen+o*u : b*outLen+(o+1)*u]
				if mask == nil {
					copy(y, hb)
				} else {
					maskedOut(y, hb, keep, stepped[b], l.ZeroMaskedOutput)
				}
			}
			if keep && mask != nil {
				stepped[b] = 1
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

// initRow sets a state row to init, or to zeros when init is nil.
func initRow(dst, init []float32) {
	if init != nil {
		copy(dst, init)
	} else {
		clear(dst)
	}
}

// newFastRecurrent compiles one direction of a Bidirectional layer.
func newFastRecurrent(r layers.Recurrent, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	switch l := r.(type) {
	case *layers.LSTM:
		return newFastLSTM(l, in, isa, maxBatch)
	case *layers.GRU:
		return newFastGRU(l, in, isa, maxBatch)
	case *layers.SimpleRNN:
		return newFastRNN(l, in, isa, maxBatch)
	}
	return compiled{}, false
}

// newFastBiRecurrent compiles a Bidirectional layer over GRUs or SimpleRNNs: each
// direction on its fast path into its own scratch block, then the merge.
func newFastBiRecurrent(l *layers.Bidirectional, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	fwd, ok := newFastRecurrent(l.Fwd, in, isa, maxBatch)
	if !ok {
		return compiled{}, false
	}
	bwd, ok := newFastRecurrent(l.Bwd, in, isa, maxBatch)
	if !ok {
		return compiled{}, false
	}
	f := l.Fwd.Recurrence()
	n := f.Units
	if f.ReturnSequences {
		n *= in[0]
	}
	k := &fastBidirectional{l: l, fwd: fwd, bwd: bwd, n: n}
	xf, okf := asSampler(fwd)
	xb, okb := asSampler(bwd)
	if okf && okb && l.Bwd.Recurrence().Units == f.Units {
		k.sampled, k.xf, k.xb, k.t = true, xf, xb, in[0]
		k.rf, k.rb = xf.rec(), xb.rec()
		sf, sb := xf.recStage(true), xb.recStage(true)
		k.stack = asm.NewRecStack(xf.kernelISA(), []asm.RecStage{sf, sb}, k.t, k.rf.In)
		sc := k.stack.ScratchLen()
		if maxBatch >= 2 { // two samples per call (batch or TimeDistributed)
			sf2, sb2 := sf, sb
			sf2.XOff, sb2.XOff = k.t*k.rf.In, k.t*k.rf.In
			k.stack2 = asm.NewRecStack(xf.kernelISA(), []asm.RecStage{sf, sb, sf2, sb2}, k.t, k.rf.In)
			sc = max(sc, k.stack2.ScratchLen())
		}
		return compiled{k: k, name: "bidirectional " + l.Merge + " {" + fwd.name + "} directions stepped together, merged from the kernels' rows",
			scratchLen: sc}, true
	}
	return compiled{k: k, name: "bidirectional " + l.Merge + " {" + fwd.name + "}",
		scratchLen: 2*maxBatch*n + max(fwd.scratchLen, bwd.scratchLen)}, true
}

// timeDistributed runs a wrapped sequence layer's compiled kernel with the leading axis
// as batch.
type timeDistributed struct {
	inner compiled
	outer int
}

func (k *timeDistributed) run(dst, src, scratch []float32, batch int) {
	k.inner.k.run(dst, src, scratch, batch*k.outer)
}

// newFastTimeDistributed compiles the wrapped layer for maxBatch*in[0] sequences.
func newFastTimeDistributed(l *layers.TimeDistributed, in, out layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	if len(in) < 2 || len(out) < 1 {
		return compiled{}, false
	}
	c, err := compileLayer(l.Inner, in[1:], out[1:], isa, maxBatch*in[0])
	if err != nil || c.inPlace {
		return compiled{}, false
	}
	if _, ref := c.k.(refKernel); ref {
		return compiled{}, false
	}
	return compiled{k: &timeDistributed{inner: c, outer: in[0]}, name: "timedistributed {" + c.name + "}", scratchLen: c.scratchLen}, true
}
