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

// softplusInPlace is Eval's Softplus, max(x, 0) + log1p(exp(-|x|)), over x with
// math.Log(1+e) (an assembly routine on amd64) in place of the slower math.Log1p: for
// e = exp(-|x|) >= 1e-4 the rounding of 1+e costs at most 2^-53/1e-4 relative, and
// below it the series e(1 - e/2 + e^2/3) is within e^3/4 relative; both far under
// half a float32 ULP, so a result differs from Eval's by at most 1 ULP (tested). NaN
// and the infinities give Eval's results.
func softplusInPlace(x []float32) {
	for i, v := range x {
		f := float64(v)
		e := math.Exp(-math.Abs(f))
		var l float64
		if e < 1e-4 {
			l = e * (1 - e*(0.5-e/3))
		} else {
			l = math.Log(1 + e)
		}
		if !(f > 0) { // NaN: l is NaN
			f = 0
		}
		x[i] = float32(f + l)
	}
}
