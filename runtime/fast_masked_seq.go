package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// maskedSeq runs a masked LSTM of up to seqMaxUnits units with the whole-sequence
// kernel (asm.LSTMSeq) where a sample's kept steps are one contiguous run, the shape of
// pre- and post-padded batches: masked steps before the run leave the zero state and
// output zero, the run is an unmasked sequence of its length, and masked steps after
// it repeat the last h (or output zero with ZeroMaskedOutput) — the rules of
// layers.LSTM.ForwardMasked. A sample whose kept steps are not contiguous runs the
// masked GEMM path. The projections of every step are one GEMM for the batch.
type maskedSeq struct {
	k    *fastLSTM   // whole-sequence kernel (seq, packedW: no in-loop projection)
	slow *maskedLSTM // other masks
	slen int         // slow's scratch for one sample
}

func newMaskedSeq(l *layers.LSTM, in layers.Shape, isa asm.ISA, mb int) (*maskedSeq, int, bool) {
	if l.H0 != nil || l.C0 != nil { // initial states: leading masked steps keep them; GEMM path
		return nil, 0, false
	}
	c, ok := newSeqLSTM(l, in, isa, mb, false)
	if !ok {
		return nil, 0, false
	}
	slow, slen, ok := newMaskedLSTM(l, in, isa, 1)
	if !ok {
		return nil, 0, false
	}
	return &maskedSeq{k: c.k.(*fastLSTM), slow: slow, slen: slen}, c.scratchLen + slen, true
}

// run computes batch samples of x (T, In) with mask (T flags per sample) into dst.
func (m *maskedSeq) run(dst, src, mask, scratch []float32, batch int) {
	k := m.k
	l, t, u, n := k.l, k.t, k.l.Units, 4*k.up
	zx, c, hs := k.seqScratch(scratch, batch)
	rest := scratch[batch*t*n+k.up+(t+1)*k.up:]
	k.seqProject(zx, src, batch)
	outLen := k.outLen()
	for b := 0; b < batch; b++ {
		mk := mask[b*t : (b+1)*t]
		y := dst[b*outLen : (b+1)*outLen]
		a, e, ok := keptRun(mk)
		if !ok {
			m.slow.run(y, src[b*t*l.In:(b+1)*t*l.In], mk, rest[:m.slen], 1)
			continue
		}
		if a == e { // nothing kept: the state never moves, every output is zero
			clear(y)
			continue
		}
		k.seqInit(c, hs)
		asm.LSTMSeq(k.isa, zx[(b*t+a)*n:(b*t+e)*n], k.seqU, c, hs, e-a, u, l.GoBackwards, k.gate)
		last := hs[(e-a)*k.up : (e-a)*k.up+u]
		if !l.ReturnSequences {
			lastT := t - 1 // the last step processed
			if l.GoBackwards {
				lastT = 0
			}
			if (lastT < a || lastT >= e) && l.ZeroMaskedOutput {
				clear(y)
			} else {
				copy(y, last)
			}
			continue
		}
		for s := 0; s < t; s++ {
			ti, o := s, s
			if l.GoBackwards {
				ti = t - 1 - s
			}
			if l.KeepTimeOrder {
				o = ti
			}
			row := y[o*u : (o+1)*u]
			switch {
			case ti >= a && ti < e: // kept: its row of the run
				r := ti - a + 1
				if l.GoBackwards {
					r = e - ti
				}
				copy(row, hs[r*k.up:r*k.up+u])
			case (ti < a) != l.GoBackwards || l.ZeroMaskedOutput: // before the run, or zeroed
				clear(row)
			default: // after the run: the last output repeats
				copy(row, last)
			}
		}
	}
}

// keptRun returns the kept steps of a mask as [a, e) when they are contiguous (a == e:
// none kept); ok is false when they are not.
func keptRun(mask []float32) (a, e int, ok bool) {
	a = 0
	for a < len(mask) && mask[a] == 0 {
		a++
	}
	e = a
	for e < len(mask) && mask[e] != 0 {
		e++
	}
	for _, v := range mask[e:] {
		if v != 0 {
			return 0, 0, false
		}
	}
	return a, e, true
}
