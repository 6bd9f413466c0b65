package layers

import (
	"fmt"
	"math"
)

// LayerNorm normalizes each sample over its last Axes axes (Keras LayerNormalization,
// ONNX LayerNormalization): y = (x - mean) / sqrt(var + Eps) * Gamma + Beta, with the
// population variance. Gamma and Beta hold one value per normalized element (the
// importers broadcast the framework's parameters to that block) or are nil
// (scale=False / center=False).
type LayerNorm struct {
	Info
	Axes        int
	Eps         float64
	Gamma, Beta []float32
	// OrigParams is the parameter count of the source layer (before broadcasting);
	// 0 means len(Gamma)+len(Beta).
	OrigParams int64
}

// block is the number of elements normalized together.
func (l *LayerNorm) block(in Shape) int { return Shape(in[len(in)-l.Axes:]).Size() }

// OutputShape implements Layer.
func (l *LayerNorm) OutputShape(in Shape) (Shape, error) {
	if l.Axes < 1 || l.Axes > len(in) {
		return nil, errf(ErrShapeMismatch, "normalizing the last %d axes of input %v", l.Axes, in)
	}
	if !(l.Eps >= 0) || math.IsInf(l.Eps, 0) {
		return nil, errf(ErrInvalid, "epsilon %g", l.Eps)
	}
	n := l.block(in)
	for _, p := range [][]float32{l.Gamma, l.Beta} {
		if p != nil && len(p) != n {
			return nil, errf(ErrShapeMismatch, "parameters have %d values, the normalized block of %v has %d", len(p), in, n)
		}
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *LayerNorm) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer (two passes over each block, in float64).
func (l *LayerNorm) Forward(dst, src, _ []float32, in Shape, batch int) {
	n := l.block(in)
	rows := batch * in.Size() / n
	for r := 0; r < rows; r++ {
		x, y := src[r*n:(r+1)*n], dst[r*n:(r+1)*n]
		var s float64
		for _, v := range x {
			s += float64(v)
		}
		mean := s / float64(n)
		var q float64
		for _, v := range x {
			d := float64(v) - mean
			q += d * d
		}
		inv := 1 / math.Sqrt(q/float64(n)+l.Eps)
		for i, v := range x {
			t := (float64(v) - mean) * inv
			if l.Gamma != nil {
				t *= float64(l.Gamma[i])
			}
			if l.Beta != nil {
				t += float64(l.Beta[i])
			}
			y[i] = float32(t)
		}
	}
}

// InPlace implements InPlacer.
func (l *LayerNorm) InPlace() bool { return true }

// Weights implements Layer.
func (l *LayerNorm) Weights() [][]float32 {
	var w [][]float32
	for _, p := range [][]float32{l.Gamma, l.Beta} {
		if p != nil {
			w = append(w, p)
		}
	}
	return w
}

// Params implements ParamCounter.
func (l *LayerNorm) Params() int64 {
	if l.OrigParams > 0 {
		return l.OrigParams
	}
	return int64(len(l.Gamma) + len(l.Beta))
}

// Config implements Layer.
func (l *LayerNorm) Config() string {
	return fmt.Sprintf("axes=last %d eps=%g scale=%v center=%v", l.Axes, l.Eps, l.Gamma != nil, l.Beta != nil)
}

// FLOPs implements Layer.
func (l *LayerNorm) FLOPs(in Shape) int64 { return 8 * int64(in.Size()) }
