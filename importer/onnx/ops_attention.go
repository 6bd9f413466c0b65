package onnx

import (
	"sort"

	"github.com/kinfer/kinfer/layers"
)

// Attention subgraphs. Exporters spell scaled dot-product attention with head splits
// that merge the batch axis with the heads (torch: (T, B, D) -> (T, B*H, dk) ->
// (B*H, T, dk)), which a per-sample layout cannot hold. So the importer matches the
// whole subgraph instead: anchored at a Softmax fed by a MatMul of two computed
// tensors and read by a second one, it collects the projections (MatMul or Gemm on a
// constant weight, plus a bias), the layout ops between them, the scalar scale, an
// additive mask built from a graph input (Where(mask, -inf, 0)) and the output
// projection, then evaluates that region on index tensors at a small concrete batch
// to prove that it is multi-head attention, and with which heads, columns and mask:
// every layout op is checked by what it does to indices, not by how it is spelled.
// The region becomes one layers.MultiHeadAttention.

// attnRegion is a matched attention subgraph.
type attnRegion struct {
	softmax int
	nodes   []int  // every region node, in import order
	end     string // the value the region computes for the rest of the graph
	ext     []string
}

// attnLayout lists the ops a region may apply between its products.
var attnLayout = map[string]bool{
	"Transpose": true, "Reshape": true, "Flatten": true, "Slice": true, "Squeeze": true,
	"Unsqueeze": true, "Identity": true, "Expand": true, "Gather": true, "Split": false,
}

// findAttention matches every attention region once the constants are folded, marks
// its nodes done and records it under the node computing its output.
func (b *builder) findAttention() error {
	prod := map[string]int{}
	for _, i := range b.order {
		for _, o := range b.nodes[i].GetOutput() {
			prod[o] = i
		}
	}
	b.attn = map[int]*attnRegion{}
	b.attnProd, b.attnMemo = prod, map[string]bool{}
	for _, si := range b.order {
		if b.done[si] || b.nodes[si].GetOpType() != "Softmax" {
			continue
		}
		r := b.safeMatch(si, prod)
		if r == nil {
			continue
		}
		for _, i := range r.nodes {
			b.done[i] = true
		}
		b.attn[prod[r.end]] = r
	}
	return nil
}

// safeMatch is matchAttention on a malformed graph (nodes without the inputs their op
// needs) too: an index error while matching means no match, and the node is then
// imported, or refused, by its own handler.
func (b *builder) safeMatch(si int, prod map[string]int) (r *attnRegion) {
	defer func() {
		if recover() != nil {
			r = nil
		}
	}()
	return b.matchAttention(si, prod)
}

// maxProbe bounds the elements of any one index tensor a region is evaluated on.
const maxProbe = 1 << 22

func (b *builder) isConst(v string) bool { _, ok := b.consts[v]; return ok || v == "" }

// constLike reports whether v is a constant or computed from constants and the shapes of
// computed tensors only (torch slices its packed in-projection weight by the data's
// feature count): such a value is evaluated with the region.
func (b *builder) constLike(v string) bool { return b.constLikeAt(v, 0) }

func (b *builder) constLikeAt(v string, depth int) bool {
	if b.isConst(v) {
		return true
	}
	if r, ok := b.attnMemo[v]; ok {
		return r
	}
	p, ok := b.attnProd[v]
	if !ok || depth > 64 {
		return false
	}
	n := b.nodes[p]
	res := n.GetOpType() == "Shape"
	if !res && foldable[n.GetOpType()] {
		res = true
		for _, in := range n.GetInput() {
			if !b.constLikeAt(in, depth+1) {
				res = false
				break
			}
		}
	}
	b.attnMemo[v] = res
	return res
}

// dataReaders are the live readers of v other than Shape nodes.
func (b *builder) dataReaders(v string) []int {
	var out []int
	for _, i := range b.users[v] {
		if b.nodes[i].GetOpType() != "Shape" {
			out = append(out, i)
		}
	}
	return out
}

