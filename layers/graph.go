package layers

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/minio/highwayhash"
)

// DType is the element type of a graph input. Every tensor inside a graph is stored as
// float32; an Int32 value holds int32 bit patterns in that storage (token ids for an
// Embedding), so integer inputs need no conversion buffer.
type DType uint8

// Element types of graph inputs.
const (
	Float32 DType = iota
	Int32
)

func (d DType) String() string {
	if d == Int32 {
		return "int32"
	}
	return "float32"
}

// Tensor describes one graph input or output.
type Tensor struct {
	Name  string
	Shape Shape // without batch axis
	DType DType
}

// Value names a tensor while a graph is built: a graph input or a node's output.
type Value int

// Graph is a frozen DAG of layers: inputs, nodes in topological order (each a layer
// applied to earlier values), and outputs, with every shape inferred and validated. A
// Sequential model is its one-path case. Value ids are 0..NumInputs()-1 for the inputs
// and NumInputs()+i for node i's output. A Graph is immutable after Build.
//
// Nodes are ordered so that chains are contiguous: when node i's output feeds only node
// i+1 and node i+1 reads nothing else, the pair is a link of a chain (ChainNext), which
// is what the runtime's fusions look for.
type Graph struct {
	inputs  []Tensor
	nodes   []node
	shapes  []Shape // per value id
	outputs []Value
	outName []string
	users   []int32 // per value: number of node inputs reading it, plus 1 if a graph output
	meta    map[string]string
}

type node struct {
	l  Layer
	in []Value
}

