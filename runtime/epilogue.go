package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// epilogue is a residual step's output stage, y = act(y + r) (XNNPACK's fused
// residual): the producing GEMM or Winograd kernel applies it to each block of its
// output right after writing the block, while the block is in L1, instead of a pass
// over the whole map after the convolution. The sum and a clamp activation (linear,
// ReLU, ReLU6, Clip) are one asm.AddClamp pass; any other per-element activation runs
// on the same block after it.
type epilogue struct {
	isa    asm.ISA
	lo, hi float32
	post   layers.Activation // Linear when the clamp is the whole activation
}

func newEpilogue(isa asm.ISA, act layers.Activation) *epilogue {
	e := &epilogue{isa: isa, post: act}
	lo, hi, ok := fusedClamp(act)
	if ok {
		e.post = layers.ActLinear
	} else {
		lo, hi, _ = fusedClamp(layers.ActLinear)
	}
	e.lo, e.hi = lo, hi
	return e
}

// apply sets y = act(a + r) over len(y) values (y may be a).
func (e *epilogue) apply(y, a, r []float32) {
	asm.AddClamp(e.isa, y, a, r, e.lo, e.hi)
	if e.post.Kind != layers.Linear {
		applyActivation(e.isa, e.post, y, 1)
	}
}

// residualKernel is a kernel that can run a residual step itself, applying e with the
// residual res (laid out like dst) to each output block as it writes it.
type residualKernel interface {
	runRes(dst, src, res, scratch []float32, batch int, e *epilogue)
}

// resPanelFloats is the output a GEMM writes before the epilogue runs on it (floats):
// 32 KiB, within L1 with the residual rows beside it.
const resPanelFloats = 1 << 13

// gemmRes is gemm for a residual step: rows of out = e(a*B + bias, res), in row panels
// of about resPanelFloats outputs (a multiple of every tile height, 6 and 8: the split
// changes no value, each GEMM row being its own sum). The layer's own activation is
// linear (fuseResiduals takes only linear producers).
func (g *gemmLayer) gemmRes(rows int, a, out, res []float32, e *epilogue) {
	n := g.n
	step := max(24, resPanelFloats/n/24*24)
	for r0 := 0; r0 < rows; r0 += step {
		r1 := min(rows, r0+step)
		o := out[r0*n : r1*n]
		asm.Gemm(g.isa, r1-r0, n, g.k, a[r0*g.k:], g.k, g.packed, o, n, g.lo, g.hi)
		e.apply(o, o, res[r0*n:r1*n])
	}
}

// gemmOut is gemm, or gemmRes when e is set.
func (g *gemmLayer) gemmOut(rows int, a, out, res []float32, e *epilogue) {
	if e == nil {
		g.gemm(rows, a, out)
		return
	}
	g.gemmRes(rows, a, out, res, e)
}

func (k *fastDense) runRes(dst, src, res, _ []float32, batch int, e *epilogue) {
	k.gemmRes(batch*k.rowsPerSample, src, dst, res, e)
}
