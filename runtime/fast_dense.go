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
		reluInPlace(x, act)
	case layers.Clip:
		lo, hi := act.Alpha, act.Beta
		for i, v := range x {
			if v == v {
				x[i] = min(max(v, lo), hi)
			}
		}
	default:
		act.Apply(x, lastDim)
	}
}
