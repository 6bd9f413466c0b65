//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel quant_avx2 -out ../quant_avx2_amd64.s

// quantizeU8AVX2 is, for n a multiple of 32,
//
//	for i := range n { dst[i] = byte(QuantizeValue(src[i], scale, lo, hi) + zp) }
//
// (VDIVPS, VMAXPS with lo, so a NaN gives lo, VMINPS, VCVTPS2DQ: the same bits).
//
//go:noescape
func quantizeU8AVX2(dst *byte, src *float32, n int, scale, lo, hi float32, zp int32)

// quantizeU16AVX2 is quantizeU8AVX2 writing little-endian uint16 values.
//
//go:noescape
func quantizeU16AVX2(dst *byte, src *float32, n int, scale, lo, hi float32, zp int32)

// fakeQuantAVX2 is, for n a multiple of 32,
//
//	for i := range n { dst[i] = float32(QuantizeValue(src[i], scale, lo, hi)) * scale }
//
//go:noescape
func fakeQuantAVX2(dst *float32, src *float32, n int, scale, lo, hi float32, zp int32)

func quantizeKernel(eb int, dst []byte, src []float32, scale, lo, hi float32, zp int32) int {
	n := len(src) &^ 31
	if n == 0 || !Available(AVX2) {
		return 0
	}
	if eb == 1 {
		quantizeU8AVX2(&dst[0], &src[0], n, scale, lo, hi, zp)
	} else {
		quantizeU16AVX2(&dst[0], &src[0], n, scale, lo, hi, zp)
	}
	return n
}

func fakeQuantKernel(dst, src []float32, scale, lo, hi float32) int {
	n := len(src) &^ 31
	if n == 0 || !Available(AVX2) {
		return 0
	}
	fakeQuantAVX2(&dst[0], &src[0], n, scale, lo, hi, 0)
	return n
}

// copyRunsAVX2 is, for move a positive multiple of 32,
//
//	for i := range n { copy(dst[offs[i]:][:move], src[i*step:][:move]) }
//
//go:noescape
func copyRunsAVX2(dst *byte, offs *int, n int, src *byte, step, move int)

func copyRunsKernel(dst []byte, offs []int, src []byte, step, move int) bool {
	if !Available(AVX2) {
		return false
	}
	copyRunsAVX2(&dst[0], &offs[0], len(offs), &src[0], step, move)
	return true
}

// thin1PoolAVX2 is, for a one-channel 3x3 stride-1 conv without padding on a w-wide
// byte plane, the A rows of 12 bytes (9 taps, 3 zeros) of the ph x pw 2x2-pool windows
// in window order (each window's outputs (0,0), (0,1), (1,0), (1,1)): window (py, px)
// reads the 4x4 patch at src[2*py*w+2*px:].
//
//go:noescape
func thin1PoolAVX2(dst *byte, src *byte, w, ph, pw int)

func thin1PoolKernel(dst, src []byte, w, ph, pw int) bool {
	if !Available(AVX2) {
		return false
	}
	thin1PoolAVX2(&dst[0], &src[0], w, ph, pw)
	return true
}
