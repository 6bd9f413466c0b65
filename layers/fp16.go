package layers

import "math"

// RoundHalf is ONNX Cast to float16 on the data path: each value rounded to the
// nearest float16 (ties to even; past 65504 an infinity; NaN stays NaN), held as
// float32. A Cast back to float is the identity.
type RoundHalf struct {
	Info
}

// ToHalf is x rounded to float16 precision and range, as a float32.
func ToHalf(x float32) float32 {
	if x != x || math.IsInf(float64(x), 0) {
		return x
	}
	e := max(int((math.Float32bits(x)>>23)&0xff)-127, -14) // float16's exponent (subnormals: -14)
	step := math.Ldexp(1, e-10)                            // float16's spacing there
	r := math.RoundToEven(float64(x)/step) * step          // exact in float64
	if math.Abs(r) > 65504 {
		return float32(math.Copysign(math.Inf(1), r))
	}
	return float32(r)
}

// OutputShape implements Layer.
func (l *RoundHalf) OutputShape(in Shape) (Shape, error) { return in.Clone(), nil }

// ScratchLen implements Layer.
func (l *RoundHalf) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *RoundHalf) Forward(dst, src, _ []float32, in Shape, batch int) {
	for i, x := range src[:batch*in.Size()] {
		dst[i] = ToHalf(x)
	}
}

// InPlace implements InPlacer.
func (l *RoundHalf) InPlace() bool { return true }

// Weights implements Layer.
func (l *RoundHalf) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *RoundHalf) Config() string { return "round to float16" }

// FLOPs implements Layer.
func (l *RoundHalf) FLOPs(in Shape) int64 { return int64(in.Size()) }
