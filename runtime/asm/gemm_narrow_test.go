package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmNarrow covers the narrow-N shapes (AVX2's 12x8 kernel, and every other path at
// the same sizes) against the float64 reference: row counts around the tile height, column
// counts around 8 and 16, k = 0/1/2/17, with and without bias, every clamp, NaN/Inf inputs,
// unaligned strided A and C with guard values around C (checkGemm).
func TestGemmNarrow(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	inf := float32(math.Inf(1))
	clamps := [][2]float32{{-inf, inf}, {0, inf}, {0, 6}, {-0.5, 0.25}}
	for _, isa := range testISAs() {
		t.Run(isa.String(), func(t *testing.T) {
			for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17} {
				mr := gemmMR(isa, n)
				for _, m := range []int{0, 1, 2, 7, mr - 1, mr, mr + 1, 2 * mr, 2*mr + 1, 36, 37} {
					for _, k := range []int{0, 1, 2, 17} {
						for ci, cl := range clamps {
							checkGemm(t, isa, m, n, k, cl[0], cl[1], (m+n+k+ci)%2 == 0, ci == 3, r)
						}
					}
				}
			}
		})
	}
}

// TestGemmNarrowRowInvariant: with the narrow kernel too, a row computed alone, in a
// remainder tile or in a full tile is bit-identical.
func TestGemmNarrowRowInvariant(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, isa := range testISAs() {
		for _, n := range []int{1, 3, 8} {
			m, k := 2*gemmMR(isa, n)+5, 108
			a, b, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, n)
			packed := make([]float32, PackedLen(isa, k, n))
			PackB(isa, packed, k, n, b, bias)
			all := make([]float32, m*n)
			Gemm(isa, m, n, k, a, k, packed, all, n, -1, 1)
			for i := 0; i < m; i++ {
				for _, rows := range []int{1, 2, 7} {
					if i+rows > m {
						continue
					}
					part := make([]float32, rows*n)
					Gemm(isa, rows, n, k, a[i*k:], k, packed, part, n, -1, 1)
					for j := 0; j < n; j++ {
						if math.Float32bits(part[j]) != math.Float32bits(all[i*n+j]) {
							t.Fatalf("%v n=%d row %d col %d: %v computed in %d rows, %v in %d", isa, n, i, j, part[j], rows, all[i*n+j], m)
						}
					}
				}
			}
		}
	}
}

// BenchmarkGemmNarrow: the tiny GEMMs of small models (Conv2D with a few filters, small
// Dense layers), per path; with m*k tiny it is mostly Gemm's per-call overhead.
func BenchmarkGemmNarrow(b *testing.B) {
	shapes := [][3]int{{1, 2, 5}, {7, 2, 5}, {1, 8, 108}, {36, 3, 12}, {36, 8, 12}, {196, 4, 27}, {196, 8, 72}, {1024, 8, 72}, {196, 16, 72}}
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		a, w, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, n)
		c := make([]float32, m*n)
		for _, isa := range testISAs() {
			packed := make([]float32, PackedLen(isa, k, n))
			PackB(isa, packed, k, n, w, bias)
			b.Run(fmt.Sprintf("m=%d/n=%d/k=%d/%v", m, n, k, isa), func(b *testing.B) {
				for b.Loop() {
					Gemm(isa, m, n, k, a, k, packed, c, n, 0, float32(math.Inf(1)))
				}
			})
		}
	}
}
