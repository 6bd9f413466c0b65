package onnx

import (
	"math"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// QOperator models: QLinearConv, QLinearMatMul and com.microsoft QGemm read uint8/int8
// tensors (held dequantized on the data path) and constant quantized weights. Each is
// imported as its float op over the dequantized weights by the ordinary handler, then
// turned into its int8 layer (toInt8), or, where that does not apply, followed by a
// FakeQuant onto its output grid.

func opQLinearConv(b *builder, n *node) error {
	return b.qlinear(n, "Conv", 8, 6, 0)
}

func opQLinearMatMul(b *builder, n *node) error {
	return b.qlinear(n, "MatMul", -1, 6, -1)
}

func opQGemm(b *builder, n *node) error {
	axis := 1
	if n.int("transB", 0) == 1 {
		axis = 0
	}
	if n.int("transA", 0) != 0 || n.float("alpha", 1) != 1 {
		return n.errorf(layers.ErrUnsupported, "QGemm with transA or alpha != 1")
	}
	return b.qlinear(n, "Gemm", 6, 7, axis)
}

// qlinear imports a QOperator node as op: x at inputs 0-2, the weight at 3-5, the int32
// bias at input biasIn (-1: none), the output quantization at yIn, yIn+1 (absent for
// QGemm's float output); outAxis is the weight axis of the output units (-1: the last).
func (b *builder) qlinear(n *node, op string, biasIn, yIn, outAxis int) error {
	in, err := b.qparams(n, 1, 2)
	if err != nil {
		return err
	}
	wt, err := b.constIn(n, 3)
	if err != nil {
		return err
	}
	ws, err := b.constIn(n, 4)
	if err != nil {
		return err
	}
	wz, err := b.constIn(n, 5)
	if err != nil {
		return err
	}
	if wt == nil || !wt.isInt || ws == nil || ws.isInt || len(wt.dims) < 2 || (wz != nil && len(wz.i) != len(ws.f)) {
		return n.errorf(layers.ErrUnsupported, "needs a constant integer weight with float scales")
	}
	for _, v := range ws.f {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return n.errorf(layers.ErrBadFile, "weight scale %v (scales must be positive and finite)", v)
		}
	}
	if outAxis < 0 {
		outAxis = len(wt.dims) - 1
	}
	units := wt.dims[outAxis]
	if len(ws.f) != 1 && len(ws.f) != units {
		return n.errorf(layers.ErrShapeMismatch, "%d weight scales for %d outputs", len(ws.f), units)
	}
	wq := &qconst{q: wt.i, scale: ws.f, zp: make([]int64, len(ws.f)), axis: outAxis, dims: wt.dims}
	if wz != nil {
		copy(wq.zp, wz.i)
	}
	inner := 1
	for _, d := range wt.dims[outAxis+1:] {
		inner *= d
	}
	wf := make([]float32, len(wt.i))
	for k, v := range wt.i {
		c := k / inner % len(ws.f)
		wf[k] = float32(v-wq.zp[c]) * ws.f[c]
	}
	syn := &onnxpb.NodeProto{OpType: op, Name: n.GetName(), Output: []string{n.out(0)},
		Input: []string{n.in(0), n.GetName() + "#w"}}
	b.consts[syn.Input[1]] = newFloat(append([]int(nil), wt.dims...), wf)
	var bq *qconst
	if biasIn >= 0 && n.in(biasIn) != "" {
		bt, err := b.constIn(n, biasIn)
		if err != nil {
			return err
		}
		if bt == nil || !bt.isInt || len(bt.i) != units {
			return n.errorf(layers.ErrUnsupported, "bias must be %d constant int32 values", units)
		}
		bq = &qconst{q: bt.i, scale: make([]float32, units), zp: make([]int64, units), dims: bt.dims}
		bf := make([]float32, units)
		for j, v := range bt.i {
			bq.scale[j] = in.Scale * ws.f[j%len(ws.f)]
			bf[j] = float32(v) * bq.scale[j]
		}
		syn.Input = append(syn.Input, n.GetName()+"#b")
		b.consts[syn.Input[2]] = newFloat([]int{units}, bf)
	}
	for _, a := range n.GetAttribute() {
		switch a.GetName() {
		case "transA", "alpha", "beta":
		default:
			syn.Attribute = append(syn.Attribute, a)
		}
		n.ignore(a.GetName())
	}
	if err := b.importSynth(syn, handlers[op]); err != nil {
		return err
	}
	if yIn >= len(n.GetInput()) || n.in(yIn) == "" {
		return nil // QGemm with a float output: the float layer is the op
	}
	out, err := b.qparams(n, yIn, yIn+1)
	if err != nil {
		return err
	}
	if !b.toInt8(in, wq, outAxis, bq, out) {
		if err := b.emit(&layers.FakeQuant{Info: b.info(n.GetName(), "QuantizeLinear"), Q: out}); err != nil {
			return err
		}
	}
	b.qs().data[n.out(0)] = out
	return b.setOut(n.out(0), b.d.clone())
}

