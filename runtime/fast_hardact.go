package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
)

// hardSigmoidInPlace is layers.Activation.Eval's HardSigmoid over x without its
// per-element switch and math.Min/Max calls (MobileNetV3's squeeze-excitation gates):
// the same float64 operations, so the same bits (a NaN stays NaN, a -0 clamps to +0
// as math.Max(0, -0) does).
func hardSigmoidInPlace(x []float32, alpha, beta float32) {
	a, b := float64(alpha), float64(beta)
	for i, v := range x {
		t := a*float64(v) + b
		if !(t > 0) && t == t {
			t = 0
		}
		if t > 1 {
			t = 1
		}
		x[i] = float32(t)
	}
}

// hardSwishInPlace is Eval's HardSwish, x*min(1, max(0, x/6+0.5)) in float64, over x.
func hardSwishInPlace(x []float32) {
	for i, v := range x {
		f := float64(v)
		t := f/6 + 0.5
		if !(t > 0) && t == t {
			t = 0
		}
		if t > 1 {
			t = 1
		}
		x[i] = float32(f * t)
	}
}

// softsignInPlace is Eval's Softsign, x/(1+|x|) in float64, over x (the same bits).
func softsignInPlace(x []float32) {
	for i, v := range x {
		f := float64(v)
		x[i] = float32(f / (1 + math.Abs(f)))
	}
}

// seluInPlace is Eval's Selu over x (the same float64 operations, so the same bits).
func seluInPlace(x []float32) {
	for i, v := range x {
		f := float64(v)
		if f > 0 {
			x[i] = float32(layers.SeluScale * f)
		} else {
			x[i] = float32(layers.SeluScale * layers.SeluAlpha * math.Expm1(f))
		}
	}
}

// softplusInPlace is Eval's Softplus, max(x, 0) + log1p(exp(-|x|)), over x with the
// log1p of e = exp(-|x|) in [0, 1] by log1pUnit (math.Log1p and math.Log are several
// times slower here); both are accurate to about a float64 ULP, so a result differs
// from Eval's by at most 1 float32 ULP (tested). NaN and the infinities give Eval's
// results.
func softplusInPlace(x []float32) {
	for i, v := range x {
		f := float64(v)
		l := log1pUnit(math.Exp(-math.Abs(f)))
		if !(f > 0) { // NaN: l is NaN
			f = 0
		}
		x[i] = float32(f + l)
	}
}

// log1pUnit is log(1+e) for e in [0, 1] (NaN gives NaN): math.log's reduction and
// polynomial (FreeBSD's e_log.c) without Frexp, as 1+e lies in [1, 2]: below sqrt 2
// the reduced argument is e itself (exact, no rounding of 1+e), above it (1+e)/2 - 1
// with k = 1 (the halving and the subtraction are exact).
func log1pUnit(e float64) float64 {
	const (
		ln2Hi = 6.93147180369123816490e-01
		ln2Lo = 1.90821492927058770002e-10
		l1    = 6.666666666666735130e-01
		l2    = 3.999999999940941908e-01
		l3    = 2.857142874366239149e-01
		l4    = 2.222219843214978396e-01
		l5    = 1.818357216161805012e-01
		l6    = 1.531383769920937332e-01
		l7    = 1.479819860511658591e-01
	)
	f, k := e, 0.0
	if e > math.Sqrt2-1 {
		f, k = (1+e)/2-1, 1
	}
	s := f / (2 + f)
	s2 := s * s
	s4 := s2 * s2
	t1 := s2 * (l1 + s4*(l3+s4*(l5+s4*l7)))
	t2 := s4 * (l2 + s4*(l4+s4*l6))
	r := t1 + t2
	hfsq := 0.5 * f * f
	return k*ln2Hi - ((hfsq - (s*(hfsq+r) + k*ln2Lo)) - f)
}
