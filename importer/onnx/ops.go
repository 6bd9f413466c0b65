package onnx

import (
	"github.com/kinfer/kinfer/layers"
)

// handler imports one node on the data path (input b.cur) and sets b.cur to its
// output. Nodes reading several computed tensors go to handlersN (dag.go).
type handler func(b *builder, n *node) error

var handlers map[string]handler

func init() {
	handlers = map[string]handler{
		"Identity": opIdentity, "Dropout": opIdentity, "Cast": opIdentity,
		"Transpose": opTranspose, "Reshape": opReshape, "Flatten": opReshape,
		"Squeeze": opReshape, "Unsqueeze": opReshape, "Expand": opExpand,
		"Gemm": opGemm, "MatMul": opMatMul,
		"Add": opArith, "Sub": opArith, "Mul": opArith, "Div": opArith,
		"BatchNormalization": opBatchNorm,
		"Conv":               opConv, "MaxPool": opPool, "AveragePool": opPool,
		"GlobalAveragePool": opGlobalPool, "GlobalMaxPool": opGlobalPool, "Pad": opPad,
		"Relu": opAct, "LeakyRelu": opAct, "Sigmoid": opAct, "HardSigmoid": opAct,
		"Tanh": opAct, "Elu": opAct, "Selu": opAct, "Softplus": opAct, "Softsign": opAct,
		"Gelu": opAct, "HardSwish": opAct, "Clip": opAct, "Exp": opAct,
		"Softmax": opSoftmax, "LogSoftmax": opSoftmax,
		"Gather": opGather, "Slice": opSelect,
		"LSTM":               opLSTM,
		"GRU":                opGRU,
		"RNN":                opRNN,
		"ConvTranspose":      opConvTranspose,
		"Resize":             opResize,
		"LayerNormalization": opLayerNorm,
		"ReduceMean":         opReduce, "ReduceMax": opReduce, "ReduceSum": opReduce,
		"PRelu": opPRelu,

		"QuantizeLinear": opQuantize, "DequantizeLinear": opDequantize, "QLinearConv": opQLinearConv, "QLinearMatMul": opQLinearMatMul, "DynamicQuantizeLinear": opDynQuant, "QGemm": opQGemm, "QLinearGlobalAveragePool": opQLinearGlobalAveragePool, "QLinearLeakyRelu": opQLinearUnary, "QLinearSigmoid": opQLinearUnary, "QLinearAveragePool": opQLinearUnary, "DynamicQuantizeLSTM": opDynQuantLSTM, "QLinearAdd": opQLinearAdd, "QLinearMul": opQLinearMul, "QLinearSoftmax": opQLinearUnary, // ops_quant*.go
	}
	registerElementwise(handlers)
	registerRemap(handlers)
	registerSequence(handlers)
}

// constIn returns input k as a constant (nil, nil when the input is absent).
func (b *builder) constIn(n *node, k int) (*tensor, error) {
	name := n.in(k)
	if name == "" {
		return nil, nil
	}
	if t, ok := b.consts[name]; ok {
		return t, nil
	}
	return nil, n.errorf(layers.ErrUnsupported, "input %d (%q) must be a constant", k, name)
}

// onlyOutput checks that outputs other than k are unused.
func (b *builder) onlyOutput(n *node, k int) error {
	for j, o := range n.GetOutput() {
		if j != k && b.used(o) {
			return n.errorf(layers.ErrUnsupported, "output %d (%q) is used", j, o)
		}
	}
	return nil
}

func opTranspose(b *builder, n *node) error {
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	perm, err := permArg(n, len(d.shape))
	if err != nil {
		return err
	}
	nd := &dyn{shape: make([]int, len(perm))}
	oldNB := d.nb()
	nbPos := make([]int, len(d.shape)) // full axis -> nb axis
	j := 0
	for k := range d.shape {
		if k == d.bAxis {
			nbPos[k] = -1
			continue
		}
		nbPos[k] = j
		j++
	}
	var q []int
	for k, p := range perm {
		nd.shape[k] = d.shape[p]
		if p == d.bAxis {
			nd.bAxis = k
		} else {
			q = append(q, nbPos[p])
		}
	}
	m := transposeIndex32(oldNB, q) // new flat -> old flat
	isId := true
	for k, v := range m {
		if int(v) != k {
			isId = false
			break
		}
	}
	if isId {
		nd.idx = d.idx
	} else {
		minv := make([]int32, len(m)) // old flat -> new flat
		for k, v := range m {
			minv[v] = int32(k)
		}
		if d.idx == nil {
			nd.idx = normIdx(minv)
		} else {
			idx := make([]int32, len(d.idx))
			for k, v := range d.idx {
				idx[k] = minv[v]
			}
			nd.idx = normIdx(idx)
		}
	}
	return b.setOut(n.out(0), nd)
}