// msQuantOps are the com.microsoft ops ORT's quantizer writes that kinfer imports.
var msQuantOps = map[string]bool{"QGemm": true, "QLinearAdd": true, "QLinearGlobalAveragePool": true,
	"QLinearLeakyRelu": true, "QLinearSigmoid": true, "QLinearAveragePool": true, "QLinearMul": true, "QLinearConcat": true,
	"DynamicQuantizeLSTM": true, "QLinearSoftmax": true}

// fakeQuantOut follows the float layer just imported for n with a FakeQuant onto the
// output quantization at inputs yIn, yIn+1 and records it.
func (b *builder) fakeQuantOut(n *node, yIn int) error {
	out, err := b.qparams(n, yIn, yIn+1)
	if err != nil {
		return err
	}
	if err := b.emit(&layers.FakeQuant{Info: b.info(n.GetName(), n.GetOpType()), Q: out}); err != nil {
		return err
	}
	b.qs().data[n.out(0)] = out
	return b.setOut(n.out(0), b.d.clone())
}

// opQLinearAdd is com.microsoft QLinearAdd as a float Add of the dequantized values and
// a FakeQuant onto C's grid. MLAS computes it in fixed point (multipliers of
// 2^-Shift), so an element can differ from ORT's by one step of C.
func opQLinearAdd(b *builder, n *node) error { return b.qlinearBinary(n, "Add") }

// qlinearBinary imports QLinearAdd/QLinearMul (A at 0-2, B at 3-5, C at 6-7): a float
// op of the dequantized operands (a constant one dequantized at import) and a
// FakeQuant onto C.
func (b *builder) qlinearBinary(n *node, op string) error {
	for _, k := range []int{1, 2, 4, 5} {
		if _, err := b.constIn(n, k); err != nil {
			return err
		}
	}
	ins := []string{n.in(0), n.in(3)}
	constant := false
	for j, k := range []int{0, 3} {
		t, ok := b.consts[n.in(k)]
		if !ok {
			continue
		}
		q, err := b.qparams(n, k+1, k+2)
		if err != nil {
			return err
		}
		f := make([]float32, t.size())
		for i, v := range t.ints() {
			f[i] = q.Dequantize(int32(v))
		}
		ins[j] = n.GetName() + "#" + []string{"a", "b"}[j]
		b.consts[ins[j]] = newFloat(append([]int(nil), t.dims...), f)
		constant = true
	}
	syn := &onnxpb.NodeProto{OpType: op, Name: n.GetName(), Input: ins, Output: []string{n.out(0)}}
	h := opMergeN
	if constant {
		h = opArith
	}
	if err := b.importSynth(syn, h); err != nil {
		return err
	}
	return b.fakeQuantOut(n, 6)
}

// importSynth imports syn, a float node standing in for a quantized one, with h, and
// reports what sn.done finds: a bad attribute, or one h left unread.
func (b *builder) importSynth(syn *onnxpb.NodeProto, h handler) error {
	sn := newNode(syn, b.opset)
	if err := h(b, sn); err != nil {
		return err
	}
	return sn.done()
}

// opQLinearGlobalAveragePool is com.microsoft QLinearGlobalAveragePool (NCHW) as a
// float GlobalAveragePool of the dequantized values and a FakeQuant onto Y's grid (ORT
// sums in integers and requantizes once: an element can differ by one step of Y).
func opQLinearGlobalAveragePool(b *builder, n *node) error {
	if n.int("channels_last", 0) != 0 {
		return n.errorf(layers.ErrUnsupported, "channels_last")
	}
	syn := &onnxpb.NodeProto{OpType: "GlobalAveragePool", Name: n.GetName(), Input: []string{n.in(0)}, Output: []string{n.out(0)}}
	if err := opGlobalPool(b, newNode(syn, b.opset)); err != nil {
		return err
	}
	return b.fakeQuantOut(n, 3)
}

// qunaryOps maps com.microsoft QLinear unary ops (X, X scale, X zero point, Y scale, Y
// zero point) to the float op imported in their place, followed by a FakeQuant.
var qunaryOps = map[string]string{"QLinearLeakyRelu": "LeakyRelu", "QLinearSigmoid": "Sigmoid", "QLinearAveragePool": "AveragePool",
	"QLinearSoftmax": "Softmax"}