// Builder assembles a Graph. Values must be created before they are used, so nodes are
// added in a topological order by construction.
type Builder struct {
	inputs []Tensor
	nodes  []node
	err    error
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder { return &Builder{} }

// Input adds a graph input. All inputs must be added before the first node.
func (b *Builder) Input(name string, shape Shape, dt DType) Value {
	if len(b.nodes) > 0 && b.err == nil {
		b.err = errf(ErrInvalid, "input %q added after the first node", name)
	}
	b.inputs = append(b.inputs, Tensor{Name: name, Shape: shape.Clone(), DType: dt})
	return Value(len(b.inputs) - 1)
}

// Node adds a layer applied to ins and returns its output value.
func (b *Builder) Node(l Layer, ins ...Value) Value {
	b.nodes = append(b.nodes, node{l: l, in: append([]Value(nil), ins...)})
	return Value(len(b.inputs) + len(b.nodes) - 1)
}

// Build validates the graph and freezes it. outs are the output values, names their
// names ("" or a short names slice: the producing layer's name). Nodes that no output
// depends on are dropped.
func (b *Builder) Build(outs []Value, names []string, meta map[string]string) (*Graph, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(b.inputs) == 0 {
		return nil, errf(ErrInvalid, "model has no inputs")
	}
	if len(b.nodes) == 0 {
		return nil, errf(ErrInvalid, "model has no layers")
	}
	if len(outs) == 0 {
		return nil, errf(ErrInvalid, "model has no outputs")
	}
	nv := Value(len(b.inputs) + len(b.nodes))
	for _, n := range b.nodes {
		if n.l == nil {
			return nil, errf(ErrInvalid, "nil layer")
		}
	}
	for i, n := range b.nodes {
		self := Value(len(b.inputs) + i)
		if len(n.in) == 0 {
			return nil, layerErr(n.l, errf(ErrInvalid, "layer has no inputs"))
		}
		for _, v := range n.in {
			if v < 0 || v >= self {
				return nil, layerErr(n.l, errf(ErrInvalid, "input value %d is not defined before the layer", v))
			}
		}
	}
	for _, v := range outs {
		if v < 0 || v >= nv {
			return nil, errf(ErrInvalid, "output value %d is not defined", v)
		}
		if int(v) < len(b.inputs) && b.inputs[v].DType != Float32 {
			return nil, errf(ErrInvalid, "output is the %s input %q", b.inputs[v].DType, b.inputs[v].Name)
		}
	}
	if err := b.checkIDs(); err != nil {
		return nil, err
	}
	order := chainOrder(len(b.inputs), b.nodes, outs)
	g := &Graph{inputs: make([]Tensor, len(b.inputs)), meta: map[string]string{}}
	for k, v := range meta {
		g.meta[k] = v
	}
	// renumber: old value id -> new value id
	remap := make([]Value, nv)
	for i := range remap {
		remap[i] = -1
	}
	for i, t := range b.inputs {
		if err := t.Shape.Check(); err != nil {
			return nil, fmt.Errorf("model input %q: %w", t.Name, err)
		}
		g.inputs[i] = Tensor{Name: t.Name, Shape: t.Shape.Clone(), DType: t.DType}
		g.shapes = append(g.shapes, t.Shape.Clone())
		remap[i] = Value(i)
	}
	for _, oi := range order {
		n := b.nodes[oi]
		in := make([]Value, len(n.in))
		ins := make([]Shape, len(n.in))
		for k, v := range n.in {
			in[k] = remap[v]
			ins[k] = g.shapes[in[k]]
		}
		out, err := nodeShape(n.l, ins)
		if err != nil {
			return nil, layerErr(n.l, err)
		}
		if err := out.Check(); err != nil {
			return nil, layerErr(n.l, err)
		}
		remap[len(b.inputs)+oi] = Value(len(g.shapes))
		g.nodes = append(g.nodes, node{l: n.l, in: in})
		g.shapes = append(g.shapes, out)
	}
	g.users = make([]int32, len(g.shapes))
	for _, n := range g.nodes {
		for _, v := range n.in {
			g.users[v]++
		}
	}
	for i, v := range outs {
		nvv := remap[v]
		g.outputs = append(g.outputs, nvv)
		g.users[nvv]++
		name := ""
		if i < len(names) {
			name = names[i]
		}
		if name == "" {
			if int(nvv) < len(g.inputs) {
				name = g.inputs[nvv].Name
			} else {
				name = g.nodes[int(nvv)-len(g.inputs)].l.LayerInfo().Name
			}
		}
		g.outName = append(g.outName, name)
	}
	return g, nil
}

// checkIDs checks that Int32 inputs are read only as the first input of IDReaders
// and that every IDReader reads an Int32 input.
func (b *Builder) checkIDs() error {
	for _, n := range b.nodes {
		_, reader := n.l.(IDReader)
		for k, v := range n.in {
			isID := int(v) < len(b.inputs) && b.inputs[v].DType == Int32
			switch {
			case isID && (k != 0 || !reader):
				return layerErr(n.l, errf(ErrUnsupported, "reads the int32 input %q, which only an Embedding (or a mask of ids) can read", b.inputs[v].Name))
			case !isID && k == 0 && reader:
				return layerErr(n.l, errf(ErrUnsupported, "reads token ids, but its input is not an int32 model input"))
			}
		}
	}
	return nil
}

// Vocabulary is the number of valid ids of input k (the smallest vocabulary of the
// layers reading it), or 0 when any value is accepted (float inputs, or ids only
// masks read).
func (g *Graph) Vocabulary(k int) int {
	if k < 0 || k >= len(g.inputs) || g.inputs[k].DType != Int32 {
		return 0
	}
	v := 0
	for _, n := range g.nodes {
		if r, ok := n.l.(IDReader); ok && n.in[0] == Value(k) {
			if w := r.Vocabulary(); w > 0 && (v == 0 || w < v) {
				v = w
			}
		}
	}
	return v
}

// nodeShape infers a node's output shape from its input shapes.
func nodeShape(l Layer, ins []Shape) (Shape, error) {
	if m, ok := l.(MultiInput); ok {
		return m.OutputShapeN(ins)
	}
	if len(ins) != 1 {
		return nil, errf(ErrInvalid, "layer takes 1 input, got %d", len(ins))
	}
	return l.OutputShape(ins[0])
}

// chainOrder returns the indices of the nodes that outs depend on, in a topological
// order that places a node right after its producer whenever the producer's output has
// that node as its only reader and the node reads nothing else not yet placed, so chains
// stay contiguous. Ties go to the lower builder index (the importer's order).
func chainOrder(nIn int, nodes []node, outs []Value) []int {
	nn := len(nodes)
	live := make([]bool, nn)
	stack := append([]Value(nil), outs...)
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i := int(v) - nIn
		if i < 0 || live[i] {
			continue
		}
		live[i] = true
		stack = append(stack, nodes[i].in...)
	}
	pending := make([]int, nn) // unplaced node inputs per node
	readers := make([][]int, nn)
	for i, n := range nodes {
		if !live[i] {
			continue
		}
		for _, v := range n.in {
			if p := int(v) - nIn; p >= 0 {
				pending[i]++
				readers[p] = append(readers[p], i)
			}
		}
	}
	placed := make([]bool, nn)
	order := make([]int, 0, nn)
	next := 0 // lowest index that may be unplaced
	last := -1
	for {
		pick := -1
		if last >= 0 {
			for _, r := range readers[last] {
				if !placed[r] && pending[r] == 0 {
					pick = r
					break
				}
			}
		}
		if pick < 0 {
			for next < nn && (placed[next] || !live[next]) {
				next++
			}
			for i := next; i < nn; i++ {
				if live[i] && !placed[i] && pending[i] == 0 {
					pick = i
					break
				}
			}
		}
		if pick < 0 {
			return order
		}
		placed[pick] = true
		order = append(order, pick)
		for _, r := range readers[pick] {
			pending[r]--
		}
		last = pick
	}
}