// newShape sets the data's ONNX shape after a reshape-like op, locating the batch axis.
func (b *builder) reshapeTo(n *node, dims []int, bAxis, bInner int) error {
	d := b.d
	if bAxis < 0 || bAxis >= len(dims) {
		return n.errorf(layers.ErrUnsupported, "reshape that merges the batch axis with others (%v to %v)", d.shape, dims)
	}
	if shapeSize(dims[:bAxis]) != shapeSize(d.shape[:d.bAxis]) {
		return n.errorf(layers.ErrUnsupported, "reshape that moves data across the batch axis (%v to %v)", d.shape, dims)
	}
	nd := &dyn{shape: dims, bAxis: bAxis, bInner: bInner, idx: d.idx}
	nd.shape[bAxis] = d.shape[d.bAxis]
	if nd.size() != d.size() {
		return n.errorf(layers.ErrShapeMismatch, "reshape of %v to %v changes the size", d.shape, dims)
	}
	return b.setOut(n.out(0), nd)
}

func opReshape(b *builder, n *node) error {
	d := b.d
	switch n.GetOpType() {
	case "Flatten":
		ax, err := normAxis(n, n.int("axis", 1), len(d.shape)+1)
		if err != nil {
			return err
		}
		if d.bAxis >= ax {
			return n.errorf(layers.ErrUnsupported, "flatten at axis %d with the batch at axis %d", ax, d.bAxis)
		}
		if d.bAxis != 0 {
			return n.errorf(layers.ErrUnsupported, "flatten with the batch at axis %d", d.bAxis)
		}
		return b.reshapeTo(n, []int{shapeSize(d.shape[:ax]), shapeSize(d.shape[ax:])}, 0, d.inner()*shapeSize(d.shape[1:ax]))
	case "Squeeze", "Unsqueeze":
		var ins []*tensor
		if n.in(1) != "" {
			t, err := b.constIn(n, 1)
			if err != nil {
				return err
			}
			ins = []*tensor{nil, t}
		}
		axes, err := axesArg(n, ins)
		if err != nil {
			return err
		}
		unsq := n.GetOpType() == "Unsqueeze"
		if !unsq && len(axes) == 0 { // squeeze all size-1 axes but the batch
			for k, v := range d.shape {
				if v == 1 && k != d.bAxis {
					axes = append(axes, int64(k))
				}
			}
		}
		dims, err := squeezeDims(n, d.shape, axes, unsq)
		if err != nil {
			return err
		}
		nb := remapAxisAfterSqueeze(d.shape, dims, d.bAxis, axes, unsq)
		if nb < 0 && b.staticBatch == 1 && d.inner() == 1 && len(dims) > 0 && dims[0] == 1 {
			nb = 0 // a static batch of 1 squeezed: the leading size-1 axis holds it (same data)
		}
		if nb < 0 {
			return n.errorf(layers.ErrUnsupported, "squeezing the batch axis (only a static batch of 1 before a size-1 axis)")
		}
		return b.reshapeTo(n, dims, nb, d.inner())
	}
	// Reshape
	s, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if s == nil || !s.isInt || len(s.dims) != 1 {
		return n.errorf(layers.ErrBadFile, "reshape target must be a 1-D integer constant")
	}
	allowZero := n.int("allowzero", 0) != 0
	t := s.i
	dims := make([]int, len(t))
	bAxis, free, bInner := -1, -1, 1
	known := 1
	for k, v := range t {
		switch {
		case s.isBatchMarked(k):
			if bAxis >= 0 || v <= 0 || v > int64(b.maxSample) {
				return n.errorf(layers.ErrUnsupported, "target with two batch entries")
			}
			bAxis, bInner = k, int(v)
			dims[k] = 1
			continue
		case v == 0 && !allowZero:
			if k >= len(d.shape) {
				return n.errorf(layers.ErrInvalid, "target %v copies a missing dimension", t)
			}
			if k == d.bAxis {
				bAxis, bInner = k, d.inner()
				dims[k] = 1
				continue
			}
			dims[k] = d.shape[k]
		case v == -1:
			if free >= 0 {
				return n.errorf(layers.ErrInvalid, "target %v has two -1", t)
			}
			free = k
			continue
		case v <= 0 || v > layers.MaxElements:
			return n.errorf(layers.ErrInvalid, "target %v", t)
		default:
			dims[k] = int(v)
		}
		if known > layers.MaxElements/dims[k] {
			return n.errorf(layers.ErrInvalid, "target %v too large", t)
		}
		known *= dims[k]
	}
	size := d.size()
	if free >= 0 {
		if known == 0 || size%(known*bInner) != 0 {
			return n.errorf(layers.ErrShapeMismatch, "cannot reshape %v to %v", d.shape, t)
		}
		if bAxis < 0 { // -1 absorbs the batch (and any rows merged with it)
			bAxis, dims[free], bInner = free, 1, size/known
		} else {
			dims[free] = size / (known * bInner)
		}
	}
	if bAxis < 0 && b.staticBatch > 0 { // a fixed-batch export spells the batch out
		for k, v := range dims {
			if v == b.staticBatch && known/v == size && shapeSize(dims[:k]) == shapeSize(d.shape[:d.bAxis]) {
				bAxis = k
				break
			}
		}
	}
	if bAxis < 0 && b.foldB > 1 && free < 0 && known == size && len(dims) > 0 && d.bAxis == 0 {
		bAxis, bInner, dims[0] = 0, dims[0], 1 // a folded batch: the leading axis holds the rows
	}
	if bAxis < 0 {
		return n.errorf(layers.ErrUnsupported, "reshape of %v to %v: cannot tell which axis is the batch", d.shape, t)
	}
	return b.reshapeTo(n, dims, bAxis, bInner)
}

