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

// TestGatherRuns against copy at run lengths around the 8-float block, exactly, and
// checks nothing is written past the slack.
func TestGatherRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, isa := range testISAs() {
		for _, rl := range []int{1, 3, 7, 8, 9, 16, 24, 25} {
			for _, nr := range []int{0, 1, 2, 5, 13} {
				src := randSlice(r, 100+rl+GatherSlack)
				offs := make([]int, nr)
				for i := range offs {
					offs[i] = r.IntN(101)
				}
				dst := make([]float32, nr*rl+GatherSlack+1)
				dst[len(dst)-1] = guard
				GatherRuns(isa, dst, src, offs, rl)
				for i, o := range offs {
					for j := 0; j < rl; j++ {
						if dst[i*rl+j] != src[o+j] {
							t.Fatalf("%v runLen=%d runs=%d: dst[%d] = %v, want %v", isa, rl, nr, i*rl+j, dst[i*rl+j], src[o+j])
						}
					}
				}
				if dst[len(dst)-1] != guard {
					t.Fatalf("%v runLen=%d: wrote past the slack", isa, rl)
				}
			}
		}
	}
}
