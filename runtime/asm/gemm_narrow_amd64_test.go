//go:build !noasm && !purego && gc

package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmNarrowBitIdentical: the 12x8 kernel computes each element as the same FMA
// chain as the 6x16 and 8x32 kernels (bias, then k in order), so for n <= 8 its output is
// bit-identical to theirs on the same inputs, NaN/Inf included.
func TestGemmNarrowBitIdentical(t *testing.T) {
	if !Available(AVX2) {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(15, 16))
	for n := 1; n <= gemmNarrowN; n++ {
		for _, m := range []int{1, 2, 5, 11, 12, 13, 24, 37} {
			for _, k := range []int{0, 1, 2, 17, 108} {
				lda, ldc := k+1, n+3
				a, b, bias := randSlice(r, m*lda+1), randSlice(r, k*n), randSlice(r, n)
				if k > 0 && (m+n+k)%3 == 0 {
					a[r.IntN(m)*lda+r.IntN(k)] = float32(math.NaN())
					b[r.IntN(k*n)] = float32(math.Inf(1))
				}
				narrow := make([]float32, PackedLen(AVX2, k, n))
				PackB(AVX2, narrow, k, n, b, bias)
				got := make([]float32, m*ldc)
				Gemm(AVX2, m, n, k, a, lda, narrow, got, ldc, -3, 3)

				wide := make([]float32, (k+1)*16)
				packB(16, wide, k, n, b, bias)
				want := make([]float32, m*ldc)
				var pa *float32
				if k > 0 {
					pa = &a[0]
				}
				gemmMinmax6x16AVX2(m, n, k, pa, lda, &wide[0], &want[0], ldc, -3, 3)
				gemmSameBits(t, "6x16", m, n, k, ldc, got, want)

				if Available(AVX512) {
					w512 := make([]float32, PackedLen(AVX512, k, n))
					PackB(AVX512, w512, k, n, b, bias)
					want512 := make([]float32, m*ldc)
					Gemm(AVX512, m, n, k, a, lda, w512, want512, ldc, -3, 3)
					gemmSameBits(t, "8x32", m, n, k, ldc, got, want512)
				}
			}
		}
	}
}

func gemmSameBits(t *testing.T, kern string, m, n, k, ldc int, got, want []float32) {
	t.Helper()
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			g, w := got[i*ldc+j], want[i*ldc+j]
			if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
				t.Fatalf("m=%d n=%d k=%d C[%d][%d]: 12x8 %v, %s %v", m, n, k, i, j, g, kern, w)
			}
		}
	}
}
