package onnx

import (
	"fmt"
	"math"
	"sort"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// scalarOps are the element-wise ops an activation subgraph may contain.
var scalarOps = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Max": true, "Min": true,
	"Erf": true, "Tanh": true, "Sigmoid": true, "HardSigmoid": true, "Relu": true,
	"Exp": true, "Log": true, "Neg": true, "Abs": true, "Sqrt": true, "Reciprocal": true,
	"Softplus": true, "Softsign": true, "Identity": true, "Clip": true, "LeakyRelu": true,
	"Cast": true,
}

// layoutOps are the ops a layout subgraph (split and re-concatenate) may contain.
var layoutOps = map[string]bool{
	"Slice": true, "Gather": true, "Squeeze": true, "Unsqueeze": true, "Concat": true,
	"Transpose": true, "Identity": true,
}

// activation candidates an element-wise subgraph may compute.
var fitCandidates = []layers.Activation{
	{Kind: layers.Gelu}, {Kind: layers.GeluTanh}, {Kind: layers.Swish}, {Kind: layers.HardSwish},
	{Kind: layers.Sigmoid}, {Kind: layers.Tanh}, {Kind: layers.Softplus}, {Kind: layers.Softsign},
	{Kind: layers.Selu}, {Kind: layers.Elu, Alpha: 1}, layers.ActReLU,
}

// fitRegion handles a fork on the data path: when the current value feeds several
// nodes that rejoin into one value through element-wise ops with scalar constants
// (x*sigmoid(x), the erf form of GELU, x*hardsigmoid(x), ...), it evaluates that
// subgraph as a scalar function and matches it against the activations layers knows.
func (b *builder) fitRegion(at *node) (bool, error) {
	start := b.cur
	region := map[int]bool{}
	vals := map[string]bool{start: true}
	var nodes []int
	last := "" // the last closed region's output that matched nothing
	layout := false
	for len(nodes) < 64 {
		// the earliest unvisited node reading a region value
		cand := -1
		for v := range vals {
			for _, i := range b.users[v] {
				if !region[i] && !b.done[i] && (cand < 0 || b.pos[i] < b.pos[cand]) {
					cand = i
				}
			}
		}
		if cand < 0 {
			return false, nil
		}
		np := b.nodes[cand]
		op := np.GetOpType()
		if len(nodes) == 0 {
			layout = layoutOps[op]
		}
		if (layout && !layoutOps[op]) || (!layout && !scalarOps[op]) || len(np.GetOutput()) != 1 {
			break
		}
		for _, in := range np.GetInput() {
			if in == "" || vals[in] {
				continue
			}
			if c, ok := b.consts[in]; !ok || (!layout && c.size() != 1) || c.hasBatch() {
				cand = -1
			}
		}
		if cand < 0 {
			break
		}
		region[cand] = true
		nodes = append(nodes, cand)
		vals[np.GetOutput()[0]] = true
		// closed when start feeds only region nodes and exactly one region value
		// escapes
		closed := true
		for _, i := range b.users[start] {
			if !region[i] && b.nodes[i].GetOpType() != "Shape" {
				closed = false
			}
		}
		if b.outputUses(start) > 0 {
			closed = false
		}
		var open []string
		for v := range vals {
			if v == start {
				continue
			}
			esc := b.outputUses(v) > 0
			for _, i := range b.users[v] {
				if !region[i] {
					esc = true
				}
			}
			if esc {
				open = append(open, v)
			}
		}
		if closed && len(open) == 1 {
			if layout {
				return true, b.applyLayoutRegion(nodes, start, open[0])
			}
			ok, err := b.applyRegion(nodes, start, open[0])
			if ok || err != nil {
				return ok, err
			}
			last = open[0]
		}
	}
	if last != "" {
		return false, fmt.Errorf("%w: %w: the element-wise subgraph from %q to %q (%d nodes, from node %q) computes no activation kinfer knows", layers.ErrUnsupported, errChain, start, last, len(nodes), at.GetName())
	}
	return false, nil
}

