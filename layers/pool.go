package layers

import (
	"fmt"
	"math"
)

// Pool2D is max or average pooling over NHWC input. Keras's 'same' average pooling
// divides by the number of valid cells; CountIncludePad (ONNX count_include_pad=1)
// divides by the full window instead. Max pooling treats padding as -Inf.
type Pool2D struct {
	Info
	Window
	Max             bool
	CountIncludePad bool
}

// OutputShape implements Layer.
func (l *Pool2D) OutputShape(in Shape) (Shape, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	if err := wantRank(in, 3, l.Class); err != nil {
		return nil, err
	}
	oh, ow, _, _, err := l.Geometry(in[0], in[1])
	if err != nil {
		return nil, err
	}
	return Shape{oh, ow, in[2]}, nil
}

// ScratchLen implements Layer.
func (l *Pool2D) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Pool2D) Forward(dst, src, _ []float32, in Shape, batch int) {
	h, w, c := in[0], in[1], in[2]
	oh, ow, pt, pl, _ := l.Geometry(h, w)
	for b := 0; b < batch; b++ {
		x := src[b*h*w*c:]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				y := dst[((b*oh+oy)*ow+ox)*c:][:c]
				init := float32(0)
				if l.Max {
					init = float32(math.Inf(-1))
				}
				for i := range y {
					y[i] = init
				}
				n := 0
				for ky, ky1 := tapRange(oy, l.SH, l.DH, pt, h, l.KH); ky < ky1; ky++ {
					iy := oy*l.SH + ky*l.DH - pt
					for kx, kx1 := tapRange(ox, l.SW, l.DW, pl, w, l.KW); kx < kx1; kx++ {
						ix := ox*l.SW + kx*l.DW - pl
						n++
						px := x[(iy*w+ix)*c:][:c]
						poolTap(y, px, l.Max)
					}
				}
				if !l.Max {
					if l.CountIncludePad {
						n = l.KH * l.KW
					}
					poolMean(y, n)
				}
			}
		}
	}
}

// poolTap folds one input pixel px into the pooled y: the max (NaN wins, as in the
// frameworks) or the sum.
func poolTap(y, px []float32, isMax bool) {
	if isMax {
		for i, v := range px {
			if v > y[i] || v != v {
				y[i] = v
			}
		}
		return
	}
	for i, v := range px {
		y[i] += v
	}
}

// poolMean divides the summed y by n cells (at least 1).
func poolMean(y []float32, n int) {
	inv := 1 / float32(max(n, 1))
	for i := range y {
		y[i] *= inv
	}
}

// poolKind names a pooling layer's reduction in its Config.
func poolKind(isMax bool) string {
	if isMax {
		return "max"
	}
	return "avg"
}

// Weights implements Layer.
func (l *Pool2D) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Pool2D) Config() string {
	return fmt.Sprintf("%s %v count_include_pad=%v", poolKind(l.Max), l.Window, l.CountIncludePad)
}

// FLOPs implements Layer.
func (l *Pool2D) FLOPs(in Shape) int64 {
	out, err := l.OutputShape(in)
	if err != nil {
		return 0
	}
	return int64(out.Size()) * int64(l.KH*l.KW)
}

// GlobalPool2D reduces the H and W axes of NHWC input by mean or max. With KeepDims the
// output is (1, 1, C), else (C).
type GlobalPool2D struct {
	Info
	Max      bool
	KeepDims bool
}

// OutputShape implements Layer.
func (l *GlobalPool2D) OutputShape(in Shape) (Shape, error) {
	if err := wantRank(in, 3, l.Class); err != nil {
		return nil, err
	}
	if l.KeepDims {
		return Shape{1, 1, in[2]}, nil
	}
	return Shape{in[2]}, nil
}

// ScratchLen implements Layer.
func (l *GlobalPool2D) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *GlobalPool2D) Forward(dst, src, _ []float32, in Shape, batch int) {
	hw, c := in[0]*in[1], in[2]
	for b := 0; b < batch; b++ {
		y := dst[b*c : (b+1)*c]
		x := src[b*hw*c:]
		if l.Max {
			copy(y, x[:c])
			for p := 1; p < hw; p++ {
				for i, v := range x[p*c : (p+1)*c] {
					if v > y[i] || v != v {
						y[i] = v
					}
				}
			}
			continue
		}
		clear(y)
		for p := 0; p < hw; p++ {
			for i, v := range x[p*c : (p+1)*c] {
				y[i] += v
			}
		}
		inv := 1 / float32(hw)
		for i := range y {
			y[i] *= inv
		}
	}
}

// Weights implements Layer.
func (l *GlobalPool2D) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *GlobalPool2D) Config() string {
	return fmt.Sprintf("max=%v keepdims=%v", l.Max, l.KeepDims)
}

// FLOPs implements Layer.
func (l *GlobalPool2D) FLOPs(in Shape) int64 { return int64(in.Size()) }
