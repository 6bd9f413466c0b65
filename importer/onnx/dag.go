package onnx

import (
	"errors"
	"fmt"

	"github.com/kinfer/kinfer/layers"
)

// maxIO bounds the number of graph inputs and outputs a model may declare.
const maxIO = 64

// dstate is what the builder knows about one data-path ONNX value: its layout (d),
// the layers value whose buffer holds it (val, of physical shape phys), the layer that
// computed it unchanged (producer, -1: none) and whether that value has no other
// reader than the path leading here (excl). A handler may only change a layer it did
// not just emit (fuse an activation, retarget a reshape) while excl holds.
type dstate struct {
	d        *dyn
	val      layers.Value
	phys     layers.Shape
	producer int
	excl     bool
}

func (b *builder) isInput(v string) bool {
	for _, in := range b.inNames {
		if in == v {
			return true
		}
	}
	return false
}

// outputUses is the number of graph outputs naming v.
func (b *builder) outputUses(v string) int {
	n := 0
	for _, o := range b.outNames {
		if o == v {
			n++
		}
	}
	return n
}

// load makes the data-path value name the current data. It is exclusive when the
// node being imported is its only reader.
func (b *builder) load(name string) *dstate {
	st := b.states[name]
	b.cur, b.d, b.val, b.phys, b.producer = name, st.d.clone(), st.val, st.phys.Clone(), st.producer
	b.excl = st.excl && b.dataUsers(name) <= 1
	return st
}

// shareMoved records the current data, just moved to a new layout, as the state of
// its ONNX value when other nodes read that value too, so that they reuse the moved
// copy instead of each emitting the same Permute. The copy is then shared: nothing
// may retarget it.
func (b *builder) shareMoved() {
	if st := b.states[b.cur]; st == nil || b.dataUsers(b.cur) <= 1 {
		return
	}
	b.excl = false
	b.states[b.cur] = &dstate{d: b.d.clone(), val: b.val, phys: b.phys.Clone(), producer: -1}
}

// handlersN import nodes reading two or more computed tensors.
var handlersN = map[string]handler{
	"Add": opMergeN, "Sub": opMergeN, "Mul": opMergeN, "Max": opMergeN, "Min": opMergeN,
	"Mean": opMergeN, "Sum": opMergeN, "Concat": opConcatN, "Div": opMergeN, "Pow": opMergeN,
	"GRU": opRecurrentLens, "RNN": opRecurrentLens, "LSTM": opRecurrentLens, // rnn.go
	"MatMul":     opMatMulN,
	"QLinearAdd": opQLinearAdd, "QLinearMul": opQLinearMul, "QLinearConcat": opQLinearConcat, // ops_quant_op.go
}

var mergeOps = map[string]layers.MergeOp{
	"Add": layers.MergeAdd, "Sub": layers.MergeSub, "Mul": layers.MergeMul, "Max": layers.MergeMax,
	"Min": layers.MergeMin, "Mean": layers.MergeAvg, "Sum": layers.MergeAdd,
	"Div": layers.MergeDiv, "Pow": layers.MergePow,
}

