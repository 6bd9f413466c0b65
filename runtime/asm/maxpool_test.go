package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMaxPool: MaxPool against the Go loop (exact: a maximum does not round), channel
// counts 1..40 (vector path at multiples of 8), 0/1/several pixels, 1/4/9 taps, NaN and
// Inf inputs, a guard after the output.
func TestMaxPool(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, isa := range testISAs() {
		for _, c := range []int{1, 7, 8, 16, 24, 40} {
			for _, np := range []int{0, 1, 2, 9} {
				for _, nt := range []int{1, 4, 9} {
					src := randSlice(r, 11*np+20*c+c+8)
					src[r.IntN(len(src))] = float32(math.NaN())
					src[r.IntN(len(src))] = float32(math.Inf(-1))
					src[r.IntN(len(src))] = float32(math.Inf(1))
					bases := make([]int, np)
					for i := range bases {
						bases[i] = 11*i + r.IntN(3)
					}
					taps := make([]int, nt)
					for i := range taps {
						taps[i] = r.IntN(20 * c)
					}
					want := make([]float32, np*c)
					MaxPool(Generic, want, src, bases, taps, c)
					got := make([]float32, np*c+1)
					got[np*c] = guard
					MaxPool(isa, got, src, bases, taps, c)
					for i := range want {
						if !sameF32(got[i], want[i]) {
							t.Fatalf("%v c=%d np=%d nt=%d: [%d] = %v, want %v", isa, c, np, nt, i, got[i], want[i])
						}
					}
					if got[np*c] != guard {
						t.Fatalf("%v c=%d: wrote past the output", isa, c)
					}
				}
			}
		}
	}
}

// TestGatherRunsBounds: a run that would read outside src (negative offset, or past the
// end once the slack is counted) panics instead of touching memory, on every path.
func TestGatherRunsBounds(t *testing.T) {
	for _, isa := range testISAs() {
		src := make([]float32, 40)
		dst := make([]float32, 64)
		for _, c := range []struct {
			off, runLen int
			ok          bool
		}{
			{0, 4, true}, {28, 4, true}, {29, 4, false}, {-1, 4, false}, {0, 33, false}, {0, 32, true},
		} {
			func() {
				defer func() {
					if r := recover(); (r == nil) != c.ok {
						t.Errorf("%v off %d runLen %d: panic %v, want ok=%v", isa, c.off, c.runLen, r, c.ok)
					}
				}()
				GatherRuns(isa, dst, src, []int{c.off}, c.runLen)
			}()
		}
	}
}