// NewGraph builds a chain: one input of the given shape (without batch axis) feeding ls
// in order, the last layer's output the model's output. meta carries free-form
// provenance (source file, format, framework version); it may be nil.
func NewGraph(input Shape, ls []Layer, meta map[string]string) (*Graph, error) {
	b := NewBuilder()
	v := b.Input("input", input, Float32)
	for _, l := range ls {
		v = b.Node(l, v)
	}
	return b.Build([]Value{v}, nil, meta)
}

// NumInputs is the number of graph inputs.
func (g *Graph) NumInputs() int { return len(g.inputs) }

// Inputs describes the graph inputs.
func (g *Graph) Inputs() []Tensor {
	out := make([]Tensor, len(g.inputs))
	for i, t := range g.inputs {
		out[i] = Tensor{Name: t.Name, Shape: t.Shape.Clone(), DType: t.DType}
	}
	return out
}

// Outputs describes the graph outputs.
func (g *Graph) Outputs() []Tensor {
	out := make([]Tensor, len(g.outputs))
	for i, v := range g.outputs {
		out[i] = Tensor{Name: g.outName[i], Shape: g.shapes[v].Clone(), DType: Float32}
	}
	return out
}

// OutputValues are the value ids of the outputs, in order.
func (g *Graph) OutputValues() []Value { return append([]Value(nil), g.outputs...) }

// Input is the first input's shape (without batch): the model's input for a
// single-input model.
func (g *Graph) Input() Shape { return g.inputs[0].Shape.Clone() }

// Output is the first output's shape (without batch).
func (g *Graph) Output() Shape { return g.shapes[g.outputs[0]].Clone() }

// Len is the number of nodes.
func (g *Graph) Len() int { return len(g.nodes) }

// Layer returns node i's layer.
func (g *Graph) Layer(i int) Layer { return g.nodes[i].l }

// NodeInputs returns the value ids node i reads.
func (g *Graph) NodeInputs(i int) []Value { return append([]Value(nil), g.nodes[i].in...) }

// NodeValue is the value id of node i's output.
func (g *Graph) NodeValue(i int) Value { return Value(len(g.inputs) + i) }

// ValueShape is the shape of a value (without batch).
func (g *Graph) ValueShape(v Value) Shape { return g.shapes[v].Clone() }

// Users is the number of node inputs reading v, plus one if v is a graph output.
func (g *Graph) Users(v Value) int { return int(g.users[v]) }

// InShape is the shape of node i's first input.
func (g *Graph) InShape(i int) Shape { return g.shapes[g.nodes[i].in[0]].Clone() }

// InShapes are the shapes of node i's inputs.
func (g *Graph) InShapes(i int) []Shape {
	out := make([]Shape, len(g.nodes[i].in))
	for k, v := range g.nodes[i].in {
		out[k] = g.shapes[v].Clone()
	}
	return out
}

// OutShape is the output shape of node i.
func (g *Graph) OutShape(i int) Shape { return g.shapes[len(g.inputs)+i].Clone() }

// ChainNext reports whether node i+1 is the only reader of node i's output, reads
// nothing else, and node i's output is not a graph output: the two can be fused.
func (g *Graph) ChainNext(i int) bool {
	if i+1 >= len(g.nodes) {
		return false
	}
	v := g.NodeValue(i)
	n := g.nodes[i+1]
	return g.users[v] == 1 && len(n.in) == 1 && n.in[0] == v
}

// IsChain reports whether the graph is a Sequential chain: one input, one output, and
// every node reading only the previous node's output (the first node the input).
func (g *Graph) IsChain() bool {
	if len(g.inputs) != 1 || len(g.outputs) != 1 || g.outputs[0] != g.NodeValue(len(g.nodes)-1) {
		return false
	}
	for i, n := range g.nodes {
		if len(n.in) != 1 || n.in[0] != Value(len(g.inputs)+i-1) || g.users[n.in[0]] != 1 {
			return false
		}
	}
	return true
}

// Meta returns a provenance value ("" when absent).
func (g *Graph) Meta(key string) string { return g.meta[key] }

// Params is the total parameter count.
func (g *Graph) Params() int64 {
	var n int64
	for _, nd := range g.nodes {
		n += ParamCount(nd.l)
	}
	return n
}

// FLOPs is the floating-point operation count of one sample.
func (g *Graph) FLOPs() int64 {
	var n int64
	for i, nd := range g.nodes {
		n += NodeFLOPs(nd.l, g.InShapes(i))
	}
	return n
}

