// Package asm holds kinfer's compute kernels: a plain-Go reference for each, and
// assembly for amd64 (AVX2+FMA, AVX-512) and arm64 (NEON) chosen once at compile time.
//
// # API
//
// Every entry point takes the ISA to run as its first argument (chosen once, at model
// compile, with Best or FromEnv) and falls back to the plain-Go path when that ISA is not
// Available in this build. Kernels panic on slices too short for the shape they are
// given (the runtime checks shapes at compile time); they never allocate.
//
// GEMM with packed weights and a fused bias + clamp (Dense, 1x1 and im2col Conv2D,
// LSTM projections):
//
//	buf := make([]float32, asm.PackedLen(isa, k, n))
//	asm.PackB(isa, buf, k, n, w, bias)               // once, at compile
//	asm.Gemm(isa, m, n, k, a, lda, buf, c, ldc, lo, hi) // C = clamp(A*W + bias, lo, hi)
//
// lo, hi = -Inf, +Inf is linear; 0, +Inf is ReLU; 0, 6 is ReLU6. The packed layout is
// XNNPACK's: per block of NR columns, NR bias values then k rows of NR weights, zero
// padded; NR depends on the ISA and n (Generic 16, AVX2 16 or 8 for n <= 8 (12x8 tiles,
// 6x8 for k >= 32), AVX512 32, NEON 8 (8x8 tiles, A taken by element four k steps at a
// time)), so pack for the ISA you will run. m == 1 (batch-1 Dense) is the same call.
// Every output element is one FMA chain from the bias over k in order, except AVX2's
// narrow (n <= 8) kernel with k >= 32, which sums each element in 4 partials over k
// (product p into partial p mod 4, the bias in partial 0, then (s0+s1)+(s2+s3)), in every
// tile, so that a 1-row call runs 4 FMA chains instead of one k-long chain; its bits
// differ from the other paths' but, as everywhere, not with the batch or the row split,
// and its plain-Go fallback (purego, other GOARCHes) computes the same bits.
//
// Element-wise activations in place (vector forms in AVX2, also used under AVX512; error
// bounds in ULPs, measured against float64 over a sweep of the float32 range, are in each
// doc comment): Exp, Sigmoid, Tanh, Swish, GeluTanh, Gelu (erf; Go's rational forms in
// float32 on the vector path), Elu, and Softmax over rows of n; LayerNorm over rows (the
// vector Softmax and LayerNorm are in norm_avx2_amd64.s, generator target norm_avx2).
// Clamp (ReLU, ReLU6, Clip) and AddClamp, dst = clamp(a + b, lo, hi), the residual
// epilogue the runtime applies to each GEMM or Winograd output block as it is written
// (clamp_avx2_amd64.s, also under AVX512, and clamp_neon_arm64.s; NaN and -0 kept, the
// same bits on every path). LSTMStep applies one LSTM step's sigmoid/tanh gates and the c/h update in one vector pass from the two halves
// of the pre-activations (h*U and x*W+b), with sigmoid or hard-sigmoid gates. LSTMSeq
// runs a whole sequence of such steps for one sample in one call (h*U, gates and state
// update inside the step loop, units padded to a multiple of 8 by PadLSTMGates and
// PackLSTMSeqU; LSTMSeqX the same with the input projection inside the step loop, up to
// 8 units, LSTMSeqXRows reading another call's h rows in place, LSTMSeqXPair a
// Bidirectional layer's two directions in one call); LSTMSeqMulti steps several such
// sequences together (a Bidirectional layer's two directions) so that their step
// latencies overlap; on AVX512, layers of up to 8 units carry the gates in ZMM pairs with
// a tree h*U sum, so its bits differ from AVX2's (every kernel of one path agrees bit for
// bit); LSTMSeqStack runs
// stacked layers as a wavefront (layer i's step s beside layer i-1's step s+1, the input
// projection of later layers inside the step). The LSTM kernels live in
// lstm_seq_avx2_amd64.s and lstm_seq_avx512_amd64.s (generator targets lstm_avx2 and
// lstm_avx512, stubs in lstm_amd64.go), apart from the element-wise ones.
//
// GRU and SimpleRNN (gru_seq_avx2_amd64.s, generator target gru_avx2): GRUSeq runs a
// whole GRU sequence for one sample (gates z, r, h padded by PadGRUGates; reset_after or
// reset before U_h; sigmoid or hard-sigmoid gates, tanh candidate, the LSTM kernels'
// rational forms), GRUSeqX the same projecting the input inside the step loop; RNNSeq
// and RNNSeqX the SimpleRNN (tanh or relu). AVX2 form on AVX2 and AVX512; Generic
// elsewhere.
//
// Depthwise convolution (dwconv_minmax_up32_avx2_amd64.s, dwconv_minmax_up64_avx512_amd64.s,
// dwconv_minmax_up16_neon_arm64.s; generator targets dwconv_avx2, dwconv_avx512,
// dwconv_neon): NewDWConv packs the weights once per block of 16 channels (bias, then
// each tap's 16 weights) with the output clamp; DWConv.Rows computes a range of output
// rows of one sample, one assembly call per run of output pixels whose windows take the
// same in-bounds taps (a row's interior, each border pixel), channels in tiles of
// 32/64/16 with a masked tail. Each output is the bias plus each in-bounds tap's x*w in
// window order, a multiply and an add (not an FMA), then the clamp: the assembly, the
// Go loop and layers.Conv2D's reference (where Go does not fuse) give the same bits.
//
// Data movement for convolution and pooling: GatherRuns copies fixed-length runs from
// table offsets (im2col over a zero-bordered input; callers leave GatherSlack floats of
// room), MaxTaps takes the maximum over one output pixel's window taps, MaxPool over a
// whole map of windows that lie inside the input.
//
// Winograd convolution (stride-1 3x3): WinogradF2x2Weights / WinogradF4x4Weights
// transform a kernel at compile into 16 / 36 matrices (pack each with PackB, no bias);
// per chunk of tiles, WinogradF2x2In / WinogradF4x4In transform the 4x4 / 6x6 input
// windows, one Gemm per position multiplies them (lda = positions*In), and
// WinogradF2x2Out / WinogradF4x4Out add the bias, clamp and write the 2x2 / 4x4 output
// blocks. The transforms are exact-order float32 sums (the vector forms, AVX2 and
// AVX-512, give the Go loops' bits); the accuracy cost of the method is bounded and
// tested in the runtime (fast_winograd_test.go).
//
// Results do not depend on batch size or row position: every GEMM output is the bias
// followed by the k products in order, whatever tile or path (GEMV, full or remainder
// tile) computes it, and the activations compute every lane alike, so a sample gives
// bit-identical outputs alone, in a batch, or split across threads.
//
// # Measured speed
//
// On the 2-core AMD EPYC (Zen 5, family 0x1A) this was written on, the core clock
// measured by BenchmarkPeak/clock (a chain of dependent 1-cycle adds) is ~4.1 GHz; the
// FMA roof is 32 FLOP/cycle for AVX2 (~132 GFLOP/s) and 64 for AVX-512 (~265 GFLOP/s,
// full-width pipes). BenchmarkGemmEfficiency interleaves the roof loop and Gemm so both
// share one clock and one slice of a noisy machine: 256..1024 square GEMM runs at
// 97-99% of the roof on AVX2 and 95-99% on AVX-512 (~260 GFLOP/s on a quiet machine),
// 25-50x the Generic path.
//
// # Naming
//
// Each .s file holds one kernel family and is named family[_activation][_tile]_isa_arch.s;
// its functions are that family's variants (tiles, activation or gate forms, transform
// sizes), each named opActivationTileISA: gemm_minmax_6x16_avx2_amd64.s holds
// gemmMinmax6x16AVX2 (op "gemm", fused activation "minmax" (the lo/hi clamp), register
// tile 6 rows x 16 columns, ISA AVX2) and gemm_minmax_narrow_avx2_amd64.s the narrow
// 12x8 and 6x8 tiles; element-wise families have no tile: act_avx2_amd64.s (the
// activations and the LSTM gate forms), clamp_avx2_amd64.s, norm_avx2_amd64.s (row
// normalizations: LayerNorm, Softmax); pool_avx2_amd64.s is max and average pooling,
// gather_avx2_amd64.s the im2col gathers, lstm_seq_*, gru_seq_* the recurrent
// sequences, winograd_* the transforms, qgemm_* and quant_* int8. The Go stubs of a
// family sit in family_arch.go with a doc comment giving the Go loop each computes, and
// each assembly function opens with its Go signature as a comment.
//
// # Generation and build tags
//
// amd64 assembly is generated by avo from the separate module in _gen (go generate
// ./runtime/asm/); never edit the .s files by hand. arm64 assembly is hand-written, with
// WORD-encoded instructions the Go assembler lacks (the instruction is in a comment).
// Assembly files build under `!noasm && !purego && gc`; the _other.go fallbacks take the
// opposite, so `-tags purego` gives an all-Go build with identical results within the
// stated bounds.
package asm
