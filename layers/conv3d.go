package layers

import "fmt"

// Window3D is a 3-D sliding window over (D, H, W): kernel size, strides, dilations and
// padding, each axis resolved as Window's are.
type Window3D struct {
	KD, KH, KW int
	SD, SH, SW int
	DD, DH, DW int
	Pad        Padding
	// Pads is front, back, top, bottom, left, right for PadExplicit.
	Pads [6]int
}

// maxWindow bounds each kernel size, stride and dilation (far past any real model) so
// products of them cannot overflow.
const maxWindow = 1 << 20

func (w Window3D) validate() error {
	for _, v := range [...]int{w.KD, w.KH, w.KW, w.SD, w.SH, w.SW, w.DD, w.DH, w.DW} {
		if v <= 0 || v > maxWindow {
			return errf(ErrInvalid, "window %dx%dx%d, strides %dx%dx%d, dilation %dx%dx%d must be positive and at most %d",
				w.KD, w.KH, w.KW, w.SD, w.SH, w.SW, w.DD, w.DH, w.DW, maxWindow)
		}
	}
	if w.Pad > PadExplicit {
		return errf(ErrInvalid, "unknown padding %d", w.Pad)
	}
	for _, p := range w.Pads {
		if p < 0 || p > maxWindow {
			return errf(ErrInvalid, "padding %v out of range", w.Pads)
		}
	}
	return nil
}

// Taps is the window's cell count, KD*KH*KW.
func (w Window3D) Taps() int { return w.KD * w.KH * w.KW }

// Geometry3D resolves the window on an input of d x h x w: output size and the padding
// before (front, top, left) each axis.
func (w Window3D) Geometry3D(d, h, wd int) (od, oh, ow, padF, padT, padL int, err error) {
	if od, padF, err = axis(d, w.KD, w.SD, w.DD, w.Pad, w.Pads[0], w.Pads[1]); err != nil {
		return
	}
	if oh, padT, err = axis(h, w.KH, w.SH, w.DH, w.Pad, w.Pads[2], w.Pads[3]); err != nil {
		return
	}
	ow, padL, err = axis(wd, w.KW, w.SW, w.DW, w.Pad, w.Pads[4], w.Pads[5])
	return
}

func (w Window3D) String() string {
	s := fmt.Sprintf("%dx%dx%d stride=%dx%dx%d", w.KD, w.KH, w.KW, w.SD, w.SH, w.SW)
	if w.DD != 1 || w.DH != 1 || w.DW != 1 {
		s += fmt.Sprintf(" dilation=%dx%dx%d", w.DD, w.DH, w.DW)
	}
	s += " padding=" + w.Pad.String()
	if w.Pad == PadExplicit {
		s += fmt.Sprint(w.Pads)
	}
	return s
}

// shape3D checks a rank-4 (D, H, W, C) input and resolves the window on it.
func (w Window3D) shape3D(in Shape, what string) (od, oh, ow int, err error) {
	if err = w.validate(); err != nil {
		return
	}
	if err = wantRank(in, 4, what); err != nil {
		return
	}
	od, oh, ow, _, _, _, err = w.Geometry3D(in[0], in[1], in[2])
	return
}

// Conv3D is a 3-D convolution over NDHWC input: W is (KD, KH, KW, In/Groups, Filters),
// as Keras stores its kernel whatever the data_format; B has Filters values or is nil.
type Conv3D struct {
	Info
	Window3D
	In, Filters int
	Groups      int
	W           []float32
	B           []float32
	Act         Activation
}