// spatial prepares NCHW (or NCL) data for a 2-D layer: it makes the physical layout
// (H, W, C) and returns C, H, W.
func (b *builder) spatial(n *node) (c, h, w int, oneD bool, err error) {
	d := b.d
	if err := d.merged(n); err != nil {
		return 0, 0, 0, false, err
	}
	if d.bAxis != 0 || (len(d.shape) != 4 && len(d.shape) != 3) {
		return 0, 0, 0, false, n.errorf(layers.ErrUnsupported, "input of shape %v (needs N, C, H, W or N, C, L)", d.shape)
	}
	if len(d.shape) == 3 {
		c, h, w, oneD = d.shape[1], 1, d.shape[2], true
		err = b.materialize(transposeIdx([]int{c, w}, []int{1, 0}), []int{1, w, c}, n.GetName())
		return
	}
	c, h, w = d.shape[1], d.shape[2], d.shape[3]
	err = b.materialize(transposeIdx([]int{c, h, w}, []int{1, 2, 0}), []int{h, w, c}, n.GetName())
	return
}

// spatialOut sets the data to the NCHW value of the layer just emitted (physical
// (H, W, C)).
func (b *builder) spatialOut(n *node, oneD bool) error {
	oh, ow, oc := b.phys[0], b.phys[1], b.phys[2]
	nd := &dyn{bAxis: 0}
	if oneD {
		nd.shape = []int{b.d.shape[0], oc, ow}
		nd.idx = transposeIdx([]int{oc, ow}, []int{1, 0})
	} else {
		nd.shape = []int{b.d.shape[0], oc, oh, ow}
		nd.idx = transposeIdx([]int{oc, oh, ow}, []int{1, 2, 0})
	}
	return b.setOut(n.out(0), nd)
}

// window reads kernel_shape, strides, dilations, pads and auto_pad.
func (b *builder) window(n *node, kernel []int, oneD bool, pool bool) (layers.Window, error) {
	st, dl, pads, pad, err := windowAttrs(n, kernel)
	if err != nil {
		return layers.Window{}, err
	}
	r := len(kernel)
	w := layers.Window{KH: 1, KW: kernel[r-1], SH: 1, SW: st[r-1], DH: 1, DW: dl[r-1], Pad: pad}
	var p [4]int
	if oneD {
		p = [4]int{0, 0, pads[0], pads[1]}
	} else {
		w.KH, w.SH, w.DH = kernel[0], st[0], dl[0]
		p = [4]int{pads[0], pads[2], pads[1], pads[3]}
	}
	if pad == layers.PadExplicit {
		w.Pads = p
	}
	if pool && n.int("ceil_mode", 0) != 0 && w.Pad != layers.PadSame && w.Pad != layers.PadSameLower {
		return b.ceilWindow(n, w, oneD)
	}
	return w, nil
}

