package onnx

import "github.com/kinfer/kinfer/layers"

// 5-D (N, C, D, H, W) Conv, MaxPool, AveragePool and GlobalAverage/MaxPool: the data is
// laid out (D, H, W, C) for layers.Conv3D / Pool3D / GlobalPool3D, and the output is
// again described as NCDHW, as spatial / spatialOut do for 2-D.

// is3D reports whether the current data is 5-D: the ops above branch on it.
func (b *builder) is3D() bool { return len(b.d.shape) == 5 }

// volume lays out the NCDHW data as (D, H, W, C) and returns C.
func (b *builder) volume(n *node) (int, error) {
	d := b.d
	if err := d.merged(n); err != nil {
		return 0, err
	}
	if d.bAxis != 0 || len(d.shape) != 5 {
		return 0, n.errorf(layers.ErrUnsupported, "input of shape %v (needs N, C, D, H, W)", d.shape)
	}
	c, dd, h, w := d.shape[1], d.shape[2], d.shape[3], d.shape[4]
	return c, b.materialize(transposeIdx([]int{c, dd, h, w}, []int{1, 2, 3, 0}), []int{dd, h, w, c}, n.GetName())
}

// volumeOut describes the layer just emitted (physical (D, H, W, C)) as NCDHW data.
func (b *builder) volumeOut(n *node) error {
	od, oh, ow, oc := b.phys[0], b.phys[1], b.phys[2], b.phys[3]
	nd := &dyn{bAxis: 0, shape: []int{b.d.shape[0], oc, od, oh, ow}}
	nd.idx = transposeIdx([]int{oc, od, oh, ow}, []int{1, 2, 3, 0})
	return b.setOut(n.out(0), nd)
}

// window3D reads kernel_shape, strides, dilations, pads, auto_pad and (pooling)
// ceil_mode for a 3-D window; kernel is the weights' (or kernel_shape's) size.
func (b *builder) window3D(n *node, kernel []int, pool bool) (layers.Window3D, error) {
	st, dl, pads, pad, err := windowAttrs(n, kernel)
	if err != nil {
		return layers.Window3D{}, err
	}
	w := layers.Window3D{KD: kernel[0], KH: kernel[1], KW: kernel[2], SD: st[0], SH: st[1], SW: st[2], DD: dl[0], DH: dl[1], DW: dl[2], Pad: pad}
	if pad == layers.PadExplicit {
		// ONNX pads are (d_begin, h_begin, w_begin, d_end, h_end, w_end).
		w.Pads = [6]int{pads[0], pads[3], pads[1], pads[4], pads[2], pads[5]}
	}
	if pool && n.int("ceil_mode", 0) != 0 && w.Pad != layers.PadSame && w.Pad != layers.PadSameLower {
		return b.ceilWindow3D(n, w)
	}
	return w, nil
}

// ceilWindow3D applies ceil_mode=1 to an explicitly padded or valid 3-D pooling window,
// as ceilWindow does for 2-D: the overhang of the last window goes into the end padding.
// That is exact for MaxPool (padding is -inf) and for AveragePool with
// count_include_pad=0 (its divisor counts input cells only); AveragePool with
// count_include_pad=1 divides by the window clipped to the declared padding, which the
// layer cannot express, and is refused where ceil changes the size.
func (b *builder) ceilWindow3D(n *node, w layers.Window3D) (layers.Window3D, error) {
	p := w.Pads
	k, s, dl := [3]int{w.KD, w.KH, w.KW}, [3]int{w.SD, w.SH, w.SW}, [3]int{w.DD, w.DH, w.DW}
	changed := false
	for a := 0; a < 3; a++ {
		in, pb, pe := b.d.shape[2+a], p[2*a], p[2*a+1]
		span := (k[a]-1)*dl[a] + 1
		tot := in + pb + pe - span
		if tot < 0 || tot%s[a] == 0 {
			continue // the window does not fit (an error later) or ceil = floor
		}
		out := tot/s[a] + 2
		if (out-1)*s[a] >= in+pb {
			out-- // a last window starting in the end padding is dropped
		}
		if extra := (out-1)*s[a] + span - (in + pb + pe); extra > 0 {
			if n.GetOpType() != "MaxPool" && n.int("count_include_pad", 0) != 0 {
				return w, n.errorf(layers.ErrUnsupported, "attribute ceil_mode=1 with count_include_pad=1 changes the output size here (supported for MaxPool and count_include_pad=0)")
			}
			p[2*a+1] += extra
			changed = true
		}
	}
	if changed {
		w.Pad, w.Pads = layers.PadExplicit, p
	}
	return w, nil
}

