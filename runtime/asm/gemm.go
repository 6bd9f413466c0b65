package asm

// The NEON GEMM is arm64 text from _gen/neon.go; its directive lives here, in a file of
// every architecture, so that go generate on any machine (CI is amd64) rewrites it.
//
//go:generate go run -C _gen . -kernel gemm_neon -out ../gemm_minmax_8x8_neon_arm64.s

import (
	"fmt"
	"math"
)

// gemmNarrowN is the widest GEMM that runs AVX2's narrow kernels (one ymm per row: 12x8
// tiles, or 6x8 with 4 partial sums over k per element from gemmNarrowSplitK): at most 8
// columns the 6x16 tile would spend half its FMAs and packed loads on padding.
const gemmNarrowN = 8

// gemmNarrow reports whether Gemm on isa with n columns uses the narrow kernel and its
// NR=8 packing. It depends on (isa, n) only, so PackedLen, PackB and Gemm always agree
// (on every GOARCH: a non-amd64 build runs gemmNarrowGo over the same layout, with the
// kernel's summation order and bits).
func gemmNarrow(isa ISA, n int) bool { return isa == AVX2 && n <= gemmNarrowN }

// gemmNarrowSplitK is the shortest k whose narrow GEMM splits each element's k sum into
// 4 partials: a 1-row call (a batch-1 Dense) is then 4 FMA chains instead of one k-long
// chain (1x8x108: 72 -> 34 ns), while short sums (the convolutions of small models,
// k = 3..27) keep the single chain, which the 12-row tile runs faster (36x3x12: 70 ns,
// 89 ns split). The order depends on k only, so a row's bits do not depend on the batch
// or the row split.
const gemmNarrowSplitK = 32

// gemmNarrowSplit reports whether the narrow GEMM over k splits the k sum (see
// gemmNarrowSplitK).
func gemmNarrowSplit(k int) bool { return k >= gemmNarrowSplitK }

// gemmNR is the column-block width that PackB lays out for isa and n columns: the
// register tile width of the kernel that path runs.
func gemmNR(isa ISA, n int) int { return 1 << gemmNRShift(isa, n) }

// gemmMR is the row height of the register tile of isa's kernel for n columns.
func gemmMR(isa ISA, n int) int {
	switch {
	case isa == AVX512:
		return 8
	case isa == NEON:
		return 8
	case gemmNarrow(isa, n):
		return 6
	}
	return 6
}

// gemmNRShift is log2 of gemmNR(isa, n) (every NR is a power of two): Gemm's per-call
// shape check rounds n up to whole blocks with shifts, not a divide.
func gemmNRShift(isa ISA, n int) uint {
	switch {
	case isa == AVX512:
		return 5
	case isa == NEON, gemmNarrow(isa, n):
		return 3
	}
	return 4
}

// PackedLen is the length PackB needs for a k x n weight matrix on isa:
// ceil(n/NR) blocks of NR*(k+1) values (NR depends on isa and, for AVX2, on n).
func PackedLen(isa ISA, k, n int) int {
	sh := gemmNRShift(isa, n)
	return (n + 1<<sh - 1) >> sh << sh * (k + 1)
}

// PackB lays out b (k x n, row-major) and bias (n values, or nil for zeros) for Gemm on isa,
// in XNNPACK's order: for each block of NR columns, NR bias values, then k rows of NR
// weights; the columns past n in the last block are zero. dst must hold PackedLen(isa, k, n).
func PackB(isa ISA, dst []float32, k, n int, b, bias []float32) {
	if len(dst) < PackedLen(isa, k, n) || len(b) < k*n || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("asm.PackB: short slice (dst %d, b %d, bias %d) for k=%d n=%d", len(dst), len(b), len(bias), k, n))
	}
	packB(gemmNR(isa, n), dst, k, n, b, bias)
}

// packB is PackB for column blocks of nr.
func packB(nr int, dst []float32, k, n int, b, bias []float32) {
	p := 0
	for j0 := 0; j0 < n; j0 += nr {
		nc := min(nr, n-j0)
		blk := dst[p : p+nr*(k+1)]
		clear(blk)
		if bias != nil {
			copy(blk[:nc], bias[j0:j0+nc])
		}
		for kk := 0; kk < k; kk++ {
			copy(blk[(kk+1)*nr:(kk+1)*nr+nc], b[kk*n+j0:kk*n+j0+nc])
		}
		p += nr * (k + 1)
	}
}