// dagNode loads the data input of node n (dynIn: its inputs on the data path, one
// entry per use). A node reading one value that nothing else reads is left to the
// chain handlers (handled false) unless only handlersN has its op (a one-input Concat
// or Sum). At a fork it first tries the element-wise and layout
// patterns (fitRegion); a node reading several computed tensors goes to handlersN.
func (b *builder) dagNode(n *node, dynIn []string) (handled bool, err error) {
	var distinct []string
	for _, in := range dynIn {
		if len(distinct) == 0 || !contains(distinct, in) {
			distinct = append(distinct, in)
		}
	}
	if len(distinct) == 1 {
		st := b.load(distinct[0])
		if len(dynIn) == 1 && b.dataUsers(b.cur) <= 1 && (handlers[n.GetOpType()] != nil || handlersN[n.GetOpType()] == nil) {
			return false, nil
		}
		// a matched region replaces every reader of cur, so cur stays as exclusive as
		// it was
		b.excl = st.excl
		if ok, err := b.fitLayerNorm(n); err != nil || ok {
			return true, err
		}
		ok, err := b.fitRegion(n)
		if err != nil && !errors.Is(err, errChain) || err == nil && ok {
			return true, err
		}
		b.load(distinct[0])
		if len(dynIn) == 1 && (handlers[n.GetOpType()] != nil || handlersN[n.GetOpType()] == nil) {
			return false, nil
		}
	}
	h := handlersN[n.GetOpType()]
	if h == nil {
		return true, n.errorf(layers.ErrUnsupported, "op type %s with %d computed inputs (%q)", n.GetOpType(), len(distinct), distinct)
	}
	if err := h(b, n); err != nil {
		return true, err
	}
	return true, n.done()
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// operands returns the states of all of n's inputs, which must all be computed.
func (b *builder) operands(n *node) ([]*dyn, error) { return b.operandsOf(n, false) }

// operandsOf is operands, taking merged batch rows when allowMerged.
func (b *builder) operandsOf(n *node, allowMerged bool) ([]*dyn, error) {
	if len(n.GetInput()) == 0 {
		return nil, n.errorf(layers.ErrBadFile, "no inputs")
	}
	ds := make([]*dyn, len(n.GetInput()))
	for k, in := range n.GetInput() {
		st, ok := b.states[in]
		if in == "" || !ok {
			return nil, n.errorf(layers.ErrUnsupported, "input %d (%q) is not computed from the model's inputs while others are (constants mixed with computed tensors)", k, in)
		}
		if err := st.d.merged(n); err != nil && !allowMerged {
			return nil, err
		}
		ds[k] = st.d
	}
	return ds, nil
}

// dropAxis returns dims without axis a.
func dropAxis(dims []int, a int) []int {
	out := make([]int, 0, len(dims))
	for k, v := range dims {
		if k != a {
			out = append(out, v)
		}
	}
	return out
}

// permuteDims returns dims[p[0]], dims[p[1]], ...
func permuteDims(dims, p []int) []int {
	out := make([]int, len(p))
	for k, a := range p {
		out[k] = dims[a]
	}
	return out
}

// layoutPerm finds the permutation P of the per-sample ONNX axes nb such that the
// buffer of a value with layout idx holds the transpose of nb by P (NCHW data held
// as H, W, C: P = 1, 2, 0). It tries channels-last and row-major first, then every
// permutation of up to 4 axes; without a match it returns row-major, which the
// operands are then moved to.
func layoutPerm(nb []int, idx []int32) []int {
	m := len(nb)
	ident := make([]int, m)
	for k := range ident {
		ident[k] = k
	}
	if idx == nil {
		return ident
	}
	last := append(append([]int(nil), ident[1:]...), 0)
	cands := [][]int{last, ident}
	if m <= 4 {
		cands = append(cands, perms(m)...)
	}
	for _, p := range cands {
		if sameIdx(transposeIdx(nb, p), idx) {
			return p
		}
	}
	return ident
}

// perms lists the permutations of 0..m-1.
func perms(m int) [][]int {
	if m == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range perms(m - 1) {
		for at := 0; at <= len(p); at++ {
			q := append(append(append([]int(nil), p[:at]...), m-1), p[at:]...)
			out = append(out, q)
		}
	}
	return out
}

// gatherOperands puts each input of n in the layout that holds its per-sample shape
// (nbs[k]) transposed by p, and returns their values and physical shapes.
func (b *builder) gatherOperands(n *node, nbs [][]int, p []int) ([]layers.Value, []layers.Shape, error) {
	vals := make([]layers.Value, len(nbs))
	physs := make([]layers.Shape, len(nbs))
	for k, in := range n.GetInput() {
		b.load(in)
		if err := b.materialize(transposeIdx(nbs[k], p), permuteDims(nbs[k], p), n.GetName()); err != nil {
			return nil, nil, err
		}
		vals[k], physs[k] = b.val, b.phys
	}
	return vals, physs, nil
}

// emitN appends a multi-input layer reading ins (of physical shapes shapes).
func (b *builder) emitN(l layers.Layer, ins []layers.Value, shapes []layers.Shape) error {
	m, ok := l.(layers.MultiInput)
	if !ok {
		return fmt.Errorf("%w: layer %q takes one input", layers.ErrInvalid, l.LayerInfo().Name)
	}
	out, err := m.OutputShapeN(shapes)
	if err == nil {
		err = out.Check()
	}
	if err != nil {
		return fmt.Errorf("layer %q (%s): %w", l.LayerInfo().Name, l.LayerInfo().Class, err)
	}
	if out.Size() > maxSample {
		return fmt.Errorf("%w: layer %q output %v is too large", layers.ErrUnsupported, l.LayerInfo().Name, out)
	}
	b.push(l, ins, out)
	b.producer = len(b.ls) - 1
	return nil
}

// opMergeN imports an element-wise op of computed tensors (a residual Add, a
// squeeze-and-excitation Mul) as layers.Merge with ONNX (numpy) broadcasting. The
// operands are put in one layout: the one the largest operand already has (NHWC for
// convolution outputs), applied to each operand's axes, so that a (N, C, 1, 1)
// operand is held as (1, 1, C) beside (H, W, C) and broadcasts the same way.
func opMergeN(b *builder, n *node) error {
	op := n.GetOpType()
	if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow") && len(n.GetInput()) != 2 {
		return n.errorf(layers.ErrBadFile, "%d inputs", len(n.GetInput()))
	}
	ds, err := b.operandsOf(n, b.foldB > 1)
	if err != nil {
		return err
	}
	inner := ds[0].inner() // > 1 only with a folded batch: an ordinary axis of the one sample
	for _, d := range ds[1:] {
		if d.inner() != inner {
			return n.errorf(layers.ErrUnsupported, "inputs with the batch merged with %d and %d rows", inner, d.inner())
		}
	}
	if len(ds) == 1 { // Sum, Mean, Max, Min of one tensor
		return b.setOut(n.out(0), b.d.clone())
	}
	out := ds[0].shape
	for _, d := range ds[1:] {
		var ok bool
		if out, ok = broadcastDims(out, d.shape); !ok {
			return n.errorf(layers.ErrShapeMismatch, "inputs of shapes %v and %v do not broadcast", ds[0].shape, d.shape)
		}
	}
	r := len(out)
	bAxis := -1
	nbs := make([][]int, len(ds))
	ref := 0
	for k, d := range ds {
		ba := d.bAxis + r - len(d.shape)
		if bAxis >= 0 && ba != bAxis {
			return n.errorf(layers.ErrUnsupported, "inputs with the batch at different axes (%v, %v)", ds[0].shape, d.shape)
		}
		bAxis = ba
		full := make([]int, r)
		for a := range full {
			full[a] = 1
		}
		copy(full[r-len(d.shape):], d.shape)
		if nbs[k] = dropAxis(full, bAxis); inner > 1 {
			full[bAxis], nbs[k] = inner, full
		}
		if shapeSize(nbs[k]) > shapeSize(nbs[ref]) {
			ref = k
		}
	}
	if shapeSize(out[:bAxis]) != 1 {
		return n.errorf(layers.ErrUnsupported, "output %v with axes of size > 1 before the batch axis", out)
	}
	p := layoutPerm(nbs[ref], ds[ref].idx)
	vals, physs, err := b.gatherOperands(n, nbs, p)
	if err != nil {
		return err
	}
	l := &layers.Merge{Info: b.info(n.GetName(), op), Op: mergeOps[op]}
	if err := b.emitN(l, vals, physs); err != nil {
		return err
	}
	onb := dropAxis(out, bAxis)
	if inner > 1 {
		onb = append([]int(nil), out...)
		onb[bAxis] = inner
	}
	return b.setOut(n.out(0), &dyn{shape: append([]int(nil), out...), bAxis: bAxis, bInner: inner, idx: transposeIdx(onb, p)})
}