// NodeFLOPs is a layer's FLOP count for one sample on the given input shapes.
func NodeFLOPs(l Layer, ins []Shape) int64 {
	if m, ok := l.(MultiInput); ok {
		return m.FLOPsN(ins)
	}
	return l.FLOPs(ins[0])
}

// ParamCount is the number of parameters a layer holds.
func ParamCount(l Layer) int64 {
	if pc, ok := l.(ParamCounter); ok {
		return pc.Params()
	}
	var n int64
	for _, w := range l.Weights() {
		n += int64(len(w))
	}
	return n
}

// fingerprintKey is a fixed HighwayHash key: fingerprints are identifiers, not MACs.
var fingerprintKey = []byte("kinfer graph fingerprint key v1!")

// Fingerprint is a HighwayHash-128 of the graph's structure and weights, in hex. Two
// graphs with the same layers, options, wiring and weights (names aside) have the same
// fingerprint; a chain's fingerprint is what it was before graphs became DAGs.
func (g *Graph) Fingerprint() string {
	h, _ := highwayhash.New128(fingerprintKey)
	var buf [8]byte
	put := func(s string) {
		binary.LittleEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	chain := g.IsChain()
	for _, t := range g.inputs {
		put(t.Shape.String())
		if t.DType != Float32 {
			put(t.DType.String())
		}
	}
	for _, nd := range g.nodes {
		put(nd.l.LayerInfo().Class)
		put(nd.l.Config())
		if !chain {
			put(fmt.Sprint(nd.in))
		}
		for _, w := range nd.l.Weights() {
			binary.LittleEndian.PutUint64(buf[:], uint64(len(w)))
			h.Write(buf[:])
			b := make([]byte, 4*len(w))
			for i, v := range w {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
			}
			h.Write(b)
		}
	}
	if !chain {
		put(fmt.Sprint(g.outputs))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Reference runs the plain-Go reference pass over a batch of a single-input,
// single-output graph. It allocates; it is the numerical truth for tests, not the fast
// path (see runtime.Compile).
func (g *Graph) Reference(x []float32, batch int) ([]float32, error) {
	if len(g.inputs) != 1 || len(g.outputs) != 1 {
		return nil, errf(ErrInvalid, "model has %d inputs and %d outputs; use ReferenceN", len(g.inputs), len(g.outputs))
	}
	ys, err := g.ReferenceN([][]float32{x}, batch)
	if err != nil {
		return nil, err
	}
	return ys[0], nil
}

// ReferenceN runs the plain-Go reference pass over a batch: xs[k] holds batch samples
// of input k; the result holds batch samples of each output.
func (g *Graph) ReferenceN(xs [][]float32, batch int) ([][]float32, error) {
	if len(xs) != len(g.inputs) {
		return nil, errf(ErrShapeMismatch, "got %d inputs, model has %d", len(xs), len(g.inputs))
	}
	if batch < 1 {
		return nil, errf(ErrShapeMismatch, "batch %d < 1", batch)
	}
	vals := make([][]float32, len(g.shapes))
	for k, t := range g.inputs {
		if len(xs[k]) != batch*t.Shape.Size() {
			return nil, errf(ErrShapeMismatch, "input %q has %d values, want batch %d x %v", t.Name, len(xs[k]), batch, t.Shape)
		}
		if err := CheckIDBits(xs[k], max(1, t.Shape.Size()), g.Vocabulary(k)); err != nil {
			return nil, fmt.Errorf("input %q: %w", t.Name, err)
		}
		vals[k] = append([]float32(nil), xs[k]...)
	}
	left := append([]int32(nil), g.users...)
	for i, nd := range g.nodes {
		ins := g.InShapes(i)
		v := g.NodeValue(i)
		out := make([]float32, batch*g.shapes[v].Size())
		if m, ok := nd.l.(MultiInput); ok {
			srcs := make([][]float32, len(nd.in))
			for k, iv := range nd.in {
				srcs[k] = vals[iv]
			}
			m.ForwardN(out, srcs, make([]float32, m.ScratchLenN(ins, batch)), ins, batch)
		} else {
			nd.l.Forward(out, vals[nd.in[0]], make([]float32, nd.l.ScratchLen(ins[0], batch)), ins[0], batch)
		}
		vals[v] = out
		for _, iv := range nd.in {
			if left[iv]--; left[iv] == 0 {
				vals[iv] = nil // free what no later node reads
			}
		}
	}
	ys := make([][]float32, len(g.outputs))
	for k, v := range g.outputs {
		ys[k] = vals[v]
	}
	return ys, nil
}
