//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel gru_avx2 -out ../gru_seq_avx2_amd64.s

// gruSeqSigmoidTanhAVX2 runs GRUSeq's loop (see there) for reset_after with sigmoid
// gates: t steps over up padded units (8 at a time, up a multiple of 8), the first
// processed step's gate pre-activations at zx and each next one zxStride bytes on
// (negative when going backwards); u rows of packed U at uw; the candidate's recurrent
// bias at rbh; hs rows of up floats (row 0 the initial h, row s+1 written by step s);
// rh is not read.
//
//go:noescape
func gruSeqSigmoidTanhAVX2(zx *float32, zxStride int, uw, rbh, hs, rh *float32, t, u, up int)

// gruSeqHardSigmoidTanhAVX2 is gruSeqSigmoidTanhAVX2 with the gates clip(a*s+b, 0, 1).
//
//go:noescape
func gruSeqHardSigmoidTanhAVX2(zx *float32, zxStride int, uw, rbh, hs, rh *float32, t, u, up int, a, b float32)

// gruSeqResetBeforeSigmoidTanhAVX2 is GRUSeq's loop for reset_after=False: per step a
// pass forms z and r*h of every chunk into rh (2*up floats), a second sums the
// candidate from rh; rbh is not read.
//
//go:noescape
func gruSeqResetBeforeSigmoidTanhAVX2(zx *float32, zxStride int, uw, rbh, hs, rh *float32, t, u, up int)

// gruSeqResetBeforeHardSigmoidTanhAVX2 is gruSeqResetBeforeSigmoidTanhAVX2 with the
// gates clip(a*s+b, 0, 1).
//
//go:noescape
func gruSeqResetBeforeHardSigmoidTanhAVX2(zx *float32, zxStride int, uw, rbh, hs, rh *float32, t, u, up int, a, b float32)

// rnnSeqTanhAVX2 runs RNNSeq's loop (see there) with tanh: t steps over up padded
// units, the first processed step's pre-activations at zx and each next one zxStride
// bytes on; u rows of up floats of U at uw; hs rows of up floats.
//
//go:noescape
func rnnSeqTanhAVX2(zx *float32, zxStride int, uw, hs *float32, t, u, up int)

// rnnSeqReluAVX2 is rnnSeqTanhAVX2 with max(0, x).
//
//go:noescape
func rnnSeqReluAVX2(zx *float32, zxStride int, uw, hs *float32, t, u, up int)

// gruSeqXSigmoidTanhAVX2 is gruSeqSigmoidTanhAVX2 projecting the input in the step loop
// (see GRUSeqX): step rows of nin floats at x, xStride bytes apart; wx nin rows of
// 3*up floats; bias 3*up floats.
//
//go:noescape
func gruSeqXSigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, rbh, hs, rh *float32, t, u, up, nin int)

// gruSeqXHardSigmoidTanhAVX2 is gruSeqXSigmoidTanhAVX2 with the gates clip(a*s+b, 0, 1).
//
//go:noescape
func gruSeqXHardSigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, rbh, hs, rh *float32, t, u, up, nin int, a, b float32)

// gruSeqXResetBeforeSigmoidTanhAVX2 is gruSeqResetBeforeSigmoidTanhAVX2 projecting the
// input in the step loop.
//
//go:noescape
func gruSeqXResetBeforeSigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, rbh, hs, rh *float32, t, u, up, nin int)

// gruSeqXResetBeforeHardSigmoidTanhAVX2 is gruSeqXResetBeforeSigmoidTanhAVX2 with the
// gates clip(a*s+b, 0, 1).
//
//go:noescape
func gruSeqXResetBeforeHardSigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, rbh, hs, rh *float32, t, u, up, nin int, a, b float32)

// rnnSeqXTanhAVX2 is rnnSeqTanhAVX2 projecting the input in the step loop (see
// RNNSeqX): step rows of nin floats at x, xStride bytes apart; wx nin rows of up
// floats; bias up floats.
//
//go:noescape
func rnnSeqXTanhAVX2(x *float32, xStride int, wx, bias, uw, hs *float32, t, u, up, nin int)

// rnnSeqXReluAVX2 is rnnSeqXTanhAVX2 with max(0, x).
//
//go:noescape
func rnnSeqXReluAVX2(x *float32, xStride int, wx, bias, uw, hs *float32, t, u, up, nin int)

// recSeqStackAVX2 runs RecSeqStack's stages (see there) from their n descriptors: for
// iteration it < iters, each stage's step it-lag when that is in [0, t).
//
//go:noescape
func recSeqStackAVX2(d *recStackDesc, n, t, iters int)
