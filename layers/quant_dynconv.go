package layers

import "fmt"

// DynQConv2D is a dynamically quantized 2-D convolution over NHWC input, groups 1
// (ONNX DynamicQuantizeLinear + ConvInteger, Cast, Mul, Add as quantize_dynamic
// writes): DynQDense's per-call range over the whole input, padding taps at the zero
// point (a float 0), int32 sums, y = float32(sum)*float32(xScale*wScale[j]) + bias[j].
// W is (KH, KW, Cin, Filters) row-major, the weight zero point subtracted.
type DynQConv2D struct {
	Info
	Window
	Cin, Filters int
	W            []int8
	WScale       []float32
	Bias         []float32 // nil or Filters values
}

// OutputShape implements Layer.
func (l *DynQConv2D) OutputShape(in Shape) (Shape, error) {
	if err := l.Window.validate(); err != nil {
		return nil, err
	}
	k := l.KH * l.KW * l.Cin
	if l.Cin <= 0 || l.Filters <= 0 || k > 1<<16 || len(l.W) != k*l.Filters || len(l.WScale) != l.Filters || (l.Bias != nil && len(l.Bias) != l.Filters) {
		return nil, errf(ErrShapeMismatch, "dynamic int8 conv %dx%dx%d->%d with %d weights, %d scales, %d biases", l.KH, l.KW, l.Cin, l.Filters, len(l.W), len(l.WScale), len(l.Bias))
	}
	return l.convShape(in, l.Cin, l.Filters, "DynQConv2D")
}

// ScratchLen implements Layer.
func (l *DynQConv2D) ScratchLen(Shape, int) int { return l.KH * l.KW * l.Cin }

// Forward implements Layer.
func (l *DynQConv2D) Forward(dst, src, scratch []float32, in Shape, batch int) {
	h, w, c := in[0], in[1], in[2]
	x := src[:batch*h*w*c]
	q := dynQuant(x)
	oh, ow, pt, pl, _ := l.Geometry(h, w)
	xq := scratch[:l.KH*l.KW*c]
	for b := 0; b < batch; b++ {
		xb := x[b*h*w*c:]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				l.quantPatch(xq, xb, h, w, c, oy, ox, pt, pl, q)
				y := dst[((b*oh+oy)*ow+ox)*l.Filters:][:l.Filters]
				dynRow(y, xq, l.W, l.WScale, l.Bias, q.Scale)
			}
		}
	}
}

// Weights implements Layer (the dequantized weights).
func (l *DynQConv2D) Weights() [][]float32 {
	return dynWeights(l.W, l.WScale, l.Bias, l.Filters)
}

// Config implements Layer.
func (l *DynQConv2D) Config() string {
	return fmt.Sprintf("int8 dynamic filters=%d in=%d %v bias=%v", l.Filters, l.Cin, l.Window, l.Bias != nil)
}

// FLOPs implements Layer.
func (l *DynQConv2D) FLOPs(in Shape) int64 {
	return l.outPixels(in) * 2 * int64(l.KH*l.KW*l.Cin) * int64(l.Filters)
}
