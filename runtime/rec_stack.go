package runtime

import (
	"strconv"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// recStack is a run of consecutive GRU and SimpleRNN layers that the runtime executes
// as one (an asm.RecStack wavefront, as lstmStack for LSTMs): each layer after the
// first consumes its predecessor's h sequence in the order the predecessor produced
// it, so layer i's step s runs beside layer i-1's step s+1 instead of after the whole
// of layer i-1, and no intermediate sequence is copied out. A runtime-only layer made
// by fuseRecStacks; the graph's layers are shared, never modified. Its reference pass
// runs the layers one after the other.
type recStack struct {
	ls  []layers.Recurrent
	mid []layers.Shape // input shape of each layer
}

func (s *recStack) LayerInfo() *layers.Info { return s.ls[0].LayerInfo() }

func (s *recStack) OutputShape(in layers.Shape) (layers.Shape, error) {
	var err error
	for _, l := range s.ls {
		if in, err = l.OutputShape(in); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// ScratchLen: the intermediate sequences (two alternating buffers) and the largest
// layer scratch.
func (s *recStack) ScratchLen(_ layers.Shape, batch int) int {
	n, sc := 0, 0
	for i, l := range s.ls {
		if i > 0 {
			n = max(n, batch*s.mid[i].Size())
		}
		sc = max(sc, l.ScratchLen(s.mid[i], batch))
	}
	return 2*n + sc
}

func (s *recStack) Forward(dst, src, scratch []float32, _ layers.Shape, batch int) {
	n := 0
	for i := 1; i < len(s.ls); i++ {
		n = max(n, batch*s.mid[i].Size())
	}
	bufs := [2][]float32{scratch[:n], scratch[n : 2*n]}
	rest := scratch[2*n:]
	for i, l := range s.ls {
		out := dst
		if i+1 < len(s.ls) {
			out = bufs[i%2][:batch*s.mid[i+1].Size()]
		}
		l.Forward(out, src, rest, s.mid[i], batch)
		src = out
	}
}

func (s *recStack) Weights() [][]float32 {
	var w [][]float32
	for _, l := range s.ls {
		w = append(w, l.Weights()...)
	}
	return w
}

func (s *recStack) Config() string {
	c := ""
	for i, l := range s.ls {
		if i > 0 {
			c += " | "
		}
		c += l.Config()
	}
	return c
}

func (s *recStack) FLOPs(in layers.Shape) int64 {
	var f int64
	for i, l := range s.ls {
		f += l.FLOPs(s.mid[i])
	}
	return f
}

// recSampler compiles a GRU or SimpleRNN alone and returns its kernel when it runs
// the in-loop projection whole-sequence kernel (a stage asm.RecStack can run).
func recSampler(l layers.Layer, in layers.Shape, isa asm.ISA, maxBatch int) (seqSampler, compiled, bool) {
	switch l.(type) {
	case *layers.GRU, *layers.SimpleRNN:
	default:
		return nil, compiled{}, false
	}
	if len(in) != 2 || !asm.RecStackAsm(isa) {
		return nil, compiled{}, false
	}
	c, ok := newFastRecurrent(l.(layers.Recurrent), in, isa, maxBatch)
	if ok {
		if x, ok := asSampler(c); ok {
			return x, c, true
		}
	}
	switch l := l.(type) {
	case *layers.GRU:
		if k, ok := newActsGRU(l, in, isa); ok {
			return k, compiled{k: k, name: "gru whole-sequence " + l.RecAct.String() + "/" + l.Act.String() + " kernel/" + isa.String() + " (input projected in the step loop)"}, true
		}
	case *layers.SimpleRNN:
		if k, ok := newActsRNN(l, in, isa); ok {
			return k, compiled{k: k, name: "simplernn whole-sequence " + l.Act.String() + " kernel/" + isa.String() + " (input projected in the step loop)"}, true
		}
	}
	return nil, compiled{}, false
}

// recActOf maps an activation onto asm.RecAct's kinds (false: the kernel lacks it).
func recActOf(a layers.Activation) (asm.RecAct, bool) {
	switch {
	case a.Kind == layers.Sigmoid:
		return asm.RecAct{Kind: asm.ActSigmoid}, true
	case a.Kind == layers.HardSigmoid:
		return asm.RecAct{Kind: asm.ActHardSigmoid, A: a.Alpha, B: a.Beta}, true
	case a.Kind == layers.Tanh:
		return asm.RecAct{Kind: asm.ActTanh}, true
	case a == layers.ActReLU:
		return asm.RecAct{Kind: asm.ActReLU}, true
	case a.Kind == layers.Linear:
		return asm.RecAct{Kind: asm.ActLinear}, true
	case a.Kind == layers.Softsign:
		return asm.RecAct{Kind: asm.ActSoftsign}, true
	case a.Kind == layers.Softplus:
		return asm.RecAct{Kind: asm.ActSoftplus}, true
	case a.Kind == layers.Selu:
		return asm.RecAct{Kind: asm.ActSelu}, true
	case a.Kind == layers.Softmax:
		return asm.RecAct{Kind: asm.ActSoftmax}, true // over the units: at most 8 (callers check)
	}
	return asm.RecAct{}, false
}

// newActsGRU prepares a GRU whose activations the fixed whole-sequence kernels lack
// (relu or softsign candidates, softplus gates, ...) as an asm.RecStack stage with
// Acts, under the in-loop kernels' size bounds: the padded weights of newSeqGRU.
func newActsGRU(l *layers.GRU, in layers.Shape, isa asm.ISA) (*fastGRU, bool) {
	ra, ok1 := recActOf(l.RecAct)
	ca, ok2 := recActOf(l.Act)
	if !ok1 || !ok2 || len(in) != 2 || !asm.RecStackAsm(isa) || l.Units > gruSeqMaxInK || l.In > seqMaxIn ||
		(ra.Kind == asm.ActSoftmax || ca.Kind == asm.ActSoftmax) && l.Units > 8 {
		return nil, false
	}
	u := l.Units
	up := asm.LSTMSeqPad(u)
	n := 3 * up
	k := &fastGRU{l: l, isa: isa, t: in[0], seq: true, inK: true, up: up, acts: true, recAct: ra, actAct: ca}
	k.xw = make([]float32, l.In*n)
	asm.PadGRUGates(k.xw, l.W, l.In, u)
	bias := make([]float32, 3*u)
	copy(bias, l.B)
	if l.RB != nil {
		for j := 0; j < 2*u; j++ {
			bias[j] += l.RB[j]
		}
	}
	k.xb = make([]float32, n)
	asm.PadGRUGates(k.xb, bias, 1, u)
	if l.ResetAfter {
		k.rbh = make([]float32, up)
		if l.RB != nil {
			copy(k.rbh, l.RB[2*u:])
		}
	}
	k.uw = make([]float32, u*n)
	asm.PadGRUGates(k.uw, l.U, u, u)
	return k, true
}

// newActsRNN is newActsGRU for a SimpleRNN (newSeqRNN's padded weights).
func newActsRNN(l *layers.SimpleRNN, in layers.Shape, isa asm.ISA) (*fastRNN, bool) {
	a, ok := recActOf(l.Act)
	if !ok || len(in) != 2 || !asm.RecStackAsm(isa) || l.Units > gruSeqMaxInK || l.In > seqMaxIn ||
		a.Kind == asm.ActSoftmax && l.Units > 8 {
		return nil, false
	}
	u := l.Units
	up := asm.LSTMSeqPad(u)
	k := &fastRNN{l: l, isa: isa, t: in[0], seq: true, inK: true, up: up, acts: true, actAct: a}
	k.xw, k.xb, k.uw = padCols(l.W, l.In, u, up), padCols(l.B, 1, u, up), padCols(l.U, u, u, up)
	return k, true
}

// recStackable reports whether b can run as the next stage after a: a returns its
// sequence and b's s-th processed step consumes a's s-th (lstmStack's rule).
func recStackable(a, b layers.Recurrence) bool {
	return a.ReturnSequences && b.In == a.Units && (a.GoBackwards && a.KeepTimeOrder) == b.GoBackwards
}

// fuseRecStacks merges runs of stackable single GRU and SimpleRNN steps of fs (each on
// the in-loop projection kernel or, with activations only asm.RecStack has, on its
// Acts stages; unmasked) into recStack layers of up to 4; a layer of the second kind
// becomes a recStack of its own when nothing stacks with it.
func fuseRecStacks(g *layers.Graph, fs []fused, isa asm.ISA) []fused {
	if isa == asm.Generic || !asm.RecStackAsm(isa) {
		return fs
	}
	acts := false // the stack holds a layer only a stack runs on a whole-sequence kernel
	stage := func(f fused) (layers.Recurrent, bool) {
		if f.from != f.to {
			return nil, false
		}
		in := g.InShape(f.from)
		x, _, ok := recSampler(f.l, in, isa, 1)
		if !ok {
			return nil, false
		}
		switch k := x.(type) {
		case *fastGRU:
			acts = acts || k.acts
		case *fastRNN:
			acts = acts || k.acts
		}
		return f.l.(layers.Recurrent), true
	}
	var out []fused
	for i := 0; i < len(fs); i++ {
		f := fs[i]
		acts = false
		l, ok := stage(f)
		if !ok {
			out = append(out, f)
			continue
		}
		st := &recStack{ls: []layers.Recurrent{l}, mid: []layers.Shape{g.InShape(f.from)}}
		j := i
		for j+1 < len(fs) && len(st.ls) < 4 && g.ChainNext(fs[j].to) {
			was := acts
			nx, ok := stage(fs[j+1])
			if !ok || !recStackable(st.ls[len(st.ls)-1].Recurrence(), nx.Recurrence()) {
				acts = was
				break
			}
			st.ls = append(st.ls, nx)
			st.mid = append(st.mid, g.InShape(fs[j+1].from))
			j++
		}
		if j > i || acts {
			f = fused{l: st, from: f.from, to: fs[j].to}
		}
		out = append(out, f)
		i = j
	}
	return out
}

// fastRecStack runs a recStack: per sample one asm.RecStack run for every layer's
// recurrence (each projecting its input in the step loop), then the last layer's
// output from its hs rows.
type fastRecStack struct {
	stack  *asm.RecStack
	last   layers.Recurrence
	n      int // stages
	t, in  int
	outLen int
}

func newFastRecStack(s *recStack, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	if len(s.ls) > 4 || len(in) != 2 {
		return compiled{}, false
	}
	stages := make([]asm.RecStage, len(s.ls))
	name := "gru/simplernn stack of " + strconv.Itoa(len(s.ls)) + " as a wavefront {"
	for i, l := range s.ls {
		x, c, ok := recSampler(l, s.mid[i], isa, maxBatch)
		if !ok {
			return compiled{}, false
		}
		stages[i] = x.recStage(i == 0)
		if i > 0 {
			name += "; "
		}
		name += c.name
	}
	k := &fastRecStack{last: s.ls[len(s.ls)-1].Recurrence(), n: len(s.ls), t: in[0], in: in[1]}
	k.stack = asm.NewRecStack(isa, stages, k.t, k.in)
	k.outLen = k.last.Units
	if k.last.ReturnSequences {
		k.outLen *= k.t
	}
	return compiled{k: k, name: name + "}", scratchLen: k.stack.ScratchLen()}, true
}

func (k *fastRecStack) run(dst, src, scratch []float32, batch int) {
	t, in, r := k.t, k.in, &k.last
	for b := 0; b < batch; b++ {
		k.stack.Run(src[b*t*in:(b+1)*t*in], scratch)
		hs := k.stack.HS(scratch, k.n-1)
		seqRowsOut(dst[b*k.outLen:(b+1)*k.outLen], hs, t, r.Units, len(hs)/(t+1), r.ReturnSequences, r.GoBackwards && r.KeepTimeOrder)
	}
}

// Threads: a stack splits a batch by samples like its layers (parallel_rec.go).

func (k *fastRecStack) steps() int { return k.t }

func (k *fastRecStack) runPar(t *team, dst, src, scratch []float32, batch int) {
	runSamplesPar(t, k, k, dst, src, scratch, batch, scratchPer(scratch, t.workers()))
}

func (k *fastRecStack) parTask(r *region, i, w int) { samplesTask(k, r, i, w) }

// forTeam gives every worker a copy of the serial scratch.
func (k *fastRecStack) forTeam(workers, _, sc int) (parKernel, int) { return k, workers * sc }

// Sample groups: a whole-sequence GRU or SimpleRNN at batch >= 2 (TimeDistributed
// over one included) runs up to 4 samples per asm.RecStack call, each sample a stage
// reading its own rows (XOff), so their step chains overlap instead of running one
// after the other; each sample's bits are those of its own GRUSeqX/RNNSeqX run.

// recGroupMax is the most samples one call runs.
const recGroupMax = 4

// groupsFor builds the plans for 2..min(4, maxBatch) samples of the stage st over t
// steps of in floats and returns them with the scratch the largest needs.
func groupsFor(isa asm.ISA, st asm.RecStage, t, in, maxBatch int) ([]*asm.RecStack, int) {
	var gs []*asm.RecStack
	n := 0
	for g := 2; g <= min(recGroupMax, maxBatch) && t > 0; g++ {
		sts := make([]asm.RecStage, g)
		for i := range sts {
			sts[i] = st
			sts[i].XOff = i * t * in
		}
		p := asm.NewRecStack(isa, sts, t, in)
		gs = append(gs, p)
		n = max(n, p.ScratchLen())
	}
	return gs, n
}

func (k *fastGRU) buildGroups(maxBatch int) int {
	if !asm.RecStackAsm(k.isa) {
		return 0
	}
	var n int
	k.groups, n = groupsFor(k.isa, k.recStage(true), k.t, k.l.In, maxBatch)
	return n
}

func (k *fastRNN) buildGroups(maxBatch int) int {
	if !asm.RecStackAsm(k.isa) {
		return 0
	}
	var n int
	k.groups, n = groupsFor(k.isa, k.recStage(true), k.t, k.l.In, maxBatch)
	return n
}

// runGroup runs samples b..b+g-1 with the plan p and writes their outputs.
func runGroup(p *asm.RecStack, r layers.Recurrence, dst, src, scratch []float32, b, g, t, up int) {
	in, outLen := r.In, r.Units
	if r.ReturnSequences {
		outLen *= t
	}
	p.Run(src[b*t*in:(b+g)*t*in], scratch)
	for i := 0; i < g; i++ {
		o := (b + i) * outLen
		seqRowsOut(dst[o:o+outLen], p.HS(scratch, i), t, r.Units, up, r.ReturnSequences, r.GoBackwards && r.KeepTimeOrder)
	}
}
