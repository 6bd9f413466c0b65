package layers

import (
	"fmt"
	"math"
)

// Pool3D is max or average pooling over NDHWC input, with Pool2D's semantics: 'same'
// or explicit padding averages over the valid cells only unless CountIncludePad (ONNX
// count_include_pad=1) divides by the whole window; max pooling treats padding as -Inf.
type Pool3D struct {
	Info
	Window3D
	Max             bool
	CountIncludePad bool
}

// OutputShape implements Layer.
func (l *Pool3D) OutputShape(in Shape) (Shape, error) {
	od, oh, ow, err := l.shape3D(in, l.Class)
	if err != nil {
		return nil, err
	}
	return Shape{od, oh, ow, in[3]}, nil
}

// ScratchLen implements Layer.
func (l *Pool3D) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Pool3D) Forward(dst, src, _ []float32, in Shape, batch int) {
	d, h, w, c := in[0], in[1], in[2], in[3]
	od, oh, ow, pf, pt, pl, _ := l.Geometry3D(d, h, w)
	init := float32(0)
	if l.Max {
		init = float32(math.Inf(-1))
	}
	for b := 0; b < batch; b++ {
		x := src[b*d*h*w*c:]
		for oz := 0; oz < od; oz++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					y := dst[(((b*od+oz)*oh+oy)*ow+ox)*c:][:c]
					for i := range y {
						y[i] = init
					}
					n := 0
					for kz, kz1 := tapRange(oz, l.SD, l.DD, pf, d, l.KD); kz < kz1; kz++ {
						iz := oz*l.SD + kz*l.DD - pf
						for ky, ky1 := tapRange(oy, l.SH, l.DH, pt, h, l.KH); ky < ky1; ky++ {
							iy := oy*l.SH + ky*l.DH - pt
							for kx, kx1 := tapRange(ox, l.SW, l.DW, pl, w, l.KW); kx < kx1; kx++ {
								ix := ox*l.SW + kx*l.DW - pl
								n++
								px := x[((iz*h+iy)*w+ix)*c:][:c]
								poolTap(y, px, l.Max)
							}
						}
					}
					if !l.Max {
						if l.CountIncludePad {
							n = l.Taps()
						}
						poolMean(y, n)
					}
				}
			}
		}
	}
}

// Weights implements Layer.
func (l *Pool3D) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Pool3D) Config() string {
	return fmt.Sprintf("%s %v count_include_pad=%v", poolKind(l.Max), l.Window3D, l.CountIncludePad)
}

// FLOPs implements Layer.
func (l *Pool3D) FLOPs(in Shape) int64 {
	out, err := l.OutputShape(in)
	if err != nil {
		return 0
	}
	return int64(out.Size()) * int64(l.Taps())
}

// GlobalPool3D reduces the D, H and W axes of NDHWC input by mean or max, as
// GlobalPool2D does over H and W. With KeepDims the output is (1, 1, 1, C), else (C).
type GlobalPool3D struct {
	Info
	Max      bool
	KeepDims bool
}

// OutputShape implements Layer.
func (l *GlobalPool3D) OutputShape(in Shape) (Shape, error) {
	if err := wantRank(in, 4, l.Class); err != nil {
		return nil, err
	}
	if l.KeepDims {
		return Shape{1, 1, 1, in[3]}, nil
	}
	return Shape{in[3]}, nil
}

// ScratchLen implements Layer.
func (l *GlobalPool3D) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer: GlobalPool2D's pass over the D*H*W cells.
func (l *GlobalPool3D) Forward(dst, src, scratch []float32, in Shape, batch int) {
	g := GlobalPool2D{Max: l.Max}
	g.Forward(dst, src, scratch, Shape{in[0] * in[1], in[2], in[3]}, batch)
}

// Weights implements Layer.
func (l *GlobalPool3D) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *GlobalPool3D) Config() string {
	return fmt.Sprintf("max=%v keepdims=%v", l.Max, l.KeepDims)
}

// FLOPs implements Layer.
func (l *GlobalPool3D) FLOPs(in Shape) int64 { return int64(in.Size()) }