// matchAttention returns the attention region around Softmax node si, or nil.
func (b *builder) matchAttention(si int, prod map[string]int) *attnRegion {
	core := map[int]bool{si: true}
	ext := map[string]bool{}
	producer := func(v string) (int, bool) {
		if b.isConst(v) {
			return -1, false
		}
		p, ok := prod[v]
		return p, ok
	}
	scalarConst := func(v string) bool { c, ok := b.consts[v]; return ok && c.size() == 1 && !c.hasBatch() }
	// back from the softmax to the score product, through scalar scales and a mask Add
	v := b.nodes[si].GetInput()[0]
	m1 := -1
	maskIn := ""
	for steps := 0; steps < 8 && m1 < 0; steps++ {
		p, ok := producer(v)
		if !ok {
			return nil
		}
		n := b.nodes[p]
		in := n.GetInput()
		switch op := n.GetOpType(); {
		case op == "MatMul" && len(in) == 2 && !b.constLike(in[0]) && !b.constLike(in[1]):
			m1 = p
		case (op == "Mul" || op == "Div") && len(in) == 2 && scalarConst(in[1]):
			v = in[0]
		case op == "Mul" && len(in) == 2 && scalarConst(in[0]):
			v = in[1]
		case op == "Add" && len(in) == 2 && b.isConst(in[0]) != b.isConst(in[1]):
			v = in[0] // a constant additive mask (checked when the region is evaluated)
			if b.isConst(in[0]) {
				v = in[1]
			}
		case op == "Add" && len(in) == 2 && !b.isConst(in[0]) && !b.isConst(in[1]) && maskIn == "":
			// the operand that leads back to a MatMul is the scores
			a := in[0]
			if b.leadsToMatMul(in[1], prod) && !b.leadsToMatMul(in[0], prod) {
				a = in[1]
			}
			maskIn = in[0]
			if a == in[0] {
				maskIn = in[1]
			}
			v = a
		default:
			return nil
		}
		core[p] = true
	}
	if m1 < 0 {
		return nil
	}
	so := b.nodes[si].GetOutput()[0]
	rd := b.dataReaders(so)
	if len(rd) != 1 || b.nodes[rd[0]].GetOpType() != "MatMul" || b.nodes[rd[0]].GetInput()[0] != so || b.constLike(b.nodes[rd[0]].GetInput()[1]) {
		return nil
	}
	m2 := rd[0]
	core[m2] = true
	// forward: layout ops, the output projection (and bias), layout ops
	v = b.nodes[m2].GetOutput()[0]
	proj, justProj := false, false
	end := ""
	for steps := 0; steps < 24; steps++ {
		rd := b.dataReaders(v)
		if len(rd) != 1 || b.outputUses(v) > 0 {
			break
		}
		n := b.nodes[rd[0]]
		in := n.GetInput()
		op := n.GetOpType()
		isProj := !proj && (op == "Gemm" || op == "MatMul") && len(in) >= 2 && in[0] == v && b.constLike(in[1]) && (len(in) < 3 || b.constLike(in[2]))
		isBias := justProj && op == "Add" && len(in) == 2 && (b.constLike(in[0]) || b.constLike(in[1]))
		if !(attnLayout[op] && in[0] == v) && !isProj && !isBias || len(n.GetOutput()) != 1 {
			break
		}
		proj = proj || isProj
		justProj = isProj
		core[rd[0]] = true
		v = n.GetOutput()[0]
		if proj {
			end = v
		}
	}
	if end == "" {
		return nil
	}
	// back from the products' operands to the projections and their inputs
	var back func(v string, depth int, proj bool) bool
	back = func(v string, depth int, afterProj bool) bool {
		if depth > 32 {
			return false
		}
		p, ok := producer(v)
		if !ok {
			if b.isInput(v) {
				ext[v] = true
				return true
			}
			return false
		}
		n := b.nodes[p]
		in := n.GetInput()
		op := n.GetOpType()
		switch {
		case afterProj && len(b.dataReaders(v)) > 1:
			ext[v] = true // an input moved once for several readers (a decoder's memory)
			return true
		case attnLayout[op] && !b.isConst(in[0]):
			core[p] = true
			return back(in[0], depth+1, afterProj)
		case afterProj:
			ext[v] = true // the projection's input
			return true
		case (op == "Mul" || op == "Div") && len(in) == 2 && scalarConst(in[1]):
			core[p] = true
			return back(in[0], depth+1, false)
		case op == "Add" && len(in) == 2 && (b.constLike(in[0]) != b.constLike(in[1])):
			core[p] = true
			if b.constLike(in[0]) {
				return back(in[1], depth+1, false)
			}
			return back(in[0], depth+1, false)
		case (op == "MatMul" || op == "Gemm") && len(in) >= 2 && !b.constLike(in[0]) && b.constLike(in[1]) && (len(in) < 3 || b.constLike(in[2])):
			core[p] = true
			return back(in[0], depth+1, true)
		}
		return false
	}
	for _, v := range []string{b.nodes[m1].GetInput()[0], b.nodes[m1].GetInput()[1], b.nodes[m2].GetInput()[1]} {
		if !back(v, 0, false) {
			return nil
		}
	}
	// the mask: a graph input through layout ops, casts, Not, Where and scalar scales
	if maskIn != "" {
		var mback func(v string, depth int) bool
		mback = func(v string, depth int) bool {
			if depth > 32 {
				return false
			}
			p, ok := producer(v)
			if !ok {
				if b.isInput(v) {
					ext[v] = true
					return true
				}
				return false
			}
			n := b.nodes[p]
			in := n.GetInput()
			switch op := n.GetOpType(); {
			case (attnLayout[op] || op == "Cast" || op == "Not") && !b.isConst(in[0]):
				core[p] = true
				return mback(in[0], depth+1)
			case (op == "Mul" || op == "Div") && len(in) == 2 && scalarConst(in[1]):
				core[p] = true
				return mback(in[0], depth+1)
			case op == "Mul" && len(in) == 2 && scalarConst(in[0]):
				core[p] = true
				return mback(in[1], depth+1)
			case op == "Where" && len(in) == 3 && !b.isConst(in[0]):
				core[p] = true
				return mback(in[0], depth+1)
			}
			return false
		}
		if !mback(maskIn, 0) {
			return nil
		}
	}
	// side chains: the shape computations feeding region nodes
	work := make([]int, 0, len(core))
	for i := range core {
		work = append(work, i)
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		for _, in := range b.nodes[i].GetInput() {
			if b.isConst(in) || ext[in] {
				continue
			}
			p, ok := prod[in]
			if !ok {
				if b.isInput(in) {
					continue // read by a Shape: dims only
				}
				return nil
			}
			if core[p] {
				continue
			}
			if op := b.nodes[p].GetOpType(); op != "Shape" && !foldable[op] {
				if b.nodes[i].GetOpType() == "Shape" {
					continue // the shape of a value computed outside
				}
				return nil
			}
			core[p] = true
			work = append(work, p)
		}
	}
	// closed: no value inside is read outside, except the end
	for i := range core {
		for _, o := range b.nodes[i].GetOutput() {
			if o == end {
				continue
			}
			if b.outputUses(o) > 0 {
				return nil
			}
			for _, r := range b.users[o] {
				if !core[r] {
					return nil
				}
			}
		}
	}
	r := &attnRegion{softmax: si, end: end}
	for i := range core {
		r.nodes = append(r.nodes, i)
	}
	sort.Slice(r.nodes, func(x, y int) bool { return b.pos[r.nodes[x]] < b.pos[r.nodes[y]] })
	for v := range ext {
		r.ext = append(r.ext, v)
	}
	sort.Strings(r.ext)
	return r
}

