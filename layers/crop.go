package layers

import "fmt"

// Crop2D removes rows and columns from the borders of NHWC input: Crops is top,
// bottom, left, right (each >= 0). ONNX Pad with negative pads imports as a Crop2D.
type Crop2D struct {
	Info
	Crops [4]int
}

// OutputShape implements Layer.
func (l *Crop2D) OutputShape(in Shape) (Shape, error) {
	if err := wantRank(in, 3, "Crop2D"); err != nil {
		return nil, err
	}
	for _, c := range l.Crops {
		if c < 0 {
			return nil, errf(ErrInvalid, "crops %v are negative", l.Crops)
		}
	}
	// compared one by one so that no sum overflows
	if l.Crops[0] >= in[0] || l.Crops[1] >= in[0]-l.Crops[0] || l.Crops[2] >= in[1] || l.Crops[3] >= in[1]-l.Crops[2] {
		return nil, errf(ErrShapeMismatch, "crops %v leave nothing of a %dx%d map", l.Crops, in[0], in[1])
	}
	return Shape{in[0] - l.Crops[0] - l.Crops[1], in[1] - l.Crops[2] - l.Crops[3], in[2]}, nil
}

// ScratchLen implements Layer.
func (l *Crop2D) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Crop2D) Forward(dst, src, _ []float32, in Shape, batch int) {
	h, w, c := in[0], in[1], in[2]
	oh, ow := h-l.Crops[0]-l.Crops[1], w-l.Crops[2]-l.Crops[3]
	for b := 0; b < batch; b++ {
		for y := 0; y < oh; y++ {
			i := ((b*h+y+l.Crops[0])*w + l.Crops[2]) * c
			o := (b*oh + y) * ow * c
			copy(dst[o:o+ow*c], src[i:i+ow*c])
		}
	}
}

// Weights implements Layer.
func (l *Crop2D) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Crop2D) Config() string { return fmt.Sprintf("crops=%v", l.Crops) }

// FLOPs implements Layer.
func (l *Crop2D) FLOPs(Shape) int64 { return 0 }
