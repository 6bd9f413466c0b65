package onnx

import (
	"math"

	"github.com/kinfer/kinfer/layers"
)

// opResize imports Resize (the importer reads opsets 11 and later) on N, C, H, W (or N, C, L)
// data as a layers.Resize2D: nearest or linear, scales or sizes from constants, the
// batch and channel axes unscaled.
func opResize(b *builder, n *node) error {
	d := b.d
	r := len(d.shape)
	if r != 4 && r != 3 {
		return n.errorf(layers.ErrUnsupported, "resize of a rank-%d tensor (needs N, C, H, W or N, C, L)", r)
	}
	var scales []float64
	var sizes []int
	readScales := func(t *tensor) error {
		if t == nil || t.size() == 0 {
			return nil
		}
		if t.isInt || t.size() != r {
			return n.errorf(layers.ErrInvalid, "scales of shape %v for rank %d", t.dims, r)
		}
		for _, v := range t.floats() {
			scales = append(scales, float64(v))
		}
		return nil
	}
	// X, roi, scales, sizes (Resize-11 and later; Upsample left the standard at opset 10)
	t, err := b.constIn(n, 2)
	if err != nil {
		return err
	}
	if err := readScales(t); err != nil {
		return err
	}
	if s, err := b.constIn(n, 3); err != nil {
		return err
	} else if s != nil && s.size() > 0 {
		if !s.isInt || s.size() != r || scales != nil {
			return n.errorf(layers.ErrInvalid, "sizes of shape %v for rank %d (with scales %v)", s.dims, r, scales)
		}
		for k, v := range s.ints() {
			if v <= 0 || v > layers.MaxElements {
				return n.errorf(layers.ErrInvalid, "sizes %v", s.ints())
			}
			// the batch entry comes from Shape(x) (batch-marked) or is the static batch
			if k == d.bAxis && (s.isBatchMarked(k) && v != int64(d.inner()) || !s.isBatchMarked(k) && v != int64(d.shape[k])) {
				return n.errorf(layers.ErrUnsupported, "sizes %v resize the batch axis", s.ints())
			}
			sizes = append(sizes, int(v))
		}
	}
	n.ignore("extrapolation_value") // used only by tf_crop_and_resize
	if n.int("exclude_outside", 0) != 0 {
		return n.errorf(layers.ErrUnsupported, "exclude_outside=1")
	}
	if n.int("antialias", 0) != 0 {
		return n.errorf(layers.ErrUnsupported, "antialias=1")
	}
	if n.has("axes") {
		return n.errorf(layers.ErrUnsupported, "attribute axes")
	}
	if p := n.str("keep_aspect_ratio_policy", "stretch"); p != "stretch" {
		return n.errorf(layers.ErrUnsupported, "keep_aspect_ratio_policy %q", p)
	}
	n.ignore("cubic_coeff_a")
	if scales == nil && sizes == nil {
		return n.errorf(layers.ErrInvalid, "neither scales nor sizes given")
	}
	if scales != nil && (scales[0] != 1 || scales[1] != 1) {
		return n.errorf(layers.ErrUnsupported, "scales %v resize the batch or channel axis", scales)
	}
	if sizes != nil && sizes[1] != d.shape[1] {
		return n.errorf(layers.ErrUnsupported, "sizes %v resize the channel axis of %v", sizes, d.shape)
	}
	l := &layers.Resize2D{Info: b.info(n.GetName(), n.GetOpType()), ScaleH: 1, ScaleW: 1}
	mode := n.str("mode", "nearest")
	switch mode {
	case "nearest":
	case "linear":
		l.Linear = true
	default:
		return n.errorf(layers.ErrUnsupported, "mode %q", mode)
	}
	switch cm := n.str("coordinate_transformation_mode", "half_pixel"); cm {
	case "half_pixel":
		l.Coord = layers.CoordHalfPixel
	case "asymmetric":
		l.Coord = layers.CoordAsymmetric
	case "pytorch_half_pixel":
		l.Coord = layers.CoordPytorchHalfPixel
	case "align_corners":
		l.Coord = layers.CoordAlignCorners
	default:
		return n.errorf(layers.ErrUnsupported, "coordinate_transformation_mode %q", cm)
	}
	switch nm := n.str("nearest_mode", "round_prefer_floor"); nm {
	case "round_prefer_floor":
		l.Nearest = layers.RoundPreferFloor
	case "round_prefer_ceil":
		l.Nearest = layers.RoundPreferCeil
	case "floor":
		l.Nearest = layers.RoundFloor
	case "ceil":
		l.Nearest = layers.RoundCeil
	default:
		return n.errorf(layers.ErrUnsupported, "nearest_mode %q", nm)
	}
	_, h, w, oneD, err := b.spatial(n)
	if err != nil {
		return err
	}
	in := []int{h, w}
	for k := 0; k < 2; k++ {
		ax := k + 2 // the ONNX axis of H (or W)
		if oneD {
			if k == 0 {
				continue
			}
			ax = 2
		}
		var s float64
		out := 0
		if scales != nil {
			s = scales[ax]
			if !(s > 0) || s > 1<<16 {
				return n.errorf(layers.ErrInvalid, "scales %v", scales)
			}
			out = int(math.Floor(float64(in[k]) * s))
		} else {
			out = sizes[ax]
			s = float64(out) / float64(in[k])
		}
		if k == 0 {
			l.ScaleH, l.OutH = s, out
		} else {
			l.ScaleW, l.OutW = s, out
		}
	}
	if oneD {
		l.OutH = 1
	}
	if err := b.emit(l); err != nil {
		return err
	}
	return b.spatialOut(n, oneD)
}