// OutputShape implements Layer.
func (l *Conv3D) OutputShape(in Shape) (Shape, error) {
	if err := l.Window3D.validate(); err != nil {
		return nil, err
	}
	if err := l.Act.Validate(); err != nil {
		return nil, err
	}
	g := max(l.Groups, 1)
	if l.In <= 0 || l.Filters <= 0 || l.In > MaxElements || l.Filters > MaxElements || l.In%g != 0 || l.Filters%g != 0 {
		return nil, errf(ErrInvalid, "in=%d filters=%d groups=%d", l.In, l.Filters, g)
	}
	n := 1 // the kernel's size, bounded at every step (five factors overflow an int64)
	for _, f := range [...]int{l.KD, l.KH, l.KW, l.In / g, l.Filters} {
		if n > MaxElements/f {
			return nil, errf(ErrInvalid, "kernel %s x %d x %d has more than %d values", l.Window3D, l.In/g, l.Filters, MaxElements)
		}
		n *= f
	}
	if err := checkLen("kernel", l.W, n); err != nil {
		return nil, err
	}
	if l.B != nil {
		if err := checkLen("bias", l.B, l.Filters); err != nil {
			return nil, err
		}
	}
	od, oh, ow, err := l.shape3D(in, "Conv3D")
	if err != nil {
		return nil, err
	}
	if in[3] != l.In {
		return nil, errf(ErrShapeMismatch, "input %v has %d channels, kernel expects %d", in, in[3], l.In)
	}
	return Shape{od, oh, ow, l.Filters}, nil
}

// ScratchLen implements Layer.
func (l *Conv3D) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Conv3D) Forward(dst, src, _ []float32, in Shape, batch int) {
	d, h, w, c := in[0], in[1], in[2], in[3]
	od, oh, ow, pf, pt, pl, _ := l.Geometry3D(d, h, w)
	g := max(l.Groups, 1)
	cg, fg, nf := c/g, l.Filters/g, l.Filters
	for b := 0; b < batch; b++ {
		x := src[b*d*h*w*c:]
		for oz := 0; oz < od; oz++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					y := dst[(((b*od+oz)*oh+oy)*ow+ox)*nf:][:nf]
					if l.B != nil {
						copy(y, l.B)
					} else {
						clear(y)
					}
					for kz, kz1 := tapRange(oz, l.SD, l.DD, pf, d, l.KD); kz < kz1; kz++ {
						iz := oz*l.SD + kz*l.DD - pf
						for ky, ky1 := tapRange(oy, l.SH, l.DH, pt, h, l.KH); ky < ky1; ky++ {
							iy := oy*l.SH + ky*l.DH - pt
							for kx, kx1 := tapRange(ox, l.SW, l.DW, pl, w, l.KW); kx < kx1; kx++ {
								ix := ox*l.SW + kx*l.DW - pl
								px := x[((iz*h+iy)*w+ix)*c:][:c]
								wk := l.W[((kz*l.KH+ky)*l.KW+kx)*cg*nf:]
								for gi := 0; gi < g; gi++ {
									yg := y[gi*fg : (gi+1)*fg]
									for ci := 0; ci < cg; ci++ {
										xv := px[gi*cg+ci]
										row := wk[ci*nf+gi*fg:][:fg]
										for f, wv := range row {
											yg[f] += xv * wv
										}
									}
								}
							}
						}
					}
					l.Act.Apply(y, nf)
				}
			}
		}
	}
}

// Weights implements Layer.
func (l *Conv3D) Weights() [][]float32 {
	if l.B == nil {
		return [][]float32{l.W}
	}
	return [][]float32{l.W, l.B}
}

// Config implements Layer.
func (l *Conv3D) Config() string {
	return fmt.Sprintf("filters=%d in=%d groups=%d %v bias=%v act=%v", l.Filters, l.In, max(l.Groups, 1), l.Window3D, l.B != nil, l.Act)
}

// FLOPs implements Layer.
func (l *Conv3D) FLOPs(in Shape) int64 {
	out, err := l.OutputShape(in)
	if err != nil {
		return 0
	}
	g := max(l.Groups, 1)
	return int64(out[0]*out[1]*out[2]) * int64(l.Filters) * (2*int64(l.Taps()*l.In/g) + 1 + l.Act.flopsPerElem())
}
