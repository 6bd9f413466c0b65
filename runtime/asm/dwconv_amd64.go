//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel dwconv_avx2 -out ../dwconv_minmax_up32_avx2_amd64.s
//go:generate go run -C _gen . -kernel dwconv_avx512 -out ../dwconv_minmax_up64_avx512_amd64.s

// dwconvMinmaxUp32AVX2 computes one segment of DWConv.Rows: npix output pixels
// (pixStride bytes apart in src, c floats apart in dst) whose windows take the same
// nky x nkx in-bounds taps, the first at src; as a Go loop (byte strides as float
// counts, blk(ch) = w[ch/16*bs + ch%16], the tap weights from tapOff on):
//
//	for p := 0; p < npix; p++ {
//		for ch := 0; ch < c; ch++ {
//			acc := blk(ch)[0]
//			for a := 0; a < nky; a++ {
//				for b := 0; b < nkx; b++ {
//					acc += float32(src[p*pixStride+a*(rowStep+nkx*colStride)+b*colStride+ch] *
//						blk(ch)[tapOff+a*(wRowStep+nkx*16)+b*16])
//				}
//			}
//			dst[p*c+ch] = min(max(acc, lo), hi) // a NaN acc kept
//		}
//	}
//
// in channel tiles of 32 (4 ymm), 16 and a masked tail. nky, nkx >= 1.
//
//go:noescape
func dwconvMinmaxUp32AVX2(dst, src, w *float32, npix, c, pixStride, nky, nkx, rowStep, colStride, tapOff, wRowStep, bs int, lo, hi float32)

// dwconvMinmaxUp64AVX512 is dwconvMinmaxUp32AVX2 in channel tiles of 64 (4 zmm), 16
// and a k-masked tail.
//
//go:noescape
func dwconvMinmaxUp64AVX512(dst, src, w *float32, npix, c, pixStride, nky, nkx, rowStep, colStride, tapOff, wRowStep, bs int, lo, hi float32)

// dwKernel runs one segment in assembly when the path has it.
func dwKernel(isa ISA, d *DWConv, y, x []float32, npix, nky, nkx, t0 int) bool {
	if !Available(isa) || isa != AVX2 && isa != AVX512 {
		return false
	}
	ps, rs, cs, to, wr, bs := d.dwArgs(nkx, t0)
	if isa == AVX512 {
		dwconvMinmaxUp64AVX512(&y[0], &x[0], &d.packed[0], npix, d.g.C, ps, nky, nkx, rs, cs, to, wr, bs, d.lo, d.hi)
	} else {
		dwconvMinmaxUp32AVX2(&y[0], &x[0], &d.packed[0], npix, d.g.C, ps, nky, nkx, rs, cs, to, wr, bs, d.lo, d.hi)
	}
	return true
}
