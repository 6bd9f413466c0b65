package onnx

import (
	"fmt"
	"sort"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// maxSample bounds the per-sample element count of any tensor on the data path: the
// importer keeps an int32 index per element to track layouts, and a layout change
// builds a few such tables at once, so 2^24 (64 MiB a table) keeps an import's peak
// below ~300 MB (measured: 252 MB for a Pad to 16M values and two Transposes). Read
// lowers it further so that a tensor of MaxBatch samples fits Options.MaxTensorBytes
// (builder.maxSample).
var maxSample = 1 << 24 // a variable so that the fuzz target can lower it

// dyn describes the value on the data path: its ONNX shape (shape[bAxis] is the batch
// axis, held as the static batch size or 1) and how the layers' batch-first,
// row-major buffer maps onto it: physical element j of a sample holds the element
// whose flat index over the ONNX shape without the batch axis is idx[j] (nil means
// the identity). Transposes, reshapes and squeezes only rewrite this description;
// layers are emitted when an op needs a particular layout.
//
// bInner > 1 marks a batch axis merged with bInner per-sample rows (tf2onnx reshapes
// (N, T, F) to (N*T, F) around a MatMul): per sample the tensor then has an axis of
// size bInner where the batch axis is.
type dyn struct {
	shape  []int
	bAxis  int
	bInner int
	idx    []int32
}

func (d *dyn) clone() *dyn {
	return &dyn{shape: append([]int(nil), d.shape...), bAxis: d.bAxis, bInner: d.bInner, idx: d.idx}
}

func (d *dyn) inner() int { return max(d.bInner, 1) }

// nb is the per-sample shape: the shape without the batch axis (or with the batch
// axis's merged rows in its place).
func (d *dyn) nb() []int {
	out := make([]int, 0, len(d.shape))
	for k, v := range d.shape {
		if k != d.bAxis {
			out = append(out, v)
		} else if d.inner() > 1 {
			out = append(out, d.inner())
		}
	}
	return out
}

// merged reports an error when an op cannot handle a merged batch axis.
func (d *dyn) merged(n *node) error {
	if d.inner() > 1 {
		return n.errorf(layers.ErrUnsupported, "data with the batch axis merged with %d rows", d.inner())
	}
	return nil
}

func (d *dyn) size() int { return shapeSize(d.nb()) }

// builder turns the topologically sorted nodes into a DAG of layers. It imports one
// node at a time on "the current data" (cur, d, phys, val, producer, excl): the
// state of the node's data input, loaded from states (dag.go); a handler emits layers
// reading val and records its output's state with setOut.
type builder struct {
	opset    int64
	graph    *onnxpb.GraphProto
	nodes    []*onnxpb.NodeProto
	order    []int       // live nodes in topological order
	pos      map[int]int // node index -> position in order
	done     map[int]bool
	consts   map[string]*tensor
	dyns     map[string]*dyn
	users    map[string][]int // value -> live consuming nodes (one entry per use)
	inNames  []string         // graph inputs (not initializers), in file order
	outNames []string         // graph outputs, in file order

	inShapes    []layers.Shape // per graph input, without batch
	inTypes     []layers.DType // per graph input
	seqLen      int            // Options.SeqLen: the length of a dynamic sequence axis
	varAxes     string         // per-sample input axes that were dynamic ("0")
	phys        layers.Shape   // physical shape of the current data
	staticBatch int
	foldB       int // > 1: the static batch folded into the data (static_batch.go)
	cur         string
	d           *dyn
	val         layers.Value // the layers value holding the current data
	excl        bool         // nothing but the node being imported reads val
	ls          []layers.Layer
	lin         [][]layers.Value // input values of each layer
	shapes      []layers.Shape   // output shape of each layer
	producer    int              // last layer that computed the current data (-1: none)
	maxSample   int              // per-sample element bound (Options, at most maxSample)
	folded      int64            // bytes of folded constants kept (bounded by maxFoldedBytes)
	names       map[string]int
	states      map[string]*dstate  // per data-path ONNX value
	outVals     []layers.Value      // per graph output, set by finish
	float64IO   []string            // DOUBLE graph inputs and outputs, held as float32
	quant       *quantState         // quantized values (ops_quant.go)
	attn        map[int]*attnRegion // matched attention, by the node computing its output
	attnProd    map[string]int      // while matching attention: value -> producing node
	attnMemo    map[string]bool     // while matching attention: constLike results

	seqLens *layers.Value // sequence_lens of the recurrent node being imported (rnn.go)
}

func newBuilder(g *onnxpb.GraphProto, opset int64, opt Options) (*builder, error) {
	if opt.SeqLen < 0 || opt.SeqLen > layers.MaxElements {
		return nil, fmt.Errorf("%w: Options.SeqLen %d", layers.ErrInvalid, opt.SeqLen)
	}
	b := &builder{opset: opset, graph: g, maxSample: opt.sampleLimit(), nodes: g.GetNode(), consts: map[string]*tensor{}, seqLen: opt.SeqLen,
		dyns: map[string]*dyn{}, users: map[string][]int{}, done: map[int]bool{},
		pos: map[int]int{}, producer: -1, names: map[string]int{}, states: map[string]*dstate{}}
	if opt.foldBatch {
		b.foldB = -1 // set from the inputs' static batch by setInput
	}
	if len(g.GetSparseInitializer()) > 0 {
		return nil, fmt.Errorf("%w: sparse initializers", layers.ErrUnsupported)
	}
	for _, t := range g.GetInitializer() {
		if t.GetName() == "" {
			return nil, fmt.Errorf("%w: initializer without a name", layers.ErrBadFile)
		}
		if _, dup := b.consts[t.GetName()]; dup {
			return nil, fmt.Errorf("%w: initializer %q defined twice", layers.ErrBadFile, t.GetName())
		}
		c, err := fromProto(t, "initializer")
		if err != nil {
			return nil, err
		}
		b.consts[t.GetName()] = c
	}
	nodes, err := upgradeNodes(b.nodes, opset, b.consts)
	if err != nil {
		return nil, err
	}
	if nodes, err = rewriteSequences(nodes, opset, b.consts); err != nil {
		return nil, err
	}
	b.nodes = nodes
	var ins []*onnxpb.ValueInfoProto
	for _, in := range g.GetInput() {
		if _, isInit := b.consts[in.GetName()]; !isInit {
			ins = append(ins, in)
		}
	}
	if len(ins) == 0 || len(ins) > maxIO {
		return nil, fmt.Errorf("%w: model has %d inputs (besides initializers); kinfer imports 1 to %d", layers.ErrUnsupported, len(ins), maxIO)
	}
	if len(g.GetOutput()) == 0 || len(g.GetOutput()) > maxIO {
		return nil, fmt.Errorf("%w: model has %d outputs; kinfer imports 1 to %d", layers.ErrUnsupported, len(g.GetOutput()), maxIO)
	}
	seen := map[string]bool{}
	for _, in := range ins {
		if in.GetName() == "" || seen[in.GetName()] {
			return nil, fmt.Errorf("%w: unnamed or repeated graph input %q", layers.ErrBadFile, in.GetName())
		}
		seen[in.GetName()] = true
		b.inNames = append(b.inNames, in.GetName())
	}
	for _, o := range g.GetOutput() {
		if o.GetName() == "" {
			return nil, fmt.Errorf("%w: unnamed graph output", layers.ErrBadFile)
		}
		b.outNames = append(b.outNames, o.GetName())
	}
	for k, in := range ins {
		if err := b.setInput(in, k); err != nil {
			return nil, err
		}
	}
	return b, b.sortNodes()
}

// setInput reads the input's type: float32, axis 0 the batch (symbolic or fixed),
// every other axis fixed.
func (b *builder) setInput(in *onnxpb.ValueInfoProto, k int) error {
	tt := in.GetType().GetTensorType()
	if tt == nil {
		return fmt.Errorf("%w: input %q is not a tensor", layers.ErrUnsupported, in.GetName())
	}
	dt := layers.Float32
	if idInput(tt.GetElemType()) {
		dt = layers.Int32 // token ids: only an embedding Gather may read them
	} else if tt.GetElemType() == int32(onnxpb.TensorProto_DOUBLE) {
		b.float64IO = append(b.float64IO, in.GetName()) // computed in float32 (docs/RATIONALE.md)
	} else if et := tt.GetElemType(); et != int32(onnxpb.TensorProto_FLOAT) && et != int32(onnxpb.TensorProto_BOOL) &&
		et != int32(onnxpb.TensorProto_FLOAT16) { // float16: fed as float32
		return fmt.Errorf("%w: input %q has element type %v; kinfer takes float32 input, or int32/int64 token ids", layers.ErrUnsupported, in.GetName(), onnxpb.TensorProto_DataType(tt.GetElemType()))
	}
	if tt.GetShape() == nil {
		return fmt.Errorf("%w: input %q has no shape", layers.ErrUnsupported, in.GetName())
	}
	dims := tt.GetShape().GetDim()
	if len(dims) == 0 || len(dims) > 8 {
		return fmt.Errorf("%w: input %q has rank %d; kinfer needs a batch axis plus up to 7 more", layers.ErrUnsupported, in.GetName(), len(dims))
	}
	shape := make([]int, len(dims))
	for k, dm := range dims {
		v, isVal := dm.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue)
		if k == 0 {
			if b.foldB != 0 && (!isVal || v.DimValue <= 0) {
				return fmt.Errorf("%w: input %q has a dynamic batch; folding the batch needs every input's static", layers.ErrUnsupported, in.GetName())
			}
			if isVal && v.DimValue > 0 {
				if v.DimValue > layers.MaxElements {
					return fmt.Errorf("%w: input %q batch size %d", layers.ErrBadFile, in.GetName(), v.DimValue)
				}
				if b.staticBatch > 0 && b.staticBatch != int(v.DimValue) {
					return fmt.Errorf("%w: input %q has batch size %d, an earlier input %d", layers.ErrUnsupported, in.GetName(), v.DimValue, b.staticBatch)
				}
				b.staticBatch = int(v.DimValue)
			}
			shape[0] = max(b.staticBatch, 1)
			if b.foldB != 0 {
				shape[0] = 1 // the kinfer batch; the ONNX batch is bInner rows (static_batch.go)
			}
			continue
		}
		if (!isVal || v.DimValue <= 0) && k == 1 && b.seqLen > 0 {
			shape[k], b.varAxes = b.seqLen, "0" // a dynamic sequence axis, at its maximum length
			continue
		}
		if !isVal || v.DimValue <= 0 {
			hint := ""
			if k == 1 {
				hint = " (a dynamic sequence axis: import with onnx.Options{SeqLen: max length})"
			}
			return fmt.Errorf("%w: input %q dimension %d is not fixed (%q); only the batch axis (0) may be dynamic%s", layers.ErrUnsupported, in.GetName(), k, dm.GetDimParam(), hint)
		}
		if v.DimValue > layers.MaxElements {
			return fmt.Errorf("%w: input %q dimension %d is %d", layers.ErrBadFile, in.GetName(), k, v.DimValue)
		}
		shape[k] = int(v.DimValue)
	}
	inner := 0
	if b.foldB != 0 {
		if b.staticBatch < 2 {
			return fmt.Errorf("%w: input %q has no static batch to fold", layers.ErrUnsupported, in.GetName())
		}
		b.foldB, inner = b.staticBatch, b.staticBatch
	}
	s := layers.Shape(shape[1:]).Clone()
	if inner > 0 {
		s = append(layers.Shape{inner}, s...)
	}
	if err := s.Check(); err != nil {
		return fmt.Errorf("input %q: %w", in.GetName(), err)
	}
	if s.Size() > b.maxSample {
		return fmt.Errorf("%w: input %q has %d elements per sample, over the %d allowed (onnx.Options: MaxBatch, MaxTensorBytes)", layers.ErrTooLarge, in.GetName(), s.Size(), b.maxSample)
	}
	b.inShapes, b.inTypes = append(b.inShapes, s), append(b.inTypes, dt)
	b.val, b.phys, b.producer, b.excl = layers.Value(k), s.Clone(), -1, true
	return b.setOut(in.GetName(), &dyn{shape: shape, bAxis: 0, bInner: inner})
}

