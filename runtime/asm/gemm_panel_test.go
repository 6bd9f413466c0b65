package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmPanelBoundary: an A of at most gemmPanelFloats runs in one kernel call, a
// larger one in row panels; on either side of the boundary (and for the tiny shapes of
// small models' Dense layers) every row is bit-identical to the row computed alone and
// within checkGemm's bound of the float64 reference.
func TestGemmPanelBoundary(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const k = 96
	sizes := [][3]int{{gemmPanelFloats / k, 3, k}, {gemmPanelFloats/k + 1, 3, k}, {gemmPanelFloats/k + 7, 17, k}, {7, 2, 5}, {1, 1, 5}, {8, 10, 16}}
	for _, isa := range testISAs() {
		for _, sz := range sizes {
			m, n, k := sz[0], sz[1], sz[2]
			checkGemm(t, isa, m, n, k, float32(math.Inf(-1)), float32(math.Inf(1)), true, false, r)
			a, b, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, n)
			packed := make([]float32, PackedLen(isa, k, n))
			PackB(isa, packed, k, n, b, bias)
			all := make([]float32, m*n)
			Gemm(isa, m, n, k, a, k, packed, all, n, -2, 2)
			row := make([]float32, n)
			for i := 0; i < m; i++ {
				Gemm(isa, 1, n, k, a[i*k:], k, packed, row, n, -2, 2)
				for j := range row {
					if math.Float32bits(row[j]) != math.Float32bits(all[i*n+j]) {
						t.Fatalf("%v %dx%dx%d row %d col %d: %v alone, %v in %d rows", isa, m, n, k, i, j, row[j], all[i*n+j], m)
					}
				}
			}
		}
	}
}
