package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// TestInPlaceActivations: the in-place Softsign and Selu loops give Eval's bits, the
// Softplus loop Eval's result within 1 float32 ULP (exactly at NaN, ±Inf, ±0 and the
// e = 1e-4 switch), over edge values and a wide random spread.
func TestInPlaceActivations(t *testing.T) {
	inf := float32(math.Inf(1))
	xs := []float32{0, float32(math.Copysign(0, -1)), inf, -inf, float32(math.NaN()), 1, -1,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, math.MaxFloat32, -math.MaxFloat32,
		float32(-math.Log(1e-4)), float32(math.Log(1e-4)), 9.2103, -9.2103, 9.2104, -9.2104, 88, -88, 104, -104, 1e-8, -1e-8}
	r := rand.New(rand.NewPCG(91, 92))
	for range 200000 {
		xs = append(xs, float32((r.Float64()*2-1)*math.Pow(10, r.Float64()*5-3)))
	}
	cases := []struct {
		kind layers.ActKind
		run  func([]float32)
		ulps int
	}{{layers.Softsign, softsignInPlace, 0}, {layers.Selu, seluInPlace, 0}, {layers.Softplus, softplusInPlace, 1}}
	for _, c := range cases {
		a := layers.Activation{Kind: c.kind}
		got := append([]float32(nil), xs...)
		c.run(got)
		worst := 0
		for i, v := range xs {
			want := a.Eval(v)
			if math.IsNaN(float64(want)) != math.IsNaN(float64(got[i])) {
				t.Fatalf("%v(%g) = %g, Eval %g", a.Kind, v, got[i], want)
			}
			if math.IsNaN(float64(want)) {
				continue
			}
			d := ulpDiff(got[i], want)
			worst = max(worst, d)
			if d > c.ulps || (math.IsInf(float64(v), 0) || v == 0) && d != 0 {
				t.Fatalf("%v(%g) = %g, Eval %g: %d ULP apart (bound %d)", a.Kind, v, got[i], want, d, c.ulps)
			}
		}
		t.Logf("%v: worst %d ULP over %d values", a.Kind, worst, len(xs))
	}
}

// ulpDiff is the distance of two finite or equal float32s in units of the last place.
func ulpDiff(a, b float32) int {
	if a == b {
		return 0
	}
	ia, ib := int64(int32(math.Float32bits(a))), int64(int32(math.Float32bits(b)))
	if ia < 0 {
		ia = math.MinInt32 - ia
	}
	if ib < 0 {
		ib = math.MinInt32 - ib
	}
	d := ia - ib
	if d < 0 {
		d = -d
	}
	return int(d)
}

// TestLog1pUnit: log1pUnit is math.Log1p within 2 float64 ULP of the result on [0, 1]
// (both sides of the sqrt 2 switch, the ends, subnormals), and NaN at NaN.
func TestLog1pUnit(t *testing.T) {
	es := []float64{0, 1, math.SmallestNonzeroFloat64, 1e-300, 1e-17, 1e-8, math.Sqrt2 - 1,
		math.Nextafter(math.Sqrt2-1, 0), math.Nextafter(math.Sqrt2-1, 1), 0.5, math.Nextafter(1, 0)}
	r := rand.New(rand.NewPCG(93, 94))
	for range 200000 {
		es = append(es, math.Pow(2, -60*r.Float64()))
	}
	for _, e := range es {
		got, want := log1pUnit(e), math.Log1p(e)
		if math.Abs(got-want) > 2*0x1p-52*want {
			t.Fatalf("log1pUnit(%g) = %.17g, math.Log1p %.17g", e, got, want)
		}
	}
	if v := log1pUnit(math.NaN()); !math.IsNaN(v) {
		t.Fatalf("log1pUnit(NaN) = %g", v)
	}
}
