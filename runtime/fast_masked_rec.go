package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// Masked GRU and SimpleRNN kernels (layers.Masked around them or a Bidirectional of
// them). On the whole-sequence kernels a sample's kept steps run as runs of
// consecutive steps, one kernel call per run starting from the h the previous run left
// (a masked step leaves the state as it is), so any mask, contiguous or not, runs the
// vector kernel; kept steps compute what the unmasked kernel computes, bit for bit.
// The GEMM paths skip a masked sample's gate pass at that step. Outputs at masked steps
// follow layers' masking rules (the previous output, zero before the first kept step
// or with ZeroMaskedOutput).

// maskedGRU and maskedRNN adapt the compiled kernels to maskedRunner.
type maskedGRU struct{ k *fastGRU }

func (m maskedGRU) run(dst, src, mask, scratch []float32, batch int) {
	if m.k.seq {
		m.k.runSeqMasked(dst, src, mask, scratch, batch)
		return
	}
	m.k.runMask(dst, src, mask, scratch, batch)
}

type maskedRNN struct{ k *fastRNN }

func (m maskedRNN) run(dst, src, mask, scratch []float32, batch int) {
	if m.k.seq {
		m.k.runSeqMasked(dst, src, mask, scratch, batch)
		return
	}
	m.k.runMask(dst, src, mask, scratch, batch)
}

// newMaskedRec compiles a masked GRU or SimpleRNN (r is one of them); the scratch adds
// a stepped flag per sample to the unmasked kernel's.
func newMaskedRec(r layers.Recurrent, in layers.Shape, isa asm.ISA, mb int) (maskedRunner, int, string, bool) {
	switch l := r.(type) {
	case *layers.GRU:
		c, ok := newFastGRU(l, in, isa, mb)
		if !ok {
			return nil, 0, "", false
		}
		return maskedGRU{c.k.(*fastGRU)}, c.scratchLen + mb, "masked " + c.name, true
	case *layers.SimpleRNN:
		c, ok := newFastRNN(l, in, isa, mb)
		if !ok {
			return nil, 0, "", false
		}
		return maskedRNN{c.k.(*fastRNN)}, c.scratchLen + mb, "masked " + c.name, true
	}
	return nil, 0, "", false
}

// maskedSeqSample writes one sample's output y (t flags in mk; nil: all kept) from a
// whole-sequence kernel: run(a, e, m) advances the h in hs row 0 through the m = e-a
// time steps [a, e) in processing order, writing hs rows 1..m (row j: h after the j-th
// processed step). hs row 0 holds the initial h on entry and the final h on return;
// stepped says whether a step was kept before (a stream's earlier chunks).
func maskedSeqSample(y, mk, hs []float32, t, u, up int, rc layers.Recurrence, stepped bool, run func(a, e, m int)) {
	kept := func(ti int) bool { return mk == nil || mk[ti] != 0 }
	at := func(s int) int { // time index of the s-th processed step
		if rc.GoBackwards {
			return t - 1 - s
		}
		return s
	}
	row := func(s int) []float32 { // output row of the s-th processed step
		o := s
		if rc.KeepTimeOrder {
			o = at(s)
		}
		return y[o*u : (o+1)*u]
	}
	for s := 0; s < t; {
		if !kept(at(s)) {
			if rc.ReturnSequences {
				if rc.ZeroMaskedOutput || !stepped {
					clear(row(s))
				} else {
					copy(row(s), hs[:u])
				}
			}
			s++
			continue
		}
		s1 := s + 1
		for s1 < t && kept(at(s1)) {
			s1++
		}
		a, e, m := s, s1, s1-s
		if rc.GoBackwards {
			a, e = t-s1, t-s
		}
		run(a, e, m)
		if rc.ReturnSequences {
			for j := 0; j < m; j++ {
				copy(row(s+j), hs[(j+1)*up:(j+1)*up+u])
			}
		}
		copy(hs[:u], hs[m*up:m*up+u])
		stepped, s = true, s1
	}
	if !rc.ReturnSequences {
		if kept(at(t-1)) || (stepped && !rc.ZeroMaskedOutput) {
			copy(y[:u], hs[:u])
		} else {
			clear(y[:u])
		}
	}
}

