package layers

import (
	"fmt"
	"math"
)

// InstanceNorm normalizes each channel of each sample over all its other axes (ONNX
// InstanceNormalization): on (..., C) input, y = Scale[c]*(x-mean)/sqrt(var+Eps) +
// Bias[c] with the mean and (biased) variance of channel c over the leading axes.
type InstanceNorm struct {
	Info
	Scale, Bias []float32
	Eps         float32
}

// OutputShape implements Layer.
func (l *InstanceNorm) OutputShape(in Shape) (Shape, error) {
	if len(in) < 1 || in.Last() != len(l.Scale) || len(l.Bias) != len(l.Scale) {
		return nil, errf(ErrShapeMismatch, "instance normalization with %d scales and %d biases on input %v", len(l.Scale), len(l.Bias), in)
	}
	if !(l.Eps >= 0) {
		return nil, errf(ErrInvalid, "epsilon %g", l.Eps)
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *InstanceNorm) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer. Statistics are accumulated in float64.
func (l *InstanceNorm) Forward(dst, src, _ []float32, in Shape, batch int) {
	c := in.Last()
	per := in.Size()
	s := per / c
	for b := 0; b < batch; b++ {
		x, y := src[b*per:(b+1)*per], dst[b*per:(b+1)*per]
		for ch := range c {
			var sum float64
			for i := ch; i < per; i += c {
				sum += float64(x[i])
			}
			mean := sum / float64(s)
			var sq float64
			for i := ch; i < per; i += c {
				d := float64(x[i]) - mean
				sq += d * d
			}
			inv := float64(l.Scale[ch]) / math.Sqrt(sq/float64(s)+float64(l.Eps))
			for i := ch; i < per; i += c {
				y[i] = float32((float64(x[i])-mean)*inv + float64(l.Bias[ch]))
			}
		}
	}
}

// InPlace implements InPlacer: each channel's statistics are read before it is written.
func (l *InstanceNorm) InPlace() bool { return true }

// Weights implements Layer.
func (l *InstanceNorm) Weights() [][]float32 { return [][]float32{l.Scale, l.Bias} }

// Config implements Layer.
func (l *InstanceNorm) Config() string {
	return fmt.Sprintf("channels=%d epsilon=%g", len(l.Scale), l.Eps)
}

// FLOPs implements Layer.
func (l *InstanceNorm) FLOPs(in Shape) int64 { return 8 * int64(in.Size()) }