func (b *builder) applyRegion(nodes []int, start, end string) (bool, error) {
	nodes = append([]int(nil), nodes...)
	sort.Slice(nodes, func(x, y int) bool { return b.pos[nodes[x]] < b.pos[nodes[y]] })
	eval := func(x float64) (float64, error) {
		v := map[string]float64{start: x}
		for _, i := range nodes {
			n := newNode(b.nodes[i], b.opset)
			arg := func(k int) (float64, bool) {
				name := n.in(k)
				if name == "" {
					return 0, false
				}
				if a, ok := v[name]; ok {
					return a, true
				}
				return float64(b.consts[name].floats()[0]), true
			}
			x0, _ := arg(0)
			var y float64
			switch op := n.GetOpType(); op {
			case "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min":
				if len(n.GetInput()) != 2 {
					return 0, n.errorf(layers.ErrUnsupported, "%d inputs", len(n.GetInput()))
				}
				x1, _ := arg(1)
				y = binop(op, x0, x1)
			case "HardSigmoid":
				y = math.Min(1, math.Max(0, float64(n.float("alpha", 0.2))*x0+float64(n.float("beta", 0.5))))
			case "LeakyRelu":
				y = x0
				if x0 < 0 {
					y = float64(n.float("alpha", 0.01)) * x0
				}
			case "Clip":
				lo, hi := math.Inf(-1), math.Inf(1)
				if n.has("min") || n.has("max") {
					lo, hi = float64(n.float("min", float32(lo))), float64(n.float("max", float32(hi)))
				}
				if a, ok := arg(1); ok {
					lo = a
				}
				if a, ok := arg(2); ok {
					hi = a
				}
				y = math.Min(math.Max(x0, lo), hi)
			case "Cast":
				if to := onnxpb.TensorProto_DataType(n.int("to", 0)); to != onnxpb.TensorProto_FLOAT {
					return 0, n.errorf(layers.ErrUnsupported, "cast to %v inside an activation", to)
				}
				n.ignore("saturate", "round_mode")
				y = x0
			default:
				y = unary(op, x0)
			}
			if err := n.done(); err != nil {
				return 0, err
			}
			v[n.out(0)] = y
		}
		return v[end], nil
	}
	var xs []float64
	for x := -9.0; x <= 9; x += 0.173 {
		xs = append(xs, x)
	}
	xs = append(xs, 0, 1e-3, -1e-3, 3, -3, 0.5, -0.5)
	ys := make([]float64, len(xs))
	for k, x := range xs {
		y, err := eval(x)
		if err != nil {
			return false, err
		}
		ys[k] = y
	}
	for _, a := range fitCandidates {
		ok := true
		for k, x := range xs {
			want := float64(a.Eval(float32(x)))
			if math.IsNaN(ys[k]) || math.Abs(ys[k]-want) > 2e-6*(1+math.Abs(want)) {
				ok = false
				break
			}
		}
		if ok {
			for _, i := range nodes {
				b.done[i] = true
			}
			name := b.nodes[nodes[len(nodes)-1]].GetName()
			if err := b.activation(&node{NodeProto: &onnxpb.NodeProto{Name: name, OpType: "Activation(" + a.Kind.String() + ")"}}, a); err != nil {
				return false, err
			}
			return true, b.setOut(end, b.d.clone())
		}
	}
	return false, nil
}

// applyLayoutRegion evaluates a split-and-concatenate subgraph on the element indices
// of the data: when it only reorders the elements, the data's layout description
// absorbs it and no layer is needed.
func (b *builder) applyLayoutRegion(nodes []int, start, end string) error {
	nodes = append([]int(nil), nodes...)
	sort.Slice(nodes, func(x, y int) bool { return b.pos[nodes[x]] < b.pos[nodes[y]] })
	d := b.d
	last := b.nodes[nodes[len(nodes)-1]]
	if d.inner() > 1 {
		return fmt.Errorf("node %q (%s): %w: layout change of data with a merged batch axis", last.GetName(), last.GetOpType(), layers.ErrUnsupported)
	}
	dims := append([]int(nil), d.shape...)
	dims[d.bAxis] = 1
	io := &tensor{dims: dims, isInt: true, bAxis: d.bAxis, i: make([]int64, shapeSize(dims))}
	for k := range io.i {
		io.i[k] = int64(k)
	}
	v := map[string]*tensor{start: io}
	for _, i := range nodes {
		n := newNode(b.nodes[i], b.opset)
		ins := make([]*tensor, len(n.GetInput()))
		for k, in := range n.GetInput() {
			if t, ok := v[in]; ok {
				ins[k] = t
			} else if in != "" {
				ins[k] = b.consts[in]
			}
		}
		outs, err := evalConst(n, ins)
		if err != nil {
			return err
		}
		if err := n.done(); err != nil {
			return err
		}
		v[n.out(0)] = outs[0]
	}
	res := v[end]
	size := d.size()
	if res == nil || res.bAxis < 0 || len(res.i) != size {
		return fmt.Errorf("node %q (%s): %w: %w: the subgraph from %q does not just reorder the data", last.GetName(), last.GetOpType(), layers.ErrUnsupported, errChain, start)
	}
	pos := make([]int32, size) // old logical index -> new logical index
	seen := make([]bool, size)
	for k, old := range res.i {
		if seen[old] {
			return fmt.Errorf("node %q (%s): %w: %w: the subgraph from %q duplicates elements", last.GetName(), last.GetOpType(), layers.ErrUnsupported, errChain, start)
		}
		seen[old] = true
		pos[old] = int32(k)
	}
	nd := &dyn{shape: append([]int(nil), res.dims...), bAxis: res.bAxis}
	nd.shape[nd.bAxis] = d.shape[d.bAxis]
	idx := make([]int32, size)
	for j := range idx {
		l := int32(j)
		if d.idx != nil {
			l = d.idx[j]
		}
		idx[j] = pos[l]
	}
	nd.idx = normIdx(idx)
	for _, i := range nodes {
		b.done[i] = true
	}
	return b.setOut(end, nd)
}