// runSeqMasked is runSeq with a mask (t flags per sample).
func (k *fastGRU) runSeqMasked(dst, src, mask, scratch []float32, batch int) {
	l, t, u, up := k.l, k.t, k.l.Units, k.up
	n := 3 * up
	rc := l.Recurrence()
	outLen := u
	if l.ReturnSequences {
		outLen = t * u
	}
	var zx []float32
	rest := scratch
	if !k.inK {
		inf := float32(math.Inf(1))
		zx, rest = scratch[:batch*t*n], scratch[batch*t*n:]
		asm.Gemm(k.gisaW, batch*t, n, l.In, src, l.In, k.packedW, zx, n, -inf, inf)
	}
	hs, rh := rest[:(t+1)*up], rest[(t+1)*up:(t+3)*up]
	in := l.In
	for b := 0; b < batch; b++ {
		clear(hs[:up])
		copy(hs, l.H0)
		maskedSeqSample(dst[b*outLen:(b+1)*outLen], mask[b*t:(b+1)*t], hs, t, u, up, rc, false, func(a, e, m int) {
			if k.inK {
				asm.GRUSeqX(k.isa, src[(b*t+a)*in:(b*t+e)*in], in, k.xw, k.xb, k.uw, k.rbh, hs, rh, m, u, l.GoBackwards, l.ResetAfter, k.gate)
			} else {
				asm.GRUSeq(k.isa, zx[(b*t+a)*n:(b*t+e)*n], k.uw, k.rbh, hs, rh, m, u, l.GoBackwards, l.ResetAfter, k.gate)
			}
		})
	}
}

// runSeqMasked is runSeq with a mask (t flags per sample).
func (k *fastRNN) runSeqMasked(dst, src, mask, scratch []float32, batch int) {
	l, t, u, up := k.l, k.t, k.l.Units, k.up
	rc := l.Recurrence()
	outLen := u
	if l.ReturnSequences {
		outLen = t * u
	}
	var zx []float32
	rest := scratch
	if !k.inK {
		inf := float32(math.Inf(1))
		zx, rest = scratch[:batch*t*up], scratch[batch*t*up:]
		asm.Gemm(k.gisa, batch*t, up, l.In, src, l.In, k.packedW, zx, up, -inf, inf)
	}
	hs := rest[:(t+1)*up]
	in := l.In
	for b := 0; b < batch; b++ {
		clear(hs[:up])
		copy(hs, l.H0)
		maskedSeqSample(dst[b*outLen:(b+1)*outLen], mask[b*t:(b+1)*t], hs, t, u, up, rc, false, func(a, e, m int) {
			if k.inK {
				asm.RNNSeqX(k.isa, src[(b*t+a)*in:(b*t+e)*in], in, k.xw, k.xb, k.uw, hs, m, u, l.GoBackwards, k.relu)
			} else {
				asm.RNNSeq(k.isa, zx[(b*t+a)*up:(b*t+e)*up], k.uw, hs, m, u, l.GoBackwards, k.relu)
			}
		})
	}
}

// finalRows writes a GEMM path's final-state output (no return_sequences): each
// sample's h row of u, or with a mask what maskedOut gives for the last step processed
// (the first in time for go_backwards).
func finalRows(dst, h, mask, stepped []float32, batch, t, u int, goBackwards, zero bool) {
	lastT := t - 1
	if goBackwards {
		lastT = 0
	}
	for b := 0; b < batch; b++ {
		y, hb := dst[b*u:(b+1)*u], h[b*u:(b+1)*u]
		if mask == nil {
			copy(y, hb)
		} else {
			maskedOut(y, hb, mask[b*t+lastT] != 0, stepped[b], zero)
		}
	}
}

// maskedOut writes the output row y of sample b at a step on a GEMM path: h when the
// step is kept, else the previous output (h, unchanged) or zero before the sample's
// first kept step or with ZeroMaskedOutput. stepped holds a flag per sample.
func maskedOut(y, h []float32, keep bool, stepped float32, zero bool) {
	if !keep && (zero || stepped == 0) {
		clear(y)
		return
	}
	copy(y, h)
}
