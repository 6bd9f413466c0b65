package onnx

import (
	"github.com/kinfer/kinfer/layers"
)

func opPad(b *builder, n *node) error {
	mode := n.str("mode", "constant")
	if mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap" {
		return n.errorf(layers.ErrUnsupported, "mode %q", mode)
	}
	var pads []int64
	var value float32
	if n.has("pads") {
		pads = n.ints("pads", nil)
		value = n.float("value", 0)
	} else {
		t, err := b.constIn(n, 1)
		if err != nil || t == nil {
			return n.errorf(layers.ErrUnsupported, "pads must be a constant")
		}
		pads = t.ints()
		if v, err := b.constIn(n, 2); err != nil {
			return err
		} else if v != nil && v.size() != 1 {
			return n.errorf(layers.ErrUnsupported, "non-scalar pad value")
		} else if v != nil {
			value = v.floats()[0]
		}
		if n.in(3) != "" {
			return n.errorf(layers.ErrUnsupported, "axes input")
		}
	}
	r := len(b.d.shape)
	if len(pads) != 2*r {
		return n.errorf(layers.ErrInvalid, "pads %v for rank %d", pads, r)
	}
	zero := true
	for _, p := range pads {
		zero = zero && p == 0
	}
	if zero {
		return b.setOut(n.out(0), b.d.clone())
	}
	if r == 5 && mode == "constant" && value == 0 && b.d.bAxis == 0 && pads3D(pads) {
		return opPad3D(b, n, pads) // ops_conv3d.go
	}
	if r != 4 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 || mode != "constant" || value != 0 || b.d.bAxis != 0 {
		return b.padRemap(n, mode, pads, value) // any axis, mode and value: a table
	}
	// ONNX order: H begin, W begin, H end, W end; layers order: top, bottom, left, right.
	hw := [4]int64{pads[2], pads[6], pads[3], pads[7]}
	var pad, crop [4]int
	for k, p := range hw {
		switch {
		case p > 1<<20 || p < -(1<<31):
			return n.errorf(layers.ErrUnsupported, "pads %v (at most 2^20 cells a side)", pads)
		case p < 0:
			crop[k] = int(-p) // negative pads crop (opset 11+)
		default:
			pad[k] = int(p)
		}
	}
	if _, _, _, _, err := b.spatial(n); err != nil {
		return err
	}
	if crop != [4]int{} {
		if err := b.emit(&layers.Crop{Info: b.info(n.GetName(), "Pad"), Crops: crop}); err != nil {
			return err
		}
	}
	if pad != [4]int{} {
		if err := b.emit(&layers.ZeroPad2D{Info: b.info(n.GetName(), "Pad"), Pads: pad}); err != nil {
			return err
		}
	}
	return b.spatialOut(n, false)
}

// padRemap imports Pad in any mode with any constant value: pads are ONNX's (begins,
// then ends, per axis); negative pads crop.
func (b *builder) padRemap(n *node, mode string, pads []int64, value float32) error {
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	r := len(d.shape)
	dims := make([]int, r)
	for k := range dims {
		if k == d.bAxis && (pads[k] != 0 || pads[k+r] != 0) {
			return n.errorf(layers.ErrUnsupported, "padding the batch axis")
		}
		if pads[k] > 1<<20 || pads[k+r] > 1<<20 || pads[k] < -(1<<20) || pads[k+r] < -(1<<20) {
			return n.errorf(layers.ErrUnsupported, "pads %v (at most 2^20 cells a side)", pads)
		}
		dims[k] = d.shape[k] + int(pads[k]+pads[k+r])
		if mode == "reflect" && (pads[k] >= int64(d.shape[k]) || pads[k+r] >= int64(d.shape[k])) && k != d.bAxis {
			return n.errorf(layers.ErrInvalid, "reflect pads %v on axis %d of size %d", pads, k, d.shape[k])
		}
	}
	return b.remapBy(n, n.out(0), dims, value, func(oc, ic []int) bool {
		for k := range oc {
			if k == d.bAxis {
				continue
			}
			v, size := oc[k]-int(pads[k]), d.shape[k]
			switch {
			case v >= 0 && v < size:
			case mode == "edge":
				v = min(max(v, 0), size-1)
			case mode == "reflect" && size > 1:
				for v < 0 || v >= size {
					if v < 0 {
						v = -v
					}
					if v >= size {
						v = 2*(size-1) - v
					}
				}
			case mode == "reflect":
				v = 0
			case mode == "wrap":
				v = ((v % size) + size) % size
			default:
				return false
			}
			ic[k] = v
		}
		return true
	})
}

// pads3D reports whether opPad3D takes pads: spatial (D, H, W) only, none negative.
func pads3D(pads []int64) bool {
	if pads[0] != 0 || pads[1] != 0 || pads[5] != 0 || pads[6] != 0 {
		return false
	}
	for _, p := range pads {
		if p < 0 {
			return false
		}
	}
	return true
}
