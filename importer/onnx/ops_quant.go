package onnx

import (
	"math"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// Quantized models. A quantized tensor on the data path is held as its dequantized
// float32 values (see layers/quant.go) with its parameters recorded here, so
// QuantizeLinear emits a FakeQuant layer (round onto the grid) and DequantizeLinear is
// the identity. A Conv, MatMul or Gemm between a DequantizeLinear'd input and a
// QuantizeLinear (QDQ), or a QLinearConv/QLinearMatMul (QOperator), becomes an int8
// layer when its integer result is ORT's: the float layer the ordinary handler built is
// replaced by a QConv2D/QDense whose int8 weights are recovered exactly from the
// dequantized ones (each checked to round-trip bit for bit, else the layer stays float).

// quantState is the importer's record of quantized values.
type quantState struct {
	data  map[string]layers.QParams // data-path value -> its quantization
	wq    map[string]*qconst        // folded DequantizeLinear of a constant -> its source
	prods map[string]int            // value -> producing node
}

// qconst is a dequantized constant's integer form.
type qconst struct {
	q     []int64
	scale []float32
	zp    []int64
	axis  int
	dims  []int
}

func (b *builder) qs() *quantState {
	if b.quant == nil {
		b.quant = &quantState{data: map[string]layers.QParams{}, wq: map[string]*qconst{}, prods: map[string]int{}}
		for i, n := range b.nodes {
			for _, o := range n.GetOutput() {
				b.quant.prods[o] = i
			}
		}
	}
	return b.quant
}

// constType is the ONNX element type of a constant (an initializer or a Constant
// node's value), or UNDEFINED.
func (b *builder) constType(name string) onnxpb.TensorProto_DataType {
	for _, t := range b.graph.GetInitializer() {
		if t.GetName() == name {
			return onnxpb.TensorProto_DataType(t.GetDataType())
		}
	}
	for _, n := range b.nodes {
		if n.GetOpType() == "Constant" && len(n.GetOutput()) == 1 && n.GetOutput()[0] == name {
			for _, a := range n.GetAttribute() {
				if a.GetName() == "value" && a.GetT() != nil {
					return onnxpb.TensorProto_DataType(a.GetT().GetDataType())
				}
			}
		}
	}
	return onnxpb.TensorProto_UNDEFINED
}

// qparams reads a per-tensor (scale, zero point) pair of constants; the type comes
// from the zero point (uint8 when absent).
func (b *builder) qparams(n *node, si, zi int) (layers.QParams, error) {
	s, err := b.constIn(n, si)
	if err != nil {
		return layers.QParams{}, err
	}
	z, err := b.constIn(n, zi)
	if err != nil {
		return layers.QParams{}, err
	}
	if s == nil || s.isInt || len(s.f) != 1 || (z != nil && len(z.i) != 1) {
		return layers.QParams{}, n.errorf(layers.ErrUnsupported, "per-axis or non-constant quantization of data (only per-tensor scales on activations)")
	}
	q := layers.QParams{Scale: s.f[0], Type: layers.QUint8}
	if z != nil {
		switch b.constType(n.in(zi)) {
		case onnxpb.TensorProto_UINT8:
		case onnxpb.TensorProto_INT8:
			q.Type = layers.QInt8
		default:
			return layers.QParams{}, n.errorf(layers.ErrUnsupported, "zero point of type %v (kinfer quantizes to uint8 and int8)", b.constType(n.in(zi)))
		}
		q.ZP = int32(z.i[0])
	}
	if !(q.Scale > 0) || math.IsInf(float64(q.Scale), 0) || q.ZP < q.Type.Lo || q.ZP > q.Type.Hi {
		return layers.QParams{}, n.errorf(layers.ErrBadFile, "quantization scale %v zero point %d", q.Scale, q.ZP)
	}
	return q, nil
}

// foldDequant folds DequantizeLinear of constants (quantized weights and biases),
// keeping their integer form for the int8 layers.
func (b *builder) foldDequant() error {
	b.padZeroPoints()
	for _, i := range b.order {
		np := b.nodes[i]
		op := np.GetOpType()
		if op != "DequantizeLinear" && op != "QuantizeLinear" || b.done[i] || (np.GetDomain() != "" && np.GetDomain() != "ai.onnx") {
			continue
		}
		n := newNode(np, b.opset)
		x, ok := b.consts[n.in(0)]
		if !ok {
			continue
		}
		if op == "QuantizeLinear" {
			if err := b.foldQuantize(n, x); err != nil {
				return err
			}
			b.done[i] = true
			continue
		}
		s, err := b.constIn(n, 1)
		if err != nil {
			continue
		}
		z, err := b.constIn(n, 2)
		if err != nil {
			continue
		}
		if !x.isInt || s == nil || s.isInt || len(s.f) == 0 || (z != nil && len(z.i) != len(s.f)) {
			return n.errorf(layers.ErrUnsupported, "DequantizeLinear of a constant needs integer data and float scales")
		}
		for _, v := range s.f {
			if !(v > 0) || math.IsInf(float64(v), 0) {
				return n.errorf(layers.ErrBadFile, "DequantizeLinear scale %v (scales must be positive and finite)", v)
			}
		}
		axis := 0
		if len(s.f) > 1 {
			a, err := normAxis(n, n.int("axis", 1), len(x.dims))
			if err != nil {
				return err
			}
			if x.dims[a] != len(s.f) {
				return n.errorf(layers.ErrShapeMismatch, "%d scales for axis %d of %v", len(s.f), a, x.dims)
			}
			axis = a
		} else {
			n.ignore("axis")
		}
		n.ignore("block_size")
		inner := 1
		if len(s.f) > 1 {
			for _, d := range x.dims[axis+1:] {
				inner *= d
			}
		}
		f := make([]float32, len(x.i))
		for k, v := range x.i {
			c := 0
			if len(s.f) > 1 {
				c = k / inner % len(s.f)
			}
			var zp int64
			if z != nil {
				zp = z.i[c]
			}
			f[k] = float32(v-zp) * s.f[c]
		}
		if err := n.done(); err != nil {
			return err
		}
		out := newFloat(append([]int(nil), x.dims...), f)
		if err := b.keepFolded(n, []*tensor{out}); err != nil {
			return err
		}
		zps := make([]int64, len(s.f))
		if z != nil {
			copy(zps, z.i)
		}
		b.qs().wq[n.out(0)] = &qconst{q: x.i, scale: s.f, zp: zps, axis: axis, dims: x.dims}
		b.done[i] = true
	}
	return nil
}

// foldQuantize folds QuantizeLinear of a constant (ORT quantizes constant operands of
// Mul and Add): per-tensor parameters, the type from the zero point.
func (b *builder) foldQuantize(n *node, x *tensor) error {
	q, err := b.qparams(n, 1, 2)
	if err != nil {
		return err
	}
	n.ignore("axis", "saturate", "block_size", "output_dtype")
	if err := n.done(); err != nil {
		return err
	}
	f := x.floats()
	v := make([]int64, len(f))
	for k, fv := range f {
		v[k] = int64(q.Quantize(fv))
	}
	out := newInt(append([]int(nil), x.dims...), v)
	if err := b.keepFolded(n, []*tensor{out}); err != nil {
		return err
	}
	b.qs().data[n.out(0)] = q
	return nil
}

// opQuantize is QuantizeLinear on the data path: it completes an int8 layer when the
// producer is a float Conv/Dense that can be one, else emits a FakeQuant.
func opQuantize(b *builder, n *node) error {
	q, err := b.qparams(n, 1, 2)
	if err != nil {
		return err
	}
	n.ignore("axis", "saturate", "block_size", "output_dtype")
	if !b.fuseQDQ(n, q) && !b.onGrid(n.in(0), q) {
		if err := b.emit(&layers.FakeQuant{Info: b.info(n.GetName(), n.GetOpType()), Q: q}); err != nil {
			return err
		}
	}
	b.qs().data[n.out(0)] = q
	return b.setOut(n.out(0), b.d.clone())
}

// opDequantize is DequantizeLinear of a quantized data-path value: the identity, as
// the value is held dequantized.
func opDequantize(b *builder, n *node) error {
	q, err := b.qparams(n, 1, 2)
	if err != nil {
		return err
	}
	n.ignore("axis", "block_size")
	// a value with no record is one a grid-preserving op (MaxPool, Flatten) made from a
	// quantized one: the QOperator types say it is on q's grid
	if have, ok := b.qs().data[n.in(0)]; ok && have != q {
		return n.errorf(layers.ErrUnsupported, "DequantizeLinear with parameters %v of a value quantized as %v", q, have)
	}
	return b.setOut(n.out(0), b.d.clone())
}

// gridOps move or select values without computing new ones: their output is on the
// grid their input is on.
var gridOps = map[string]bool{"MaxPool": true, "Flatten": true, "Reshape": true, "Transpose": true,
	"Squeeze": true, "Unsqueeze": true, "Identity": true, "GlobalMaxPool": true}

// onGrid reports whether v is, through grid-preserving ops, the DequantizeLinear of a
// value quantized as q: its QuantizeLinear onto q is then the identity (QDQ puts one
// after every MaxPool).
func (b *builder) onGrid(v string, q layers.QParams) bool {
	for range 64 {
		op, np := b.producerOp(v)
		switch {
		case gridOps[op] && len(np.GetInput()) > 0:
			v = np.GetInput()[0]
		case op == "DequantizeLinear":
			have, ok := b.qs().data[np.GetInput()[0]]
			return ok && have == q
		default:
			return false
		}
	}
	return false
}

// producerOp is the op of the node producing v, and that node.
func (b *builder) producerOp(v string) (string, *onnxpb.NodeProto) {
	i, ok := b.qs().prods[v]
	if !ok {
		return "", nil
	}
	return b.nodes[i].GetOpType(), b.nodes[i]
}

// fuseQDQ turns DQ -> Conv/MatMul/Gemm (-> Relu) -> Q, whose float layer is the
// current producer, into an int8 layer with output q.
func (b *builder) fuseQDQ(n *node, q layers.QParams) bool {
	op, np := b.producerOp(n.in(0))
	if op == "Relu" {
		op, np = b.producerOp(np.GetInput()[0])
	}
	if np == nil || (op != "Conv" && op != "MatMul" && op != "Gemm") || len(np.GetInput()) < 2 {
		return false
	}
	in, ok := b.inputQuant()
	if dop, dq := b.producerOp(np.GetInput()[0]); dop == "DequantizeLinear" && b.producer >= 0 {
		// the ONNX side names the input's quantization (the layer feeding the float one
		// may be a MaxPool on grid values rather than a FakeQuant)
		if q, known := b.qs().data[dq.GetInput()[0]]; known {
			in, ok = q, true
		}
	}
	if !ok {
		return false
	}
	w := b.qs().wq[np.GetInput()[1]]
	if w == nil {
		return false
	}
	var bias *qconst
	if len(np.GetInput()) > 2 && np.GetInput()[2] != "" {
		if bias = b.qs().wq[np.GetInput()[2]]; bias == nil {
			return false
		}
	}
	outAxis := 0 // the weight axis of the output units
	switch op {
	case "MatMul":
		outAxis = len(w.dims) - 1
	case "Gemm":
		outAxis = 1
		for _, a := range np.GetAttribute() {
			if a.GetName() == "transB" && a.GetI() == 1 {
				outAxis = 0
			}
		}
	}
	return b.toInt8(in, w, outAxis, bias, q)
}

// inputQuant is the quantization of the current producer's input: set when that input
// is a FakeQuant layer's output or a quantized value recorded for it.
func (b *builder) inputQuant() (layers.QParams, bool) {
	if b.producer < 0 || !b.excl || b.val != b.layerValue(b.producer) {
		return layers.QParams{}, false
	}
	v := b.lin[b.producer]
	if len(v) != 1 {
		return layers.QParams{}, false
	}
	li := int(v[0]) - len(b.inShapes)
	for li >= 0 {
		if _, isView := b.ls[li].(*layers.Reshape); !isView || len(b.lin[li]) != 1 {
			break
		}
		li = int(b.lin[li][0]) - len(b.inShapes)
	}
	if li < 0 {
		return layers.QParams{}, false
	}
	switch l := b.ls[li].(type) {
	case *layers.FakeQuant:
		return l.Q, true
	case *layers.QConv2D:
		return l.Out, true
	case *layers.QDense:
		return l.Out, true
	}
	return layers.QParams{}, false
}

// toInt8 replaces the producer (a float Conv2D or Dense built from dequantized weights
// w) by its int8 form when every weight and the bias round-trip exactly; the bias
// (ints, in units of in.Scale*wScale, as ORT's QLinearConv reads them) may be nil.
func (b *builder) toInt8(in layers.QParams, w *qconst, outAxis int, bias *qconst, out layers.QParams) bool {
	if b.producer < 0 || !b.excl || b.val != b.layerValue(b.producer) || outAxis >= len(w.dims) {
		return false
	}
	units := w.dims[outAxis]
	ws := make([]float32, units)
	for j := range ws {
		if len(w.scale) == 1 {
			ws[j] = w.scale[0]
		} else if len(w.scale) == units && w.axis == outAxis {
			ws[j] = w.scale[j]
		} else {
			return false
		}
	}
	if bias != nil && (len(bias.q) != units || (len(bias.scale) != 1 && len(bias.scale) != units)) {
		return false
	}
	ql := layers.QLinear{WScale: ws, In: in, Out: out}
	var fw, fb []float32
	var act layers.Activation
	var conv *layers.Conv2D
	var dense *layers.Dense
	switch l := b.ls[b.producer].(type) {
	case *layers.Conv2D:
		if max(l.Groups, 1) != 1 || l.Filters != units {
			return false
		}
		conv, fw, fb, act = l, l.W, l.B, l.Act
	case *layers.Dense:
		if l.Units != units {
			return false
		}
		dense, fw, fb, act = l, l.W, l.B, l.Act
	default:
		return false
	}
	switch {
	case act.IsLinear():
	case act.Kind == layers.ReLU && math.IsInf(float64(act.Max), 1) && act.Alpha == 0 && act.Threshold == 0:
		ql.ReLU = true
	default:
		return false
	}
	ql.W = make([]int8, len(fw))
	for i, v := range fw {
		s := ws[i%units]
		r := math.RoundToEven(float64(v / s))
		if r < -128 || r > 127 || float32(float32(r)*s) != v {
			return false
		}
		ql.W[i] = int8(r)
	}
	if bias != nil {
		if fb == nil {
			return false
		}
		ql.Bias = make([]int32, units)
		for j, v := range bias.q {
			c := j % len(bias.scale)
			if v < math.MinInt32 || v > math.MaxInt32 || fb[j] != float32(v-bias.zp[c])*bias.scale[c] || bias.zp[c] != 0 {
				return false // the layer's bias is not the dequantized int32 one
			}
			ql.Bias[j] = int32(v)
		}
	} else if fb != nil {
		return false
	}
	var l layers.Layer
	if conv != nil {
		l = &layers.QConv2D{Info: conv.Info, Window: conv.Window, QLinear: ql, Cin: conv.In, Filters: conv.Filters}
	} else {
		l = &layers.QDense{Info: dense.Info, QLinear: ql, K: dense.In, Units: dense.Units}
	}
	b.ls[b.producer] = l
	return true
}
