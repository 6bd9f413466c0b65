package runtime

import (
	"errors"
	"fmt"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// Compile builds a Model from a graph. It runs as an ordered list of passes over the
// DAG:
//
//  1. graph passes (graphPasses): rewrites and fusions that replace a chained run of
//     nodes by one runtime layer (a copy; the graph is never modified);
//  2. kernel selection (selectKernel, from kernelTable by layer type and ISA);
//  3. kernel passes (kernelPasses): fusions of two chained compiled steps;
//  4. the arena plan by buffer liveness over the DAG (planArena);
//  5. step emission.
func Compile(g *layers.Graph, opt Options) (*Model, error) {
	if g == nil {
		return nil, errors.New("runtime: nil graph")
	}
	isa, err := pickISA(opt.ISA)
	if err != nil {
		return nil, err
	}
	mb := opt.MaxBatch
	if mb == 0 {
		mb = DefaultMaxBatch
	}
	if mb < 1 || mb > 1<<16 {
		return nil, fmt.Errorf("runtime: MaxBatch %d out of range [1, 65536]", mb)
	}
	if opt.Threads < 0 || opt.Threads > 1024 {
		return nil, fmt.Errorf("runtime: Threads %d out of range [0, 1024]", opt.Threads)
	}
	if err := checkGraph(g, opt); err != nil {
		return nil, err
	}
	m := &Model{g: g, isa: isa, maxBatch: mb, threads: max(opt.Threads, 1), inSize: g.Input().Size(), outSize: g.Output().Size()}
	m.minPart = minPart(g.Params(), g.FLOPs())
	m.maxSeq = opt.MaxSeqLen
	if in := g.Input(); m.maxSeq == 0 && len(in) > 0 {
		m.maxSeq = in[0]
	}
	if m.maxSeq < 0 || m.maxSeq > 1<<20 {
		return nil, fmt.Errorf("runtime: MaxSeqLen %d out of range [0, %d]", opt.MaxSeqLen, 1<<20)
	}
	if p, err := newStreamPlan(g, 1); err == nil {
		m.seqTimeOut, m.seqOK, m.seqFull = p.timeVal[p.out], true, g.Input()[0]
	}
	m.idInput = g.Inputs()[0].DType == layers.Int32
	for k := range g.NumInputs() {
		m.vocab = append(m.vocab, g.Vocabulary(k))
		m.hasIDs = m.hasIDs || m.vocab[k] > 0
	}

	fs := make([]fused, g.Len())
	for i := range fs {
		fs[i] = fused{l: g.Layer(i), from: i, to: i}
	}
	for _, p := range graphPasses {
		fs = p(g, fs, isa)
	}
	us := make([]unit, 0, len(fs))
	for _, f := range fs {
		c := selectKernel(f.l, f.inShapes(g), g.OutShape(f.to), isa, mb)
		u := unit{fused: f, c: c}
		if n := len(us); n > 0 && g.ChainNext(us[n-1].to) && us[n-1].c.k != nil && c.k != nil {
			if fc, ok := kernelFuse(us[n-1].c, c); ok {
				us[n-1].c, us[n-1].to = fc, f.to
				continue
			}
		}
		us = append(us, u)
	}
	planArena(m, g, us)
	m.batchSplit, m.minPart = batchSplitPlan(us, m.minPart)
	if err := checkArena(m, opt); err != nil {
		return nil, err
	}
	return m, nil
}

// graphPass rewrites the list of fused runs (each a chained run of graph nodes
// [from, to] run as one layer; the first list has one run per node).
type graphPass func(g *layers.Graph, fs []fused, isa asm.ISA) []fused

// graphPasses run in this order; each is one kind of rewrite.
var graphPasses = []graphPass{
	foldLinear,     // affine/activation/permute folds into Dense and Conv2D weights
	fuseLSTMStacks, // consecutive stackable LSTMs -> one wavefront layer
	fuseRecStacks,  // consecutive stackable GRUs/SimpleRNNs -> one wavefront layer
	fuseResiduals,  // conv/dense + Add(residual) (+ activation) -> one step
}

// kernelPasses fuse a compiled step into the chained step before it, tried in order.
var kernelPasses = []func(prev, c compiled) (compiled, bool){
	fuseSeqDense,   // a Dense on a whole-sequence LSTM's h rows
	fuseSeqLSTM,    // two whole-sequence LSTMs reading rows in place
	fuseQConvPool,  // a 2x2 max pool into the int8 conv before it
	fuseQConvChain, // int8 convs passing bytes (fast_qchain.go)
}

func kernelFuse(prev, c compiled) (compiled, bool) {
	for _, p := range kernelPasses {
		if fc, ok := p(prev, c); ok {
			return fc, true
		}
	}
	return compiled{}, false
}

// unit is one step-to-be: a fused run with its compiled kernel.
type unit struct {
	fused
	c compiled
}

// planArena places every value's buffer and every step's scratch in one arena by
// liveness, decides in-place steps, micro-batching and the direct output, and emits
// the steps.
func planArena(m *Model, g *layers.Graph, us []unit) {
	mb := m.maxBatch
	pars := make([]parKernel, len(us))
	if m.threads > 1 {
		for i := range us {
			if pk, ok := us[i].c.k.(parKernel); ok {
				pars[i], us[i].c.scratchLen = pk.forTeam(m.threads, mb, us[i].c.scratchLen)
				us[i].c.k = pars[i]
			}
		}
	}
	nIn := g.NumInputs()
	nv := nIn + g.Len()
	// lastUse[v]: the last step (1-based time) reading value v; graph outputs are read
	// after the last step
	lastUse := make([]int, nv)
	for t, u := range us {
		for _, v := range u.inputs(g) {
			lastUse[v] = max(lastUse[v], t+1)
		}
	}
	isOut := make([]bool, nv)
	for _, v := range g.OutputValues() {
		lastUse[v] = len(us) + 1
		isOut[v] = true
	}
	bufOf := make([]int, nv)
	for i := range bufOf {
		bufOf[i] = -1
	}
	var bufs []buffer
	for k := 0; k < nIn; k++ {
		bufs = append(bufs, buffer{size: mb * g.ValueShape(layers.Value(k)).Size(), first: 0, last: lastUse[k]})
		bufOf[k] = k
	}
	type pending struct {
		srcs []int // buffer per input
		dst  int
		sc   int
	}
	ps := make([]pending, len(us))
	for i, u := range us {
		t := i + 1
		ins := u.inputs(g)
		out := g.NodeValue(u.to)
		p := pending{sc: -1}
		for _, v := range ins {
			p.srcs = append(p.srcs, bufOf[v])
		}
		if u.c.k != nil && u.c.inPlace && len(ins) == 1 && lastUse[ins[0]] == t && !isOut[ins[0]] {
			p.dst = bufOf[ins[0]]
			bufs[p.dst].last = max(bufs[p.dst].last, lastUse[out])
		} else {
			if _, view := u.c.k.(nopKernel); view {
				// A view whose input is still read later (a DAG branch) or is a graph
				// output cannot share its buffer: it copies.
				us[i].c.k, us[i].c.name = copyKernel{}, "copy"
			}
			bufs = append(bufs, buffer{size: mb * g.ValueShape(out).Size(), first: t, last: max(t, lastUse[out])})
			p.dst = len(bufs) - 1
		}
		bufOf[out] = p.dst
		if u.c.scratchLen > 0 {
			bufs = append(bufs, buffer{size: u.c.scratchLen, first: t, last: t})
			p.sc = len(bufs) - 1
		}
		ps[i] = p
		m.maxArity = max(m.maxArity, len(ins))
	}

	// micro-batching: only a chain prefix reading the (single) input
	prefix := 0
	if nIn == 1 {
		for i, u := range us {
			ins := u.inputs(g)
			if u.c.k == nil || len(ins) != 1 {
				break
			}
			prev := layers.Value(0)
			if i > 0 {
				prev = g.NodeValue(us[i-1].to)
			}
			if ins[0] != prev || g.Users(prev) != 1 {
				break
			}
			prefix = i + 1
		}
	}
	cs := make([]compiled, prefix)
	inPer, outPer := make([]int, prefix), make([]int, prefix)
	for i := range cs {
		cs[i], inPer[i], outPer[i] = us[i].c, us[i].inShapes(g)[0].Size(), g.OutShape(us[i].to).Size()
	}
	m.microEnd, m.microN, m.microPer = microPlan(cs, inPer, outPer, mb)
	segOut := -1
	if m.microEnd >= 0 {
		// the input is read and the prefix's output written by every micro-batch
		segOut = ps[m.microEnd].dst
		bufs[0].last = max(bufs[0].last, m.microEnd+1)
		bufs[segOut].first = min(bufs[segOut].first, 1)
	}
	outs := g.OutputValues()
	if last := len(us) - 1; last >= 0 && len(outs) == 1 && us[last].c.k != nil && outs[0] == g.NodeValue(us[last].to) &&
		ps[last].dst != ps[last].srcs[0] && m.microEnd < last {
		m.outDirect = true
	}
	m.arenaLen = plan(bufs)
	for k := 0; k < nIn; k++ {
		m.ins = append(m.ins, ioBuf{off: bufs[k].off, per: g.ValueShape(layers.Value(k)).Size()})
	}
	for _, v := range outs {
		m.outs = append(m.outs, ioBuf{off: bufs[bufOf[v]].off, per: g.ValueShape(v).Size()})
	}
	for i, p := range ps {
		u := us[i]
		s := step{k: u.c.k, par: pars[i], kn: u.c.kn, src: bufs[p.srcs[0]].off, dst: bufs[p.dst].off, scratch: -1,
			inPer: u.inShapes(g)[0].Size(), outPer: g.OutShape(u.to).Size(),
			srcAt: p.srcs[0] == 0 && nIn == 1, dstAt: p.dst == 0 && nIn == 1 || p.dst == segOut}
		if u.c.kn != nil {
			for k, b := range p.srcs {
				s.srcs = append(s.srcs, bufs[b].off)
				s.inPers = append(s.inPers, u.inShapes(g)[k].Size())
			}
		}
		if p.sc >= 0 {
			s.scratch, s.scratchLen = bufs[p.sc].off, u.c.scratchLen
		}
		m.steps = append(m.steps, s)
		m.kernels = append(m.kernels, u.c.name)
		for j := u.from + 1; j <= u.to; j++ {
			m.kernels = append(m.kernels, "fused into "+u.l.LayerInfo().Name)
		}
	}
}
