package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// BenchmarkGemm reports GFLOP/s (2*m*n*k per op) for each available path, so the ratio to
// Generic reads off one run: go test -bench Gemm -count 6 | benchstat.
func BenchmarkGemm(b *testing.B) {
	type shape struct{ m, n, k int }
	var shapes []shape
	for _, m := range []int{1, 32, 256} {
		for _, nk := range []int{64, 256, 512, 1024} {
			shapes = append(shapes, shape{m, nk, nk})
		}
	}
	shapes = append(shapes, shape{512, 512, 512}, shape{1024, 1024, 1024})
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range shapes {
		a := randSlice(r, s.m*s.k)
		w := randSlice(r, s.k*s.n)
		bias := randSlice(r, s.n)
		c := make([]float32, s.m*s.n)
		for _, isa := range testISAs() {
			packed := make([]float32, PackedLen(isa, s.k, s.n))
			PackB(isa, packed, s.k, s.n, w, bias)
			b.Run(fmt.Sprintf("m=%d/n=%d/k=%d/%v", s.m, s.n, s.k, isa), func(b *testing.B) {
				for b.Loop() {
					Gemm(isa, s.m, s.n, s.k, a, s.k, packed, c, s.n, 0, float32(math.Inf(1)))
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
