package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fusedClamp reports whether act is a clamp the GEMM kernels can apply in their stores:
// linear, ReLU / ReLU6 / capped ReLU without slope or threshold, and Clip.
func fusedClamp(act layers.Activation) (lo, hi float32, ok bool) {
	inf := float32(math.Inf(1))
	switch act.Kind {
	case layers.Linear:
		return -inf, inf, true
	case layers.ReLU:
		if act.Alpha == 0 && act.Threshold == 0 {
			return 0, act.Max, true
		}
	case layers.Clip:
		if act.Alpha <= act.Beta {
			return act.Alpha, act.Beta, true
		}
	}
	return 0, 0, false
}

// gemmLayer is the part Dense and Conv2D share: packed weights, the clamp fused into the
// GEMM, and the activation applied afterwards when it cannot be fused.
type gemmLayer struct {
	isa    asm.ISA
	k, n   int
	packed []float32
	lo, hi float32
	post   layers.Activation // Linear when fused
}

// gemmISA is the GEMM path for n output columns on isa: under AVX512 a GEMM at most 16
// columns wide runs the AVX2 6x16 kernel, which pads n to 16 instead of 32 (half the
// FMAs for the 8- and 16-filter convolutions of small CNNs), and at most 8 columns wide
// AVX2's narrow 12x8 kernel (asm picks it from (AVX2, n) for PackedLen, PackB and Gemm
// alike), which pads to 8: the few-filter convolutions and small Dense layers.
func gemmISA(isa asm.ISA, n int) asm.ISA {
	if isa == asm.AVX512 && n <= 16 && asm.Available(asm.AVX2) {
		return asm.AVX2
	}
	return isa
}

func newGemmLayer(isa asm.ISA, k, n int, w, b []float32, act layers.Activation) gemmLayer {
	isa = gemmISA(isa, n)
	g := gemmLayer{isa: isa, k: k, n: n, packed: make([]float32, asm.PackedLen(isa, k, n))}
	asm.PackB(isa, g.packed, k, n, w, b)
	if lo, hi, ok := fusedClamp(act); ok {
		g.lo, g.hi, g.post = lo, hi, layers.ActLinear
	} else {
		g.lo, g.hi = float32(math.Inf(-1)), float32(math.Inf(1))
		g.post = act
	}
	return g
}

// gemm computes rows of out (ldc = n) from rows of a (lda = k), activation included.
func (g *gemmLayer) gemm(rows int, a, out []float32) {
	asm.Gemm(g.isa, rows, g.n, g.k, a, g.k, g.packed, out, g.n, g.lo, g.hi)
	if g.post.Kind != layers.Linear {
		applyActivation(g.isa, g.post, out[:rows*g.n], g.n)
	}
}

func (g *gemmLayer) kernelName(op string) string {
	s := op + " gemm/" + g.isa.String()
	if g.post.Kind == layers.Linear {
		return s + " (bias+clamp fused)"
	}
	return s + " + " + g.post.String()
}

// fastDense runs Dense as one GEMM over every row of the batch: batch-1 is the GEMV path.
type fastDense struct {
	gemmLayer
	rowsPerSample int
}

func newFastDense(l *layers.Dense, in layers.Shape, isa asm.ISA) compiled {
	k := &fastDense{gemmLayer: newGemmLayer(isa, l.In, l.Units, l.W, l.B, l.Act), rowsPerSample: in.Size() / l.In}
	return compiled{k: k, name: k.kernelName("dense")}
}

func (k *fastDense) run(dst, src, _ []float32, batch int) {
	k.gemm(batch*k.rowsPerSample, src, dst)
}

// applyActivation applies a per-element or softmax activation in place over x, rows of
// lastDim, with the vector kernels where asm has them.
func applyActivation(isa asm.ISA, act layers.Activation, x []float32, lastDim int) {
	switch act.Kind {
	case layers.Sigmoid:
		asm.Sigmoid(isa, x)
	case layers.Tanh:
		asm.Tanh(isa, x)
	case layers.Swish:
		asm.Swish(isa, x)
	case layers.GeluTanh:
		asm.GeluTanh(isa, x)
	case layers.Gelu:
		asm.Gelu(isa, x)
	case layers.Exponential:
		asm.Exp(isa, x)
	case layers.Elu:
		asm.Elu(isa, x, act.Alpha)
	case layers.Softmax:
		asm.Softmax(isa, x, lastDim)
	case layers.Linear:
	case layers.ReLU:
		if act.Alpha == 0 && act.Threshold == 0 {
			// ReLU / ReLU6 / capped ReLU: the vector clamp, the reference's bits
			asm.Clamp(isa, x, 0, act.Max)
			return
		}
		reluInPlace(x, act)
	case layers.HardSigmoid:
		hardSigmoidInPlace(x, act.Alpha, act.Beta)
	case layers.HardSwish:
		hardSwishInPlace(x)
	case layers.Softsign:
		if asm.ActVec(isa) {
			asm.Softsign(isa, x)
		} else {
			softsignInPlace(x)
		}
	case layers.Selu:
		if asm.ActVec(isa) {
			asm.Selu(isa, x)
		} else {
			seluInPlace(x)
		}
	case layers.Softplus:
		if asm.ActVec(isa) {
			asm.Softplus(isa, x)
		} else {
			softplusInPlace(x)
		}
	case layers.Clip:
		asm.Clamp(isa, x, act.Alpha, act.Beta)
	default:
		act.Apply(x, lastDim)
	}
}

