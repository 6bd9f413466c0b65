//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel winograd_avx2 -out ../winograd_f2x2_3x3_avx2_amd64.s
//go:generate go run -C _gen . -kernel winograd4_avx2 -out ../winograd_f4x4_3x3_avx2_amd64.s
//go:generate go run -C _gen . -kernel winograd_avx512 -out ../winograd_3x3_avx512_amd64.s

// winogradAsm reports whether the AVX2 Winograd transforms run for isa (also under AVX512).
func winogradAsm(isa ISA) bool { return (isa == AVX2 || isa == AVX512) && Available(isa) }

// winogradAsm512 reports whether the AVX-512 transforms (16 channels per vector) run for isa.
func winogradAsm512(isa ISA) bool { return isa == AVX512 && Available(isa) }

// winogradInF2x2AVX2 is WinogradF2x2In for c a multiple of 8 (8 channels per vector):
//
//	for t := 0; t < ntiles; t++ { V(dst[t*16*c:], window at src[offs[t]:]) }
//
//go:noescape
func winogradInF2x2AVX2(dst, src *float32, offs *int, ntiles, c, rowStride int)

// winogradOutF2x2AVX2 is WinogradF2x2Out for n a multiple of 8:
//
//	for t := 0; t < ntiles; t++ { block at dst[offs[t]:] = clamp(A^T M_t A + bias, lo, hi) }
//
//go:noescape
func winogradOutF2x2AVX2(dst, src *float32, offs *int, bias *float32, ntiles, n, rowStride int, lo, hi float32)

// winogradInF4x4AVX2 is WinogradF4x4In for c a multiple of 8.
//
//go:noescape
func winogradInF4x4AVX2(dst, src *float32, offs *int, ntiles, c, rowStride int)

// winogradOutF4x4AVX2 is WinogradF4x4Out for n a multiple of 8.
//
//go:noescape
func winogradOutF4x4AVX2(dst, src *float32, offs *int, bias *float32, ntiles, n, rowStride int, lo, hi float32)

// The AVX-512 forms of the four transforms: the same operations in the same order on 16
// channels per vector (c or n a multiple of 16).
//
//go:noescape
func winogradInF2x2AVX512(dst, src *float32, offs *int, ntiles, c, rowStride int)

//go:noescape
func winogradOutF2x2AVX512(dst, src *float32, offs *int, bias *float32, ntiles, n, rowStride int, lo, hi float32)

//go:noescape
func winogradInF4x4AVX512(dst, src *float32, offs *int, ntiles, c, rowStride int)

//go:noescape
func winogradOutF4x4AVX512(dst, src *float32, offs *int, bias *float32, ntiles, n, rowStride int, lo, hi float32)

// winogradOutAddF4x4AVX2 and winogradOutAddF4x4AVX512 are WinogradF4x4OutAdd: the
// output transform with the residual res (laid out like dst) added after the bias,
// before the clamp.
//
//go:noescape
func winogradOutAddF4x4AVX2(dst, src *float32, offs *int, bias, res *float32, ntiles, n, rowStride int, lo, hi float32)

//go:noescape
func winogradOutAddF4x4AVX512(dst, src *float32, offs *int, bias, res *float32, ntiles, n, rowStride int, lo, hi float32)
