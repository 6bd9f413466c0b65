//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel pool_avx2 -out ../maxpool_avx2_amd64.s

// vmaxPoolAVX2 is MaxPool for c a multiple of 8 and ntaps >= 1:
//
//	for p := 0; p < npix; p++ { for i := 0; i < c; i++ { dst[p*c+i] = max_t src[bases[p]+offs[t]+i] } }
//
//go:noescape
func vmaxPoolAVX2(dst, src *float32, bases *int, npix int, offs *int, ntaps, c int)
