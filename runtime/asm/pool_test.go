package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxTaps against a plain loop, exactly, at channel counts around the 8-lane tile,
// 0..9 taps with repeats, a NaN planted in one tap, and a guard after dst.
func TestMaxTaps(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, isa := range testISAs() {
		for _, c := range []int{0, 1, 3, 7, 8, 9, 16, 17, 31} {
			for nt := 0; nt <= 9; nt++ {
				src := randSlice(r, 64+c)
				offs := make([]int, nt)
				for i := range offs {
					offs[i] = r.IntN(65)
				}
				nanAt := -1
				if nt > 0 && c > 0 && nt%3 == 1 {
					nanAt = offs[r.IntN(nt)] + r.IntN(c)
					src[nanAt] = float32(math.NaN())
				}
				want := make([]float32, c)
				for i := range want {
					m := float32(math.Inf(-1))
					for _, o := range offs {
						m = max(m, src[o+i])
					}
					want[i] = m
				}
				dst := make([]float32, c+1)
				dst[c] = guard
				MaxTaps(isa, dst, src, offs, c)
				for i, w := range want {
					if g := dst[i]; g != w && !(g != g && w != w) {
						t.Fatalf("%v c=%d taps=%d: dst[%d] = %v, want %v", isa, c, nt, i, g, w)
					}
				}
				if dst[c] != guard {
					t.Fatalf("%v c=%d: wrote past dst", isa, c)
				}
			}
		}
	}
}
