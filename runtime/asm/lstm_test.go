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

// TestLSTMStep against the float64 formula for both gate activations, at unit counts
// around the 8-lane tile, with guard bands after c and h, z and zx unchanged, and NaN
// propagation: |dc| <= 1e-6*(1+|c|), |dh| <= 1e-6 (activations within 3 ULP; the hard
// sigmoid's FMA differs from the float64 form by at most 1 ULP).
func TestLSTMStep(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}, {Hard: true, A: float32(1.0 / 6), B: 0.5}} {
			act := func(x float64) float64 {
				if gate.Hard {
					return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
				}
				return sigmoid64(x)
			}
			for _, u := range []int{0, 1, 2, 7, 8, 9, 12, 15, 16, 17, 24, 37} {
				z, zx := randSlice(r, 4*u), randSlice(r, 4*u)
				for i := range z {
					z[i] *= 3
					zx[i] *= 3
				}
				nan := -1
				if u > 2 {
					nan = r.IntN(u)
					zx[2*u+nan] = float32(math.NaN())
				}
				z0, zx0 := append([]float32(nil), z...), append([]float32(nil), zx...)
				c := randSlice(r, u+1)
				h := make([]float32, u+1)
				c[u], h[u] = guard, guard
				wc, wh := make([]float64, u), make([]float64, u)
				for j := 0; j < u; j++ {
					s := func(k int) float64 { return float64(z[k] + zx[k]) }
					i, f := act(s(j)), act(s(u+j))
					g, o := math.Tanh(s(2*u+j)), act(s(3*u+j))
					wc[j] = f*float64(c[j]) + i*g
					wh[j] = o * math.Tanh(wc[j])
				}
				LSTMStep(isa, z, zx, c, h, u, gate)
				for j := 0; j < u; j++ {
					if j == nan {
						if c[j] == c[j] || h[j] == h[j] {
							t.Fatalf("%v %+v u=%d: NaN gate input gave c=%v h=%v", isa, gate, u, c[j], h[j])
						}
						continue
					}
					if math.Abs(float64(c[j])-wc[j]) > 1e-6*(1+math.Abs(wc[j])) || math.Abs(float64(h[j])-wh[j]) > 1e-6 {
						t.Fatalf("%v %+v u=%d j=%d: c=%v h=%v, want %v %v", isa, gate, u, j, c[j], h[j], wc[j], wh[j])
					}
				}
				if c[u] != guard || h[u] != guard {
					t.Fatalf("%v u=%d: wrote past c or h", isa, u)
				}
				for i := range z {
					if math.Float32bits(z[i]) != math.Float32bits(z0[i]) || math.Float32bits(zx[i]) != math.Float32bits(zx0[i]) {
						t.Fatalf("%v u=%d: z or zx written", isa, u)
					}
				}
			}
		}
	}
}
