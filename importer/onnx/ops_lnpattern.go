package onnx

import (
	"strings"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// The LayerNormalization exporters spell out before opset 17 (torch, tf2onnx):
//
//	m = ReduceMean(x, axes=[-1]); d = Sub(x, m); v = ReduceMean(Pow(d, 2), axes=[-1])
//	y = Div(d, Sqrt(Add(v, eps))) [* gamma] [+ beta]
//
// matched once the constants are folded and imported as the opset-17 op would be.

// lnRegion is a matched decomposed LayerNormalization.
type lnRegion struct {
	x, end      string
	eps         float32
	gamma, beta string
	nodes       []int
}

// findLayerNorms records every decomposed LayerNormalization under the node computing
// its output and marks its nodes done.
func (b *builder) findLayerNorms() {
	prod := map[string]int{}
	for _, i := range b.order {
		for _, o := range b.nodes[i].GetOutput() {
			prod[o] = i
		}
	}
	b.lns = map[int]*lnRegion{}
	single := func(v string, op string) (int, *onnxpb.NodeProto) {
		if b.outputUses(v) > 0 {
			return -1, nil
		}
		rd := b.users[v]
		if len(rd) != 1 || b.nodes[rd[0]].GetOpType() != op {
			return -1, nil
		}
		return rd[0], b.nodes[rd[0]]
	}
	lastAxis := func(n *onnxpb.NodeProto) bool {
		nn := newNode(n, b.opset)
		var axes []int64
		if len(n.GetInput()) > 1 {
			c, ok := b.consts[n.GetInput()[1]]
			if !ok {
				return false
			}
			axes = c.ints()
		} else {
			axes = nn.ints("axes", nil)
		}
		return len(axes) == 1 && axes[0] == -1 && nn.int("keepdims", 1) == 1
	}
	scalar := func(v string, want float32) (float32, bool) {
		c, ok := b.consts[v]
		if !ok || c.size() != 1 || c.hasBatch() {
			return 0, false
		}
		f := c.floats()[0]
		return f, want == 0 || f == want
	}
	for _, mi := range b.order {
		if r := b.safeLN(mi, single, lastAxis, scalar); r != nil {
			for _, i := range r.nodes {
				b.done[i] = true
			}
			b.lns[prod[r.end]] = r
		}
	}
}

// safeLN is matchLN that treats an index error on a malformed graph as no match.
func (b *builder) safeLN(mi int, single func(string, string) (int, *onnxpb.NodeProto), lastAxis func(*onnxpb.NodeProto) bool, scalar func(string, float32) (float32, bool)) (r *lnRegion) {
	defer func() {
		if recover() != nil {
			r = nil
		}
	}()
	return b.matchLN(mi, single, lastAxis, scalar)
}

// matchLN matches the decomposed LayerNormalization starting at ReduceMean node mi.
func (b *builder) matchLN(mi int, single func(string, string) (int, *onnxpb.NodeProto), lastAxis func(*onnxpb.NodeProto) bool, scalar func(string, float32) (float32, bool)) *lnRegion {
	{
		mn := b.nodes[mi]
		if b.done[mi] || mn.GetOpType() != "ReduceMean" || !lastAxis(mn) || b.isConst(mn.GetInput()[0]) {
			return nil
		}
		x := mn.GetInput()[0]
		m := mn.GetOutput()[0]
		si, sn := single(m, "Sub")
		if sn == nil || sn.GetInput()[0] != x || sn.GetInput()[1] != m {
			return nil
		}
		d := sn.GetOutput()[0]
		var pi, di = -1, -1
		for _, u := range b.users[d] {
			switch b.nodes[u].GetOpType() {
			case "Pow":
				pi = u
			case "Div":
				di = u
			}
		}
		if pi < 0 || di < 0 || len(b.users[d]) != 2 || b.outputUses(d) > 0 {
			return nil
		}
		if _, ok := scalar(b.nodes[pi].GetInput()[1], 2); !ok || b.nodes[pi].GetInput()[0] != d {
			return nil
		}
		vi, vn := single(b.nodes[pi].GetOutput()[0], "ReduceMean")
		if vn == nil || !lastAxis(vn) {
			return nil
		}
		ai, an := single(vn.GetOutput()[0], "Add")
		if an == nil || an.GetInput()[0] != vn.GetOutput()[0] {
			return nil
		}
		eps, ok := scalar(an.GetInput()[1], 0)
		if !ok {
			return nil
		}
		qi, qn := single(an.GetOutput()[0], "Sqrt")
		if qn == nil {
			return nil
		}
		dn := b.nodes[di]
		if dn.GetInput()[0] != d || dn.GetInput()[1] != qn.GetOutput()[0] || len(b.users[qn.GetOutput()[0]]) != 1 {
			return nil
		}
		r := &lnRegion{x: x, eps: eps, nodes: []int{mi, si, pi, vi, ai, qi, di}, end: dn.GetOutput()[0]}
		// optional scale and shift by constants
		if ui, un := single(r.end, "Mul"); un != nil && b.isConst(un.GetInput()[1]) && un.GetInput()[0] == r.end {
			r.gamma, r.end = un.GetInput()[1], un.GetOutput()[0]
			r.nodes = append(r.nodes, ui)
			if ui, un := single(r.end, "Add"); un != nil && b.isConst(un.GetInput()[1]) && un.GetInput()[0] == r.end {
				r.beta, r.end = un.GetInput()[1], un.GetOutput()[0]
				r.nodes = append(r.nodes, ui)
			}
		}
		return r
	}
}

// applyLayerNorm imports r as LayerNormalization over the last axis.
func (b *builder) applyLayerNorm(r *lnRegion) error {
	b.load(r.x)
	b.excl = false // x is read by the region's first two nodes
	in := []string{r.x, r.gamma, r.beta}
	if r.gamma == "" {
		// LayerNormalization needs a Scale: ones
		ones := make([]float32, b.d.shape[len(b.d.shape)-1])
		for i := range ones {
			ones[i] = 1
		}
		name := r.end + "/ones"
		b.consts[name] = newFloat([]int{len(ones)}, ones)
		in[1] = name
	}
	name := b.nodes[r.nodes[0]].GetName()
	if i := strings.LastIndex(name, "/"); i > 0 {
		name = name[:i] // torch's module path: "/layers.0/norm1"
	}
	np := &onnxpb.NodeProto{Name: name, OpType: "LayerNormalization", Input: in, Output: []string{r.end},
		Attribute: []*onnxpb.AttributeProto{
			{Name: "axis", Type: onnxpb.AttributeProto_INT, I: -1},
			{Name: "epsilon", Type: onnxpb.AttributeProto_FLOAT, F: r.eps},
		}}
	n := newNode(np, 17)
	if err := opLayerNorm(b, n); err != nil {
		return err
	}
	if err := n.done(); err != nil {
		return err
	}
	if b.cur != r.end {
		return n.errorf(layers.ErrInvalid, "decomposed LayerNormalization did not produce %q", r.end)
	}
	return nil
}
