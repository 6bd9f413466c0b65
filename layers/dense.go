package layers

import "fmt"

// Dense is a fully connected layer acting on the last axis: y = act(x W + b).
// W is (In, Units) row-major, as Keras stores its kernel; B has Units values or is nil.
type Dense struct {
	Info
	In, Units int
	W         []float32
	B         []float32
	Act       Activation
}

// OutputShape implements Layer.
func (l *Dense) OutputShape(in Shape) (Shape, error) {
	if l.In <= 0 || l.Units <= 0 {
		return nil, errf(ErrInvalid, "units %d, input features %d", l.Units, l.In)
	}
	if err := checkLen("kernel", l.W, l.In*l.Units); err != nil {
		return nil, err
	}
	if l.B != nil {
		if err := checkLen("bias", l.B, l.Units); err != nil {
			return nil, err
		}
	}
	if err := l.Act.Validate(); err != nil {
		return nil, err
	}
	if len(in) == 0 || in.Last() != l.In {
		return nil, errf(ErrShapeMismatch, "input %v does not end in %d features (kernel is %dx%d)", in, l.In, l.In, l.Units)
	}
	out := in.Clone()
	out[len(out)-1] = l.Units
	return out, nil
}

// ScratchLen implements Layer.
func (l *Dense) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Dense) Forward(dst, src, _ []float32, in Shape, batch int) {
	rows := batch * in.Size() / l.In
	for r := 0; r < rows; r++ {
		x := src[r*l.In : (r+1)*l.In]
		y := dst[r*l.Units : (r+1)*l.Units]
		if l.B != nil {
			copy(y, l.B)
		} else {
			clear(y)
		}
		for k, xv := range x {
			w := l.W[k*l.Units : (k+1)*l.Units]
			for j, wv := range w {
				y[j] += xv * wv
			}
		}
		l.Act.Apply(y, l.Units)
	}
}

// Weights implements Layer.
func (l *Dense) Weights() [][]float32 {
	if l.B == nil {
		return [][]float32{l.W}
	}
	return [][]float32{l.W, l.B}
}

// Config implements Layer.
func (l *Dense) Config() string {
	return fmt.Sprintf("units=%d in=%d bias=%v act=%v", l.Units, l.In, l.B != nil, l.Act)
}

// FLOPs implements Layer.
func (l *Dense) FLOPs(in Shape) int64 {
	rows := int64(in.Size() / max(l.In, 1))
	return rows * (2*int64(l.In)*int64(l.Units) + int64(l.Units)*(1+l.Act.flopsPerElem()))
}
