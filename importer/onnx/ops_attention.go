package onnx

import (
	"fmt"
	"math"
	"sort"
	"strings"

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
		case op == "MatMul" && len(in) == 2 && !b.isConst(in[0]) && !b.isConst(in[1]):
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
	if len(rd) != 1 || b.nodes[rd[0]].GetOpType() != "MatMul" || b.nodes[rd[0]].GetInput()[0] != so || b.isConst(b.nodes[rd[0]].GetInput()[1]) {
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
		isProj := !proj && (op == "Gemm" || op == "MatMul") && len(in) >= 2 && in[0] == v && b.isConst(in[1]) && (len(in) < 3 || b.isConst(in[2]))
		isBias := justProj && op == "Add" && len(in) == 2 && (b.isConst(in[0]) || b.isConst(in[1]))
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
		case attnLayout[op] && !b.isConst(in[0]):
			core[p] = true
			return back(in[0], depth+1, afterProj)
		case afterProj:
			ext[v] = true // the projection's input
			return true
		case (op == "Mul" || op == "Div") && len(in) == 2 && scalarConst(in[1]):
			core[p] = true
			return back(in[0], depth+1, false)
		case op == "Add" && len(in) == 2 && (b.isConst(in[0]) != b.isConst(in[1])):
			core[p] = true
			if b.isConst(in[0]) {
				return back(in[1], depth+1, false)
			}
			return back(in[0], depth+1, false)
		case (op == "MatMul" || op == "Gemm") && len(in) >= 2 && !b.isConst(in[0]) && b.isConst(in[1]) && (len(in) < 3 || b.isConst(in[2])):
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
			return len(in) == 2 && !b.isConst(in[0]) && !b.isConst(in[1])
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

// ---------------------------------------------------------------- evaluation

// attnKind is what a base tensor of a region is.
type attnKind uint8

const (
	akExt   attnKind = iota // a region input (ONNX layout at the probe batch)
	akProj                  // an input projection: rows of an input times a weight
	akScore                 // Q K^T per (sample, head)
	akProb                  // softmax of the scores
	akHeads                 // P V per (sample, head)
	akOut                   // the output projection
)

// attnBase is a tensor computed inside the region (or one of its inputs).
type attnBase struct {
	kind attnKind
	dims []int
	// akExt: the value, its batch axis
	name  string
	bAxis int
	// akProj, akOut: rows as (sample, step), the weight (in, n) and bias; akScore: bias
	// is a constant (Tq, Tk) added to the scores
	rowB, rowT []int
	w, bias    []float32
	in, n      int
	src        int // akProj: the base of its input rows
	// akScore, akProb, akHeads: per leading index g, the sample and head
	gB, gH   []int
	q, k, vv int // akScore: projection bases and column offsets; akHeads: value base
	qOff     int
	kOff     int
	vOff     int
	dk, dv   int
	scale    float64
	mask     *attnMask
}

// attnMask is the additive mask of the scores: masked entries get add.
type attnMask struct {
	src      string // the graph input
	pad      bool   // a nonzero flag masks (torch's key_padding_mask)
	add      float32
	perQuery bool // flags per (query, key), else per key
}

// tval is a region value at the probe batch: element k is element idx[k] of base,
// times scale (or, for a mask value, onTrue/onFalse of the boolean source element).
type tval struct {
	base   int
	t      *tensor // int64 indices
	scale  float64
	isMask bool
	neg    bool // mask flags inverted (Not)
	onTrue float64
	onFals float64
	where  bool
}

// applyAttention evaluates region r, checks it is multi-head attention and emits it.
func (b *builder) applyAttention(r *attnRegion) (err error) {
	sm := b.nodes[r.softmax]
	defer func() {
		if recover() != nil {
			err = fmt.Errorf("%w: the attention subgraph around Softmax %q is malformed", layers.ErrBadFile, sm.GetName())
		}
	}()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: the attention subgraph around Softmax %q: %s", layers.ErrUnsupported, sm.GetName(), fmt.Sprintf(format, args...))
	}
	// the probe batch: a prime no input axis has
	batch := 0
	for _, p := range []int{3, 5, 7, 11, 13, 17, 19, 23, 29, 31} {
		clash := false
		for _, e := range r.ext {
			st := b.states[e]
			if st == nil {
				return fail("input %q is not computed before it", e)
			}
			for _, d := range st.d.shape {
				clash = clash || d == p
			}
		}
		if !clash {
			batch = p
			break
		}
	}
	if batch == 0 {
		return fail("no probe batch size")
	}
	var bases []*attnBase
	env := map[string]*tval{}
	cst := map[string]*tensor{}
	for _, e := range r.ext {
		st := b.states[e]
		if st.d.inner() > 1 {
			return fail("input %q has a merged batch axis", e)
		}
		dims := append([]int(nil), st.d.shape...)
		dims[st.d.bAxis] = batch
		if shapeSize(dims) > maxProbe {
			return fail("input %q of %v is too large to verify the pattern on", e, st.d.shape)
		}
		t := newInt(dims, make([]int64, shapeSize(dims)))
		for k := range t.i {
			t.i[k] = int64(k)
		}
		bases = append(bases, &attnBase{kind: akExt, dims: dims, name: e, bAxis: st.d.bAxis})
		env[e] = &tval{base: len(bases) - 1, t: t, scale: 1}
	}
	concrete := func(v string) (*tensor, bool) {
		if c, ok := cst[v]; ok {
			return c, true
		}
		c, ok := b.consts[v]
		if !ok {
			return nil, false
		}
		if c.bAxis >= 0 {
			return nil, false
		}
		c = c.clone()
		if c.batch != nil && c.isInt {
			for k, m := range c.batch {
				if m {
					c.i[k] *= int64(batch)
				}
			}
		}
		c.batch = nil
		cst[v] = c
		return c, true
	}
	dimsOf := func(v string) ([]int, bool) {
		if t, ok := env[v]; ok {
			return t.t.dims, true
		}
		if st := b.states[v]; st != nil {
			d := append([]int(nil), st.d.shape...)
			d[st.d.bAxis] = batch * st.d.inner()
			return d, true
		}
		return nil, false
	}
	var out *attnBase
	outName := ""
	for _, i := range r.nodes {
		np := b.nodes[i]
		n := newNode(np, b.opset)
		op := np.GetOpType()
		in := np.GetInput()
		if len(np.GetOutput()) != 1 {
			return fail("node %q (%s) has %d outputs", np.GetName(), op, len(np.GetOutput()))
		}
		o := np.GetOutput()[0]
		if op == "Shape" {
			d, ok := dimsOf(in[0])
			if !ok {
				return fail("Shape of %q", in[0])
			}
			outs, err := evalConst(n, []*tensor{newInt(d, make([]int64, shapeSize(d)))})
			if err != nil {
				return err
			}
			cst[o] = outs[0]
			continue
		}
		var tin []*tval
		ins := make([]*tensor, len(in))
		traced := false
		for k, v := range in {
			if v == "" {
				tin = append(tin, nil)
				continue
			}
			if t, ok := env[v]; ok {
				tin = append(tin, t)
				ins[k] = t.t
				traced = true
				continue
			}
			tin = append(tin, nil)
			c, ok := concrete(v)
			if !ok {
				return fail("node %q (%s) reads %q, which is neither computed in the region nor a constant", np.GetName(), op, v)
			}
			ins[k] = c
		}
		if !traced {
			outs, err := evalConst(n, ins)
			if err != nil {
				return err
			}
			cst[o] = outs[0]
			continue
		}
		if len(in) == 0 {
			return fail("node %q (%s) has no inputs", np.GetName(), op)
		}
		for _, t := range outsOf(cst, env, o) {
			if t > maxProbe {
				return fail("node %q (%s) is too large to verify the pattern on", np.GetName(), op)
			}
		}
		x := env[in[0]]
		switch {
		case attnLayout[op] && x != nil && tin[0] == x:
			if op == "Gather" && !isConstIdx(in, env) {
				return fail("Gather with computed indices")
			}
			outs, err := evalConst(n, ins)
			if err != nil {
				return err
			}
			nt := *x
			nt.t = outs[0]
			env[o] = &nt
		case (op == "Cast" || op == "Not") && x != nil && x.isMask:
			nt := *x
			if op == "Not" {
				nt.neg = !nt.neg
			}
			env[o] = &nt
		case op == "Cast" && x != nil && bases[x.base].kind == akExt:
			nt := *x
			nt.isMask = true
			env[o] = &nt
		case op == "Where" && x != nil:
			a, ok1 := concrete(in[1])
			c, ok2 := concrete(in[2])
			if !ok1 || !ok2 || !uniform(a) || !uniform(c) || a.isInt || c.isInt || bases[x.base].kind != akExt {
				return fail("Where on data is supported as a mask (a graph input selecting two scalar constants)")
			}
			nt := *x
			nt.isMask, nt.where = true, true
			nt.onTrue, nt.onFals = float64(a.f[0]), float64(c.f[0])
			if nt.neg {
				nt.onTrue, nt.onFals, nt.neg = nt.onFals, nt.onTrue, false
			}
			// broadcast the index tensor with the constants' shapes
			env[o] = &nt
		case (op == "Mul" || op == "Div") && len(tin) == 2 && (tin[0] == nil) != (tin[1] == nil):
			t, cv := tin[0], in[1]
			if t == nil {
				t, cv = tin[1], in[0]
				if op == "Div" {
					return fail("division by a computed tensor")
				}
			}
			c, _ := concrete(cv)
			if c == nil || c.size() != 1 {
				return fail("node %q (%s) scales by a non-scalar", np.GetName(), op)
			}
			s := float64(c.floats()[0])
			if op == "Div" {
				s = 1 / s
			}
			if sb := bases[t.base]; sb.kind == akScore && (sb.mask != nil || sb.bias != nil) && s != 1 {
				return fail("scores scaled after the mask is added")
			}
			nt := *t
			if nt.where {
				nt.onTrue *= s
				nt.onFals *= s
			} else {
				nt.scale *= s
			}
			env[o] = &nt
		case (op == "MatMul" || op == "Gemm") && x != nil && len(tin) >= 2 && tin[1] == nil:
			nb, err := b.attnProjection(n, x, bases, ins)
			if err != nil {
				return fail("%v", err)
			}
			bases = append(bases, nb)
			id := newInt(append([]int(nil), x.t.dims[:len(x.t.dims)-1]...), nil)
			id.dims = append(id.dims, nb.n)
			id.i = make([]int64, shapeSize(id.dims))
			for k := range id.i {
				id.i[k] = int64(k)
			}
			env[o] = &tval{base: len(bases) - 1, t: id, scale: 1}
			if nb.kind == akOut {
				out = nb
			}
		case op == "Add" && len(tin) == 2 && (tin[0] == nil) != (tin[1] == nil):
			t, cv := tin[0], in[1]
			if t == nil {
				t, cv = tin[1], in[0]
			}
			c, _ := concrete(cv)
			pb := bases[t.base]
			if pb.kind == akScore && c != nil {
				if err := attnScoreBias(pb, t, c); err != nil {
					return fail("additive mask: %v", err)
				}
				env[o] = t
				break
			}
			if (pb.kind != akProj && pb.kind != akOut) || !isIota(t.t) || t.scale != 1 || c == nil || c.size() != pb.n || c.dims[len(c.dims)-1] != pb.n {
				return fail("node %q adds a constant to something other than a projection", np.GetName())
			}
			cf := c.floats()
			if pb.bias == nil {
				pb.bias = make([]float32, pb.n)
			}
			for j := range pb.bias {
				pb.bias[j] += cf[j]
			}
			env[o] = t
		case op == "MatMul" && len(tin) == 2 && tin[0] != nil && tin[1] != nil:
			a, c := tin[0], tin[1]
			switch bases[a.base].kind {
			case akProj:
				nb, err := attnScores(a, c, bases)
				if err != nil {
					return fail("Q*K^T: %v", err)
				}
				bases = append(bases, nb)
			case akProb:
				nb, err := attnHeads(a, c, bases)
				if err != nil {
					return fail("P*V: %v", err)
				}
				bases = append(bases, nb)
			default:
				return fail("MatMul of two computed tensors that are not attention's")
			}
			env[o] = &tval{base: len(bases) - 1, t: arange(bases[len(bases)-1].dims), scale: 1}
		case op == "Add" && len(tin) == 2:
			s, m := tin[0], tin[1]
			if s.isMask {
				s, m = m, s
			}
			if !m.isMask || !m.where || bases[s.base].kind != akScore || !isIota(s.t) {
				return fail("Add of computed tensors that are not scores and a mask")
			}
			if err := attnMaskOf(bases[s.base], s, m, bases); err != nil {
				return fail("mask: %v", err)
			}
			env[o] = s
		case op == "Softmax" && x != nil:
			sb := bases[x.base]
			ax := int(n.int("axis", -1))
			if ax < 0 {
				ax += len(x.t.dims)
			}
			if sb.kind != akScore || !isIota(x.t) || ax != len(x.t.dims)-1 {
				return fail("Softmax not over the keys of the scores")
			}
			sb.scale *= x.scale
			nb := *sb
			nb.kind = akProb
			bases = append(bases, &nb)
			env[o] = &tval{base: len(bases) - 1, t: arange(sb.dims), scale: 1}
		default:
			return fail("node %q (%s) is not part of the attention pattern kinfer knows", np.GetName(), op)
		}
		if o == r.end {
			outName = o
		}
	}
	if out == nil || outName == "" {
		return fail("no output projection")
	}
	return b.emitAttention(r, env[r.end], bases, batch, fail)
}

// uniform reports whether every element of c is the same.
func uniform(c *tensor) bool {
	f := c.floats()
	for _, v := range f {
		if v != f[0] && !(v != v && f[0] != f[0]) {
			return false
		}
	}
	return len(f) > 0
}

// outsOf is the size of value o if it is already known (never, before its node runs;
// the check after evaluation is in arange and evalConst's own bound).
func outsOf(cst map[string]*tensor, env map[string]*tval, o string) []int {
	if c, ok := cst[o]; ok {
		return []int{c.size()}
	}
	if t, ok := env[o]; ok {
		return []int{t.t.size()}
	}
	return nil
}

func isConstIdx(in []string, env map[string]*tval) bool {
	for _, v := range in[1:] {
		if _, ok := env[v]; ok {
			return false
		}
	}
	return true
}

func arange(dims []int) *tensor {
	if shapeSize(dims) > maxProbe || shapeSize(dims) <= 0 {
		panic("attention probe tensor out of bounds") // recovered by applyAttention
	}
	t := newInt(append([]int(nil), dims...), make([]int64, shapeSize(dims)))
	for k := range t.i {
		t.i[k] = int64(k)
	}
	return t
}

func isIota(t *tensor) bool {
	for k, v := range t.i {
		if v != int64(k) {
			return false
		}
	}
	return true
}

// extRow decodes element e of external base x (ONNX (.., B, .., F)) into its sample,
// its step (the flat index over the other axes but the last) and feature.
func extRow(x *attnBase, e int64) (bb, t, f int) {
	d := x.dims
	rem := int(e)
	coords := make([]int, len(d))
	for a := len(d) - 1; a >= 0; a-- {
		coords[a] = rem % d[a]
		rem /= d[a]
	}
	t = 0
	for a := 0; a < len(d)-1; a++ {
		if a == x.bAxis {
			continue
		}
		t = t*d[a] + coords[a]
	}
	return coords[x.bAxis], t, coords[len(d)-1]
}

// attnProjection makes the base of a projection (MatMul or Gemm on a constant
// weight) of rows of x, which must be whole rows of an input or of the heads.
func (b *builder) attnProjection(n *node, x *tval, bases []*attnBase, ins []*tensor) (*attnBase, error) {
	w := ins[1]
	if len(w.dims) != 2 {
		return nil, fmt.Errorf("weight of shape %v", w.dims)
	}
	k, nn := w.dims[0], w.dims[1]
	wf := w.floats()
	var bias []float32
	if n.GetOpType() == "Gemm" {
		alpha, beta := n.float("alpha", 1), n.float("beta", 1)
		if n.int("transA", 0) != 0 {
			return nil, fmt.Errorf("Gemm transA")
		}
		if n.int("transB", 0) != 0 {
			k, nn = nn, k
			t := make([]float32, len(wf))
			for i := 0; i < nn; i++ {
				for j := 0; j < k; j++ {
					t[j*nn+i] = wf[i*k+j]
				}
			}
			wf = t
		}
		if alpha != 1 {
			t := make([]float32, len(wf))
			for i, v := range wf {
				t[i] = v * alpha
			}
			wf = t
		}
		if len(ins) > 2 && ins[2] != nil {
			c := ins[2].floats()
			if len(c) != nn {
				return nil, fmt.Errorf("Gemm C of %d values for %d columns", len(c), nn)
			}
			bias = make([]float32, nn)
			for j := range bias {
				bias[j] = c[j] * beta
			}
		}
		n.ignore("alpha", "beta", "transA", "transB")
	}
	d := x.t.dims
	if len(d) < 1 || d[len(d)-1] != k {
		return nil, fmt.Errorf("input %v does not end in the weight's %d rows", d, k)
	}
	if x.scale != 1 {
		return nil, fmt.Errorf("scaled projection input")
	}
	src := bases[x.base]
	rows := x.t.size() / k
	nb := &attnBase{kind: akProj, w: wf, bias: bias, in: k, n: nn, src: x.base, rowB: make([]int, rows), rowT: make([]int, rows)}
	nb.dims = append(append([]int(nil), d[:len(d)-1]...), nn)
	for r := 0; r < rows; r++ {
		row := x.t.i[r*k : (r+1)*k]
		switch src.kind {
		case akExt:
			if src.dims[len(src.dims)-1] != k || row[0]%int64(k) != 0 {
				return nil, fmt.Errorf("rows are not whole rows of %q", src.name)
			}
			for e, v := range row {
				if v != row[0]+int64(e) {
					return nil, fmt.Errorf("rows are not whole rows of %q", src.name)
				}
			}
			nb.rowB[r], nb.rowT[r], _ = extRow(src, row[0])
		case akHeads:
			// columns h*dv+e of row r are heads[g(b, h), t, e] for one (b, t)
			nb.kind = akOut
			if k != len(headsOf(src))*src.dv {
				return nil, fmt.Errorf("output projection of %d rows for %d heads of %d", k, len(headsOf(src)), src.dv)
			}
			tq := src.dims[len(src.dims)-2]
			bb, t := -1, -1
			for c, v := range row {
				g := int(v) / (tq * src.dv)
				tt := int(v) / src.dv % tq
				e := int(v) % src.dv
				if g >= len(src.gB) || e != c%src.dv || src.gH[g] != c/src.dv || (bb >= 0 && (src.gB[g] != bb || tt != t)) {
					return nil, fmt.Errorf("the heads are not concatenated in order before the output projection")
				}
				bb, t = src.gB[g], tt
			}
			nb.rowB[r], nb.rowT[r] = bb, t
		default:
			return nil, fmt.Errorf("projection of a %v", src.kind)
		}
	}
	return nb, nil
}

func headsOf(s *attnBase) map[int]bool {
	h := map[int]bool{}
	for _, v := range s.gH {
		h[v] = true
	}
	return h
}

// attnScores checks that a (G..., T, dk) and c (G..., dk, S) are per (sample, head)
// column blocks of projections, and returns the scores' base.
func attnScores(a, c *tval, bases []*attnBase) (*attnBase, error) {
	ad, cd := a.t.dims, c.t.dims
	if len(ad) < 3 || len(cd) != len(ad) || !sameInts(ad[:len(ad)-2], cd[:len(cd)-2]) || ad[len(ad)-1] != cd[len(cd)-2] {
		return nil, fmt.Errorf("operands %v and %v", ad, cd)
	}
	pq, pk := bases[a.base], bases[c.base]
	if pk.kind != akProj || a.isMask || c.isMask {
		return nil, fmt.Errorf("keys are not a projection")
	}
	g := shapeSize(ad[:len(ad)-2])
	tq, dk, tk := ad[len(ad)-2], ad[len(ad)-1], cd[len(cd)-1]
	nb := &attnBase{kind: akScore, dims: append(append([]int(nil), ad[:len(ad)-1]...), tk), q: a.base, k: c.base, dk: dk,
		scale: a.scale * c.scale, gB: make([]int, g), gH: make([]int, g)}
	c0 := make([]int, g)
	for gi := 0; gi < g; gi++ {
		v := a.t.i[gi*tq*dk]
		c0[gi] = int(v) % pq.n
	}
	off := c0[0]
	for _, x := range c0 {
		off = min(off, x)
	}
	nb.qOff = off
	for gi := 0; gi < g; gi++ {
		if (c0[gi]-off)%dk != 0 {
			return nil, fmt.Errorf("query head columns are not blocks of %d", dk)
		}
		nb.gH[gi] = (c0[gi] - off) / dk
		for t := 0; t < tq; t++ {
			for e := 0; e < dk; e++ {
				v := int(a.t.i[(gi*tq+t)*dk+e])
				r, col := v/pq.n, v%pq.n
				if col != c0[gi]+e || pq.rowT[r] != t || (t > 0 || e > 0) && pq.rowB[r] != nb.gB[gi] {
					return nil, fmt.Errorf("query of head %d, step %d is not one block of one row", gi, t)
				}
				nb.gB[gi] = pq.rowB[r]
			}
		}
	}
	// keys: kT[g, e, j] = P_k[row(b_g, j), kOff + h_g*dk + e]
	v0 := int(c.t.i[0])
	nb.kOff = v0%pk.n - nb.gH[0]*dk
	for gi := 0; gi < g; gi++ {
		for e := 0; e < dk; e++ {
			for j := 0; j < tk; j++ {
				v := int(c.t.i[(gi*dk+e)*tk+j])
				r, col := v/pk.n, v%pk.n
				if col != nb.kOff+nb.gH[gi]*dk+e || pk.rowT[r] != j || pk.rowB[r] != nb.gB[gi] {
					return nil, fmt.Errorf("keys of head %d are not the same block of each key's row", gi)
				}
			}
		}
	}
	if err := checkHeads(nb.gB, nb.gH); err != nil {
		return nil, err
	}
	return nb, nil
}

// checkHeads checks that every (sample, head) pair occurs once.
func checkHeads(gB, gH []int) error {
	seen := map[[2]int]bool{}
	nh := 0
	for i := range gB {
		k := [2]int{gB[i], gH[i]}
		if seen[k] {
			return fmt.Errorf("sample %d head %d appears twice", gB[i], gH[i])
		}
		seen[k] = true
		nh = max(nh, gH[i]+1)
	}
	if len(seen) == 0 || len(gB)%nh != 0 {
		return fmt.Errorf("%d head blocks for %d heads", len(gB), nh)
	}
	return nil
}

// attnHeads checks P (the softmax, iota) times V (G..., S, dv) per (sample, head).
func attnHeads(p, c *tval, bases []*attnBase) (*attnBase, error) {
	pb, pv := bases[p.base], bases[c.base]
	cd := c.t.dims
	if !isIota(p.t) || pv.kind != akProj || len(cd) != len(pb.dims) || cd[len(cd)-2] != pb.dims[len(pb.dims)-1] || c.scale != 1 {
		return nil, fmt.Errorf("values %v for probabilities %v", cd, pb.dims)
	}
	g := len(pb.gB)
	tk, dv := cd[len(cd)-2], cd[len(cd)-1]
	nb := *pb
	nb.kind = akHeads
	nb.vv = p.base // the probabilities (and through them the scores)
	nb.dims = append(append([]int(nil), pb.dims[:len(pb.dims)-1]...), dv)
	nb.dv = dv
	nb.vOff = int(c.t.i[0])%pv.n - pb.gH[0]*dv
	nb.src = c.base
	for gi := 0; gi < g; gi++ {
		for j := 0; j < tk; j++ {
			for e := 0; e < dv; e++ {
				v := int(c.t.i[(gi*tk+j)*dv+e])
				r, col := v/pv.n, v%pv.n
				if col != nb.vOff+pb.gH[gi]*dv+e || pv.rowT[r] != j || pv.rowB[r] != pb.gB[gi] {
					return nil, fmt.Errorf("values of head %d are not the same block of each key's row", gi)
				}
			}
		}
	}
	return &nb, nil
}

// attnScoreBias records constant c added to scores t (after their scale): it must
// broadcast to the scores and be the same for every (sample, head).
func attnScoreBias(sb *attnBase, t *tval, c *tensor) error {
	if !isIota(t.t) || sb.bias != nil || sb.mask != nil {
		return fmt.Errorf("not added to the scores once, before any other mask")
	}
	sd := sb.dims
	if len(c.dims) > len(sd) {
		return fmt.Errorf("constant %v for scores %v", c.dims, sd)
	}
	if _, err := layers.BroadcastShape(layers.Shape(c.dims), layers.Shape(sd)); err != nil {
		return fmt.Errorf("constant %v does not broadcast to scores %v", c.dims, sd)
	}
	tq, tk := sd[len(sd)-2], sd[len(sd)-1]
	cf := c.floats()
	bias := make([]float32, tq*tk)
	set := make([]bool, tq*tk)
	st := layers.BroadcastStrides(layers.Shape(c.dims), layers.Shape(sd))
	var bad error
	layers.Odometer(layers.Shape(sd), st, func(o, i int) {
		k := o % (tq * tk)
		v := cf[i]
		if set[k] && bias[k] != v && !(v != v && bias[k] != bias[k]) {
			bad = fmt.Errorf("the constant differs between heads or samples")
		}
		bias[k], set[k] = v, true
	})
	if bad != nil {
		return bad
	}
	for _, v := range bias {
		if v != v || v > 0 && math.IsInf(float64(v), 1) {
			return fmt.Errorf("constant holds %v", v)
		}
	}
	sb.bias = bias
	return nil
}

// attnMaskOf records mask m added to scores s: a graph input (N, S) (a flag per key)
// or (N, T, S), through Where(flag, add, 0) or Where(flag, 0, add).
func attnMaskOf(sb *attnBase, s, m *tval, bases []*attnBase) error {
	src := bases[m.base]
	if src.kind != akExt || sb.mask != nil {
		return fmt.Errorf("not a graph input")
	}
	mk := &attnMask{src: src.name}
	switch {
	case m.onFals == 0 && m.onTrue != 0:
		mk.pad, mk.add = true, float32(m.onTrue)
	case m.onTrue == 0 && m.onFals != 0:
		mk.add = float32(m.onFals)
	default:
		return fmt.Errorf("Where(mask, %g, %g)", m.onTrue, m.onFals)
	}
	if mk.add > 0 || math.IsNaN(float64(mk.add)) {
		return fmt.Errorf("mask adds %g", mk.add)
	}
	// broadcast the mask's indices over the scores
	sd := sb.dims
	md := m.t.dims
	if len(md) > len(sd) {
		return fmt.Errorf("mask %v for scores %v", md, sd)
	}
	tq, tk := sd[len(sd)-2], sd[len(sd)-1]
	perKey, perQuery := true, true
	st := layers.BroadcastStrides(layers.Shape(md), layers.Shape(sd))
	var bad error
	layers.Odometer(layers.Shape(sd), st, func(o, i int) {
		if bad != nil {
			return
		}
		g, q, j := o/(tq*tk), o/tk%tq, o%tk
		bb, t, f := extRow(src, m.t.i[i])
		pos := t*src.dims[len(src.dims)-1] + f // flat over the per-sample axes
		if bb != sb.gB[g] {
			bad = fmt.Errorf("mask of another sample")
		}
		perKey = perKey && pos == j
		perQuery = perQuery && pos == q*tk+j
	})
	if bad != nil {
		return bad
	}
	if !perKey && !perQuery {
		return fmt.Errorf("mask elements do not follow the keys")
	}
	mk.perQuery = !perKey
	sb.mask = mk
	return nil
}

func sameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// emitAttention checks the region's output layout and emits the layer.
func (b *builder) emitAttention(r *attnRegion, endv *tval, bases []*attnBase, batch int, fail func(string, ...any) error) error {
	if endv == nil {
		return fail("no output")
	}
	yb := bases[endv.base]
	if yb.kind != akOut || endv.scale != 1 || endv.isMask {
		return fail("the output is not the output projection")
	}
	hb := bases[yb.src]
	var sb *attnBase
	for _, x := range bases {
		if x.kind == akScore {
			if sb != nil {
				return fail("two score products")
			}
			sb = x
		}
	}
	pq, pk, pv := bases[sb.q], bases[sb.k], bases[hb.src]
	xq, xk, xv := bases[pq.src], bases[pk.src], bases[pv.src]
	heads := len(headsOf(sb))
	dk, dv, dout := sb.dk, hb.dv, yb.n
	tq, tk := sb.dims[len(sb.dims)-2], sb.dims[len(sb.dims)-1]
	// the end: one axis is the batch, the rest (steps..., features) row-major
	ed := endv.t.dims
	bAxis := -1
	for a, d := range ed {
		if d != batch {
			continue
		}
		ok := true
		for k, v := range endv.t.i {
			rr, col := int(v)/dout, int(v)%dout
			coords := unflat(k, ed)
			per := 0
			for c := range ed {
				if c != a {
					per = per*ed[c] + coords[c]
				}
			}
			if coords[a] != yb.rowB[rr] || per != yb.rowT[rr]*dout+col {
				ok = false
				break
			}
		}
		if ok {
			bAxis = a
			break
		}
	}
	if bAxis < 0 {
		return fail("the output %v is not (batch, steps, features) in some axis order", ed)
	}
	gather := func(p *attnBase, off, width int) (w, bias []float32) {
		w = make([]float32, p.in*heads*width)
		for i := 0; i < p.in; i++ {
			for c := 0; c < heads*width; c++ {
				w[i*heads*width+c] = p.w[i*p.n+off+c]
			}
		}
		if p.bias != nil {
			bias = append([]float32(nil), p.bias[off:off+heads*width]...)
		}
		return w, bias
	}
	if sb.qOff < 0 || sb.kOff < 0 || hb.vOff < 0 || sb.qOff+heads*dk > pq.n || sb.kOff+heads*dk > pk.n || hb.vOff+heads*dv > pv.n {
		return fail("head columns outside the projections")
	}
	name := b.nodes[r.softmax].GetName()
	if i := strings.LastIndex(name, "/"); i > 0 {
		name = name[:i] // torch's module path: "/layers.0/self_attn"
	}
	l := &layers.MultiHeadAttention{Info: b.info(name, "Attention"), Heads: heads, KeyDim: dk, ValueDim: dv,
		QDim: pq.in, KDim: pk.in, VDim: pv.in, OutDim: dout, Scale: float32(sb.scale)}
	l.Wq, l.Bq = gather(pq, sb.qOff, dk)
	l.Wk, l.Bk = gather(pk, sb.kOff, dk)
	l.Wv, l.Bv = gather(pv, hb.vOff, dv)
	l.Wo, l.Bo = yb.w, yb.bias
	l.ScoreBias = sb.bias
	names := []string{xq.name, xv.name}
	if xk.name != xv.name {
		l.HasKey = true
		names = append(names, xk.name)
	}
	if sb.mask != nil {
		l.HasMask, l.MaskAdd, l.MaskIsPad = true, sb.mask.add, sb.mask.pad
		names = append(names, sb.mask.src)
	}
	var vals []layers.Value
	var shapes []layers.Shape
	for k, v := range names {
		b.load(v)
		nb := b.d.nb()
		want := []int{tq, pq.in}
		switch {
		case k == 1:
			want = []int{tk, pv.in}
		case k == 2 && l.HasKey:
			want = []int{tk, pk.in}
		case k == len(names)-1 && l.HasMask:
			want = nb
		}
		if shapeSize(nb) != shapeSize(want) {
			return fail("input %q of per-sample shape %v, want %v", v, nb, want)
		}
		if err := b.materialize(nil, want, b.nodes[r.softmax].GetName()); err != nil {
			return err
		}
		vals, shapes = append(vals, b.val), append(shapes, b.phys.Clone())
	}
	if err := b.emitN(l, vals, shapes); err != nil {
		return err
	}
	st := b.states[xq.name]
	shape := append([]int(nil), ed...)
	shape[bAxis] = st.d.shape[st.d.bAxis]
	return b.setOut(r.end, &dyn{shape: shape, bAxis: bAxis})
}

func unflat(k int, d []int) []int {
	c := make([]int, len(d))
	for a := len(d) - 1; a >= 0; a-- {
		c[a] = k % d[a]
		k /= d[a]
	}
	return c
}

// opMatMulN imports MatMul of two computed tensors outside an attention pattern as
// layers.MatMul: both operands carry the batch on axis 0 and at least two axes per
// sample, which are multiplied per sample with the leading axes broadcast.
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
