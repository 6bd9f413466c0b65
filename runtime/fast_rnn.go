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
}

func newFastRNN(l *layers.SimpleRNN, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	if isa == asm.Generic || len(in) != 2 {
		return compiled{}, false
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
	l, t, u := k.l, k.t, k.l.Units
	inf := float32(math.Inf(1))
	zx := scratch[:batch*t*u]
	z := scratch[batch*t*u : batch*(t*u+u)]
	h := scratch[batch*(t*u+u) : batch*(t*u+2*u)]
	asm.Gemm(k.gisa, batch*t, u, l.In, src, l.In, k.packedW, zx, u, -inf, inf)
	for b := 0; b < batch; b++ {
		initRow(h[b*u:(b+1)*u], l.H0)
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
		copy(h, z[:batch*u])
		if l.ReturnSequences {
			o := s
			if l.KeepTimeOrder {
				o = ti
			}
			for b := 0; b < batch; b++ {
				copy(dst[b*outLen+o*u:b*outLen+(o+1)*u], h[b*u:(b+1)*u])
			}
		}
	}
	if !l.ReturnSequences {
		copy(dst[:batch*u], h)
	}
}
