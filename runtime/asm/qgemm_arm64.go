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

// neonTiler runs q's NEON tile kernel over m rows of a, one tile per next: 8x8 SDOT
// tiles, or 4x8 SMULL tiles without dotprod (short row tiles repeat their last row);
// after next, acc holds the tile's int32 sums (no corr), row-major by 8, for rows
// [i0, i0+mr) and columns [j0, j0+nc). A struct, not a callback, so nothing escapes.
type neonTiler struct {
	q              *QGemm
	a              []byte
	m, mt          int
	i0, j0, mr, nc int
	started        bool
	rows           [8]*byte
	acc            [64]int32
}

func newNeonTiler(q *QGemm, m int, a []byte) neonTiler {
	t := neonTiler{q: q, a: a, m: m, mt: 8}
	if q.p == qNEONMull {
		t.mt = 4
	}
	return t
}

func (t *neonTiler) next() bool {
	if !t.started {
		t.started = true
	} else if t.i0 += t.mt; t.i0 >= t.m {
		t.i0, t.j0 = 0, t.j0+8
	}
	q := t.q
	if t.m <= 0 || t.j0 >= q.n {
		return false
	}
	t.nc, t.mr = min(8, q.n-t.j0), min(t.mt, t.m-t.i0)
	blk := &q.packed[t.j0/8*q.kg*8*4]
	lda := q.LDA()
	for r := range t.mt {
		t.rows[r] = &t.a[(t.i0+min(r, t.mr-1))*lda]
	}
	if t.mt == 8 {
		qdot8x8NEON(&t.rows, blk, q.kg/4, &t.acc)
	} else {
		qmull4x8NEON((*[4]*byte)(t.rows[:4]), blk, q.kg/4, (*[32]int32)(t.acc[:32]))
	}
	return true
}

// qgemmKernel runs the NEON GEMMs by neonTiler with the output stage in Go.
func qgemmKernel(q *QGemm, round bool, m int, a []byte, c []float32, ldc int, corr []int32, scale, bias []float32, lo, hi, sy float32) bool {
	if !q.p.neon() {
		return false
	}
	for t := newNeonTiler(q, m, a); t.next(); {
		for r := 0; r < t.mr; r++ {
			cr := c[(t.i0+r)*ldc+t.j0:][:t.nc]
			for jj := range cr {
				j := t.j0 + jj
				cr[jj] = qout(round, t.acc[r*8+jj]+corr[j], scale[j], lo, hi, sy, bias, j)
			}
		}
	}
	return true
}

func qgemmPoolAsm(p qpath) bool { return p.neon() }

// qgemmPoolKernel is RequantPool on NEON: neonTiler (whose tiles start at multiples of
// 4 rows, so each pool window lies in one tile) and the window max in Go.
func qgemmPoolKernel(q *QGemm, m int, a []byte, c []float32, ldc int, corr []int32, scale []float32, lo, hi, sy float32) bool {
	if !q.p.neon() {
		return false
	}
	for t := newNeonTiler(q, m, a); t.next(); {
		for r := 0; r < t.mr; r += 4 {
			cr := c[(t.i0+r)/4*ldc+t.j0:][:t.nc]
			for jj := range cr {
				j := t.j0 + jj
				s := max(t.acc[r*8+jj], t.acc[(r+1)*8+jj], t.acc[(r+2)*8+jj], t.acc[(r+3)*8+jj])
				cr[jj] = qout(true, s+corr[j], scale[j], lo, hi, sy, nil, j)
			}
		}
	}
	return true
}

// qgemmBytesKernel is RequantBytes and RequantPoolBytes on NEON, storing the path's A
// elements: byte(q+zp) ^ 0x80.
func qgemmBytesKernel(q *QGemm, pool bool, m int, a []byte, c []byte, ldc int, corr []int32, scale []float32, lo, hi float32, zp int32) bool {
	if !q.p.neon() {
		return false
	}
	step := 1
	if pool {
		step = 4
	}
	for t := newNeonTiler(q, m, a); t.next(); {
		for r := 0; r < t.mr; r += step {
			cr := c[(t.i0+r)/step*ldc+t.j0:][:t.nc]
			for jj := range cr {
				j := t.j0 + jj
				s := t.acc[r*8+jj]
				for u := 1; u < step; u++ {
					s = max(s, t.acc[(r+u)*8+jj])
				}
				f := min(max(float32(s+corr[j])*scale[j], lo), hi)
				const magic = 12582912
				cr[jj] = byte(int32((f+magic)-magic)+zp) ^ 0x80
			}
		}
	}
	return true
}
