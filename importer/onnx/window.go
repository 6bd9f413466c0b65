package onnx

import "github.com/kinfer/kinfer/layers"

// Attribute readers shared by the 1-D, 2-D (ops.go) and 3-D (ops_conv3d.go) Conv and
// pooling imports.

// windowAttrs reads, for len(kernel) spatial axes, kernel_shape (which must match
// kernel, the weights' or pool's size), strides, dilations, pads (ONNX order: all
// begins, then all ends) and auto_pad: pad is PadExplicit for NOTSET with a nonzero pad.
func windowAttrs(n *node, kernel []int) (st, dl, pads []int, pad layers.Padding, err error) {
	r := len(kernel)
	one := make([]int64, r)
	for k := range one {
		one[k] = 1
	}
	get := func(name string, def []int64, want int) ([]int, error) {
		v := n.ints(name, def)
		if len(v) != want {
			return nil, n.errorf(layers.ErrInvalid, "%s %v for %d spatial axes", name, v, r)
		}
		out := make([]int, len(v))
		for k, x := range v {
			if x < 0 || x > 1<<20 {
				return nil, n.errorf(layers.ErrInvalid, "%s %v", name, v)
			}
			out[k] = int(x)
		}
		return out, nil
	}
	ks, err := get("kernel_shape", toInt64(kernel), r)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	for k := range ks {
		if ks[k] != kernel[k] {
			return nil, nil, nil, 0, n.errorf(layers.ErrShapeMismatch, "kernel_shape %v disagrees with the weights %v", ks, kernel)
		}
	}
	st, err = get("strides", one, r)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	dl, err = get("dilations", one, r)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	pads, err = get("pads", make([]int64, 2*r), 2*r)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	switch ap := n.str("auto_pad", "NOTSET"); ap {
	case "NOTSET":
		for _, v := range pads {
			if v != 0 {
				pad = layers.PadExplicit
			}
		}
	case "VALID":
		pad = layers.PadValid
	case "SAME_UPPER":
		pad = layers.PadSame
	case "SAME_LOWER":
		pad = layers.PadSameLower
	default:
		return nil, nil, nil, 0, n.errorf(layers.ErrInvalid, "auto_pad %q", ap)
	}
	return st, dl, pads, pad, nil
}

// poolKernel reads a pooling node's kernel_shape ks: want sizes, each positive.
func poolKernel(n *node, ks []int64, want int) ([]int, error) {
	if len(ks) != want {
		return nil, n.errorf(layers.ErrInvalid, "kernel_shape %v", ks)
	}
	kernel := make([]int, len(ks))
	for k, v := range ks {
		if v <= 0 || v > 1<<20 {
			return nil, n.errorf(layers.ErrInvalid, "kernel_shape %v", ks)
		}
		kernel[k] = int(v)
	}
	return kernel, nil
}

// emitPool emits the pooling layer l of a MaxPool (Y its only output; storage_order
// only concerns Indices) or an AveragePool (count_include_pad into *countIncludePad).
func (b *builder) emitPool(n *node, l layers.Layer, isMax bool, countIncludePad *bool) error {
	if isMax {
		n.ignore("storage_order")
		if err := b.onlyOutput(n, 0); err != nil {
			return err
		}
	} else {
		*countIncludePad = n.int("count_include_pad", 0) != 0
	}
	return b.emit(l)
}
