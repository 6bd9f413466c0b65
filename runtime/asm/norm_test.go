package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLayerNorm checks every path against the float64 loop at row lengths 0..40 and a
// prime, 1 and 3 rows, unaligned, in place and not, with guard values around the output,
// rows with a large offset (|mean| >> std), and a NaN. Bound: 8 float32 ULPs of |b| plus
// |g| times the row's condition (|mean| + max|x-mean|)/std (float32's rounding of the
// mean and of x-mean, relative to the standard deviation).
func TestLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ns := []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 127, 128, 131}
	for n := 0; n <= 40; n++ {
		ns = append(ns, n)
	}
	for _, isa := range testISAs() {
		for _, n := range ns {
			for _, rows := range []int{1, 3} {
				for _, inPlace := range []bool{false, true} {
					for _, off := range []float64{0, 100} {
						x := make([]float32, rows*n+1)[1:] // unaligned
						for i := range x {
							x[i] = float32(off + r.NormFloat64())
						}
						g, b := make([]float32, n), make([]float32, n)
						for i := range g {
							g[i], b[i] = float32(1+0.3*r.NormFloat64()), float32(0.2*r.NormFloat64())
						}
						want := make([]float32, len(x))
						layerNormGo(want, x, g, b, n, 1e-5)
						buf := make([]float32, len(x)+3)
						for i := range buf {
							buf[i] = guard
						}
						y := buf[1 : 1+len(x)]
						src := x
						if inPlace {
							copy(y, x)
							src = y
						}
						LayerNorm(isa, y, src, g, b, n, 1e-5)
						if buf[0] != guard || buf[len(x)+1] != guard || buf[len(x)+2] != guard {
							t.Fatalf("%v n=%d: guard overwritten", isa, n)
						}
						for i := range y {
							j := i % n
							tol := 8 * 6e-8 * (math.Abs(float64(g[j]))*rowCond(x[i-j:i-j+n]) + math.Abs(float64(b[j])))
							if d := math.Abs(float64(y[i]) - float64(want[i])); !(d <= tol) {
								t.Fatalf("%v n=%d rows=%d inPlace=%v off=%g: y[%d] = %v, want %v (|d| %.2e > %.2e)", isa, n, rows, inPlace, off, i, y[i], want[i], d, tol)
							}
						}
					}
				}
			}
		}
		x := []float32{1, float32(math.NaN()), 2, 3, 4, 5, 6, 7, 8}
		LayerNorm(isa, x, x, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1}, make([]float32, 9), 9, 1e-5)
		if !math.IsNaN(float64(x[0])) || !math.IsNaN(float64(x[8])) {
			t.Errorf("%v: LayerNorm of a row with NaN = %v", isa, x)
		}
	}
}

// TestSoftmaxRows checks the row kernel at every row length 1..40 and a prime, several
// rows, unaligned, with guard values after the rows, against the float64 loop (the
// bound of Softmax's doc), with -Inf entries (masked scores) and a row with +Inf.
func TestSoftmaxRows(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, isa := range testISAs() {
		for n := 1; n <= 41; n++ {
			rows := 1 + n%3
			buf := make([]float32, rows*n+3)
			x := buf[1 : 1+rows*n]
			for i := range x {
				x[i] = float32(r.NormFloat64() * 6)
				if r.IntN(5) == 0 && i%n != 0 {
					x[i] = float32(math.Inf(-1))
				}
			}
			buf[0], buf[rows*n+1], buf[rows*n+2] = guard, guard, guard
			orig := append([]float32(nil), x...)
			Softmax(isa, x, n)
			if buf[0] != guard || buf[rows*n+1] != guard || buf[rows*n+2] != guard {
				t.Fatalf("%v n=%d: guard overwritten", isa, n)
			}
			for rr := 0; rr < rows; rr++ {
				row := orig[rr*n : (rr+1)*n]
				m := math.Inf(-1)
				for _, v := range row {
					m = math.Max(m, float64(v))
				}
				var s float64
				for _, v := range row {
					s += math.Exp(float64(v) - m)
				}
				for i, v := range row {
					want := math.Exp(float64(v)-m) / s
					got := x[rr*n+i]
					if math.IsInf(float64(v), -1) {
						if got != 0 {
							t.Fatalf("%v n=%d: masked entry %v", isa, n, got)
						}
						continue
					}
					if e := ulpErr(got, want); e > 4+(m-float64(v)) {
						t.Fatalf("%v n=%d: softmax = %v, want %v (%.1f ULP)", isa, n, got, want, e)
					}
				}
			}
		}
		x := []float32{1, float32(math.Inf(1)), 2}
		Softmax(isa, x, 3)
		if !math.IsNaN(float64(x[1])) && x[1] != 1 {
			t.Errorf("%v: softmax with +Inf = %v", isa, x)
		}
	}
}

// rowCond is (|mean| + max|x-mean|)/std of a row (1 for a constant row).
func rowCond(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	m := s / float64(len(x))
	var q, mx float64
	for _, v := range x {
		d := float64(v) - m
		q += d * d
		mx = math.Max(mx, math.Abs(d))
	}
	sd := math.Sqrt(q/float64(len(x)) + 1e-5)
	return math.Max(1, (math.Abs(m)+mx)/sd)
}
