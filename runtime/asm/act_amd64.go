//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel act_avx2 -out ../act_avx2_amd64.s

// actAsm reports whether the AVX2 element-wise kernels serve isa.
func actAsm(isa ISA) bool { return (isa == AVX2 || isa == AVX512) && Available(isa) }

// Each kernel computes, in place, for i := 0; i < n; i++ { x[i] = f(x[i]) }, 8 lanes at
// a time and a masked tail (no access past x[n-1]).

// vexpAVX2: f = exp.
//
//go:noescape
func vexpAVX2(x *float32, n int)

// vsigmoidAVX2: f = 1/(1+exp(-x)).
//
//go:noescape
func vsigmoidAVX2(x *float32, n int)

// vtanhAVX2: f = tanh.
//
//go:noescape
func vtanhAVX2(x *float32, n int)

// vswishAVX2: f = x*sigmoid(x).
//
//go:noescape
func vswishAVX2(x *float32, n int)

// vgeluTanhAVX2: f = x*sigmoid(2*sqrt(2/pi)*(x+0.044715*x^3)).
//
//go:noescape
func vgeluTanhAVX2(x *float32, n int)

// veluAVX2: f = x if x > 0 else alpha*expm1(x).
//
//go:noescape
func veluAVX2(x *float32, n int, alpha float32)

// lstmStepSigmoidTanhAVX2 computes, for j < u (8 units at a time, masked tail), with
// s = z[k]+zx[k] for each gate k = j, u+j, 2u+j, 3u+j:
//
//	i, f, g, o := sigmoid(s_i), sigmoid(s_f), tanh(s_g), sigmoid(s_o)
//	c[j] = f*c[j] + i*g
//	h[j] = o * tanh(c[j])
//
//go:noescape
func lstmStepSigmoidTanhAVX2(z, zx, c, h *float32, u int)

// lstmStepHardSigmoidTanhAVX2 is lstmStepSigmoidTanhAVX2 with the gates
// clip(a*s+b, 0, 1) (one FMA) instead of sigmoid.
//
//go:noescape
func lstmStepHardSigmoidTanhAVX2(z, zx, c, h *float32, u int, a, b float32)

// lstmStepSigmoidTanhAVX512 is lstmStepSigmoidTanhAVX2 with the u < 8 remainder loaded
// and stored under a k mask (AVX-512VL) instead of VMASKMOVPS.
//
//go:noescape
func lstmStepSigmoidTanhAVX512(z, zx, c, h *float32, u int)

// lstmStepHardSigmoidTanhAVX512 is lstmStepHardSigmoidTanhAVX2 with k-masked remainders.
//
//go:noescape
func lstmStepHardSigmoidTanhAVX512(z, zx, c, h *float32, u int, a, b float32)

// vsigmoidGateAVX2: f = 1/(1+exp(-x)) in LSTMSeq's short form (see sigmoidGate).
//
//go:noescape
func vsigmoidGateAVX2(x *float32, n int)

// vtanhCellAVX2: f = tanh in LSTMSeq's short form (see tanhCell).
//
//go:noescape
func vtanhCellAVX2(x *float32, n int)

// lstmSeqSigmoidTanhAVX2 runs LSTMSeq's loop (see there) with sigmoid gates: t steps
// over up padded units (8 at a time, up a multiple of 8), the first processed step's
// gate pre-activations at zx and each next one zxStride bytes on (negative when going
// backwards); u rows of packed U at uw; c updated in place; hs rows of up floats (row 0
// the initial h, row s+1 written by step s).
//
//go:noescape
func lstmSeqSigmoidTanhAVX2(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int)

// lstmSeqHardSigmoidTanhAVX2 is lstmSeqSigmoidTanhAVX2 with the gates clip(a*s+b, 0, 1).
//
//go:noescape
func lstmSeqHardSigmoidTanhAVX2(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int, a, b float32)

// vmaxTapsAVX2 computes, 8 channels at a time with a masked tail,
//
//	for i := 0; i < c; i++ {
//		m := src[offs[0]+i]
//		for t := 1; t < ntaps; t++ { m = max(m, src[offs[t]+i]) } // NaN if any is NaN
//		dst[i] = m
//	}
//
//go:noescape
func vmaxTapsAVX2(dst, src *float32, offs *int, ntaps, c int)

// gatherRunsAVX2 computes
//
//	for r := 0; r < nruns; r++ {
//		copy(dst[r*runLen:(r+1)*runLen], src[offs[r]:offs[r]+runLen])
//	}
//
// moving whole 8-float blocks: it reads up to 7 floats past each source run and writes
// up to 7 past the last destination run (runLen >= 1).
//
//go:noescape
func gatherRunsAVX2(dst, src *float32, offs *int, nruns, runLen int)

// lstmSeqMultiSigmoidTanhAVX2 runs LSTMSeq's loop (as lstmSeqSigmoidTanhAVX2) for the n
// chains described at d, stepped together: for s < t, step s of chain 0, 1, ..., n-1.
//
//go:noescape
func lstmSeqMultiSigmoidTanhAVX2(d *lstmSeqDesc, n, t, u, up int)

