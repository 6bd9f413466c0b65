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
