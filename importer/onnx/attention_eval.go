package onnx

import (
	"fmt"

	"github.com/kinfer/kinfer/layers"
)

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
