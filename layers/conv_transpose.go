package layers

import "fmt"

// ConvTranspose2D is a transposed 2-D convolution over NHWC input (Keras
// Conv2DTranspose, ONNX ConvTranspose). Input pixel (iy, ix) adds its channels times the
// kernel into the output window at (iy*SH + ky*DH - Pads[0], ix*SW + kx*DW - Pads[2]).
//
// Per axis the output is (in-1)*stride + (k-1)*dilation + 1 - before - after + outPad:
// Pads (top, bottom, left, right) crop the full result; OutPad (rows, columns) adds
// cells at the bottom/right that only the bias reaches when the crop leaves none there.
// A negative bottom/right pad likewise extends the output (Keras 'same' with stride
// larger than the kernel).
//
// W is (Groups, In/Groups, KH, KW, Filters/Groups): for one group, the (In, KH*KW*F)
// matrix that turns an input pixel into its output window. B has Filters values or is
// nil.
type ConvTranspose2D struct {
	Info
	KH, KW, SH, SW, DH, DW int
	Pads                   [4]int
	OutPad                 [2]int
	In, Filters, Groups    int
	W, B                   []float32
	Act                    Activation
}

// maxConvDim bounds kernel sizes, strides, dilations and pads read from files.
const maxConvDim = 1 << 16

func (l *ConvTranspose2D) validate() error {
	for _, v := range []int{l.KH, l.KW, l.SH, l.SW, l.DH, l.DW} {
		if v <= 0 || v > maxConvDim {
			return errf(ErrInvalid, "kernel %dx%d, strides %dx%d, dilation %dx%d must be in [1, %d]", l.KH, l.KW, l.SH, l.SW, l.DH, l.DW, maxConvDim)
		}
	}
	for _, v := range append(l.Pads[:], l.OutPad[:]...) {
		if v < -maxConvDim || v > maxConvDim {
			return errf(ErrInvalid, "pads %v / output padding %v out of range", l.Pads, l.OutPad)
		}
	}
	if l.Pads[0] < 0 || l.Pads[2] < 0 {
		return errf(ErrInvalid, "top/left pads %v must not be negative", l.Pads)
	}
	g := max(l.Groups, 1)
	if l.In <= 0 || l.Filters <= 0 || l.In%g != 0 || l.Filters%g != 0 || l.In > MaxElements || l.Filters > MaxElements {
		return errf(ErrInvalid, "in=%d filters=%d groups=%d", l.In, l.Filters, g)
	}
	if int64(l.KH)*int64(l.KW)*int64(l.In)*int64(l.Filters/g) > MaxElements {
		return errf(ErrInvalid, "kernel %dx%dx%dx%d too large", l.KH, l.KW, l.In, l.Filters/g)
	}
	if err := checkLen("kernel", l.W, l.KH*l.KW*l.In*(l.Filters/g)); err != nil {
		return err
	}
	if l.B != nil {
		if err := checkLen("bias", l.B, l.Filters); err != nil {
			return err
		}
	}
	return l.Act.Validate()
}

// OutSize is the output extent along H and W for an input of h x w.
func (l *ConvTranspose2D) OutSize(h, w int) (oh, ow int) {
	oh = (h-1)*l.SH + (l.KH-1)*l.DH + 1 - l.Pads[0] - l.Pads[1] + l.OutPad[0]
	ow = (w-1)*l.SW + (l.KW-1)*l.DW + 1 - l.Pads[2] - l.Pads[3] + l.OutPad[1]
	return
}

// OutputShape implements Layer.
func (l *ConvTranspose2D) OutputShape(in Shape) (Shape, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	if err := wantRank(in, 3, "ConvTranspose2D"); err != nil {
		return nil, err
	}
	if in[2] != l.In {
		return nil, errf(ErrShapeMismatch, "input %v has %d channels, kernel expects %d", in, in[2], l.In)
	}
	oh, ow := l.OutSize(in[0], in[1])
	if oh <= 0 || ow <= 0 {
		return nil, errf(ErrShapeMismatch, "input %v gives an empty output (%dx%d) after pads %v", in, oh, ow, l.Pads)
	}
	return Shape{oh, ow, l.Filters}, nil
}

// ScratchLen implements Layer.
func (l *ConvTranspose2D) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer: a scatter of every input pixel through the kernel.
func (l *ConvTranspose2D) Forward(dst, src, _ []float32, in Shape, batch int) {
	h, w, c := in[0], in[1], in[2]
	oh, ow := l.OutSize(h, w)
	f := l.Filters
	g := max(l.Groups, 1)
	cg, fg := c/g, f/g
	taps := l.KH * l.KW
	for b := 0; b < batch; b++ {
		y := dst[b*oh*ow*f : (b+1)*oh*ow*f]
		for p := 0; p < oh*ow; p++ {
			if l.B != nil {
				copy(y[p*f:(p+1)*f], l.B)
			} else {
				clear(y[p*f : (p+1)*f])
			}
		}
		x := src[b*h*w*c:]
		for iy := 0; iy < h; iy++ {
			for ix := 0; ix < w; ix++ {
				px := x[(iy*w+ix)*c:][:c]
				for ky := 0; ky < l.KH; ky++ {
					oy := iy*l.SH + ky*l.DH - l.Pads[0]
					if oy < 0 || oy >= oh {
						continue
					}
					for kx := 0; kx < l.KW; kx++ {
						ox := ix*l.SW + kx*l.DW - l.Pads[2]
						if ox < 0 || ox >= ow {
							continue
						}
						out := y[(oy*ow+ox)*f:][:f]
						t := ky*l.KW + kx
						for gi := 0; gi < g; gi++ {
							og := out[gi*fg : (gi+1)*fg]
							for ci := 0; ci < cg; ci++ {
								xv := px[gi*cg+ci]
								row := l.W[((gi*cg+ci)*taps+t)*fg:][:fg]
								for j, wv := range row {
									og[j] += xv * wv
								}
							}
						}
					}
				}
			}
		}
		l.Act.Apply(y, f)
	}
}

// Weights implements Layer.
func (l *ConvTranspose2D) Weights() [][]float32 {
	if l.B == nil {
		return [][]float32{l.W}
	}
	return [][]float32{l.W, l.B}
}

// Config implements Layer.
func (l *ConvTranspose2D) Config() string {
	return fmt.Sprintf("filters=%d in=%d groups=%d %dx%d stride=%dx%d dilation=%dx%d pads=%v output_padding=%v bias=%v act=%v",
		l.Filters, l.In, max(l.Groups, 1), l.KH, l.KW, l.SH, l.SW, l.DH, l.DW, l.Pads, l.OutPad, l.B != nil, l.Act)
}

// FLOPs implements Layer.
func (l *ConvTranspose2D) FLOPs(in Shape) int64 {
	if len(in) != 3 {
		return 0
	}
	g := max(l.Groups, 1)
	oh, ow := l.OutSize(in[0], in[1])
	return 2*int64(in[0]*in[1])*int64(l.In)*int64(l.KH*l.KW)*int64(l.Filters/g) + int64(oh*ow*l.Filters)*(1+l.Act.flopsPerElem())
}
