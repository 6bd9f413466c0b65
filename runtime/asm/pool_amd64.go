//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel pool_avx2 -out ../pool_avx2_amd64.s

// vmaxPoolAVX2 is MaxPool for c a multiple of 8 and ntaps >= 1:
//
//	for p := 0; p < npix; p++ { for i := 0; i < c; i++ { dst[p*c+i] = max_t src[bases[p]+offs[t]+i] } }
//
//go:noescape
func vmaxPoolAVX2(dst, src *float32, bases *int, npix int, offs *int, ntaps, c int)

// The PoolTaps / GlobalPool kernels (8 channels a vector, masked tail; exact against
// layers.Pool2D / GlobalPool2D):
//
//	vpoolMaxTapsAVX2: dst[p*c+i] = max from -Inf over t in [ptr[p], ptr[p+1]) of src[offs[t]+i]
//	vpoolAvgTapsAVX2: dst[p*c+i] = (sum from 0 over the same taps) * scale[p]
//	vpoolMaxStrideAVX2: dst[i] = max from -Inf over t < ntaps of src[t*c+i]
//	vpoolAvgStrideAVX2: dst[i] = (sum from 0 over t < ntaps of src[t*c+i]) * scale

//go:noescape
func vpoolMaxTapsAVX2(dst, src *float32, offs, ptr *int, npix, c int)

//go:noescape
func vpoolAvgTapsAVX2(dst, src *float32, offs, ptr *int, scale *float32, npix, c int)

//go:noescape
func vpoolMaxStrideAVX2(dst, src *float32, ntaps, c int)

//go:noescape
func vpoolAvgStrideAVX2(dst, src *float32, ntaps, c int, scale float32)

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