// sortNodes keeps the nodes the output depends on, checks every input is defined and
// orders them topologically (failing on cycles).
func (b *builder) sortNodes() error {
	prod := map[string]int{}
	for i, n := range b.nodes {
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			if _, dup := prod[o]; dup {
				return fmt.Errorf("%w: value %q is produced twice", layers.ErrBadFile, o)
			}
			if _, c := b.consts[o]; c || b.isInput(o) {
				return fmt.Errorf("%w: node %q overwrites %q", layers.ErrBadFile, n.GetName(), o)
			}
			prod[o] = i
		}
	}
	defined := func(v string) bool {
		_, c := b.consts[v]
		_, p := prod[v]
		return v == "" || c || p || b.isInput(v)
	}
	// liveness from the outputs
	live := map[int]bool{}
	for _, o := range b.outNames {
		if !defined(o) {
			return fmt.Errorf("%w: graph output %q is not produced by any node", layers.ErrBadFile, o)
		}
	}
	stack := append([]string(nil), b.outNames...)
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, ok := prod[v]
		if !ok || live[i] {
			continue
		}
		live[i] = true
		for _, in := range b.nodes[i].GetInput() {
			if !defined(in) {
				return fmt.Errorf("%w: node %q (%s) input %q is not produced by any node, initializer or graph input", layers.ErrBadFile, b.nodes[i].GetName(), b.nodes[i].GetOpType(), in)
			}
			stack = append(stack, in)
		}
		if len(b.nodes[i].GetAttribute()) > 0 {
			for _, a := range b.nodes[i].GetAttribute() {
				if a.GetG() != nil || len(a.GetGraphs()) > 0 {
					return fmt.Errorf("%w: node %q (%s) has a subgraph attribute %q (control flow)", layers.ErrUnsupported, b.nodes[i].GetName(), b.nodes[i].GetOpType(), a.GetName())
				}
			}
		}
	}
	// Kahn's algorithm over live nodes, in file order among ready nodes
	indeg := map[int]int{}
	next := map[int][]int{}
	for i := range b.nodes {
		if !live[i] {
			continue
		}
		for _, in := range b.nodes[i].GetInput() {
			if p, ok := prod[in]; ok {
				indeg[i]++
				next[p] = append(next[p], i)
			}
			if in != "" {
				b.users[in] = append(b.users[in], i)
			}
		}
	}
	var ready []int
	for i := range b.nodes {
		if live[i] && indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		b.pos[i] = len(b.order)
		b.order = append(b.order, i)
		for _, j := range next[i] {
			indeg[j]--
			if indeg[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	if len(b.order) != len(live) {
		return fmt.Errorf("%w: graph has a cycle", layers.ErrBadFile)
	}
	return nil
}

// dataUsers counts the uses of v that read its data (Shape and Size only read its
// shape), plus one when v is the graph output.
func (b *builder) dataUsers(v string) int {
	n := 0
	for _, i := range b.users[v] {
		if op := b.nodes[i].GetOpType(); op != "Shape" && op != "Size" && !b.done[i] {
			n++
		}
	}
	return n + b.outputUses(v)
}

// used reports whether anything reads v.
func (b *builder) used(v string) bool {
	return v != "" && (len(b.users[v]) > 0 || b.outputUses(v) > 0)
}

func (b *builder) run() error {
	// fold everything that does not depend on the input first, so that pattern
	// matching sees every constant
	for _, i := range b.order {
		np := b.nodes[i]
		if !foldable[np.GetOpType()] || (np.GetDomain() != "" && np.GetDomain() != "ai.onnx") {
			continue
		}
		ins := make([]*tensor, len(np.GetInput()))
		ok := true
		for k, in := range np.GetInput() {
			if in != "" {
				ins[k], ok = b.consts[in]
				if !ok {
					break
				}
			}
		}
		if !ok {
			continue
		}
		n := newNode(np, b.opset)
		outs, err := evalConst(n, ins)
		if err == nil {
			err = n.done()
		}
		if err != nil {
			if n.err != nil {
				return n.err
			}
			return err
		}
		if err := b.keepFolded(n, outs); err != nil {
			return err
		}
		b.done[i] = true
	}
	if err := b.foldDequant(); err != nil { // ops_quant.go
		return err
	}
	if err := b.findAttention(); err != nil {
		return err
	}
	for _, i := range b.order {
		if r := b.attn[i]; r != nil {
			if err := b.applyAttention(r); err != nil {
				return err
			}
			continue
		}
		if b.done[i] {
			continue
		}
		np := b.nodes[i]
		n := newNode(np, b.opset)
		if d := np.GetDomain(); d != "" && d != "ai.onnx" && !(d == "com.microsoft" && msQuantOps[np.GetOpType()]) { // ops_quant_op.go
			return n.errorf(layers.ErrUnsupported, "op domain %q", d)
		}
		var dynIn []string
		for _, in := range np.GetInput() {
			if _, ok := b.dyns[in]; ok {
				dynIn = append(dynIn, in)
			}
		}
		op := np.GetOpType()
		if len(dynIn) > 0 && (op == "Shape" || op == "Size") {
			if err := b.shapeOf(n, b.dyns[dynIn[0]]); err != nil {
				return err
			}
			continue
		}
		if len(dynIn) == 0 {
			if !foldable[op] {
				return n.errorf(layers.ErrUnsupported, "op type %s on constants", op)
			}
			ins := make([]*tensor, len(np.GetInput()))
			for k, in := range np.GetInput() {
				if in != "" {
					ins[k] = b.consts[in]
				}
			}
			outs, err := evalConst(n, ins)
			if err == nil {
				err = n.done()
			}
			if err != nil {
				if n.err != nil {
					return n.err
				}
				return err
			}
			if err := b.keepFolded(n, outs); err != nil {
				return err
			}
			continue
		}
		if handled, err := b.dagNode(n, dynIn); err != nil {
			if n.err != nil { // a mistyped attribute is the root cause
				return n.err
			}
			return err
		} else if handled {
			continue
		}
		h := handlers[op]
		if h == nil {
			return n.errorf(layers.ErrUnsupported, "op type %s", op)
		}
		if err := h(b, n); err != nil {
			if n.err != nil { // a mistyped attribute is the root cause
				return n.err
			}
			return err
		}
		if err := n.done(); err != nil {
			return err
		}
	}
	return b.finish()
}

// shapeOf folds Shape/Size of a data-path value into a constant whose batch entry is
// symbolic.
func (b *builder) shapeOf(n *node, d *dyn) error {
	dims := make([]int64, len(d.shape))
	for k, v := range d.shape {
		dims[k] = int64(v)
	}
	if n.GetOpType() == "Size" {
		return n.errorf(layers.ErrUnsupported, "Size of a batch-dependent tensor")
	}
	t := newInt([]int{len(dims)}, dims)
	t.batch = make([]bool, len(dims))
	t.batch[d.bAxis] = true
	t.i[d.bAxis] = int64(d.inner()) // a batch mark's value is its multiple of the batch size
	t, err := shapeSlice(n, t)
	if err != nil {
		return err
	}
	if err := n.done(); err != nil {
		return err
	}
	b.consts[n.out(0)] = t
	return nil
}

// info names a new layer after its node, unique within the graph.
func (b *builder) info(name, class string) layers.Info {
	if name == "" {
		name = class
	}
	b.names[name]++
	if c := b.names[name]; c > 1 {
		name = fmt.Sprintf("%s_%d", name, c)
	}
	return layers.Info{Name: name, Class: class}
}

// emit appends a layer, infers its output shape and makes it the producer.
func (b *builder) emit(l layers.Layer) error {
	out, err := l.OutputShape(b.phys)
	if err != nil {
		return fmt.Errorf("layer %q (%s): %w", l.LayerInfo().Name, l.LayerInfo().Class, err)
	}
	if err := out.Check(); err != nil {
		return fmt.Errorf("layer %q (%s): %w", l.LayerInfo().Name, l.LayerInfo().Class, err)
	}
	if out.Size() > b.maxSample {
		return fmt.Errorf("%w: layer %q output %v has more than the %d elements per sample allowed (onnx.Options: MaxBatch, MaxTensorBytes)", layers.ErrTooLarge, l.LayerInfo().Name, out, b.maxSample)
	}
	b.push(l, []layers.Value{b.val}, out)
	if _, isReshape := l.(*layers.Reshape); !isReshape {
		b.producer = len(b.ls) - 1
	}
	return nil
}

// keepFolded records the constants a folded node computed, within maxFoldedBytes.
func (b *builder) keepFolded(n *node, outs []*tensor) error {
	for k, t := range outs {
		o := n.out(k)
		if o == "" {
			continue
		}
		if b.folded += t.bytes(); b.folded > maxFoldedBytes {
			return n.errorf(layers.ErrTooLarge, "folded constants exceed %d MiB in all", maxFoldedBytes>>20)
		}
		b.consts[o] = t
	}
	return nil
}

// push appends a layer reading ins with output shape out and makes its output the
// current data.
func (b *builder) push(l layers.Layer, ins []layers.Value, out layers.Shape) {
	b.ls = append(b.ls, l)
	b.lin = append(b.lin, ins)
	b.shapes = append(b.shapes, out)
	b.phys = out
	b.val = b.layerValue(len(b.ls) - 1)
	b.excl = true
}

// layerValue is the layers value of layer i's output.
func (b *builder) layerValue(i int) layers.Value { return layers.Value(len(b.inShapes) + i) }

// valShape is the shape of a layers value.
func (b *builder) valShape(v layers.Value) layers.Shape {
	if int(v) < len(b.inShapes) {
		return b.inShapes[v]
	}
	return b.shapes[int(v)-len(b.inShapes)]
}

// reshapePhys makes the physical shape t (a free Reshape layer when it differs).
func (b *builder) reshapePhys(t []int, name string) error {
	target := layers.Shape(append([]int(nil), t...))
	if b.phys.Equal(target) {
		return nil
	}
	if last := len(b.ls) - 1; last >= 0 && b.excl && b.val == b.layerValue(last) {
		if r, ok := b.ls[last].(*layers.Reshape); ok { // retarget the previous reshape
			b.val = b.lin[last][0]
			b.ls, b.lin, b.shapes = b.ls[:last], b.lin[:last], b.shapes[:last]
			b.phys = b.valShape(b.val)
			if b.phys.Equal(target) {
				return nil
			}
			r.Target = target
			return b.emit(r)
		}
	}
	return b.emit(&layers.Reshape{Info: b.info(name+"/reshape", "Reshape"), Target: target})
}

// fresh returns the producer layer if the current data is its output unchanged.
func (b *builder) fresh() layers.Layer {
	if b.producer < 0 || !b.excl {
		return nil
	}
	return b.ls[b.producer]
}

// setOut makes name the current data-path value described by d.
func (b *builder) setOut(name string, d *dyn) error {
	if name == "" {
		return fmt.Errorf("%w: node without an output name", layers.ErrBadFile)
	}
	if d.size() > b.maxSample {
		return fmt.Errorf("%w: value %q of shape %v has more than the %d elements per sample allowed (onnx.Options: MaxBatch, MaxTensorBytes)", layers.ErrTooLarge, name, d.shape, b.maxSample)
	}
	if len(d.shape) > 16 {
		return fmt.Errorf("%w: value %q of shape %v has more than 16 axes", layers.ErrUnsupported, name, d.shape)
	}
	b.cur, b.d = name, d
	b.dyns[name] = d.clone()
	b.states[name] = &dstate{d: d.clone(), val: b.val, phys: b.phys.Clone(), producer: b.producer, excl: b.excl}
	return nil
}

func isIdentity(idx []int32) bool {
	for k, v := range idx {
		if int(v) != k {
			return false
		}
	}
	return true
}

func normIdx(idx []int32) []int32 {
	if idx == nil || isIdentity(idx) {
		return nil
	}
	return idx
}

func sameIdx(a, b []int32) bool {
	if a == nil || b == nil {
		return isIdentity(a) && isIdentity(b)
	}
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

func invert(idx []int32) []int32 {
	inv := make([]int32, len(idx))
	for j, v := range idx {
		inv[v] = int32(j)
	}
	return inv
}

// transposeIdx is the layout of a buffer holding the transpose (by perm) of a tensor
// of dims: element j of the buffer is element idx[j] of the tensor.
func transposeIdx(dims, perm []int) []int32 {
	return normIdx(transposeIndex32(dims, perm))
}

// transposeIndex32 is transposeIndex into int32s, for the layout tables (tensors on
// the data path have at most maxSample elements): half the memory of the []int.
func transposeIndex32(dims, perm []int) []int32 {
	od, ost := transposeStrides(dims, perm)
	return stridedIndex[int32](od, ost)
}

// materialize makes the physical layout want (nil: row-major over the ONNX shape
// without batch) with physical shape target, emitting a Permute when the data must
// move.
func (b *builder) materialize(want []int32, target []int, name string) error {
	if !sameIdx(b.d.idx, want) {
		n := b.d.size()
		g := make([]int32, n)
		var inv []int32
		if b.d.idx != nil {
			inv = invert(b.d.idx)
		}
		for j := range g {
			w := int32(j)
			if want != nil {
				w = want[j]
			}
			if inv != nil {
				w = inv[w]
			}
			g[j] = w
		}
		S, P, ok := decompose(g)
		if !ok {
			return fmt.Errorf("%w: %s: the layout change is not a transpose", layers.ErrUnsupported, name)
		}
		S, P = refine(b.phys, S, P)
		if err := b.reshapePhys(S, name); err != nil {
			return err
		}
		if err := b.emit(&layers.Permute{Info: b.info(name+"/transpose", "Transpose"), Perm: P}); err != nil {
			return err
		}
		b.d.idx = want
		if err := b.reshapePhys(target, name); err != nil {
			return err
		}
		b.shareMoved()
		return nil
	}
	return b.reshapePhys(target, name)
}

// refine re-expresses a permutation of merged axes S over the finer axes of the
// physical shape phys when each axis of S is a run of consecutive physical axes, so
// that no reshape is needed around the Permute.
func refine(phys layers.Shape, S, P []int) ([]int, []int) {
	var dims []int // phys without size-1 axes
	for _, d := range phys {
		if d != 1 {
			dims = append(dims, d)
		}
	}
	groups := make([][]int, len(S))
	j := 0
	for k, s := range S {
		prod := 1
		for prod < s && j < len(dims) {
			prod *= dims[j]
			groups[k] = append(groups[k], j)
			j++
		}
		if prod != s {
			return S, P
		}
	}
	if j != len(dims) || len(dims) != len(phys) {
		return S, P
	}
	var perm []int
	for _, p := range P {
		perm = append(perm, groups[p]...)
	}
	return dims, perm
}

// decompose finds a shape S and a permutation P such that permuting a buffer viewed as
// S by P gathers g: out[j] = in[g[j]].
func decompose(g []int32) (S, P []int, ok bool) {
	n := len(g)
	if n == 0 || g[0] != 0 {
		return nil, nil, false
	}
	type ax struct{ size, stride int }
	var axes []ax // innermost output axis first
	size := 1
	for size < n {
		s := int(g[size])
		if s <= 0 {
			return nil, nil, false
		}
		k := 1
		for (k+1)*size <= n && int(g[k*size]) == k*s {
			k++
		}
		for k > 1 && (n/size)%k != 0 {
			k--
		}
		if k <= 1 {
			return nil, nil, false
		}
		axes = append(axes, ax{k, s})
		size *= k
	}
	r := len(axes)
	// verify
	idx := make([]int, r)
	off := 0
	for j := 0; j < n; j++ {
		if int(g[j]) != off {
			return nil, nil, false
		}
		for a := 0; a < r; a++ {
			idx[a]++
			off += axes[a].stride
			if idx[a] < axes[a].size {
				break
			}
			off -= axes[a].stride * idx[a]
			idx[a] = 0
		}
	}
	order := make([]int, r) // input axes, outermost first
	for k := range order {
		order[k] = k
	}
	sort.Slice(order, func(x, y int) bool { return axes[order[x]].stride > axes[order[y]].stride })
	expect := 1
	for k := r - 1; k >= 0; k-- {
		a := axes[order[k]]
		if a.stride != expect {
			return nil, nil, false
		}
		expect *= a.size
	}
	S = make([]int, r)
	where := make([]int, r)
	for k, a := range order {
		S[k] = axes[a].size
		where[a] = k
	}
	P = make([]int, r)
	for k := 0; k < r; k++ { // output axis k (outermost first) is axes[r-1-k]
		P[k] = where[r-1-k]
	}
	return S, P, true
}

// expand broadcasts a constant to the current value's shape and returns one value per
// physical element (in physical order).
func (b *builder) expand(n *node, c *tensor) ([]float32, error) {
	d := b.d
	r := len(d.shape)
	if len(c.dims) > r || c.batch != nil && c.hasBatch() {
		return nil, n.errorf(layers.ErrUnsupported, "constant of shape %v broadcast against %v", c.dims, d.shape)
	}
	full := make([]int, r)
	for k := range full {
		full[k] = 1
	}
	copy(full[r-len(c.dims):], c.dims)
	if ba := alignedBAxis(c, r); ba >= 0 && ba != d.bAxis {
		return nil, n.errorf(layers.ErrUnsupported, "constant's batch axis %d differs from the data's %d", ba, d.bAxis)
	}
	var cnb []int
	for k, v := range full {
		if k == d.bAxis {
			if v != 1 && (b.foldB < 2 || v != d.inner()) {
				return nil, batchVarying(n, c.dims)
			}
			if d.inner() > 1 {
				cnb = append(cnb, v) // v is 1, or the rows of a folded batch
			}
			continue
		}
		if v != 1 && v != d.shape[k] {
			return nil, n.errorf(layers.ErrShapeMismatch, "constant of shape %v does not broadcast to %v without growing it", c.dims, d.shape)
		}
		cnb = append(cnb, v)
	}
	ci := broadcastIndex(d.nb(), cnb)
	cf := c.floats()
	out := make([]float32, len(ci))
	for j := range out {
		l := j
		if d.idx != nil {
			l = int(d.idx[j])
		}
		out[j] = cf[ci[l]]
	}
	return out, nil
}

// periodic reports whether v repeats with period p.
func periodic(v []float32, p int) bool {
	if p <= 0 || len(v)%p != 0 {
		return false
	}
	for j := p; j < len(v); j++ {
		if v[j] != v[j-p] && !(v[j] != v[j] && v[j-p] != v[j-p]) {
			return false
		}
	}
	return true
}

// affine applies y = x*scale + shift (one value per physical element), folding it
// into the producing Dense or Conv2D when it has no activation yet.
func (b *builder) affine(n *node, scale, shift []float32, origParams int64) error {
	switch l := b.fresh().(type) {
	case *layers.Dense:
		if l.Act.IsLinear() && periodic(scale, l.Units) && periodic(shift, l.Units) {
			foldColumns(l.W, &l.B, scale[:l.Units], shift[:l.Units])
			return nil
		}
	case *layers.Conv2D:
		if l.Act.IsLinear() && periodic(scale, l.Filters) && periodic(shift, l.Filters) {
			foldColumns(l.W, &l.B, scale[:l.Filters], shift[:l.Filters])
			return nil
		}
	case *layers.LayerNorm: // gamma and beta of a matched decomposed layer normalization
		if k := len(l.Gamma); k > 0 && periodic(scale, k) && periodic(shift, k) {
			if l.Beta == nil {
				l.Beta = make([]float32, k)
			}
			for j := range k {
				l.Gamma[j] *= scale[j]
				l.Beta[j] = l.Beta[j]*scale[j] + shift[j]
			}
			l.OrigParams = 0
			return nil
		}
	}
	p := 0
	cands := []int{1, b.phys.Last()}
	for k := len(b.phys) - 1; k >= 0; k-- {
		cands = append(cands, shapeSize(b.phys[k:]))
	}
	for _, c := range cands {
		if periodic(scale, c) && periodic(shift, c) {
			p = c
			break
		}
	}
	if p == 0 {
		p = len(scale)
	}
	if p != 1 && p != b.phys.Last() {
		if err := b.reshapePhys([]int{len(scale) / p, p}, n.GetName()); err != nil {
			return err
		}
	}
	s, t := scale[:p], shift[:p]
	if periodic(s, 1) {
		s = s[:1]
	}
	if periodic(t, 1) {
		t = t[:1]
	}
	return b.emit(&layers.Affine{Info: b.info(n.GetName(), n.GetOpType()), Scale: append([]float32(nil), s...), Shift: append([]float32(nil), t...), OrigParams: origParams})
}

// foldColumns scales the output columns of a weight (last axis of length len(s)) and
// its bias: W[.., j] *= s[j]; B[j] = B[j]*s[j] + t[j].
func foldColumns(w []float32, bias *[]float32, s, t []float32) {
	u := len(s)
	for k := range w {
		w[k] *= s[k%u]
	}
	if *bias == nil {
		*bias = make([]float32, u)
	}
	for j := range *bias {
		(*bias)[j] = (*bias)[j]*s[j] + t[j]
	}
}

// activation applies a per-element activation, fused into the producing Dense, Conv2D
// or ConvTranspose2D when possible.
func (b *builder) activation(n *node, a layers.Activation) error {
	if a.PerElement() {
		switch l := b.fresh().(type) {
		case *layers.Dense:
			if l.Act.IsLinear() {
				l.Act = a
				return nil
			}
		case *layers.Conv2D:
			if l.Act.IsLinear() {
				l.Act = a
				return nil
			}
		case *layers.ConvTranspose2D:
			if l.Act.IsLinear() {
				l.Act = a
				return nil
			}
		}
	}
	return b.emit(&layers.ActivationLayer{Info: b.info(n.GetName(), n.GetOpType()), Act: a})
}