// Gemm computes C = clamp(A*B + bias, lo, hi) for B and bias packed by PackB for the same
// isa. A is m x k with row stride lda, C is m x n with row stride ldc (both in elements).
// lo/hi = -Inf/+Inf is a linear output, 0/+Inf is ReLU, 0/6 is ReLU6. A NaN in a sum stays
// NaN through the clamp. As a Go loop:
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			s := bias[j]
//			for p := 0; p < k; p++ {
//				s += a[i*lda+p] * b[p*n+j]
//			}
//			c[i*ldc+j] = min(max(s, lo), hi)
//		}
//	}
//
// (summation order and FMA rounding differ by path: the error is within
// (k+1)*eps32*sum|a*b| of the exact sum before the clamp). AVX2 at most 8 columns wide
// sums each element in 4 partials over k (see gemmNarrowGo); every other path runs one
// chain from the bias in k order.
func Gemm(isa ISA, m, n, k int, a []float32, lda int, packed []float32, c []float32, ldc int, lo, hi float32) {
	if m <= 0 || n <= 0 {
		return
	}
	if k < 0 || lda < k || ldc < n || len(a) < (m-1)*lda+k || len(c) < (m-1)*ldc+n || len(packed) < PackedLen(isa, k, n) {
		panic(fmt.Sprintf("asm.Gemm: bad shape m=%d n=%d k=%d lda=%d ldc=%d len(a)=%d len(c)=%d len(packed)=%d",
			m, n, k, lda, ldc, len(a), len(c), len(packed)))
	}
	if isa != Generic && Available(isa) {
		var pa *float32
		if k > 0 {
			pa = &a[0]
		}
		// Row panels of A sized to stay in L2 while every column block of B passes over
		// them; an A that fits in one panel's budget runs in one call with no panel
		// arithmetic (the kernels' results do not depend on how rows are split).
		if m*max(k, 1) <= gemmPanelFloats && gemmKernel(isa, m, n, k, pa, lda, &packed[0], c, ldc, lo, hi) {
			return
		}
		mr := gemmMR(isa, n)
		mc := max(mr, gemmPanelFloats/max(k, 1)/mr*mr)
		for i0 := 0; i0 < m; i0 += mc {
			mm := min(mc, m-i0)
			pa = nil
			if k > 0 {
				pa = &a[i0*lda]
			}
			if gemmKernel(isa, mm, n, k, pa, lda, &packed[0], c[i0*ldc:], ldc, lo, hi) {
				continue
			}
			gemmGo(isa, mm, n, k, a[i0*lda:], lda, packed, c[i0*ldc:], ldc, lo, hi)
		}
		return
	}
	gemmGo(isa, m, n, k, a, lda, packed, c, ldc, lo, hi)
}

// gemmGo is Gemm's plain-Go path for isa's packing: gemmNarrowGo where isa's kernel is
// the narrow one (same bits as that kernel), else gemmGeneric.
func gemmGo(isa ISA, m, n, k int, a []float32, lda int, packed []float32, c []float32, ldc int, lo, hi float32) {
	if gemmNarrow(isa, n) {
		gemmNarrowGo(m, n, k, a, lda, packed, c, ldc, lo, hi)
		return
	}
	gemmGeneric(gemmNR(isa, n), m, n, k, a, lda, packed, c, ldc, lo, hi)
}

// gemmPanelFloats is the A panel budget in floats (192 KiB, within L2).
const gemmPanelFloats = (192 << 10) / 4

// gemmGeneric is the plain-Go kernel for any NR: for each column block, each row keeps NR
// running sums seeded with the bias and adds one packed row per k.
func gemmGeneric(nr, m, n, k int, a []float32, lda int, packed []float32, c []float32, ldc int, lo, hi float32) {
	var acc [32]float32
	blk := nr * (k + 1)
	for j0, p := 0, 0; j0 < n; j0, p = j0+nr, p+blk {
		nc := min(nr, n-j0)
		w := packed[p : p+blk]
		for i := 0; i < m; i++ {
			s := acc[:nr]
			copy(s, w[:nr])
			ar := a[i*lda : i*lda+k]
			for kk, av := range ar {
				row := w[(kk+1)*nr : (kk+2)*nr]
				row = row[:len(s)]
				for j := range s {
					s[j] += av * row[j]
				}
			}
			cr := c[i*ldc+j0 : i*ldc+j0+nc]
			for j := range cr {
				v := s[j]
				if v < lo {
					v = lo
				}
				if v > hi {
					v = hi
				}
				cr[j] = v
			}
		}
	}
}

// gemmNarrowGo is the plain-Go form of AVX2's narrow kernels, bit for bit: one block of
// NR=8 columns (n <= 8); with k >= gemmNarrowSplitK each element keeps 4 partial sums,
// product p fused into partial p mod 4 (partial 0 starts at the bias, the others at +0),
// then (s0+s1)+(s2+s3) and the clamp; shorter k is one chain from the bias.
func gemmNarrowGo(m, n, k int, a []float32, lda int, packed []float32, c []float32, ldc int, lo, hi float32) {
	const nr = 8
	w := packed[:nr*(k+1)]
	parts := 1
	if gemmNarrowSplit(k) {
		parts = 4
	}
	for i := 0; i < m; i++ {
		var s [4][nr]float32
		s[0] = [nr]float32(w[:nr])
		for p, av := range a[i*lda : i*lda+k] {
			row := (*[nr]float32)(w[(p+1)*nr:])
			q := &s[p%parts]
			for j := range q {
				q[j] = fma32(av, row[j], q[j])
			}
		}
		cr := c[i*ldc : i*ldc+n]
		for j := range cr {
			v := s[0][j]
			if parts == 4 {
				v = (s[0][j] + s[1][j]) + (s[2][j] + s[3][j])
			}
			if v < lo {
				v = lo
			}
			if v > hi {
				v = hi
			}
			cr[j] = v
		}
	}
}

// fma32 is x*y+z rounded once to float32 (round to nearest even), as VFMADD231PS and
// FMLA compute it, on every GOARCH (Go fuses float32 x*y+z only on some): the product is
// exact in float64, the float64 sum is rounded to odd (53 >= 24+2 bits, so the final
// rounding to float32 is correct; Boldo and Melquiond 2008), then rounded to float32.
func fma32(x, y, z float32) float32 {
	p := float64(x) * float64(y)
	zz := float64(z)
	s := p + zz
	// exact error of s (TwoSum); NaN when an operand or s is infinite or NaN
	bb := s - p
	e := (p - (s - bb)) + (zz - bb)
	if e != 0 && e == e {
		if b := math.Float64bits(s); b&1 == 0 {
			if (e > 0) == (s > 0) {
				b++
			} else {
				b--
			}
			s = math.Float64frombits(b)
		}
	}
	return float32(s)
}
