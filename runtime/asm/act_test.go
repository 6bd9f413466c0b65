package asm

import (
	"fmt"
	"math"
	"testing"
)

// ulpErr is |got-want| in units of the float32 spacing at want (floor 2^-149), with
// +-Inf and NaN required to match exactly (returns 0 or +Inf).
func ulpErr(got float32, want float64) float64 {
	w32 := float32(want)
	if math.IsNaN(want) || math.IsNaN(float64(got)) {
		if math.IsNaN(want) && math.IsNaN(float64(got)) {
			return 0
		}
		return math.Inf(1)
	}
	if math.IsInf(float64(w32), 0) || math.IsInf(float64(got), 0) {
		if got == w32 {
			return 0
		}
		return math.Inf(1)
	}
	_, e := math.Frexp(math.Abs(want))
	ulp := math.Ldexp(1, max(e-24, -149))
	return math.Abs(float64(got)-want) / ulp
}

type actCase struct {
	name  string
	run   func(ISA, []float32)
	ref   func(float64) float64
	bound float64            // ULPs
	in    func(float64) bool // the domain held to the bound (nil: everywhere)
}

func actCases() []actCase {
	sig := func(x float64) float64 { return sigmoid64(x) }
	return []actCase{
		{"exp", Exp, math.Exp, 2, nil},
		{"sigmoid", Sigmoid, sig, 3, nil},
		{"tanh", Tanh, math.Tanh, 3, nil},
		// below -87 sigmoid(x) is denormal and x*sigmoid(x) inherits its lost bits
		{"swish", Swish, func(x float64) float64 { return x * sig(x) }, 4, func(x float64) bool { return x >= -87 }},
		{"gelu_tanh", GeluTanh, func(x float64) float64 {
			return x * sig(2*math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))
		}, geluTanhBound, func(x float64) bool { return math.Abs(x) <= 3 }},
		{"gelu_tanh(|x|<=10)", GeluTanh, func(x float64) float64 {
			return x * sig(2*math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))
		}, 160, func(x float64) bool { return math.Abs(x) <= 10 }},
		{"sigmoid_gate", sigmoidGate, sig, 3, func(x float64) bool { return x >= -87.33 }},
		{"tanh_cell", tanhCell, math.Tanh, 3, nil},
		{"tanh_rat", tanhRational, math.Tanh, 6, nil},
		{"gelu", Gelu, func(x float64) float64 { return 0.5 * x * math.Erfc(-x/math.Sqrt2) }, geluBound, func(x float64) bool { return x >= -10 || math.IsNaN(x) }},
		{"gelu(all)", Gelu, func(x float64) float64 { return 0.5 * x * math.Erfc(-x/math.Sqrt2) }, 11, nil},
		{"elu", func(i ISA, x []float32) { Elu(i, x, 1.5) }, func(x float64) float64 {
			if x > 0 || math.IsNaN(x) {
				return x
			}
			return 1.5 * math.Expm1(x)
		}, 3, nil},
		{"softplus", Softplus, func(x float64) float64 { return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) }, 2, nil},
		{"selu", Selu, func(x float64) float64 {
			if x > 0 || math.IsNaN(x) {
				return seluScale * x
			}
			return seluScale * seluAlpha * math.Expm1(x)
		}, 2, nil},
		{"softsign", Softsign, func(x float64) float64 { return x / (1 + math.Abs(x)) }, 1.5, nil},
	}
}

// sweepInputs: every 1021st float32 bit pattern (both signs, all exponents: ~4.2M
// values), plus specials and the exp over/underflow edges.
func sweepInputs() []float32 {
	var xs []float32
	for b := uint64(0); b < 1<<32; b += 1021 {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 88.72283, 88.7229, -87.33654, -103.97, -104, 1e-30, -1e-30, 1e-45)
	return xs
}

func TestActivationULP(t *testing.T) {
	xs := sweepInputs()
	for _, isa := range testISAs() {
		for _, c := range actCases() {
			y := append([]float32(nil), xs...)
			c.run(isa, y)
			worst, at := 0.0, float32(0)
			for i, x := range xs {
				if c.in != nil && !c.in(float64(x)) {
					continue
				}
				if e := ulpErr(y[i], c.ref(float64(x))); e > worst || math.IsNaN(e) {
					worst, at = e, x
				}
			}
			t.Logf("%-7v %-9s max error %.2f ULP (at x=%g)", isa, c.name, worst, at)
			if !(worst <= c.bound) {
				t.Errorf("%v %s: %.2f ULP at x=%g (%v, want %v), bound %v", isa, c.name, worst, at,
					func() float32 { z := []float32{at}; c.run(isa, z); return z[0] }(), c.ref(float64(at)), c.bound)
			}
		}
	}
}