// opQLinearUnary imports a qunaryOps node (ORT computes LeakyRelu and Sigmoid through
// a 256-entry table of its own float function, AveragePool in integer sums: an element
// can differ by one step of Y).
func opQLinearUnary(b *builder, n *node) error {
	op := qunaryOps[n.GetOpType()]
	for _, k := range []int{1, 2} {
		if _, err := b.constIn(n, k); err != nil {
			return err
		}
	}
	syn := &onnxpb.NodeProto{OpType: op, Name: n.GetName(), Input: []string{n.in(0)}, Output: []string{n.out(0)}}
	for _, a := range n.GetAttribute() {
		if a.GetName() == "opset" { // QLinearSoftmax: the Softmax opset its axis follows
			if a.GetI() != b.opset && (a.GetI() < 13) != (b.opset < 13) {
				return n.errorf(layers.ErrUnsupported, "softmax of opset %d in an opset %d model", a.GetI(), b.opset)
			}
			n.ignore("opset")
			continue
		}
		if a.GetName() == "channels_last" {
			if a.GetI() != 0 {
				return n.errorf(layers.ErrUnsupported, "channels_last")
			}
			n.ignore("channels_last")
			continue
		}
		syn.Attribute = append(syn.Attribute, a)
		n.ignore(a.GetName())
	}
	if err := b.importSynth(syn, handlers[op]); err != nil {
		return err
	}
	return b.fakeQuantOut(n, 3)
}

// opQLinearMul is com.microsoft QLinearMul: see qlinearBinary.
func opQLinearMul(b *builder, n *node) error { return b.qlinearBinary(n, "Mul") }

// opQLinearConcat is com.microsoft QLinearConcat (Y scale, Y zero point, then a
// (X, scale, zero point) triple per input): float Concat + FakeQuant.
func opQLinearConcat(b *builder, n *node) error {
	in := n.GetInput()
	if len(in) < 5 || (len(in)-2)%3 != 0 {
		return n.errorf(layers.ErrBadFile, "%d inputs", len(in))
	}
	syn := &onnxpb.NodeProto{OpType: "Concat", Name: n.GetName(), Output: []string{n.out(0)}}
	for k := 2; k < len(in); k += 3 {
		syn.Input = append(syn.Input, in[k])
	}
	for _, a := range n.GetAttribute() {
		syn.Attribute = append(syn.Attribute, a)
		n.ignore(a.GetName())
	}
	if err := b.importSynth(syn, opConcatN); err != nil {
		return err
	}
	return b.fakeQuantOut(n, 0)
}

// opCastHalf is Cast to float16 of data: a RoundHalf (values stay float32, rounded to
// float16; a later Cast to float is the identity).
func opCastHalf(b *builder, n *node) error {
	if err := b.emit(&layers.RoundHalf{Info: b.info(n.GetName(), "Cast")}); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}

// qOutZP is the input index of the output zero point of the ops that write quantized
// tensors (QOperator format).
var qOutZP = map[string]int{"QuantizeLinear": 2, "QLinearConv": 7, "QLinearMatMul": 7, "QGemm": 8,
	"QLinearAdd": 7, "QLinearMul": 7, "QLinearLeakyRelu": 4, "QLinearSigmoid": 4, "QLinearAveragePool": 4,
	"QLinearGlobalAveragePool": 4, "QLinearSoftmax": 4, "QLinearConcat": 1}

// padZeroPoints rewrites the constant value of a Pad of a quantized tensor (QOperator:
// the zero point, as an integer) to the float 0 it stands for on the data path.
func (b *builder) padZeroPoints() {
	for _, i := range b.order {
		np := b.nodes[i]
		in := np.GetInput()
		if np.GetOpType() != "Pad" || len(in) < 3 || in[2] == "" {
			continue
		}
		if t := b.constType(in[2]); t != onnxpb.TensorProto_UINT8 && t != onnxpb.TensorProto_INT8 {
			continue
		}
		v, ok := b.consts[in[2]]
		op, prod := b.producerOp(in[0])
		k, known := qOutZP[op]
		if !ok || !known || len(v.ints()) != 1 || k >= len(prod.GetInput()) {
			continue
		}
		z, ok := b.consts[prod.GetInput()[k]]
		if !ok || len(z.ints()) != 1 || z.ints()[0] != v.ints()[0] {
			continue
		}
		name := np.GetName() + "#pad0"
		b.consts[name] = newFloat(nil, []float32{0})
		in[2] = name
	}
}