// opConcatN imports Concat of computed tensors as layers.Concatenate, on the physical
// axis the ONNX axis lands on in the operands' common layout (channels of NCHW data
// held as NHWC: the last axis).
func opConcatN(b *builder, n *node) error {
	ds, err := b.operands(n)
	if err != nil {
		return err
	}
	r, bAxis := len(ds[0].shape), ds[0].bAxis
	ax, err := normAxis(n, n.int("axis", 0), r)
	if err != nil {
		return err
	}
	if ax == bAxis {
		return n.errorf(layers.ErrUnsupported, "concatenation along the batch axis")
	}
	if len(ds) == 1 { // torch.cat of a one-tensor list (DenseNet's first layers)
		return b.setOut(n.out(0), b.d.clone())
	}
	out := append([]int(nil), ds[0].shape...)
	nbs := make([][]int, len(ds))
	ref := 0
	for k, d := range ds {
		if len(d.shape) != r || d.bAxis != bAxis {
			return n.errorf(layers.ErrShapeMismatch, "inputs of shapes %v and %v", ds[0].shape, d.shape)
		}
		for a := range d.shape {
			if a != ax && d.shape[a] != out[a] {
				return n.errorf(layers.ErrShapeMismatch, "inputs of shapes %v and %v differ outside axis %d", ds[0].shape, d.shape, ax)
			}
		}
		if k > 0 {
			out[ax] += d.shape[ax]
		}
		nbs[k] = d.nb()
		if ds[ref].idx == nil && d.idx != nil {
			ref = k
		}
	}
	if shapeSize(out[:bAxis]) != 1 {
		return n.errorf(layers.ErrUnsupported, "output %v with axes of size > 1 before the batch axis", out)
	}
	a := ax
	if bAxis < ax {
		a--
	}
	p := layoutPerm(nbs[ref], ds[ref].idx)
	phys := 0
	for k, q := range p {
		if q == a {
			phys = k
		}
	}
	vals, physs, err := b.gatherOperands(n, nbs, p)
	if err != nil {
		return err
	}
	if err := b.emitN(&layers.Concatenate{Info: b.info(n.GetName(), "Concat"), Axis: phys}, vals, physs); err != nil {
		return err
	}
	return b.setOut(n.out(0), &dyn{shape: out, bAxis: bAxis, idx: transposeIdx(dropAxis(out, bAxis), p)})
}

