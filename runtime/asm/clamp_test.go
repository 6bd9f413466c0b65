package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// clampRef is the clamp family's definition: lo where v < lo, hi where v > hi, else v
// (NaN and -0 kept).
func clampRef(v, lo, hi float32) float32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// clampInput has every special value at some position of an n-vector.
func clampInput(r *rand.Rand, n int) []float32 {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	special := []float32{nan, -inf, inf, 0, float32(math.Copysign(0, -1)), 6, -6, 1e-40}
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 4)
		if r.IntN(5) == 0 {
			x[i] = special[r.IntN(len(special))]
		}
	}
	return x
}

// TestClampEveryISA checks Clamp and AddClamp bit for bit against clampRef on every
// path, at every length 0..70 (the 32- and 8-wide loops, every masked tail), at an
// unaligned start, in place and out of place, for ReLU, ReLU6, Clip and linear bounds,
// and that nothing past the slice is written.
func TestClampEveryISA(t *testing.T) {
	inf := float32(math.Inf(1))
	bounds := [][2]float32{{0, inf}, {0, 6}, {-1.5, 2.25}, {-inf, inf}}
	r := rand.New(rand.NewPCG(1, 2))
	for _, isa := range Paths() {
		for n := 0; n <= 70; n++ {
			for _, bd := range bounds {
				lo, hi := bd[0], bd[1]
				a := clampInput(r, n+3)[1:] // unaligned start, guard after
				b := clampInput(r, n+2)
				want := make([]float32, n)
				for i := range want {
					want[i] = clampRef(a[i]+b[i], lo, hi)
				}
				dst := make([]float32, n+1)
				dst[n] = 42
				AddClamp(isa, dst[:n], a, b, lo, hi)
				inPlace := append([]float32(nil), a...)
				AddClamp(isa, inPlace[:n], inPlace, b, lo, hi)
				x := append([]float32(nil), a...)
				Clamp(isa, x[:n], lo, hi)
				for i := 0; i < n; i++ {
					if math.Float32bits(dst[i]) != math.Float32bits(want[i]) || math.Float32bits(inPlace[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v AddClamp n=%d [%g,%g] i=%d: %g+%g = %g (in place %g), want %g", isa, n, lo, hi, i, a[i], b[i], dst[i], inPlace[i], want[i])
					}
					if w := clampRef(a[i], lo, hi); math.Float32bits(x[i]) != math.Float32bits(w) {
						t.Fatalf("%v Clamp n=%d [%g,%g] i=%d: %g -> %g, want %g", isa, n, lo, hi, i, a[i], x[i], w)
					}
				}
				if g := math.Float32bits(a[n]); dst[n] != 42 || math.Float32bits(inPlace[n]) != g || math.Float32bits(x[n]) != g {
					t.Fatalf("%v n=%d: wrote past the slice", isa, n)
				}
			}
		}
	}
}

// BenchmarkAddClamp: the residual epilogue over a 32x32x64 map (resnet18's first stage).
func BenchmarkAddClamp(b *testing.B) {
	n := 32 * 32 * 64
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], y[i] = float32(i%13)-6, float32(i%7)-3
	}
	for _, isa := range Paths() {
		b.Run(isa.String(), func(b *testing.B) {
			for b.Loop() {
				AddClamp(isa, x, x, y, 0, float32(math.Inf(1)))
			}
			b.SetBytes(int64(12 * n))
		})
	}
}
