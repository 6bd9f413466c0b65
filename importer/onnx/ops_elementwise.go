package onnx

import "github.com/kinfer/kinfer/layers"

// unaryTable maps ONNX's one-operand element-wise ops onto layers.Unary: a new op is one
// entry here and one in layers' unaryOps.
var unaryTable = map[string]layers.UnaryOp{
	"Neg": layers.UnaryNeg, "Abs": layers.UnaryAbs, "Sign": layers.UnarySign,
	"Sqrt": layers.UnarySqrt, "Log": layers.UnaryLog, "Reciprocal": layers.UnaryReciprocal,
	"Floor": layers.UnaryFloor, "Ceil": layers.UnaryCeil, "Round": layers.UnaryRound,
	"Sin": layers.UnarySin, "Cos": layers.UnaryCos, "Tan": layers.UnaryTan,
	"Asin": layers.UnaryAsin, "Acos": layers.UnaryAcos, "Atan": layers.UnaryAtan,
	"Sinh": layers.UnarySinh, "Cosh": layers.UnaryCosh, "Asinh": layers.UnaryAsinh,
	"Acosh": layers.UnaryAcosh, "Atanh": layers.UnaryAtanh, "Erf": layers.UnaryErf,
	"Not": layers.UnaryNot, "Shrink": layers.UnaryShrink,
}

// registerElementwise adds the element-wise family to the chain handlers (called from
// the handlers table's init, so the order of init functions does not matter).
func registerElementwise(h map[string]handler) {
	for op := range unaryTable {
		h[op] = opUnary
	}
	h["Pow"] = opArith
	h["Max"], h["Min"] = opArithMaxMin, opArithMaxMin
	h["InstanceNormalization"] = opInstanceNorm
	for op := range reduceOps {
		h[op] = opReduce // ReduceMean/Max/Sum are in the table already; the rest join here
	}
	h["Hardmax"] = opSoftmax // the same axis rules (2-D coercion below opset 13)
}

// opUnary imports an element-wise op of one tensor; it acts in any layout, so no data
// moves.
func opUnary(b *builder, n *node) error {
	l := &layers.Unary{Info: b.info(n.GetName(), n.GetOpType()), Op: unaryTable[n.GetOpType()]}
	if l.Op == layers.UnaryShrink {
		l.Alpha, l.Beta = n.float("lambd", 0.5), n.float("bias", 0)
	}
	if err := b.emit(l); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}

// constBinary imports data op constant (or constant op data) where an affine map cannot
// hold it: c/x, x^c, c^x. v is the constant expanded to the data's physical order.
func (b *builder) constBinary(n *node, v []float32, constFirst bool) error {
	op, ok := map[string]layers.MergeOp{"Div": layers.MergeDiv, "Pow": layers.MergePow,
		"Max": layers.MergeMax, "Min": layers.MergeMin}[n.GetOpType()]
	if !ok {
		return n.errorf(layers.ErrUnsupported, "op %s with a constant", n.GetOpType())
	}
	uniform := true
	for _, c := range v {
		uniform = uniform && c == v[0]
	}
	var l layers.Layer
	switch {
	case uniform && op == layers.MergePow && !constFirst:
		l = &layers.Unary{Info: b.info(n.GetName(), n.GetOpType()), Op: layers.UnaryPow, Alpha: v[0]}
	case uniform && op == layers.MergePow:
		l = &layers.Unary{Info: b.info(n.GetName(), n.GetOpType()), Op: layers.UnaryRPow, Alpha: v[0]}
	case uniform && op == layers.MergeDiv && constFirst:
		l = &layers.Unary{Info: b.info(n.GetName(), n.GetOpType()), Op: layers.UnaryRDiv, Alpha: v[0]}
	case uniform && (op == layers.MergeMax || op == layers.MergeMin):
		u := map[layers.MergeOp]layers.UnaryOp{layers.MergeMax: layers.UnaryMax, layers.MergeMin: layers.UnaryMin}[op]
		l = &layers.Unary{Info: b.info(n.GetName(), n.GetOpType()), Op: u, Alpha: v[0]}
	default:
		p := len(v)
		for _, c := range []int{1, b.phys.Last()} {
			if periodic(v, c) {
				p = c
				break
			}
		}
		l = &layers.ConstBinary{Info: b.info(n.GetName(), n.GetOpType()), Op: op, C: v[:p], ConstFirst: constFirst}
	}
	if err := b.emit(l); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}

// opInstanceNorm imports InstanceNormalization on (N, C, ...) data: the data is held
// channels-last (as convolutions leave it) and normalized per channel.
func opInstanceNorm(b *builder, n *node) error {
	eps := n.float("epsilon", 1e-5)
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	if d.bAxis != 0 || len(d.shape) < 3 {
		return n.errorf(layers.ErrUnsupported, "input of shape %v with the batch at axis %d (needs N, C, ...)", d.shape, d.bAxis)
	}
	var p [2][]float32
	for k := range p {
		t, err := b.constIn(n, k+1)
		if err != nil {
			return err
		}
		if t == nil || t.isInt || len(t.dims) != 1 || t.dims[0] != d.shape[1] {
			return n.errorf(layers.ErrBadFile, "input %d must be a float constant of %d channels", k+1, d.shape[1])
		}
		p[k] = t.floats()
	}
	nb := d.nb()
	perm := make([]int, len(nb))
	for k := range perm {
		perm[k] = (k + 1) % len(nb)
	}
	c := nb[0]
	if err := b.materialize(transposeIdx(nb, perm), []int{d.size() / c, c}, n.GetName()); err != nil {
		return n.wrap(err)
	}
	if err := b.emit(&layers.InstanceNorm{Info: b.info(n.GetName(), "InstanceNormalization"), Scale: p[0], Bias: p[1], Eps: eps}); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}

// opArithMaxMin imports Max/Min of the data and one constant (torch.maximum(x, c));
// of several computed tensors they are merges (dag.go).
func opArithMaxMin(b *builder, n *node) error {
	if len(n.GetInput()) == 1 {
		return b.setOut(n.out(0), b.d.clone())
	}
	if len(n.GetInput()) != 2 {
		return n.errorf(layers.ErrUnsupported, "%s of the data and %d constants", n.GetOpType(), len(n.GetInput())-1)
	}
	return opArith(b, n)
}