// finish puts each output in the model's own layout.
func (b *builder) finish() error {
	for _, o := range b.outNames {
		if _, ok := b.states[o]; !ok {
			if _, c := b.consts[o]; c {
				return fmt.Errorf("%w: output %q does not depend on the input", layers.ErrUnsupported, o)
			}
			return fmt.Errorf("%w: output %q is not computed by a node kinfer imports", layers.ErrUnsupported, o)
		}
		b.load(o)
		d := b.d
		if d.inner() > 1 && b.foldB < 2 {
			return fmt.Errorf("%w: output %q has the batch axis merged with %d rows", layers.ErrUnsupported, o, d.inner())
		}
		if shapeSize(d.shape[:d.bAxis]) != 1 {
			return fmt.Errorf("%w: output %q has its batch axis at position %d after axes of size %v", layers.ErrUnsupported, o, d.bAxis, d.shape[:d.bAxis])
		}
		name := "output"
		if len(b.outNames) > 1 {
			name = o
		}
		if err := b.materialize(nil, d.nb(), name); err != nil {
			return err
		}
		if int(b.val) < len(b.inShapes) { // an input passed through
			if err := b.emit(&layers.Identity{Info: b.info("identity", "Identity")}); err != nil {
				return err
			}
		}
		b.outVals = append(b.outVals, b.val)
	}
	return nil
}

// build builds the layers.Graph: the ONNX inputs, every layer emitted (Build drops
// those no output reads, such as views a later pattern bypassed) and the outputs.
func (b *builder) build(meta map[string]string) (*layers.Graph, error) {
	lb := layers.NewBuilder()
	for k, name := range b.inNames {
		lb.Input(name, b.inShapes[k], b.inTypes[k])
	}
	for i, l := range b.ls {
		lb.Node(l, b.lin[i]...)
	}
	return lb.Build(b.outVals, b.outNames, meta)
}