// opConv3D imports a Conv with a 5-D kernel (O, C/group, kD, kH, kW).
func opConv3D(b *builder, n *node) error {
	wt, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if n.in(0) != b.cur || wt == nil || wt.isInt || len(wt.dims) != 5 {
		return n.errorf(layers.ErrUnsupported, "3-D convolution needs data input and a constant 5-D kernel")
	}
	groups := int(n.int("group", 1))
	c, err := b.volume(n)
	if err != nil {
		return err
	}
	o, cg, kd, kh, kw := wt.dims[0], wt.dims[1], wt.dims[2], wt.dims[3], wt.dims[4]
	if groups <= 0 || c%groups != 0 || o%groups != 0 || cg != c/groups {
		return n.errorf(layers.ErrShapeMismatch, "kernel %v, %d input channels, group %d", wt.dims, c, groups)
	}
	win, err := b.window3D(n, []int{kd, kh, kw}, false)
	if err != nil {
		return err
	}
	// (O, C/g, kD, kH, kW) -> layers.Conv3D's (kD, kH, kW, C/g, O)
	w := make([]float32, len(wt.f))
	taps := kd * kh * kw
	for oi := 0; oi < o; oi++ {
		for ci := 0; ci < cg; ci++ {
			src := wt.f[(oi*cg+ci)*taps:][:taps]
			for t, v := range src {
				w[(t*cg+ci)*o+oi] = v
			}
		}
	}
	bias, err := b.convBias(n, o)
	if err != nil {
		return err
	}
	if err := b.emit(&layers.Conv3D{Info: b.info(n.GetName(), "Conv"), Window3D: win, In: c, Filters: o, Groups: groups, W: w, B: bias, Act: layers.ActLinear}); err != nil {
		return err
	}
	return b.volumeOut(n)
}

// opPool3D imports a 5-D MaxPool or AveragePool.
func opPool3D(b *builder, n *node) error {
	isMax := n.GetOpType() == "MaxPool"
	ks := n.ints("kernel_shape", nil)
	if _, err := b.volume(n); err != nil {
		return err
	}
	kernel, err := poolKernel(n, ks, 3)
	if err != nil {
		return err
	}
	win, err := b.window3D(n, kernel, true)
	if err != nil {
		return err
	}
	l := &layers.Pool3D{Info: b.info(n.GetName(), n.GetOpType()), Window3D: win, Max: isMax}
	if err := b.emitPool(n, l, isMax, &l.CountIncludePad); err != nil {
		return err
	}
	return b.volumeOut(n)
}

// opGlobalPool3D imports a 5-D GlobalAveragePool or GlobalMaxPool: (N, C, 1, 1, 1).
func opGlobalPool3D(b *builder, n *node) error {
	if _, err := b.volume(n); err != nil {
		return err
	}
	if err := b.emit(&layers.GlobalPool3D{Info: b.info(n.GetName(), n.GetOpType()), Max: n.GetOpType() == "GlobalMaxPool"}); err != nil {
		return err
	}
	return b.setOut(n.out(0), &dyn{shape: []int{b.d.shape[0], b.d.shape[1], 1, 1, 1}, bAxis: 0})
}

// opPad3D imports a constant zero Pad of 5-D data's D, H and W axes (torch exports
// AvgPool3d with count_include_pad=True as Pad + AveragePool) as two 2-D zero pads over
// free reshapes of the (D, H, W, C) layout: W over (D*H, W, C), then D and H together
// over (D, H, W*C). pads is ONNX's (N, C, D, H, W begins, then ends).
func opPad3D(b *builder, n *node, pads []int64) error {
	if pads[0] != 0 || pads[1] != 0 || pads[5] != 0 || pads[6] != 0 {
		return n.errorf(layers.ErrUnsupported, "pads %v (only spatial padding of N, C, D, H, W data)", pads)
	}
	var p [6]int // front, back, top, bottom, left, right
	for a := 0; a < 3; a++ {
		for k, v := range [2]int64{pads[2+a], pads[7+a]} {
			if v < 0 || v > 1<<20 {
				return n.errorf(layers.ErrUnsupported, "pads %v (0 to 2^20 cells a side for 5-D data)", pads)
			}
			p[2*a+k] = int(v)
		}
	}
	c, err := b.volume(n)
	if err != nil {
		return err
	}
	d, h, w := b.phys[0], b.phys[1], b.phys[2]
	name := n.GetName()
	if p[4] != 0 || p[5] != 0 {
		if err := b.reshapePhys([]int{d * h, w, c}, name+"/w"); err != nil {
			return err
		}
		if err := b.emit(&layers.ZeroPad2D{Info: b.info(name+"/w", "Pad"), Pads: [4]int{0, 0, p[4], p[5]}}); err != nil {
			return err
		}
		w += p[4] + p[5]
	}
	if p[0] != 0 || p[1] != 0 || p[2] != 0 || p[3] != 0 {
		if err := b.reshapePhys([]int{d, h, w * c}, name+"/dh"); err != nil {
			return err
		}
		if err := b.emit(&layers.ZeroPad2D{Info: b.info(name+"/dh", "Pad"), Pads: [4]int{p[0], p[1], p[2], p[3]}}); err != nil {
			return err
		}
		d, h = d+p[0]+p[1], h+p[2]+p[3]
	}
	if err := b.reshapePhys([]int{d, h, w, c}, name); err != nil {
		return err
	}
	return b.volumeOut(n)
}
