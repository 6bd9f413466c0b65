package keras

import (
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// pairs reads a Keras cropping or padding value for n spatial axes: an integer (every
// side), a list of n integers (both sides of each axis), or a list of n pairs.
func pairs(v any, n int) ([]int, bool) {
	out := make([]int, 2*n)
	if x, ok := asInt(v); ok {
		for i := range out {
			out[i] = x
		}
		return out, x >= 0
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	if n == 1 && len(l) == 2 { // Cropping1D: (start, end)
		l = []any{l}
	}
	if len(l) != n {
		return nil, false
	}
	for i, e := range l {
		if x, ok := asInt(e); ok {
			out[2*i], out[2*i+1] = x, x
			continue
		}
		t, ok := e.([]any)
		if !ok || len(t) != 2 {
			return nil, false
		}
		for j, f := range t {
			x, ok := asInt(f)
			if !ok {
				return nil, false
			}
			out[2*i+j] = x
		}
	}
	for _, x := range out {
		if x < 0 {
			return nil, false
		}
	}
	return out, true
}

func buildCropping2D(b *builder, s *spec) error {
	df := b.dataFormat(s)
	v, ok := s.Conf.get("cropping")
	if !ok {
		v = 0.0
	}
	p, ok := pairs(v, 2)
	if !ok {
		return b.errf(layers.ErrInvalid, "cropping=%s", jsonText(v))
	}
	if err := b.confErr(s); err != nil {
		return err
	}
	if err := b.spatial(s, df); err != nil {
		return err
	}
	return b.emit(&layers.Crop{Info: info(s), Crops: [4]int{p[0], p[1], p[2], p[3]}}, nil)
}

func buildCropping1D(b *builder, s *spec) error {
	v, ok := s.Conf.get("cropping")
	if !ok {
		v = 1.0
	}
	p, ok := pairs(v, 1)
	if !ok {
		return b.errf(layers.ErrInvalid, "cropping=%s", jsonText(v))
	}
	if len(b.phys) != 2 {
		return b.errf(layers.ErrShapeMismatch, "expects a sequence input (steps, features) plus batch, got %v", b.logical())
	}
	if err := b.kerasLayout(); err != nil {
		return err
	}
	return b.emit(&layers.Crop{Info: info(s), Crops: [4]int{p[0], p[1], 0, 0}}, nil)
}

func buildUpSampling2D(b *builder, s *spec) error {
	c := s.Conf
	df := b.dataFormat(s)
	size := c.ints("size", 2, []int{2, 2})
	interp := strings.ToLower(c.str("interpolation", "nearest"))
	if err := b.confErr(s); err != nil {
		return err
	}
	if size[0] <= 0 || size[1] <= 0 || size[0] > 1<<16 || size[1] > 1<<16 {
		return b.errf(layers.ErrInvalid, "size %v", size)
	}
	l := &layers.Resize2D{Info: info(s), ScaleH: float64(size[0]), ScaleW: float64(size[1])}
	switch interp {
	case "nearest":
		// Keras repeats each pixel: x/scale rounded down.
		l.Coord, l.Nearest = layers.CoordAsymmetric, layers.RoundFloor
	case "bilinear":
		// tf.image.resize (Keras 3 and tf.keras): half-pixel centres, no antialiasing
		// when enlarging.
		l.Linear, l.Coord = true, layers.CoordHalfPixel
	default:
		return b.unsupported("interpolation", interp)
	}
	if err := b.spatial(s, df); err != nil {
		return err
	}
	return b.emit(l, nil)
}