// TestActivationTails: every length 0..40, unaligned, with guard values on both sides
// untouched, each lane equal to the same lane computed in a full vector.
func TestActivationTails(t *testing.T) {
	for _, isa := range testISAs() {
		for _, c := range actCases() {
			for n := 0; n <= 40; n++ {
				buf := make([]float32, n+3)
				for i := range buf {
					buf[i] = guard
				}
				x := buf[1 : 1+n]
				for i := range x {
					x[i] = float32(i)*0.37 - 5
				}
				c.run(isa, x)
				if buf[0] != guard || buf[n+1] != guard || buf[n+2] != guard {
					t.Fatalf("%v %s n=%d: wrote outside the slice", isa, c.name, n)
				}
				for i := range x {
					want := []float32{float32(i)*0.37 - 5}
					c.run(isa, want)
					if x[i] != want[0] {
						t.Fatalf("%v %s n=%d lane %d: %v vs %v alone", isa, c.name, n, i, x[i], want[0])
					}
				}
			}
		}
	}
}

func TestSoftmax(t *testing.T) {
	for _, isa := range testISAs() {
		for _, n := range []int{1, 7, 8, 9, 33} {
			x := make([]float32, 3*n)
			for i := range x {
				x[i] = float32(math.Sin(float64(i))*20 + 3)
			}
			want := make([]float64, len(x))
			for r := 0; r < 3; r++ {
				m, s := math.Inf(-1), 0.0
				for _, v := range x[r*n : (r+1)*n] {
					m = math.Max(m, float64(v))
				}
				for _, v := range x[r*n : (r+1)*n] {
					s += math.Exp(float64(v) - m)
				}
				for i, v := range x[r*n : (r+1)*n] {
					want[r*n+i] = math.Exp(float64(v)-m) / s
				}
			}
			Softmax(isa, x, n)
			orig := make([]float32, len(x))
			for i := range x {
				orig[i] = float32(math.Sin(float64(i))*20 + 3)
			}
			for i := range x {
				r := i / n
				m := float32(math.Inf(-1))
				for _, v := range orig[r*n : (r+1)*n] {
					m = max(m, v)
				}
				if e := ulpErr(x[i], want[i]); e > 4+float64(m-orig[i]) {
					t.Fatalf("%v n=%d: softmax[%d] = %v, want %v (%.1f ULP)", isa, n, i, x[i], want[i], e)
				}
			}
		}
		x := []float32{1, float32(math.NaN()), 2}
		Softmax(isa, x, 3)
		if !math.IsNaN(float64(x[0])) {
			t.Errorf("%v: softmax of a row with NaN = %v", isa, x)
		}
	}
}

func BenchmarkActivation(b *testing.B) {
	x := make([]float32, 4096)
	for _, c := range actCases() {
		for _, isa := range testISAs() {
			b.Run(fmt.Sprintf("%s/%v", c.name, isa), func(b *testing.B) {
				for i := range x {
					x[i] = float32(i%200)*0.05 - 5
				}
				b.SetBytes(4 * int64(len(x)))
				for b.Loop() {
					c.run(isa, x)
				}
			})
		}
	}
}

// TestSigmoidGateTail: below x = -87.33 (where sigmoid drops under 2^-126) sigmoidGate
// is within 2^-125 of sigmoid, never negative.
func TestSigmoidGateTail(t *testing.T) {
	var xs []float32
	for x := float32(-87.33); x > -1e6; x *= 1.01 {
		xs = append(xs, x)
	}
	xs = append(xs, float32(math.Inf(-1)), -math.MaxFloat32)
	for _, isa := range testISAs() {
		y := append([]float32(nil), xs...)
		sigmoidGate(isa, y)
		for i, x := range xs {
			if d := math.Abs(float64(y[i]) - sigmoid64(float64(x))); y[i] < 0 || d > math.Ldexp(1, -125) {
				t.Fatalf("%v: sigmoidGate(%g) = %g, want %g", isa, x, y[i], sigmoid64(float64(x)))
			}
		}
	}
}

// TestSigmoidRational: LSTMSeq's rational sigmoid gate against float64 over the sweep,
// in absolute error (the bound of its doc comment, 4*2^-24), with NaN and the limits
// (within 2^-24: -Inf gives 2^-25).
func TestSigmoidRational(t *testing.T) {
	xs := sweepInputs()
	for _, isa := range testISAs() {
		y := append([]float32(nil), xs...)
		sigmoidRational(isa, y)
		worst, at := 0.0, float32(0)
		for i, x := range xs {
			want := sigmoid64(float64(x))
			if math.IsNaN(want) {
				if y[i] == y[i] {
					t.Fatalf("%v: sigmoidRational(NaN) = %v", isa, y[i])
				}
				continue
			}
			if e := math.Abs(float64(y[i]) - want); e > worst || math.IsNaN(e) {
				worst, at = e, x
			}
		}
		t.Logf("%-7v max abs error %.2f * 2^-24 (at x=%g)", isa, worst*(1<<24), at)
		if !(worst <= 4.0/(1<<24)) {
			t.Errorf("%v: abs error %g at x=%g, bound 4*2^-24", isa, worst, at)
		}
		for _, c := range [][2]float32{{float32(math.Inf(-1)), 0}, {float32(math.Inf(1)), 1}, {0, 0.5}} {
			z := []float32{c[0]}
			sigmoidRational(isa, z)
			if math.Abs(float64(z[0]-c[1])) > 1.0/(1<<24) {
				t.Errorf("%v: sigmoidRational(%v) = %v, want %v", isa, c[0], z[0], c[1])
			}
		}
	}
}
