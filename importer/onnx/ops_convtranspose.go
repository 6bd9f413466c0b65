package onnx

import "github.com/kinfer/kinfer/layers"

// opConvTranspose imports ConvTranspose (1-D and 2-D) as a layers.ConvTranspose2D on
// the NHWC layout. W is (C_in, C_out/group, kH, kW).
func opConvTranspose(b *builder, n *node) error {
	wt, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if n.in(0) != b.cur || wt == nil || wt.isInt || (len(wt.dims) != 4 && len(wt.dims) != 3) {
		return n.errorf(layers.ErrUnsupported, "transposed convolution needs data input and a constant 1-D or 2-D kernel")
	}
	if len(wt.dims) != len(b.d.shape) {
		return n.errorf(layers.ErrShapeMismatch, "kernel %v for input %v", wt.dims, b.d.shape)
	}
	groups := int(n.int("group", 1))
	c, h, w, oneD, err := b.spatial(n)
	if err != nil {
		return err
	}
	cin, fg := wt.dims[0], wt.dims[1]
	kernel := wt.dims[2:]
	if groups <= 0 || cin != c || c%groups != 0 {
		return n.errorf(layers.ErrShapeMismatch, "kernel %v, %d input channels, group %d", wt.dims, c, groups)
	}
	r := len(kernel)
	one := make([]int64, r)
	for k := range one {
		one[k] = 1
	}
	get := func(name string, def []int64, want, lo int) ([]int, error) {
		v := n.ints(name, def)
		if len(v) != want {
			return nil, n.errorf(layers.ErrInvalid, "%s %v for %d spatial axes", name, v, r)
		}
		out := make([]int, len(v))
		for k, x := range v {
			if x < int64(lo) || x > 1<<16 {
				return nil, n.errorf(layers.ErrInvalid, "%s %v", name, v)
			}
			out[k] = int(x)
		}
		return out, nil
	}
	ks, err := get("kernel_shape", toInt64(kernel), r, 1)
	if err != nil {
		return err
	}
	for k := range ks {
		if ks[k] != kernel[k] {
			return n.errorf(layers.ErrShapeMismatch, "kernel_shape %v disagrees with the weights %v", ks, kernel)
		}
	}
	st, err := get("strides", one, r, 1)
	if err != nil {
		return err
	}
	dl, err := get("dilations", one, r, 1)
	if err != nil {
		return err
	}
	op, err := get("output_padding", make([]int64, r), r, 0)
	if err != nil {
		return err
	}
	pads, err := get("pads", make([]int64, 2*r), 2*r, 0)
	if err != nil {
		return err
	}
	in := []int{h, w}[2-r:]
	var outShape []int
	if n.has("output_shape") {
		v := n.ints("output_shape", nil)
		if len(v) == r+2 { // some exporters include N and C
			v = v[2:]
		}
		if outShape, err = get("output_shape", v, r, 1); err != nil {
			return err
		}
	}
	ap := n.str("auto_pad", "NOTSET")
	switch ap {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return n.errorf(layers.ErrInvalid, "auto_pad %q", ap)
	}
	if ap == "VALID" {
		pads = make([]int, 2*r)
	}
	if outShape == nil && (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
		outShape = make([]int, r)
		for k := range outShape {
			outShape[k] = in[k] * st[k]
		}
	}
	if outShape != nil {
		// pads from the requested size, as ONNX Runtime places them: the odd cell at
		// the end for SAME_UPPER, at the start otherwise
		for k := 0; k < r; k++ {
			total := st[k]*(in[k]-1) + op[k] + (kernel[k]-1)*dl[k] + 1 - outShape[k]
			if total < 0 {
				return n.errorf(layers.ErrInvalid, "output_shape %v larger than the full result of input %v", outShape, in)
			}
			head := total - total/2
			if ap == "SAME_UPPER" {
				head = total / 2
			}
			pads[k], pads[k+r] = head, total-head
		}
	}
	l := &layers.ConvTranspose2D{Info: b.info(n.GetName(), "ConvTranspose"), KH: 1, KW: kernel[r-1], SH: 1, SW: st[r-1],
		DH: 1, DW: dl[r-1], In: c, Filters: fg * groups, Groups: groups}
	if oneD {
		l.Pads = [4]int{0, 0, pads[0], pads[1]}
		l.OutPad = [2]int{0, op[0]}
	} else {
		l.KH, l.SH, l.DH = kernel[0], st[0], dl[0]
		l.Pads = [4]int{pads[0], pads[2], pads[1], pads[3]}
		l.OutPad = [2]int{op[0], op[1]}
	}
	// (C_in, F/g, kh, kw) -> (C_in, kh, kw, F/g); C_in is already group-major
	taps := l.KH * l.KW
	wv := make([]float32, len(wt.f))
	for ci := 0; ci < cin; ci++ {
		for f := 0; f < fg; f++ {
			for t := 0; t < taps; t++ {
				wv[(ci*taps+t)*fg+f] = wt.f[(ci*fg+f)*taps+t]
			}
		}
	}
	l.W = wv
	if l.B, err = b.convBias(n, l.Filters); err != nil {
		return err
	}
	if err := b.emit(l); err != nil {
		return err
	}
	return b.spatialOut(n, oneD)
}
