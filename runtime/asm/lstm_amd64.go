//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel lstm_avx2 -out ../lstm_seq_avx2_amd64.s
//go:generate go run -C _gen . -kernel lstm_avx512 -out ../lstm_seq_avx512_amd64.s

// The LSTM step and sequence kernels (lstm_seq_avx2_amd64.s, lstm_seq_avx512_amd64.s).

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
