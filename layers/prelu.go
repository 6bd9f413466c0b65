package layers

import "fmt"

// PReLU is a leaky ReLU with learned slopes (Keras PReLU, ONNX PRelu): y = x for
// x >= 0, else Alpha[i % len(Alpha)] * x, where i is the element's index within the
// sample. The importers broadcast the framework's slopes to the smallest period that
// repeats over the sample (one per channel for NHWC per-channel slopes).
type PReLU struct {
	Info
	Alpha []float32
	// OrigParams is the parameter count of the source layer; 0 means len(Alpha).
	OrigParams int64
}

// OutputShape implements Layer.
func (l *PReLU) OutputShape(in Shape) (Shape, error) {
	if n := len(l.Alpha); n == 0 || in.Size()%n != 0 {
		return nil, errf(ErrShapeMismatch, "%d slopes do not tile input %v", n, in)
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *PReLU) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *PReLU) Forward(dst, src, _ []float32, in Shape, batch int) {
	p := len(l.Alpha)
	n := batch * in.Size()
	for i := 0; i < n; i += p {
		x, y := src[i:i+p], dst[i:i+p]
		for j, v := range x {
			if v < 0 {
				v *= l.Alpha[j]
			}
			y[j] = v
		}
	}
}

// InPlace implements InPlacer.
func (l *PReLU) InPlace() bool { return true }

// Weights implements Layer.
func (l *PReLU) Weights() [][]float32 { return [][]float32{l.Alpha} }

// Params implements ParamCounter.
func (l *PReLU) Params() int64 {
	if l.OrigParams > 0 {
		return l.OrigParams
	}
	return int64(len(l.Alpha))
}

// Config implements Layer.
func (l *PReLU) Config() string { return fmt.Sprintf("slopes=%d", len(l.Alpha)) }

// FLOPs implements Layer.
func (l *PReLU) FLOPs(in Shape) int64 { return int64(in.Size()) }
