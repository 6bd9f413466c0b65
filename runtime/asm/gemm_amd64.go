//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel gemm_avx2 -out ../gemm_minmax_6x16_avx2_amd64.s
//go:generate go run -C _gen . -kernel gemm_avx2_narrow -out ../gemm_minmax_narrow_avx2_amd64.s
//go:generate go run -C _gen . -kernel gemm_avx512 -out ../gemm_minmax_8x32_avx512_amd64.s

// gemmMinmax6x16AVX2 is Gemm's AVX2+FMA kernel (packed for NR=16): with k>0 a points at
// A[0][0], c at C[0][0]; it tiles C into 6x16 blocks (column blocks outer, rows inner)
// with every row and column remainder done inside, and computes exactly
//
//	for j0 := 0; j0 < n; j0 += 16 {          // blk = packed[j0/16*16*(k+1):]
//		for i := 0; i < m; i++ {
//			for j := j0; j < min(j0+16, n); j++ {
//				s := blk[j-j0]
//				for p := 0; p < k; p++ { s = fma(a[i*lda+p], blk[(p+1)*16+j-j0], s) }
//				c[i*ldc+j] = min(max(s, lo), hi)
//			}
//		}
//	}
//
// With m == 1 it runs four column blocks at a time (the GEMV path) with the same sums.
// Every element is the same chain of FMAs whatever tile it lands in, so results do not
// depend on m or on how rows are split.
//
//go:noescape
func gemmMinmax6x16AVX2(m, n, k int, a *float32, lda int, packed *float32, c *float32, ldc int, lo, hi float32)

// gemmMinmax12x8AVX2 is Gemm's AVX2 kernel at most gemmNarrowN columns wide (packed for
// NR=8, one ymm per row) for k < gemmNarrowSplitK: 12x8 tiles (12 accumulator chains)
// with every row remainder inside, each element the same FMA chain as in the 6x16
// kernel (bias, then the k products in order), so the same bits as the wide kernels.
//
//go:noescape
func gemmMinmax12x8AVX2(m, n, k int, a *float32, lda int, packed *float32, c *float32, ldc int, lo, hi float32)

// gemmMinmax6x8AVX2 is Gemm's AVX2 kernel at most gemmNarrowN columns wide for
// k >= gemmNarrowSplitK (packed for NR=8, one ymm per row), in 6x8 tiles (two passes
// over k with two partials each; 1- to 3-row tiles in one pass). Unlike the 6x16 and
// 8x32 kernels, every tile splits each element's k sum into 4 partial sums
// (product p into partial p mod 4; partial 0 starts at the bias, the others at zero)
// and adds them as (s0+s1)+(s2+s3) before the clamp, so a 1-row call (a batch-1 Dense)
// runs 4 FMA chains instead of one k-long chain; 3 rows x 4 partials fill 12 of the 16
// ymm registers. The order is the same in every tile, so a row's bits do not depend on
// the batch or the row split; they match gemmGeneric's narrow path (gemmNarrowGo), not
// the wide kernels. The column remainder is stored with VMASKMOVPS. No GEMV path (one
// column block is all it gets).
//
//go:noescape
func gemmMinmax6x8AVX2(m, n, k int, a *float32, lda int, packed *float32, c *float32, ldc int, lo, hi float32)

// gemmMinmax8x32AVX512 is gemmMinmax6x16AVX2 with 8x32 tiles in zmm registers, packed for
// NR=32; the column remainder is stored under k-masks.
//
//go:noescape
func gemmMinmax8x32AVX512(m, n, k int, a *float32, lda int, packed *float32, c *float32, ldc int, lo, hi float32)

func gemmKernel(isa ISA, m, n, k int, a *float32, lda int, packed *float32, c []float32, ldc int, lo, hi float32) bool {
	switch isa {
	case AVX2:
		if gemmNarrow(isa, n) {
			if gemmNarrowSplit(k) {
				gemmMinmax6x8AVX2(m, n, k, a, lda, packed, &c[0], ldc, lo, hi)
			} else {
				gemmMinmax12x8AVX2(m, n, k, a, lda, packed, &c[0], ldc, lo, hi)
			}
			break
		}
		gemmMinmax6x16AVX2(m, n, k, a, lda, packed, &c[0], ldc, lo, hi)
	case AVX512:
		gemmMinmax8x32AVX512(m, n, k, a, lda, packed, &c[0], ldc, lo, hi)
	default:
		return false
	}
	return true
}
