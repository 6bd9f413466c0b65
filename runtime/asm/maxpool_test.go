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
