//go:build !noasm && !purego && gc

package asm

// gemmMinmax4x8NEON is Gemm's NEON kernel (packed for NR=8) over the full column blocks
// only (n is a multiple of 8; Gemm does the last partial block through a stack tile). It
// tiles C into 4x8 blocks, remainder rows one at a time, and computes
//
//	for j0 := 0; j0+8 <= n; j0 += 8 {       // blk = packed[j0/8*8*(k+1):]
//		for i := 0; i < m; i++ {
//			for j := j0; j < j0+8; j++ {
//				s := blk[j-j0]
//				for p := 0; p < k; p++ { s = fma(a[i*lda+p], blk[(p+1)*8+j-j0], s) }
//				c[i*ldc+j] = min(max(s, lo), hi)
//			}
//		}
//	}
//
//go:noescape
func gemmMinmax4x8NEON(m, n, k int, a *float32, lda int, packed *float32, c *float32, ldc int, lo, hi float32)

func gemmKernel(isa ISA, m, n, k int, a *float32, lda int, packed *float32, c []float32, ldc int, lo, hi float32) bool {
	if isa != NEON {
		return false
	}
	const nr = 8
	nfull := n / nr * nr
	if nfull > 0 {
		gemmMinmax4x8NEON(m, nfull, k, a, lda, packed, &c[0], ldc, lo, hi)
	}
	if nc := n - nfull; nc > 0 {
		// Last partial block: compute 4 rows at a time into a stack tile, copy nc columns.
		var tile [4 * nr]float32
		last := (*float32)(unsafePointerAdd(packed, nfull/nr*nr*(k+1)))
		for i := 0; i < m; i += 4 {
			mm := min(4, m-i)
			var ai *float32
			if k > 0 {
				ai = (*float32)(unsafePointerAdd(a, i*lda))
			}
			gemmMinmax4x8NEON(mm, nr, k, ai, lda, last, &tile[0], nr, lo, hi)
			for r := 0; r < mm; r++ {
				copy(c[(i+r)*ldc+nfull:(i+r)*ldc+n], tile[r*nr:r*nr+nc])
			}
		}
	}
	return true
}