// parMinFLOPs is the least work (FLOPs) of one step that is split across a team: below
// it posting the tasks and waiting for them costs about what the second core saves.
var parMinFLOPs = 100_000

// gemmColAlign is the column granularity of a split GEMM: a multiple of every packed
// block width (8, 16, 32), so a part's packed weights start at j0*(k+1).
const gemmColAlign = 32

// gemmTasks is how many tasks a GEMM of rows x n x k is split into on a team of w
// workers (1: not split): two per worker when large, so a helper that joins late
// still takes a share.
func gemmTasks(w, rows, n, k int) int {
	f := 2 * rows * n * k
	if w < 2 || f < parMinFLOPs {
		return 1
	}
	t := w
	if f >= 8*parMinFLOPs {
		t = 2 * w
	}
	if byCols(rows, n) {
		return max(1, min(t, n/(2*gemmColAlign)))
	}
	return max(1, min(t, rows/8))
}

// byCols reports whether a GEMM is split by output columns (each worker reads its own
// part of the weights, which a few-row GEMM is bound by) rather than by rows.
func byCols(rows, n int) bool { return rows < 64 && n >= 4*gemmColAlign }

// gemmPart computes part i of tasks of the layer's GEMM out = a*B (rows x n).
func (g *gemmLayer) gemmPart(rows int, a, out []float32, i, tasks int) {
	gemmSplit(g.isa, rows, g.n, g.k, a, g.k, g.packed, out, g.n, g.lo, g.hi, i, tasks)
}

// gemmSplit computes part i of tasks of asm.Gemm(isa, rows, n, k, ...): a column block
// aligned to gemmColAlign (byCols) or a row block of 8. Every element's sum is the one
// the whole GEMM computes (asm.Gemm's bits do not depend on the tile or the split).
func gemmSplit(isa asm.ISA, rows, n, k int, a []float32, lda int, packed, out []float32, ldc int, lo, hi float32, i, tasks int) {
	if tasks == 1 {
		asm.Gemm(isa, rows, n, k, a, lda, packed, out, ldc, lo, hi)
		return
	}
	if byCols(rows, n) {
		j0, j1 := colSpan(n, tasks, i)
		asm.Gemm(isa, rows, j1-j0, k, a, lda, packed[j0*(k+1):], out[j0:], ldc, lo, hi)
		return
	}
	r0, r1 := span(rows, tasks, i, 8)
	if r1 > r0 {
		asm.Gemm(isa, r1-r0, n, k, a[r0*lda:], lda, packed, out[r0*ldc:], ldc, lo, hi)
	}
}

// colSpan is part i of n columns split in tasks parts at gemmColAlign; a last part of
// at most 8 columns (which would select AVX2's narrow kernel and its other packing) is
// widened by one block.
func colSpan(n, tasks, i int) (lo, hi int) {
	lo, hi = span(n, tasks, i, gemmColAlign)
	if r := n % gemmColAlign; r != 0 && r <= 8 && n > gemmColAlign {
		// the part holding only the short block takes the block before it too
		// (gemmTasks leaves every part at least two blocks)
		edge := n - r
		if lo == edge {
			lo -= gemmColAlign
		}
		if hi == edge {
			hi -= gemmColAlign
		}
	}
	return lo, hi
}

// runPar splits the Dense GEMM (see gemmTasks); an activation not fused into the GEMM
// runs afterwards on the caller.
func (k *fastDense) runPar(t *team, dst, src, scratch []float32, batch int) {
	rows := batch * k.rowsPerSample
	n := gemmTasks(t.workers(), rows, k.n, k.k)
	if n == 1 {
		k.run(dst, src, scratch, batch)
		return
	}
	t.runTasks(k, n, dst, src, nil, rows, n, 0)
	if k.post.Kind != layers.Linear {
		applyActivation(k.isa, k.post, dst[:rows*k.n], k.n)
	}
}

func (k *fastDense) parTask(r *region, i, _ int) { k.gemmPart(r.batch, r.src, r.dst, i, r.a) }

func (k *fastDense) forTeam(_, _, sc int) (parKernel, int) { return k, sc }
