package onnx

import (
	"math"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
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

func opIdentity(b *builder, n *node) error {
	switch n.GetOpType() {
	case "Dropout":
		n.ignore("seed", "ratio")
		if t, err := b.constIn(n, 2); err != nil || (t != nil && t.ints()[0] != 0) {
			return n.errorf(layers.ErrUnsupported, "training_mode must be a constant false")
		}
		if err := b.onlyOutput(n, 0); err != nil {
			return err
		}
	case "Cast":
		to := onnxpb.TensorProto_DataType(n.int("to", 0))
		n.ignore("saturate", "round_mode")
		if to == onnxpb.TensorProto_FLOAT16 {
			return opCastHalf(b, n) // ops_quant_op.go
		}
		if to != onnxpb.TensorProto_FLOAT {
			return n.errorf(layers.ErrUnsupported, "cast of the data to %v", to)
		}
	}
	return b.setOut(n.out(0), b.d.clone())
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
		if nb < 0 {
			return n.errorf(layers.ErrUnsupported, "squeezing the batch axis")
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
	if bAxis < 0 {
		return n.errorf(layers.ErrUnsupported, "reshape of %v to %v: cannot tell which axis is the batch", d.shape, t)
	}
	return b.reshapeTo(n, dims, bAxis, bInner)
}

func opExpand(b *builder, n *node) error {
	s, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	dims, _, err := shapeArg(n, s)
	if err != nil {
		return err
	}
	out, ok := broadcastDims(b.d.shape, dims)
	if !ok || len(out) != len(b.d.shape) {
		return n.errorf(layers.ErrUnsupported, "expanding the data from %v by %v", b.d.shape, dims)
	}
	for k := range out {
		if k != b.d.bAxis && out[k] != b.d.shape[k] {
			return n.errorf(layers.ErrUnsupported, "expanding the data from %v by %v", b.d.shape, dims)
		}
	}
	return b.setOut(n.out(0), b.d.clone())
}

// dense emits a Dense layer acting on the last ONNX axis with W (K x N, row-major).
func (b *builder) dense(n *node, w []float32, k, units int, bias []float32) error {
	d := b.d
	last := len(d.shape) - 1
	if last < 0 || d.bAxis == last {
		return n.errorf(layers.ErrUnsupported, "matrix product over the batch axis")
	}
	if d.shape[last] != k {
		return n.errorf(layers.ErrShapeMismatch, "input %v does not end in %d features", d.shape, k)
	}
	size := d.size()
	rows := size / k
	var pi []int32 // physical column c holds logical column pi[c]
	var rowOf []int32
	if d.idx != nil {
		pi = make([]int32, k)
		rowOf = make([]int32, rows)
		ok := true
		for c := 0; c < k; c++ {
			pi[c] = d.idx[c] % int32(k)
		}
		for r := 0; r < rows && ok; r++ {
			rowOf[r] = d.idx[r*k] / int32(k)
			for c := 0; c < k; c++ {
				v := d.idx[r*k+c]
				if v/int32(k) != rowOf[r] || v%int32(k) != pi[c] {
					ok = false
					break
				}
			}
		}
		if !ok {
			if err := b.materialize(nil, b.phys, n.GetName()); err != nil {
				return err
			}
			pi, rowOf = nil, nil
		}
	}
	wl := w
	if pi != nil && !isIdentity(pi) {
		wl = make([]float32, len(w))
		for c := 0; c < k; c++ {
			copy(wl[c*units:(c+1)*units], w[int(pi[c])*units:(int(pi[c])+1)*units])
		}
	}
	if b.phys.Last() != k {
		t := []int{rows, k}
		if rows == 1 {
			t = []int{k}
		}
		if err := b.reshapePhys(t, n.GetName()); err != nil {
			return err
		}
	}
	if err := b.emit(&layers.Dense{Info: b.info(n.GetName(), n.GetOpType()), In: k, Units: units, W: wl, B: bias, Act: layers.ActLinear}); err != nil {
		return err
	}
	nd := d.clone()
	nd.shape[last] = units
	nd.idx = nil
	if rowOf != nil && !isIdentity(rowOf) {
		idx := make([]int32, rows*units)
		for r := 0; r < rows; r++ {
			for o := 0; o < units; o++ {
				idx[r*units+o] = rowOf[r]*int32(units) + int32(o)
			}
		}
		nd.idx = idx
	}
	return b.setOut(n.out(0), nd)
}

func opGemm(b *builder, n *node) error {
	if n.in(0) != b.cur {
		return n.errorf(layers.ErrUnsupported, "the data must be input A")
	}
	if n.int("transA", 0) != 0 {
		return n.errorf(layers.ErrUnsupported, "transA=1 on the data")
	}
	transB := n.int("transB", 0) != 0
	alpha, beta := n.float("alpha", 1), n.float("beta", 1)
	if len(b.d.shape) != 2 || b.d.bAxis != 0 {
		return n.errorf(layers.ErrUnsupported, "input of shape %v (Gemm takes a batch of vectors)", b.d.shape)
	}
	wt, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if wt == nil || len(wt.dims) != 2 || wt.isInt || wt.bAxis >= 0 {
		return n.errorf(layers.ErrBadFile, "B must be a float matrix")
	}
	k, units := wt.dims[0], wt.dims[1]
	if transB {
		k, units = units, k
	}
	w := make([]float32, k*units)
	for i := 0; i < k; i++ {
		for j := 0; j < units; j++ {
			v := wt.f[i*units+j]
			if transB {
				v = wt.f[j*k+i]
			}
			w[i*units+j] = alpha * v
		}
	}
	var bias []float32
	if c, err := b.constIn(n, 2); err != nil {
		return err
	} else if c != nil {
		dims, ok := broadcastDims(c.dims, []int{1, units})
		if !ok || len(dims) != 2 || dims[0] != 1 || c.hasBatch() {
			return n.errorf(layers.ErrUnsupported, "C of shape %v (only a per-unit bias)", c.dims)
		}
		ci := broadcastIndex([]int{units}, c.dims[max(0, len(c.dims)-1):])
		if len(c.dims) == 0 {
			ci = make([]int, units)
		}
		cf := c.floats()
		bias = make([]float32, units)
		for j := range bias {
			bias[j] = beta * cf[ci[j]]
		}
	}
	return b.dense(n, w, k, units, bias)
}

func opMatMul(b *builder, n *node) error {
	if n.in(0) != b.cur {
		return n.errorf(layers.ErrUnsupported, "constant times data (the data must be the left operand)")
	}
	wt, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	if wt == nil {
		return n.errorf(layers.ErrBadFile, "missing right operand")
	}
	if len(wt.dims) != 2 || wt.isInt || wt.bAxis >= 0 {
		return n.errorf(layers.ErrUnsupported, "right operand of shape %v (a weight matrix is needed)", wt.dims)
	}
	if len(b.d.shape) < 2 {
		return n.errorf(layers.ErrUnsupported, "data of rank %d", len(b.d.shape))
	}
	return b.dense(n, append([]float32(nil), wt.f...), wt.dims[0], wt.dims[1], nil)
}

func opArith(b *builder, n *node) error {
	op := n.GetOpType()
	constFirst := n.in(0) != b.cur
	k := 1
	if constFirst {
		k = 0
	}
	c, err := b.constIn(n, k)
	if err != nil {
		return err
	}
	if c == nil {
		return n.errorf(layers.ErrBadFile, "missing operand")
	}
	if out, ok := broadcastDims(b.d.shape, c.dims); !ok || len(out) != len(b.d.shape) {
		return n.errorf(layers.ErrUnsupported, "constant of shape %v grows the data %v", c.dims, b.d.shape)
	}
	v, err := b.expand(n, c)
	if err != nil {
		return err
	}
	scale, shift := make([]float32, len(v)), make([]float32, len(v))
	for j, cv := range v {
		switch {
		case op == "Add":
			scale[j], shift[j] = 1, cv
		case op == "Sub" && !constFirst:
			scale[j], shift[j] = 1, -cv
		case op == "Sub":
			scale[j], shift[j] = -1, cv
		case op == "Mul":
			scale[j] = cv
		case op == "Div" && !constFirst:
			scale[j] = 1 / cv
		default:
			return n.errorf(layers.ErrUnsupported, "constant divided by the data")
		}
	}
	if err := b.affine(n, scale, shift, 0); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}

func opBatchNorm(b *builder, n *node) error {
	eps := n.float("epsilon", 1e-5)
	n.ignore("momentum")
	if n.int("training_mode", 0) != 0 {
		return n.errorf(layers.ErrUnsupported, "training_mode=1")
	}
	if n.has("spatial") && n.int("spatial", 1) != 1 {
		return n.errorf(layers.ErrUnsupported, "spatial=0")
	}
	if err := b.onlyOutput(n, 0); err != nil {
		return err
	}
	var p [4][]float32
	for k := range p {
		t, err := b.constIn(n, k+1)
		if err != nil {
			return err
		}
		if t == nil || len(t.dims) != 1 || t.isInt {
			return n.errorf(layers.ErrBadFile, "input %d must be a 1-D float constant", k+1)
		}
		p[k] = t.f
	}
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	if d.bAxis != 0 || len(d.shape) < 2 {
		return n.errorf(layers.ErrUnsupported, "input of shape %v with the batch at axis %d", d.shape, d.bAxis)
	}
	s, t, err := layers.FoldBatchNorm(p[0], p[1], p[2], p[3], float64(eps))
	if err != nil {
		return n.wrap(err)
	}
	ch := len(s)
	if d.shape[1] != ch {
		return n.errorf(layers.ErrShapeMismatch, "%d channels in the statistics, input %v", ch, d.shape)
	}
	dims := make([]int, len(d.shape)-1)
	for k := range dims {
		dims[k] = 1
	}
	dims[0] = ch
	sv, err := b.expand(n, newFloat(dims, s))
	if err != nil {
		return err
	}
	tv, err := b.expand(n, newFloat(dims, t))
	if err != nil {
		return err
	}
	if err := b.affine(n, sv, tv, int64(4*ch)); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
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
		return layers.Window{}, err
	}
	for k := range ks {
		if ks[k] != kernel[k] {
			return layers.Window{}, n.errorf(layers.ErrShapeMismatch, "kernel_shape %v disagrees with the weights %v", ks, kernel)
		}
	}
	st, err := get("strides", one, r)
	if err != nil {
		return layers.Window{}, err
	}
	dl, err := get("dilations", one, r)
	if err != nil {
		return layers.Window{}, err
	}
	pads, err := get("pads", make([]int64, 2*r), 2*r)
	if err != nil {
		return layers.Window{}, err
	}
	w := layers.Window{KH: 1, KW: kernel[r-1], SH: 1, SW: st[r-1], DH: 1, DW: dl[r-1]}
	var p [4]int
	if oneD {
		p = [4]int{0, 0, pads[0], pads[1]}
	} else {
		w.KH, w.SH, w.DH = kernel[0], st[0], dl[0]
		p = [4]int{pads[0], pads[2], pads[1], pads[3]}
	}
	switch ap := n.str("auto_pad", "NOTSET"); ap {
	case "NOTSET":
		if p != [4]int{} {
			w.Pad, w.Pads = layers.PadExplicit, p
		}
	case "VALID":
	case "SAME_UPPER":
		w.Pad = layers.PadSame
	case "SAME_LOWER":
		w.Pad = layers.PadSameLower
	default:
		return w, n.errorf(layers.ErrInvalid, "auto_pad %q", ap)
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
	var bias []float32
	if bt, err := b.constIn(n, 2); err != nil {
		return err
	} else if bt != nil {
		if len(bt.dims) != 1 || bt.dims[0] != o || bt.isInt {
			return n.errorf(layers.ErrShapeMismatch, "bias of shape %v for %d filters", bt.dims, o)
		}
		bias = append([]float32(nil), bt.f...)
	}
	if err := b.emit(&layers.Conv2D{Info: b.info(n.GetName(), "Conv"), Window: win, In: c, Filters: o, Groups: groups, W: w, B: bias, Act: layers.ActLinear}); err != nil {
		return err
	}
	return b.spatialOut(n, oneD)
}

func opPool(b *builder, n *node) error {
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
	if len(ks) != want {
		return n.errorf(layers.ErrInvalid, "kernel_shape %v", ks)
	}
	kernel := make([]int, len(ks))
	for k, v := range ks {
		if v <= 0 || v > 1<<20 {
			return n.errorf(layers.ErrInvalid, "kernel_shape %v", ks)
		}
		kernel[k] = int(v)
	}
	win, err := b.window(n, kernel, oneD, true)
	if err != nil {
		return err
	}
	l := &layers.Pool2D{Info: b.info(n.GetName(), n.GetOpType()), Window: win, Max: isMax}
	if isMax {
		n.ignore("storage_order")
		if err := b.onlyOutput(n, 0); err != nil {
			return err
		}
	} else {
		l.CountIncludePad = n.int("count_include_pad", 0) != 0
	}
	if err := b.emit(l); err != nil {
		return err
	}
	return b.spatialOut(n, oneD)
}

func opGlobalPool(b *builder, n *node) error {
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

func opPad(b *builder, n *node) error {
	if mode := n.str("mode", "constant"); mode != "constant" {
		return n.errorf(layers.ErrUnsupported, "mode %q", mode)
	}
	var pads []int64
	if n.has("pads") {
		pads = n.ints("pads", nil)
		if v := n.float("value", 0); v != 0 {
			return n.errorf(layers.ErrUnsupported, "pad value %g", v)
		}
	} else {
		t, err := b.constIn(n, 1)
		if err != nil || t == nil {
			return n.errorf(layers.ErrUnsupported, "pads must be a constant")
		}
		pads = t.ints()
		if v, err := b.constIn(n, 2); err != nil {
			return err
		} else if v != nil && (v.size() != 1 || v.floats()[0] != 0) {
			return n.errorf(layers.ErrUnsupported, "non-zero pad value")
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
	if r != 4 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		return n.errorf(layers.ErrUnsupported, "pads %v (only spatial padding of N, C, H, W data)", pads)
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

// actFor maps an ONNX activation op (with its attributes) onto layers.Activation.
func (b *builder) actFor(n *node) (layers.Activation, error) {
	inf := float32(math.Inf(1))
	switch op := n.GetOpType(); op {
	case "Relu":
		return layers.ActReLU, nil
	case "LeakyRelu":
		return layers.LeakyReLU(n.float("alpha", 0.01)), nil
	case "Sigmoid":
		return layers.Activation{Kind: layers.Sigmoid}, nil
	case "HardSigmoid":
		return layers.Activation{Kind: layers.HardSigmoid, Alpha: n.float("alpha", 0.2), Beta: n.float("beta", 0.5)}, nil
	case "Tanh":
		return layers.Activation{Kind: layers.Tanh}, nil
	case "Elu":
		return layers.Activation{Kind: layers.Elu, Alpha: n.float("alpha", 1)}, nil
	case "Selu":
		a, g := n.float("alpha", 1.67326319217681884765625), n.float("gamma", 1.05070102214813232421875)
		if math.Abs(float64(a)-layers.SeluAlpha) > 1e-6 || math.Abs(float64(g)-layers.SeluScale) > 1e-6 {
			return layers.Activation{}, n.errorf(layers.ErrUnsupported, "attribute alpha=%g gamma=%g (only the standard SELU constants)", a, g)
		}
		return layers.Activation{Kind: layers.Selu}, nil
	case "Softplus":
		return layers.Activation{Kind: layers.Softplus}, nil
	case "Softsign":
		return layers.Activation{Kind: layers.Softsign}, nil
	case "Exp":
		return layers.Activation{Kind: layers.Exponential}, nil
	case "HardSwish":
		return layers.Activation{Kind: layers.HardSwish}, nil
	case "Gelu":
		switch ap := n.str("approximate", "none"); ap {
		case "none":
			return layers.Activation{Kind: layers.Gelu}, nil
		case "tanh":
			return layers.Activation{Kind: layers.GeluTanh}, nil
		default:
			return layers.Activation{}, n.errorf(layers.ErrUnsupported, "attribute approximate=%q", ap)
		}
	case "Clip":
		lo, hi := float32(math.Inf(-1)), inf
		if n.has("min") || n.has("max") {
			lo, hi = n.float("min", lo), n.float("max", hi)
		}
		for k, p := range []*float32{&lo, &hi} {
			t, err := b.constIn(n, k+1)
			if err != nil {
				return layers.Activation{}, err
			}
			if t != nil {
				if t.size() != 1 || t.hasBatch() {
					return layers.Activation{}, n.errorf(layers.ErrUnsupported, "non-scalar clip bound")
				}
				*p = t.floats()[0]
			}
		}
		if lo == 0 {
			return layers.Activation{Kind: layers.ReLU, Max: hi}, nil
		}
		return layers.Activation{Kind: layers.Clip, Alpha: lo, Beta: hi}, nil
	}
	return layers.Activation{}, n.errorf(layers.ErrUnsupported, "op type %s", n.GetOpType())
}

func opAct(b *builder, n *node) error {
	a, err := b.actFor(n)
	if err != nil {
		return err
	}
	if err := b.activation(n, a); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
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
	if err := b.emit(&layers.ActivationLayer{Info: b.info(n.GetName(), n.GetOpType()), Act: layers.Activation{Kind: kind}}); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}

// opSelect imports Gather and Slice on the data path: selections that keep every
// element (no-ops), and the pick of an LSTM's last time step, which becomes the LSTM
// returning its final state.
func opSelect(b *builder, n *node) error {
	d := b.d
	if n.in(0) != b.cur {
		return n.errorf(layers.ErrUnsupported, "the data as indices (embedding lookups)")
	}
	if err := d.merged(n); err != nil {
		return err
	}
	// iota over the data's shape (batch held at size 1) tracks which elements survive
	dims := append([]int(nil), d.shape...)
	dims[d.bAxis] = 1
	io := &tensor{dims: dims, isInt: true, bAxis: d.bAxis, i: make([]int64, shapeSize(dims))}
	for k := range io.i {
		io.i[k] = int64(k)
	}
	var res *tensor
	var err error
	if n.GetOpType() == "Gather" {
		idx, err2 := b.constIn(n, 1)
		if err2 != nil {
			return err2
		}
		if idx == nil {
			return n.errorf(layers.ErrBadFile, "missing indices")
		}
		res, err = gather(n, io, idx, n.int("axis", 0))
	} else {
		ins := make([]*tensor, len(n.GetInput()))
		for k := 1; k < len(ins); k++ {
			if ins[k], err = b.constIn(n, k); err != nil {
				return err
			}
		}
		var sp sliceSpec
		sp, err = sliceArgs(n, ins, dims)
		if err == nil {
			res, err = sliceTensor(n, io, sp)
		}
	}
	if err != nil {
		return err
	}
	if res.bAxis < 0 {
		return n.errorf(layers.ErrUnsupported, "selecting along the batch axis")
	}
	nd := &dyn{shape: res.dims, bAxis: res.bAxis}
	nd.shape[nd.bAxis] = d.shape[d.bAxis]
	sel := res.i
	if len(sel) == d.size() {
		same := true
		for k, v := range sel {
			if int(v) != k {
				same = false
				break
			}
		}
		if same {
			nd.idx = d.idx
			return b.setOut(n.out(0), nd)
		}
	}
	var inv []int32
	if d.idx != nil {
		inv = invert(d.idx)
	}
	pos := make([]int, len(sel))
	for k, v := range sel {
		pos[k] = int(v)
		if inv != nil {
			pos[k] = int(inv[v])
		}
	}
	switch l := b.fresh().(type) {
	case *layers.LSTM, *layers.GRU, *layers.SimpleRNN:
		o := l.(layers.Recurrent).Recurrence()
		if !o.ReturnSequences {
			break
		}
		t, u := b.valShape(b.lin[b.producer][0])[0], o.Units
		start := (t - 1) * u
		if o.GoBackwards {
			start = 0
		}
		if len(pos) != u {
			break
		}
		idx := make([]int32, u)
		seen := make([]bool, u)
		ok := true
		for k, p := range pos {
			if p < start || p >= start+u || seen[p-start] {
				ok = false
				break
			}
			seen[p-start] = true
			idx[p-start] = int32(k)
		}
		if !ok {
			break
		}
		// the views after the recurrent layer on this path are left unused (Build drops them)
		lastStepOnly(l)
		b.shapes[b.producer] = layers.Shape{u}
		b.val, b.phys = b.layerValue(b.producer), layers.Shape{u}
		nd.idx = normIdx(idx)
		return b.setOut(n.out(0), nd)
	case *layers.Bidirectional:
		return n.errorf(layers.ErrUnsupported, "selecting one time step of a bidirectional recurrent layer's sequence output (use its final states Y_h instead)")
	}
	return n.errorf(layers.ErrUnsupported, "%s on the data path selecting %d of %d elements", n.GetOpType(), len(sel), d.size())
}