// leadsToMatMul reports whether v is computed by a MatMul of two computed tensors
// through scalar scales.
func (b *builder) leadsToMatMul(v string, prod map[string]int) bool {
	for range 8 {
		p, ok := prod[v]
		if !ok || b.isConst(v) {
			return false
		}
		n := b.nodes[p]
		in := n.GetInput()
		switch n.GetOpType() {
		case "MatMul":
			return len(in) == 2 && !b.constLike(in[0]) && !b.constLike(in[1])
		case "Mul", "Div":
			if len(in) != 2 {
				return false
			}
			if b.isConst(in[1]) {
				v = in[0]
			} else if b.isConst(in[0]) {
				v = in[1]
			} else {
				return false
			}
		default:
			return false
		}
	}
	return false
}

func opMatMulN(b *builder, n *node) error {
	ds, err := b.operands(n)
	if err != nil {
		return err
	}
	if len(ds) != 2 {
		return n.errorf(layers.ErrBadFile, "%d inputs", len(ds))
	}
	var vals []layers.Value
	var physs []layers.Shape
	for k, d := range ds {
		// equal ranks keep ONNX's right-aligned broadcast off the batch axis
		if d.bAxis != 0 || len(d.shape) < 3 || len(d.shape) != len(ds[0].shape) {
			return n.errorf(layers.ErrUnsupported, "MatMul of computed tensors of shapes %v and %v: both need the batch first, the same rank and two more axes", ds[0].shape, ds[1].shape)
		}
		nb := d.nb()
		b.load(n.GetInput()[k])
		if err := b.materialize(nil, nb, n.GetName()); err != nil {
			return err
		}
		vals, physs = append(vals, b.val), append(physs, b.phys.Clone())
	}
	l := &layers.MatMul{Info: b.info(n.GetName(), "MatMul")}
	if err := b.emitN(l, vals, physs); err != nil {
		return err
	}
	out := b.phys
	shape := append([]int{ds[0].shape[0]}, out...)
	return b.setOut(n.out(0), &dyn{shape: shape, bAxis: 0})
}
