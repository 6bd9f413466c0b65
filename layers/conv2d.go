package layers

import "fmt"

// Padding says how a spatial layer pads its input.
type Padding uint8

// Padding modes.
const (
	PadValid     Padding = iota // no padding
	PadSame                     // out = ceil(in/stride); extra cell at the bottom/right (Keras, ONNX SAME_UPPER)
	PadSameLower                // as PadSame but the extra cell goes at the top/left (ONNX SAME_LOWER)
	PadExplicit                 // Pads gives top, bottom, left, right
)

func (p Padding) String() string {
	return [...]string{"valid", "same", "same_lower", "explicit"}[p]
}

// Window is a 2-D sliding window: kernel size, strides, dilations and padding.
type Window struct {
	KH, KW int
	SH, SW int
	DH, DW int
	Pad    Padding
	// Pads is top, bottom, left, right for PadExplicit.
	Pads [4]int
}

func (w Window) validate() error {
	if w.KH <= 0 || w.KW <= 0 || w.SH <= 0 || w.SW <= 0 || w.DH <= 0 || w.DW <= 0 {
		return errf(ErrInvalid, "window %dx%d, strides %dx%d, dilation %dx%d must be positive", w.KH, w.KW, w.SH, w.SW, w.DH, w.DW)
	}
	if w.Pad > PadExplicit {
		return errf(ErrInvalid, "unknown padding %d", w.Pad)
	}
	for _, p := range w.Pads {
		if p < 0 || p > 1<<20 {
			return errf(ErrInvalid, "padding %v out of range", w.Pads)
		}
	}
	return nil
}

// Geometry resolves the window on an input of h x w: output size and the padding before
// (top, left) each axis.
func (w Window) Geometry(h, wd int) (oh, ow, padT, padL int, err error) {
	oh, padT, err = axis(h, w.KH, w.SH, w.DH, w.Pad, w.Pads[0], w.Pads[1])
	if err != nil {
		return
	}
	ow, padL, err = axis(wd, w.KW, w.SW, w.DW, w.Pad, w.Pads[2], w.Pads[3])
	return
}

func axis(in, k, s, d int, p Padding, before, after int) (out, padBefore int, err error) {
	span := (k-1)*d + 1
	switch p {
	case PadValid:
		if in < span {
			return 0, 0, errf(ErrShapeMismatch, "input size %d smaller than window %d with 'valid' padding", in, span)
		}
		return (in-span)/s + 1, 0, nil
	case PadSame, PadSameLower:
		out = (in + s - 1) / s
		pad := max(0, (out-1)*s+span-in)
		if p == PadSame {
			return out, pad / 2, nil
		}
		return out, pad - pad/2, nil
	default:
		tot := in + before + after
		if tot < span {
			return 0, 0, errf(ErrShapeMismatch, "padded input size %d smaller than window %d", tot, span)
		}
		return (tot-span)/s + 1, before, nil
	}
}

// tapRange returns the kernel taps [k0, k1) of one axis whose input index o*s+k*d-pad
// lies in [0, n): the reference loops visit exactly the in-bounds taps, in order, so
// padding cells are skipped without a test per tap. k1 <= k0 when none is in bounds.
func tapRange(o, s, d, pad, n, k int) (k0, k1 int) {
	base := o*s - pad
	if base < 0 {
		k0 = (-base + d - 1) / d
	}
	if base >= n {
		return k0, k0
	}
	return k0, min(k, (n-1-base)/d+1)
}

// convShape checks an (H, W, C) input of cin channels and returns the (OH, OW, filters)
// output of a convolution with this window.
func (w Window) convShape(in Shape, cin, filters int, what string) (Shape, error) {
	if err := wantRank(in, 3, what); err != nil {
		return nil, err
	}
	if in[2] != cin {
		return nil, errf(ErrShapeMismatch, "input %v has %d channels, kernel expects %d", in, in[2], cin)
	}
	oh, ow, _, _, err := w.Geometry(in[0], in[1])
	if err != nil {
		return nil, err
	}
	return Shape{oh, ow, filters}, nil
}

// outPixels is OH*OW for an (H, W, C) input, or 0 when the window does not fit it (for
// FLOPs, which report 0 for a bad shape).
func (w Window) outPixels(in Shape) int64 {
	if len(in) != 3 {
		return 0
	}
	oh, ow, _, _, err := w.Geometry(in[0], in[1])
	if err != nil {
		return 0
	}
	return int64(oh * ow)
}

