package layers

import "fmt"

// ActivationLayer applies an activation on its own (Keras Activation, ReLU, LeakyReLU,
// ELU, Softmax layers; ONNX Relu, Sigmoid, ...). Softmax acts on the last axis.
type ActivationLayer struct {
	Info
	Act Activation
}

// OutputShape implements Layer.
func (l *ActivationLayer) OutputShape(in Shape) (Shape, error) {
	if err := l.Act.Validate(); err != nil {
		return nil, err
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *ActivationLayer) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *ActivationLayer) Forward(dst, src, _ []float32, in Shape, batch int) {
	n := batch * in.Size()
	if &dst[0] != &src[0] {
		copy(dst[:n], src[:n])
	}
	l.Act.Apply(dst[:n], in.Last())
}

// InPlace implements InPlacer.
func (l *ActivationLayer) InPlace() bool { return true }

// Weights implements Layer.
func (l *ActivationLayer) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *ActivationLayer) Config() string { return "act=" + l.Act.String() }

// FLOPs implements Layer.
func (l *ActivationLayer) FLOPs(in Shape) int64 { return int64(in.Size()) * l.Act.flopsPerElem() }

// Affine is a per-channel y = x*Scale + Shift over the last axis. Scale and Shift hold
// one value (broadcast) or one per channel. BatchNormalization (folded from its
// statistics by FoldBatchNorm) and Rescaling import to it.
type Affine struct {
	Info
	Scale, Shift []float32
	// OrigParams is the parameter count of the layer it was folded from (BatchNormalization
	// keeps gamma, beta, mean and variance); 0 means len(Scale)+len(Shift), and a
	// negative value means the source layer had none (Keras Rescaling holds constants).
	OrigParams int64
}

// FoldBatchNorm turns batch-normalization statistics into an Affine's scale and shift:
// inv = gamma/sqrt(var+eps); y = x*inv + (beta - mean*inv), as Keras computes it. gamma
// and beta may be nil (scale=False, center=False).
func FoldBatchNorm(gamma, beta, mean, variance []float32, eps float64) (scale, shift []float32, err error) {
	c := len(mean)
	if len(variance) != c || (gamma != nil && len(gamma) != c) || (beta != nil && len(beta) != c) {
		return nil, nil, errf(ErrShapeMismatch, "batch normalization arrays disagree: gamma %d, beta %d, mean %d, variance %d", len(gamma), len(beta), c, len(variance))
	}
	scale, shift = make([]float32, c), make([]float32, c)
	for i := range c {
		inv := float32(1 / sqrt64(float64(variance[i])+eps))
		if gamma != nil {
			inv *= gamma[i]
		}
		var b float32
		if beta != nil {
			b = beta[i]
		}
		scale[i], shift[i] = inv, b-mean[i]*inv
	}
	return scale, shift, nil
}

// OutputShape implements Layer.
func (l *Affine) OutputShape(in Shape) (Shape, error) {
	c := in.Last()
	for _, a := range [][]float32{l.Scale, l.Shift} {
		if len(a) != 1 && len(a) != c {
			return nil, errf(ErrShapeMismatch, "per-channel parameters have %d values, input %v has %d channels", len(a), in, c)
		}
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *Affine) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Affine) Forward(dst, src, _ []float32, in Shape, batch int) {
	c := in.Last()
	n := batch * in.Size()
	for i := 0; i < n; i += c {
		x, y := src[i:i+c], dst[i:i+c]
		for j, v := range x {
			s, t := l.Scale[0], l.Shift[0]
			if len(l.Scale) > 1 {
				s = l.Scale[j]
			}
			if len(l.Shift) > 1 {
				t = l.Shift[j]
			}
			y[j] = v*s + t
		}
	}
}

// InPlace implements InPlacer.
func (l *Affine) InPlace() bool { return true }

// Weights implements Layer.
func (l *Affine) Weights() [][]float32 { return [][]float32{l.Scale, l.Shift} }

// Params implements ParamCounter.
func (l *Affine) Params() int64 {
	switch {
	case l.OrigParams > 0:
		return l.OrigParams
	case l.OrigParams < 0:
		return 0
	}
	return int64(len(l.Scale) + len(l.Shift))
}

// Config implements Layer.
func (l *Affine) Config() string {
	return fmt.Sprintf("per-channel scale %d, shift %d", len(l.Scale), len(l.Shift))
}

// FLOPs implements Layer.
func (l *Affine) FLOPs(in Shape) int64 { return 2 * int64(in.Size()) }

// ZeroPad2D pads H and W of NHWC input with zeros: Pads is top, bottom, left, right.
type ZeroPad2D struct {
	Info
	Pads [4]int
}

// OutputShape implements Layer.
func (l *ZeroPad2D) OutputShape(in Shape) (Shape, error) {
	if err := wantRank(in, 3, "ZeroPadding2D"); err != nil {
		return nil, err
	}
	for _, p := range l.Pads {
		if p < 0 || p > 1<<20 {
			return nil, errf(ErrInvalid, "padding %v out of range", l.Pads)
		}
	}
	return Shape{in[0] + l.Pads[0] + l.Pads[1], in[1] + l.Pads[2] + l.Pads[3], in[2]}, nil
}

// ScratchLen implements Layer.
func (l *ZeroPad2D) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *ZeroPad2D) Forward(dst, src, _ []float32, in Shape, batch int) {
	h, w, c := in[0], in[1], in[2]
	oh, ow := h+l.Pads[0]+l.Pads[1], w+l.Pads[2]+l.Pads[3]
	clear(dst[:batch*oh*ow*c])
	for b := 0; b < batch; b++ {
		for y := 0; y < h; y++ {
			o := ((b*oh+y+l.Pads[0])*ow + l.Pads[2]) * c
			i := (b*h + y) * w * c
			copy(dst[o:o+w*c], src[i:i+w*c])
		}
	}
}

// Weights implements Layer.
func (l *ZeroPad2D) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *ZeroPad2D) Config() string { return fmt.Sprintf("pads=%v", l.Pads) }

// FLOPs implements Layer.
func (l *ZeroPad2D) FLOPs(Shape) int64 { return 0 }
