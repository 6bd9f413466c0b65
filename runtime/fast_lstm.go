package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastLSTM runs a tanh/sigmoid LSTM as one GEMM for the input projection of every
// timestep of the whole batch (x*W + b), then per step one GEMM h*U over the batch and
// the fused gate/state update (asm.LSTMGates).
type fastLSTM struct {
	l        *layers.LSTM
	isa      asm.ISA
	t        int
	packedW  []float32 // In x 4U with bias
	packedU  []float32 // U x 4U, no bias
	maxBatch int
}

func newFastLSTM(l *layers.LSTM, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	if isa == asm.Generic || l.Act.Kind != layers.Tanh || l.RecAct.Kind != layers.Sigmoid || len(in) != 2 {
		return compiled{}, false
	}
	u4 := 4 * l.Units
	k := &fastLSTM{l: l, isa: isa, t: in[0], maxBatch: maxBatch,
		packedW: make([]float32, asm.PackedLen(isa, l.In, u4)),
		packedU: make([]float32, asm.PackedLen(isa, l.Units, u4))}
	asm.PackB(isa, k.packedW, l.In, u4, l.W, l.B)
	asm.PackB(isa, k.packedU, l.Units, u4, l.U, nil)
	// scratch: projections (batch*t*4u), step gates (batch*4u), h and c (batch*u each)
	scratch := maxBatch * (k.t*u4 + u4 + 2*l.Units)
	return compiled{k: k, name: "lstm gemm/" + isa.String() + " + fused gates", scratchLen: scratch}, true
}

func (k *fastLSTM) run(dst, src, scratch []float32, batch int) {
	l, t, u := k.l, k.t, k.l.Units
	u4 := 4 * u
	inf := float32(math.Inf(1))
	zx := scratch[:batch*t*u4]
	z := scratch[batch*t*u4 : batch*(t*u4+u4)]
	h := scratch[batch*(t*u4+u4) : batch*(t*u4+u4+u)]
	c := scratch[batch*(t*u4+u4+u) : batch*(t*u4+u4+2*u)]
	asm.Gemm(k.isa, batch*t, u4, l.In, src, l.In, k.packedW, zx, u4, -inf, inf)
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
		asm.Gemm(k.isa, batch, u4, u, h, u, k.packedU, z, u4, -inf, inf)
		for b := 0; b < batch; b++ {
			zb := z[b*u4 : (b+1)*u4]
			xb := zx[(b*t+ti)*u4 : (b*t+ti+1)*u4]
			for j := range zb {
				zb[j] += xb[j]
			}
			hb := h[b*u : (b+1)*u]
			asm.LSTMGates(k.isa, zb, c[b*u:(b+1)*u], hb, u)
			if l.ReturnSequences {
				o := s
				if l.KeepTimeOrder {
					o = ti
				}
				copy(dst[b*outLen+o*u:b*outLen+(o+1)*u], hb)
			}
		}
	}
	if !l.ReturnSequences {
		copy(dst[:batch*u], h[:batch*u])
	}
}