// quantPatch fills xq (KH*KW*c values, (ky, kx, ci) order) with the window at output
// (oy, ox) of the h x w x c image x, each value quantized by q less its zero point;
// padding taps read the zero point, so they are 0.
func (w Window) quantPatch(xq, x []float32, h, wd, c, oy, ox, pt, pl int, q QParams) {
	clear(xq)
	for ky, ky1 := tapRange(oy, w.SH, w.DH, pt, h, w.KH); ky < ky1; ky++ {
		iy := oy*w.SH + ky*w.DH - pt
		for kx, kx1 := tapRange(ox, w.SW, w.DW, pl, wd, w.KW); kx < kx1; kx++ {
			ix := ox*w.SW + kx*w.DW - pl
			for ci, v := range x[(iy*wd+ix)*c : (iy*wd+ix+1)*c] {
				xq[(ky*w.KW+kx)*c+ci] = float32(q.Quantize(v) - q.ZP)
			}
		}
	}
}

func (w Window) String() string {
	s := fmt.Sprintf("%dx%d stride=%dx%d", w.KH, w.KW, w.SH, w.SW)
	if w.DH != 1 || w.DW != 1 {
		s += fmt.Sprintf(" dilation=%dx%d", w.DH, w.DW)
	}
	s += " padding=" + w.Pad.String()
	if w.Pad == PadExplicit {
		s += fmt.Sprint(w.Pads)
	}
	return s
}

// Conv2D is a 2-D convolution over NHWC input: W is (KH, KW, In/Groups, Filters), as
// Keras stores its kernel whatever the data_format; B has Filters values or is nil.
// Groups > 1 splits the channels into groups (Groups == In with one input channel per
// group is a depthwise convolution).
type Conv2D struct {
	Info
	Window
	In, Filters int
	Groups      int
	W           []float32
	B           []float32
	Act         Activation
}

// OutputShape implements Layer.
func (l *Conv2D) OutputShape(in Shape) (Shape, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	if err := l.Act.Validate(); err != nil {
		return nil, err
	}
	g := max(l.Groups, 1)
	if l.In <= 0 || l.Filters <= 0 || l.In%g != 0 || l.Filters%g != 0 {
		return nil, errf(ErrInvalid, "in=%d filters=%d groups=%d", l.In, l.Filters, g)
	}
	if err := checkLen("kernel", l.W, l.KH*l.KW*(l.In/g)*l.Filters); err != nil {
		return nil, err
	}
	if l.B != nil {
		if err := checkLen("bias", l.B, l.Filters); err != nil {
			return nil, err
		}
	}
	return l.convShape(in, l.In, l.Filters, "Conv2D")
}

// ScratchLen implements Layer.
func (l *Conv2D) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Conv2D) Forward(dst, src, _ []float32, in Shape, batch int) {
	h, w, c := in[0], in[1], in[2]
	oh, ow, pt, pl, _ := l.Geometry(h, w)
	g := max(l.Groups, 1)
	cg, fg := c/g, l.Filters/g
	for b := 0; b < batch; b++ {
		x := src[b*h*w*c:]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				y := dst[((b*oh+oy)*ow+ox)*l.Filters:][:l.Filters]
				if l.B != nil {
					copy(y, l.B)
				} else {
					clear(y)
				}
				for ky, ky1 := tapRange(oy, l.SH, l.DH, pt, h, l.KH); ky < ky1; ky++ {
					iy := oy*l.SH + ky*l.DH - pt
					for kx, kx1 := tapRange(ox, l.SW, l.DW, pl, w, l.KW); kx < kx1; kx++ {
						ix := ox*l.SW + kx*l.DW - pl
						px := x[(iy*w+ix)*c:][:c]
						wk := l.W[(ky*l.KW+kx)*cg*l.Filters:]
						for gi := 0; gi < g; gi++ {
							yg := y[gi*fg : (gi+1)*fg]
							for ci := 0; ci < cg; ci++ {
								xv := px[gi*cg+ci]
								row := wk[ci*l.Filters+gi*fg:][:fg]
								for f, wv := range row {
									yg[f] += xv * wv
								}
							}
						}
					}
				}
				l.Act.Apply(y, l.Filters)
			}
		}
	}
}

// Weights implements Layer.
func (l *Conv2D) Weights() [][]float32 {
	if l.B == nil {
		return [][]float32{l.W}
	}
	return [][]float32{l.W, l.B}
}

// Config implements Layer.
func (l *Conv2D) Config() string {
	return fmt.Sprintf("filters=%d in=%d groups=%d %v bias=%v act=%v", l.Filters, l.In, max(l.Groups, 1), l.Window, l.B != nil, l.Act)
}

// FLOPs implements Layer.
func (l *Conv2D) FLOPs(in Shape) int64 {
	g := max(l.Groups, 1)
	return l.outPixels(in) * int64(l.Filters) * (2*int64(l.KH*l.KW*l.In/g) + 1 + l.Act.flopsPerElem())
}
