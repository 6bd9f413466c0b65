package runtime

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