// lstmSeqMultiHardSigmoidTanhAVX2 is lstmSeqMultiSigmoidTanhAVX2 with the gates
// clip(a*s+b, 0, 1).
//
//go:noescape
func lstmSeqMultiHardSigmoidTanhAVX2(d *lstmSeqDesc, n, t, u, up int, a, b float32)

// vtanhRationalAVX2: f = tanh in LSTMSeq's rational form (see tanhRational).
//
//go:noescape
func vtanhRationalAVX2(x *float32, n int)

// vsigmoidRationalAVX2: f = 1/(1+exp(-x)) in LSTMSeq's rational form (see sigmoidRational).
//
//go:noescape
func vsigmoidRationalAVX2(x *float32, n int)

// lstmSeqStackSigmoidTanhAVX2 runs LSTMSeqStack's wavefront (see there) over the n stage
// descriptors at d for t steps, sigmoid gates.
//
//go:noescape
func lstmSeqStackSigmoidTanhAVX2(d *lstmStackDesc, n, t int)

// lstmSeqStackHardSigmoidTanhAVX2 is lstmSeqStackSigmoidTanhAVX2 with the gates
// clip(a*x+b, 0, 1).
//
//go:noescape
func lstmSeqStackHardSigmoidTanhAVX2(d *lstmStackDesc, n, t int, a, b float32)

// lstmSeqX8SigmoidTanhAVX2 runs LSTMSeqX's loop (see there) for up == 8 with sigmoid gates.
//
//go:noescape
func lstmSeqX8SigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int)

// lstmSeqX8HardSigmoidTanhAVX2 is lstmSeqX8SigmoidTanhAVX2 with the gates clip(a*x+b, 0, 1).
//
//go:noescape
func lstmSeqX8HardSigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int, a, b float32)

// lstmSeqX8SigmoidTanhAVX512 is lstmSeqX8SigmoidTanhAVX2 with the gate vectors in ZMM
// pairs (half the FMAs; the same results bit for bit).
//
//go:noescape
func lstmSeqX8SigmoidTanhAVX512(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int)

// lstmSeqX8HardSigmoidTanhAVX512 is lstmSeqX8SigmoidTanhAVX512 with the gates
// clip(a*x+b, 0, 1).
//
//go:noescape
func lstmSeqX8HardSigmoidTanhAVX512(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int, a, b float32)

// vtanhFracAVX2: num[i] = tanh(num[i]/den[i]) for i < n, n a multiple of 8 (LSTMSeq's
// fraction form, see tanhFrac in _gen/lstmseq.go).
//
//go:noescape
func vtanhFracAVX2(num, den *float32, n int)

// lstmSeqX8SigmoidReluAVX2 is lstmSeqX8SigmoidTanhAVX2 with a relu cell activation.
//
//go:noescape
func lstmSeqX8SigmoidReluAVX2(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int)

// lstmSeqX8HardSigmoidReluAVX2 is lstmSeqX8SigmoidReluAVX2 with the gates
// clip(a*x+b, 0, 1).
//
//go:noescape
func lstmSeqX8HardSigmoidReluAVX2(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int, a, b float32)

// lstmSeq8SigmoidTanhAVX512 runs LSTMSeq's loop for up == 8 with ZMM gate pairs and a
// tree h*U sum (the AVX512 path's order; lstmSeqX8SigmoidTanhAVX512 and
// lstmSeqMulti8SigmoidTanhAVX512 give the same bits).
//
//go:noescape
func lstmSeq8SigmoidTanhAVX512(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int)

// lstmSeq8HardSigmoidTanhAVX512 is lstmSeq8SigmoidTanhAVX512 with the gates
// clip(a*x+b, 0, 1).
//
//go:noescape
func lstmSeq8HardSigmoidTanhAVX512(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int, a, b float32)

// lstmSeqMulti8SigmoidTanhAVX512 runs LSTMSeqMulti's loop for up == 8 with
// lstmSeq8SigmoidTanhAVX512's step.
//
//go:noescape
func lstmSeqMulti8SigmoidTanhAVX512(d *lstmSeqDesc, n, t, u, up int)

// lstmSeqMulti8HardSigmoidTanhAVX512 is lstmSeqMulti8SigmoidTanhAVX512 with the gates
// clip(a*x+b, 0, 1).
//
//go:noescape
func lstmSeqMulti8HardSigmoidTanhAVX512(d *lstmSeqDesc, n, t, u, up int, a, b float32)

// lstmSeqPair8SigmoidTanhAVX512 runs LSTMSeqXPair's two chains (see there) with sigmoid
// gates.
//
//go:noescape
func lstmSeqPair8SigmoidTanhAVX512(x *float32, nin int, d *lstmPairDesc, t, u int)

// lstmSeqPair8HardSigmoidTanhAVX512 is lstmSeqPair8SigmoidTanhAVX512 with the gates
// clip(a*x+b, 0, 1).
//
//go:noescape
func lstmSeqPair8HardSigmoidTanhAVX512(x *float32, nin int, d *lstmPairDesc, t, u int, a, b float32)