// ceilWindow applies ceil_mode=1 to an explicitly padded or valid pooling window:
// out = ceil((in + pads - span) / stride) + 1, less a last window that would start in
// the end padding (ONNX Runtime and PyTorch drop it). For MaxPool the extra cells
// the last window overhangs are added to the end padding, which pads with -inf and so
// changes nothing else; AveragePool keeps the error where ceil changes the size.
func (b *builder) ceilWindow(n *node, w layers.Window, oneD bool) (layers.Window, error) {
	type ax struct{ in, k, s, d, before, after *int }
	p := w.Pads
	axes := []ax{{&b.d.shape[len(b.d.shape)-1], &w.KW, &w.SW, &w.DW, &p[2], &p[3]}}
	if !oneD {
		axes = append(axes, ax{&b.d.shape[2], &w.KH, &w.SH, &w.DH, &p[0], &p[1]})
	}
	changed := false
	for _, a := range axes {
		in, s, pb, pe := *a.in, *a.s, *a.before, *a.after
		span := (*a.k-1)**a.d + 1
		tot := in + pb + pe - span
		if tot < 0 || tot%s == 0 {
			continue // the window does not fit (an error later) or ceil = floor
		}
		out := tot/s + 2
		if (out-1)*s >= in+pb {
			out--
		}
		if extra := (out-1)*s + span - (in + pb + pe); extra > 0 {
			if n.GetOpType() != "MaxPool" {
				return w, n.errorf(layers.ErrUnsupported, "attribute ceil_mode=1 changes the output size here (supported for MaxPool)")
			}
			*a.after += extra
			changed = true
		}
	}
	if changed {
		w.Pad, w.Pads = layers.PadExplicit, p
	}
	return w, nil
}

func toInt64(v []int) []int64 {
	out := make([]int64, len(v))
	for k, x := range v {
		out[k] = int64(x)
	}
	return out
}

func opConv(b *builder, n *node) error {
	if b.is3D() {
		return opConv3D(b, n) // ops_conv3d.go
	}
	wt, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if n.in(0) != b.cur || wt == nil || wt.isInt || (len(wt.dims) != 4 && len(wt.dims) != 3) {
		return n.errorf(layers.ErrUnsupported, "convolution needs data input and a constant 1-D or 2-D kernel")
	}
	if len(wt.dims) != len(b.d.shape) {
		return n.errorf(layers.ErrShapeMismatch, "kernel %v for input %v", wt.dims, b.d.shape)
	}
	groups := int(n.int("group", 1))
	c, _, _, oneD, err := b.spatial(n)
	if err != nil {
		return err
	}
	o, cg := wt.dims[0], wt.dims[1]
	kh, kw := 1, wt.dims[2]
	kernel := []int{kw}
	if !oneD {
		kh, kw = wt.dims[2], wt.dims[3]
		kernel = []int{kh, kw}
	}
	if groups <= 0 || c%groups != 0 || o%groups != 0 || cg != c/groups {
		return n.errorf(layers.ErrShapeMismatch, "kernel %v, %d input channels, group %d", wt.dims, c, groups)
	}
	win, err := b.window(n, kernel, oneD, false)
	if err != nil {
		return err
	}
	w := make([]float32, len(wt.f))
	for oi := 0; oi < o; oi++ {
		for ci := 0; ci < cg; ci++ {
			for y := 0; y < kh; y++ {
				for x := 0; x < kw; x++ {
					w[((y*kw+x)*cg+ci)*o+oi] = wt.f[((oi*cg+ci)*kh+y)*kw+x]
				}
			}
		}
	}
	bias, err := b.convBias(n, o)
	if err != nil {
		return err
	}
	if err := b.emit(&layers.Conv2D{Info: b.info(n.GetName(), "Conv"), Window: win, In: c, Filters: o, Groups: groups, W: w, B: bias, Act: layers.ActLinear}); err != nil {
		return err
	}
	return b.spatialOut(n, oneD)
}

