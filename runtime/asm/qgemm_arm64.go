//go:build !noasm && !purego && gc

package asm

import "github.com/klauspost/cpuid/v2"

const haveVNNI512, haveAVXVNNI = false, false

// haveDot: SDOT needs the dotprod extension (without it the int8 GEMM is plain Go).
var haveDot = cpuid.CPU.Supports(cpuid.ASIMD, cpuid.ASIMDDP)

// qdot8x8NEON computes one 8x8 tile of int32 sums over the qNEON layout (rows of
// int8(a-128), 16 bytes per step; packed: per 8-column block, kg groups of 8 lanes of
// 4 int8, kg a multiple of 4), kq = kg/4 steps, into out row-major:
//
//	for r := 0; r < 8; r++ {
//		for j := 0; j < 8; j++ {
//			var s int32
//			for p := 0; p < 16*kq; p++ { s += int32(int8(rows[r][p])) * int32(w[p][j]) }
//			out[r*8+j] = s
//		}
//	}
//
//go:noescape
func qdot8x8NEON(rows *[8]*byte, b *byte, kq int, out *[64]int32)

// qmull4x8NEON is qdot8x8NEON for arm64 without dotprod, on 4-row tiles: per 4 k
// values and row, the row's quad broadcast, SMULL/SMULL2 by the 8 columns' quads
// (int16 products, exact), SADALP into int32 lanes two per column, ADDP at the end
// (the same sums in another order: exact).
//
//go:noescape
func qmull4x8NEON(rows *[4]*byte, b *byte, kq int, out *[32]int32)

// qgemmKernel runs qNEON GEMMs as 8x8 dot tiles, qNEONMull ones as 4x8 tiles (short
// row tiles repeat their last row), and the output stage in Go.
func qgemmKernel(q *QGemm, round bool, m int, a []byte, c []float32, ldc int, corr []int32, scale, bias []float32, lo, hi, sy float32) bool {
	if q.p == qNEONMull {
		qgemmMull(q, round, m, a, c, ldc, corr, scale, bias, lo, hi, sy)
		return true
	}
	if q.p != qNEON {
		return false
	}
	const nr = 8
	var rows [8]*byte
	var acc [64]int32
	lda := q.LDA()
	for j0 := 0; j0 < q.n; j0 += nr {
		blk := &q.packed[j0/nr*q.kg*nr*4]
		nc := min(nr, q.n-j0)
		for i0 := 0; i0 < m; i0 += 8 {
			mr := min(8, m-i0)
			for r := range rows {
				rows[r] = &a[(i0+min(r, mr-1))*lda]
			}
			qdot8x8NEON(&rows, blk, q.kg/4, &acc)
			for r := 0; r < mr; r++ {
				cr := c[(i0+r)*ldc+j0:][:nc]
				for jj := range cr {
					j := j0 + jj
					cr[jj] = qout(round, acc[r*8+jj]+corr[j], scale[j], lo, hi, sy, bias, j)
				}
			}
		}
	}
	return true
}

func qgemmMull(q *QGemm, round bool, m int, a []byte, c []float32, ldc int, corr []int32, scale, bias []float32, lo, hi, sy float32) {
	const nr = 8
	var rows [4]*byte
	var acc [32]int32
	lda := q.LDA()
	for j0 := 0; j0 < q.n; j0 += nr {
		blk := &q.packed[j0/nr*q.kg*nr*4]
		nc := min(nr, q.n-j0)
		for i0 := 0; i0 < m; i0 += 4 {
			mr := min(4, m-i0)
			for r := range rows {
				rows[r] = &a[(i0+min(r, mr-1))*lda]
			}
			qmull4x8NEON(&rows, blk, q.kg/4, &acc)
			for r := 0; r < mr; r++ {
				cr := c[(i0+r)*ldc+j0:][:nc]
				for jj := range cr {
					j := j0 + jj
					cr[jj] = qout(round, acc[r*8+jj]+corr[j], scale[j], lo, hi, sy, bias, j)
				}
			}
		}
	}
}

func qgemmPoolAsm(qpath) bool { return false }

func qgemmPoolKernel(*QGemm, int, []byte, []float32, int, []int32, []float32, float32, float32, float32) bool {
	return false
}

func qgemmBytesKernel(*QGemm, bool, int, []byte, []byte, int, []int32, []float32, float32, float32, int32) bool {
	return false
}
