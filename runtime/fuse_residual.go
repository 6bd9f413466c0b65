package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// residual is a Conv2D or Dense whose output is added to another tensor of the same
// shape (a residual connection) and then goes through an optional per-element
// activation: x -> act(base(x) + r). It is a runtime-only layer made by fuseResiduals,
// so the sum and the activation run in the producing layer's step on its output while
// it is in cache, instead of an Add step writing a new buffer and an activation step
// after it. base is a copy with a linear activation.
type residual struct {
	base    layers.Layer
	act     layers.Activation
	n, last int // output floats per sample, channels
}

func (r *residual) LayerInfo() *layers.Info { return r.base.LayerInfo() }

func (r *residual) OutputShapeN(ins []layers.Shape) (layers.Shape, error) {
	return r.base.OutputShape(ins[0])
}

func (r *residual) OutputShape(in layers.Shape) (layers.Shape, error) { return r.base.OutputShape(in) }

func (r *residual) ScratchLenN(ins []layers.Shape, batch int) int {
	return r.base.ScratchLen(ins[0], batch)
}

func (r *residual) ScratchLen(in layers.Shape, batch int) int { return r.base.ScratchLen(in, batch) }

// ForwardN is the reference: the base layer's reference pass, then the Merge's sum
// and the activation's reference, in the unfused graph's order.
func (r *residual) ForwardN(dst []float32, srcs [][]float32, scratch []float32, ins []layers.Shape, batch int) {
	r.base.Forward(dst, srcs[0], scratch, ins[0], batch)
	n := batch * r.n
	addRow(dst[:n], srcs[1][:n])
	r.act.Apply(dst[:n], r.last)
}

func (r *residual) Forward(dst, src, scratch []float32, in layers.Shape, batch int) {
	r.base.Forward(dst, src, scratch, in, batch)
}

func (r *residual) Weights() [][]float32 { return r.base.Weights() }

func (r *residual) Config() string { return r.base.Config() + " + residual, act=" + r.act.String() }

func (r *residual) FLOPsN(ins []layers.Shape) int64 {
	out, _ := r.base.OutputShape(ins[0])
	return r.base.FLOPs(ins[0]) + int64(out.Size())
}

func (r *residual) FLOPs(in layers.Shape) int64 { return r.base.FLOPs(in) }

func addRow(d, s []float32) {
	s = s[:len(d)]
	for i, v := range s {
		d[i] += v
	}
}

// fuseResiduals is the graph pass that makes residual layers: a run ending in a linear
// Conv2D or Dense (after fuse's folds) whose output is read only by the next node, a
// two-input Add of that output and an earlier value of the same shape, optionally
// followed by a chained per-element activation.
func fuseResiduals(g *layers.Graph, fs []fused, _ asm.ISA) []fused {
	var out []fused
	for i := 0; i < len(fs); i++ {
		f := fs[i]
		nf, ok := residualAt(g, fs, i)
		if !ok {
			out = append(out, f)
			continue
		}
		out = append(out, nf)
		for i+1 < len(fs) && fs[i+1].to <= nf.to {
			i++
		}
	}
	return out
}

func residualAt(g *layers.Graph, fs []fused, i int) (fused, bool) {
	f := fs[i]
	if i+1 >= len(fs) || f.ins != nil {
		return fused{}, false
	}
	var base layers.Layer
	switch l := f.l.(type) {
	case *layers.Conv2D:
		if !l.Act.IsLinear() {
			return fused{}, false
		}
		base = l
	case *layers.Dense:
		if !l.Act.IsLinear() {
			return fused{}, false
		}
		base = l
	default:
		return fused{}, false
	}
	a := fs[i+1]
	add, ok := a.l.(*layers.Merge)
	v := g.NodeValue(f.to)
	if !ok || add.Op != layers.MergeAdd || a.from != a.to || a.from != f.to+1 || g.Users(v) != 1 {
		return fused{}, false
	}
	ins := g.NodeInputs(a.from)
	if len(ins) != 2 {
		return fused{}, false
	}
	var r layers.Value
	switch v {
	case ins[0]:
		r = ins[1]
	case ins[1]:
		r = ins[0]
	default:
		return fused{}, false
	}
	if r == v || !g.ValueShape(r).Equal(g.ValueShape(v)) {
		return fused{}, false
	}
	os := g.ValueShape(v)
	res := &residual{base: base, act: layers.ActLinear, n: os.Size(), last: os.Last()}
	nf := fused{l: res, from: f.from, to: a.to, ins: append(g.NodeInputs(f.from), r)}
	if i+2 < len(fs) && g.ChainNext(a.to) {
		if al, ok := fs[i+2].l.(*layers.ActivationLayer); ok && fs[i+2].from == fs[i+2].to && al.Act.PerElement() {
			res.act, nf.to = al.Act, fs[i+2].to
		}
	}
	return nf, true
}

// fastResidual runs a residual: the base layer's fast kernel with the sum and the
// activation as its output stage (epilogue) when it has one (GEMM and Winograd
// convolutions, Dense), else the base kernel into dst and the epilogue over dst.
type fastResidual struct {
	base kernel
	e    *epilogue
	n    int // floats per sample
}

func newFastResidual(l *residual, ins []layers.Shape, out layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
	c := selectKernel(l.base, ins[:1], out, isa, mb)
	if c.k == nil {
		return compiled{}, false
	}
	k := &fastResidual{base: c.k, e: newEpilogue(isa, l.act), n: out.Size()}
	name := c.name + " + residual"
	if _, ok := c.k.(residualKernel); ok {
		name += " (fused epilogue)"
	}
	if !l.act.IsLinear() {
		name += " + " + l.act.String()
	}
	return compiled{kn: k, name: name, scratchLen: c.scratchLen}, true
}

func (k *fastResidual) runN(dst []float32, srcs [][]float32, scratch []float32, batch int) {
	n := batch * k.n
	if rk, ok := k.base.(residualKernel); ok {
		rk.runRes(dst[:n], srcs[0], srcs[1][:n], scratch, batch, k.e)
		return
	}
	k.base.run(dst, srcs[0], scratch, batch)
	k.e.apply(dst[:n], dst[:n], srcs[1][:n])
}
