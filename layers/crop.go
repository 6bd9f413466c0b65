package layers

import "fmt"

// Crop removes cells from the edges of the spatial axes (Keras Cropping1D and
// Cropping2D). On (H, W, C) input Crops is top, bottom, left, right; on (T, C) input
// (Cropping1D) it is start, end, 0, 0.
type Crop struct {
	Info
	Crops [4]int
}

// OutputShape implements Layer.
func (l *Crop) OutputShape(in Shape) (Shape, error) {
	for _, p := range l.Crops {
		if p < 0 || p > MaxElements {
			return nil, errf(ErrInvalid, "cropping %v out of range", l.Crops)
		}
	}
	switch len(in) {
	case 2:
		if l.Crops[2] != 0 || l.Crops[3] != 0 {
			return nil, errf(ErrInvalid, "cropping %v on a sequence (T, C) crops only T", l.Crops)
		}
		if t := in[0] - l.Crops[0] - l.Crops[1]; t > 0 {
			return Shape{t, in[1]}, nil
		}
	case 3:
		h, w := in[0]-l.Crops[0]-l.Crops[1], in[1]-l.Crops[2]-l.Crops[3]
		if h > 0 && w > 0 {
			return Shape{h, w, in[2]}, nil
		}
	default:
		return nil, errf(ErrShapeMismatch, "Crop expects input (T, C) or (H, W, C) plus batch, got %v", in)
	}
	return nil, errf(ErrShapeMismatch, "cropping %v leaves nothing of input %v", l.Crops, in)
}

// ScratchLen implements Layer.
func (l *Crop) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Crop) Forward(dst, src, _ []float32, in Shape, batch int) {
	h, w, c := 1, in[0], in[1] // a sequence is one row of T cells
	top, left, right := 0, l.Crops[0], l.Crops[1]
	if len(in) == 3 {
		h, w, c = in[0], in[1], in[2]
		top, left, right = l.Crops[0], l.Crops[2], l.Crops[3]
	}
	oh, ow := h-top, w-left-right
	if len(in) == 3 {
		oh -= l.Crops[1]
	}
	row := ow * c
	for b := 0; b < batch; b++ {
		for y := 0; y < oh; y++ {
			i := ((b*h+y+top)*w + left) * c
			o := (b*oh + y) * row
			copy(dst[o:o+row], src[i:i+row])
		}
	}
}

// Weights implements Layer.
func (l *Crop) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Crop) Config() string { return fmt.Sprintf("crops=%v", l.Crops) }

// FLOPs implements Layer.
func (l *Crop) FLOPs(Shape) int64 { return 0 }