func opPool(b *builder, n *node) error {
	if b.is3D() {
		return opPool3D(b, n) // ops_conv3d.go
	}
	isMax := n.GetOpType() == "MaxPool"
	ks := n.ints("kernel_shape", nil)
	_, _, _, oneD, err := b.spatial(n)
	if err != nil {
		return err
	}
	want := 2
	if oneD {
		want = 1
	}
	kernel, err := poolKernel(n, ks, want)
	if err != nil {
		return err
	}
	win, err := b.window(n, kernel, oneD, true)
	if err != nil {
		return err
	}
	l := &layers.Pool2D{Info: b.info(n.GetName(), n.GetOpType()), Window: win, Max: isMax}
	if err := b.emitPool(n, l, isMax, &l.CountIncludePad); err != nil {
		return err
	}
	return b.spatialOut(n, oneD)
}

func opGlobalPool(b *builder, n *node) error {
	if b.is3D() {
		return opGlobalPool3D(b, n) // ops_conv3d.go
	}
	_, _, _, _, err := b.spatial(n)
	if err != nil {
		return err
	}
	if err := b.emit(&layers.GlobalPool2D{Info: b.info(n.GetName(), n.GetOpType()), Max: n.GetOpType() == "GlobalMaxPool"}); err != nil {
		return err
	}
	nd := &dyn{shape: append([]int(nil), b.d.shape...), bAxis: 0}
	for k := 2; k < len(nd.shape); k++ {
		nd.shape[k] = 1
	}
	return b.setOut(n.out(0), nd)
}

func opSoftmax(b *builder, n *node) error {
	d := b.d
	kind := layers.Softmax
	if n.GetOpType() == "LogSoftmax" {
		kind = layers.LogSoftmax
	}
	if err := d.merged(n); err != nil {
		return err
	}
	r := len(d.shape)
	def := int64(-1)
	if b.opset < 13 {
		def = 1
	}
	ax, err := normAxis(n, n.int("axis", def), r)
	if err != nil {
		return err
	}
	var k int
	if b.opset < 13 || ax == r-1 { // rows of the flattened trailing axes
		if d.bAxis >= ax {
			return n.errorf(layers.ErrUnsupported, "softmax over the batch axis")
		}
		k = shapeSize(d.shape[ax:])
		rows := d.size() / k
		ok := d.idx == nil
		if !ok {
			ok = true
			for j := 0; j < rows*k && ok; j++ {
				ok = d.idx[j]/int32(k) == d.idx[j-j%k]/int32(k)
			}
		}
		if !ok {
			if err := b.materialize(nil, b.phys, n.GetName()); err != nil {
				return err
			}
		}
	} else {
		if ax == d.bAxis {
			return n.errorf(layers.ErrUnsupported, "softmax over the batch axis")
		}
		nb := d.nb()
		a := ax
		if d.bAxis < ax {
			a--
		}
		var perm []int
		for j := range nb {
			if j != a {
				perm = append(perm, j)
			}
		}
		perm = append(perm, a)
		k = nb[a]
		if err := b.materialize(transposeIdx(nb, perm), b.phys, n.GetName()); err != nil {
			return err
		}
	}
	if b.phys.Last() != k {
		t := []int{d.size() / k, k}
		if t[0] == 1 {
			t = t[1:]
		}
		if err := b.reshapePhys(t, n.GetName()); err != nil {
			return err
		}
	}
	var l layers.Layer = &layers.ActivationLayer{Info: b.info(n.GetName(), n.GetOpType()), Act: layers.Activation{Kind: kind}}
	if n.GetOpType() == "Hardmax" {
		l = &layers.Hardmax{Info: b.info(n.GetName(), "Hardmax")}
	}
	if err := b.emit(l); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}

// convBias reads a Conv node's optional bias (input 2): a constant of o floats, nil
// when absent.
func (b *builder) convBias(n *node, o int) ([]float32, error) {
	bt, err := b.constIn(n, 2)
	if err != nil || bt == nil {
		return nil, err
	}
	if len(bt.dims) != 1 || bt.dims[0] != o || bt.isInt {
		return nil, n.errorf(layers.ErrShapeMismatch, "bias of shape %v for %d filters", bt.dims, o)
	}
	return append([]float32(nil), bt.f...), nil
}
