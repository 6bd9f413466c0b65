package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLSTMGates against the float64 formula: |dc| <= 1e-6*(1+|c|), |dh| <= 1e-6 (the
// gate activations are within 3 ULP, the products and sums add a few more).
func TestLSTMGates(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	sig := func(x float64) float64 { return sigmoid64(x) }
	for _, isa := range testISAs() {
		for _, u := range []int{0, 1, 7, 8, 9, 16, 37} {
			z := randSlice(r, 4*u)
			for i := range z {
				z[i] *= 3
			}
			c := randSlice(r, u+1)
			h := make([]float32, u+1)
			c[u], h[u] = guard, guard
			wc, wh := make([]float64, u), make([]float64, u)
			for j := 0; j < u; j++ {
				i, f := sig(float64(z[j])), sig(float64(z[u+j]))
				g, o := math.Tanh(float64(z[2*u+j])), sig(float64(z[3*u+j]))
				wc[j] = f*float64(c[j]) + i*g
				wh[j] = o * math.Tanh(wc[j])
			}
			LSTMGates(isa, z, c, h, u)
			for j := 0; j < u; j++ {
				if math.Abs(float64(c[j])-wc[j]) > 1e-6*(1+math.Abs(wc[j])) || math.Abs(float64(h[j])-wh[j]) > 1e-6 {
					t.Fatalf("%v u=%d j=%d: c=%v h=%v, want %v %v", isa, u, j, c[j], h[j], wc[j], wh[j])
				}
			}
			if c[u] != guard || h[u] != guard {
				t.Fatalf("%v u=%d: wrote past c or h", isa, u)
			}
		}
	}
}
