package layers

import (
	"fmt"
	"math"
)

// CoordMode maps an output coordinate back onto the input (ONNX Resize's
// coordinate_transformation_mode).
type CoordMode uint8

// Coordinate transformation modes.
const (
	CoordHalfPixel        CoordMode = iota // (x+0.5)/scale - 0.5 (TF half_pixel_centers, Keras bilinear)
	CoordAsymmetric                        // x/scale (Keras nearest, torch nearest)
	CoordPytorchHalfPixel                  // as half_pixel, but 0 when the output has one cell
	CoordAlignCorners                      // x*(in-1)/(out-1)
)

var coordNames = [...]string{"half_pixel", "asymmetric", "pytorch_half_pixel", "align_corners"}

func (m CoordMode) String() string {
	if int(m) < len(coordNames) {
		return coordNames[m]
	}
	return fmt.Sprintf("coord(%d)", uint8(m))
}

// NearestMode rounds a mapped coordinate to an input cell (ONNX Resize's nearest_mode).
type NearestMode uint8

// Nearest rounding modes.
const (
	RoundPreferFloor NearestMode = iota // halves round down (the ONNX default)
	RoundPreferCeil                     // halves round up
	RoundFloor
	RoundCeil
)

var nearestNames = [...]string{"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}

func (m NearestMode) String() string {
	if int(m) < len(nearestNames) {
		return nearestNames[m]
	}
	return fmt.Sprintf("nearest(%d)", uint8(m))
}

// Resize2D resizes H and W of NHWC input (Keras UpSampling2D, ONNX Resize / Upsample)
// by nearest-neighbour or bilinear interpolation. The output is OutH x OutW when they
// are set (ONNX sizes), else floor(in*Scale) per axis; coordinates map back through
// Coord with Scale (ONNX uses the given scale, not out/in, when scales are given).
// Bilinear reads clamp to the edge, as TF and ONNX Runtime do.
type Resize2D struct {
	Info
	Linear         bool
	ScaleH, ScaleW float64
	OutH, OutW     int
	Coord          CoordMode
	Nearest        NearestMode
}

// maxResizeScale bounds scales read from files (output sizes are bounded by Check).
const maxResizeScale = 1 << 16

// OutputShape implements Layer.
func (l *Resize2D) OutputShape(in Shape) (Shape, error) {
	if err := wantRank(in, 3, "Resize2D"); err != nil {
		return nil, err
	}
	if int(l.Coord) >= len(coordNames) || int(l.Nearest) >= len(nearestNames) {
		return nil, errf(ErrInvalid, "coordinate mode %d / nearest mode %d", l.Coord, l.Nearest)
	}
	if !(l.ScaleH > 0 && l.ScaleH <= maxResizeScale && l.ScaleW > 0 && l.ScaleW <= maxResizeScale) {
		return nil, errf(ErrInvalid, "scales %g x %g out of range (0, %d]", l.ScaleH, l.ScaleW, maxResizeScale)
	}
	oh, ow := l.outSize(in)
	if oh <= 0 || ow <= 0 || oh > MaxElements || ow > MaxElements {
		return nil, errf(ErrShapeMismatch, "input %v resized to %dx%d", in, oh, ow)
	}
	return Shape{oh, ow, in[2]}, nil
}

func (l *Resize2D) outSize(in Shape) (oh, ow int) {
	if l.OutH != 0 || l.OutW != 0 {
		return l.OutH, l.OutW
	}
	return int(math.Floor(float64(in[0]) * l.ScaleH)), int(math.Floor(float64(in[1]) * l.ScaleW))
}

// ScratchLen implements Layer.
func (l *Resize2D) ScratchLen(Shape, int) int { return 0 }

// source maps output cell o of an axis (in cells in, out cells out, scale s) to a
// fractional input coordinate.
func (l *Resize2D) source(o, in, out int, s float64) float64 {
	x := float64(o)
	switch l.Coord {
	case CoordAsymmetric:
		return x / s
	case CoordPytorchHalfPixel:
		if out <= 1 {
			return 0
		}
		return (x+0.5)/s - 0.5
	case CoordAlignCorners:
		if out <= 1 {
			return 0
		}
		return x * float64(in-1) / float64(out-1)
	}
	return (x+0.5)/s - 0.5
}

// nearest rounds a source coordinate to a cell in [0, in).
func (l *Resize2D) nearest(x float64, in int) int {
	var i float64
	switch l.Nearest {
	case RoundPreferFloor:
		i = math.Ceil(x - 0.5)
	case RoundPreferCeil:
		i = math.Floor(x + 0.5)
	case RoundFloor:
		i = math.Floor(x)
	default:
		i = math.Ceil(x)
	}
	return int(min(max(i, 0), float64(in-1)))
}

// NearestCell is the input cell nearest output cell o of an axis of in cells resized
// to out with scale s (what Forward reads; runtime kernels build tables from it).
func (l *Resize2D) NearestCell(o, in, out int, s float64) int {
	return l.nearest(l.source(o, in, out, s), in)
}

// LinearCells are the two input cells output cell o of an axis interpolates between
// and the weight of the second (what Forward uses).
func (l *Resize2D) LinearCells(o, in, out int, s float64) (i0, i1 int, f float64) {
	return linearTaps(l.source(o, in, out, s), in)
}

// linearTaps returns the two cells and the weight of the second for a source coordinate.
func linearTaps(x float64, in int) (i0, i1 int, f float64) {
	x = min(max(x, 0), float64(in-1))
	i0 = int(math.Floor(x))
	i1 = min(i0+1, in-1)
	return i0, i1, x - float64(i0)
}

// Forward implements Layer.
func (l *Resize2D) Forward(dst, src, _ []float32, in Shape, batch int) {
	h, w, c := in[0], in[1], in[2]
	oh, ow := l.outSize(in)
	sh, sw := l.ScaleH, l.ScaleW
	for b := 0; b < batch; b++ {
		x := src[b*h*w*c : (b+1)*h*w*c]
		y := dst[b*oh*ow*c : (b+1)*oh*ow*c]
		for oy := 0; oy < oh; oy++ {
			fy := l.source(oy, h, oh, sh)
			for ox := 0; ox < ow; ox++ {
				fx := l.source(ox, w, ow, sw)
				d := y[(oy*ow+ox)*c:][:c]
				if !l.Linear {
					copy(d, x[(l.nearest(fy, h)*w+l.nearest(fx, w))*c:][:c])
					continue
				}
				y0, y1, wy := linearTaps(fy, h)
				x0, x1, wx := linearTaps(fx, w)
				p00, p01 := x[(y0*w+x0)*c:][:c], x[(y0*w+x1)*c:][:c]
				p10, p11 := x[(y1*w+x0)*c:][:c], x[(y1*w+x1)*c:][:c]
				for i := range d {
					top := float64(p00[i]) + wx*(float64(p01[i])-float64(p00[i]))
					bot := float64(p10[i]) + wx*(float64(p11[i])-float64(p10[i]))
					d[i] = float32(top + wy*(bot-top))
				}
			}
		}
	}
}

// Weights implements Layer.
func (l *Resize2D) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Resize2D) Config() string {
	mode := "nearest(" + l.Nearest.String() + ")"
	if l.Linear {
		mode = "linear"
	}
	return fmt.Sprintf("%s scale=%gx%g size=%dx%d coord=%v", mode, l.ScaleH, l.ScaleW, l.OutH, l.OutW, l.Coord)
}

// FLOPs implements Layer.
func (l *Resize2D) FLOPs(in Shape) int64 {
	out, err := l.OutputShape(in)
	if err != nil || !l.Linear {
		return 0
	}
	return 6 * int64(out.Size())
}
