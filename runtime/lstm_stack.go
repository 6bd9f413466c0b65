package runtime

import (
	"strconv"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// lstmStack is a run of consecutive LSTM layers that the runtime executes as one
// (asm.LSTMSeqStack): each layer after the first consumes its predecessor's h sequence
// in the order the predecessor produced it, so layer i's step s can run beside layer
// i-1's step s+1 (a wavefront) instead of after the whole of layer i-1. It is a
// runtime-only layer made by fuseLSTMStacks; the graph's layers are shared, never
// modified. Its reference pass runs the layers one after the other.
type lstmStack struct {
	ls  []*layers.LSTM
	mid []layers.Shape // input shape of each layer
}

func (s *lstmStack) LayerInfo() *layers.Info { return s.ls[0].LayerInfo() }

func (s *lstmStack) OutputShape(in layers.Shape) (layers.Shape, error) {
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
func (s *lstmStack) ScratchLen(_ layers.Shape, batch int) int {
	n, sc := 0, 0
	for i, l := range s.ls {
		if i > 0 {
			n = max(n, batch*s.mid[i].Size())
		}
		sc = max(sc, l.ScratchLen(s.mid[i], batch))
	}
	return 2*n + sc
}

func (s *lstmStack) Forward(dst, src, scratch []float32, _ layers.Shape, batch int) {
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

func (s *lstmStack) Weights() [][]float32 {
	var w [][]float32
	for _, l := range s.ls {
		w = append(w, l.Weights()...)
	}
	return w
}

func (s *lstmStack) Config() string {
	c := ""
	for i, l := range s.ls {
		if i > 0 {
			c += " | "
		}
		c += l.Config()
	}
	return c
}

func (s *lstmStack) FLOPs(in layers.Shape) int64 {
	var f int64
	for i, l := range s.ls {
		f += l.FLOPs(s.mid[i])
	}
	return f
}

// seqGate reports whether l runs on asm.LSTMSeq's kernels (as newSeqLSTM decides) and
// with which gate.
func seqGate(l *layers.LSTM) (asm.GateAct, bool) {
	if l.Act.Kind != layers.Tanh || l.Units > seqMaxUnits {
		return asm.GateAct{}, false
	}
	switch l.RecAct.Kind {
	case layers.Sigmoid:
		return asm.GateAct{}, true
	case layers.HardSigmoid:
		return asm.GateAct{Hard: true, A: l.RecAct.Alpha, B: l.RecAct.Beta}, true
	}
	return asm.GateAct{}, false
}

// stackable reports whether b can run as the next stage after a: both on the
// whole-sequence kernels with the same gate, a returning its sequence, and b's s-th
// processed step consuming a's s-th (a's output in processing order and b forward, or
// a's output in time order after running backwards and b backwards too). A backward
// layer reading a forward sequence (or the reverse) needs its input's last step first
// and stays a separate layer.
func stackable(a, b *layers.LSTM) bool {
	ga, oka := seqGate(a)
	gb, okb := seqGate(b)
	if !oka || !okb || ga != gb || !a.ReturnSequences || b.In != a.Units {
		return false
	}
	timeOrder := a.GoBackwards && a.KeepTimeOrder
	return timeOrder == b.GoBackwards
}

// fuseLSTMStacks merges runs of stackable single LSTM steps of fs into lstmStack layers
// (up to asm's 4 stages per call) where isa has the whole-sequence kernel.
func fuseLSTMStacks(g *layers.Graph, fs []fused, isa asm.ISA) []fused {
	if isa == asm.Generic || !asm.LSTMSeqAsm(isa) {
		return fs
	}
	var out []fused
	for i := 0; i < len(fs); i++ {
		f := fs[i]
		l, ok := f.l.(*layers.LSTM)
		if !ok || f.from != f.to || len(g.InShape(f.from)) != 2 {
			out = append(out, f)
			continue
		}
		st := &lstmStack{ls: []*layers.LSTM{l}, mid: []layers.Shape{g.InShape(f.from)}}
		j := i
		for j+1 < len(fs) && len(st.ls) < 4 && g.ChainNext(fs[j].to) {
			nx, ok := fs[j+1].l.(*layers.LSTM)
			if !ok || fs[j+1].from != fs[j+1].to || !stackable(st.ls[len(st.ls)-1], nx) {
				break
			}
			st.ls = append(st.ls, nx)
			st.mid = append(st.mid, g.InShape(fs[j+1].from))
			j++
		}
		if j > i {
			f = fused{l: st, from: f.from, to: fs[j].to}
		}
		out = append(out, f)
		i = j
	}
	return out
}

// fastStack runs an lstmStack: one GEMM for the first layer's input projection over
// the batch (as fastLSTM's whole-sequence path), then per sample one
// asm.LSTMSeqStack call for every layer's recurrence, later layers taking their input
// projection inside the step from padded W and bias.
type fastStack struct {
	ks   []*fastLSTM // per layer: seq kernel (ks[0] holds the projection GEMM)
	w, b [][]float32 // per layer after the first: padded W (prev units x 4up), bias (4up)
	isa  asm.ISA
	gate asm.GateAct
	t    int
}

func newFastStack(s *lstmStack, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	if !asm.LSTMSeqAsm(isa) || len(s.ls) > 4 {
		return compiled{}, false
	}
	c0, ok := newSeqLSTM(s.ls[0], in, isa, maxBatch, false)
	if !ok {
		return compiled{}, false
	}
	k0 := c0.k.(*fastLSTM)
	k := &fastStack{ks: []*fastLSTM{k0}, isa: isa, gate: k0.gate, t: in[0], w: [][]float32{nil}, b: [][]float32{nil}}
	scratch := maxBatch*k.t*4*k0.up + k0.up + (k.t+1)*k0.up
	name := "lstm stack of " + strconv.Itoa(len(s.ls)) + " as a wavefront {" + c0.name + "}"
	for i := 1; i < len(s.ls); i++ {
		l := s.ls[i]
		g, ok := seqGate(l)
		if !ok || g != k.gate {
			return compiled{}, false
		}
		up := asm.LSTMSeqPad(l.Units)
		ki := &fastLSTM{l: l, isa: isa, t: k.t, maxBatch: maxBatch, seq: true, fused: true, gate: g, up: up}
		ki.seqU = make([]float32, l.Units*4*up)
		asm.PackLSTMSeqU(ki.seqU, l.U, l.Units)
		w := make([]float32, l.In*4*up)
		asm.PadLSTMGates(w, l.W, l.In, l.Units)
		b := make([]float32, 4*up)
		if l.B != nil {
			asm.PadLSTMGates(b, l.B, 1, l.Units)
		}
		k.ks, k.w, k.b = append(k.ks, ki), append(k.w, w), append(k.b, b)
		scratch += up + (k.t+1)*up
	}
	return compiled{k: k, name: name, scratchLen: scratch}, true
}

func (k *fastStack) run(dst, src, scratch []float32, batch int) {
	t, k0 := k.t, k.ks[0]
	n0 := 4 * k0.up
	zx := scratch[:batch*t*n0]
	rest := scratch[batch*t*n0:]
	k0.seqProject(zx, src, batch)
	var st [4]asm.LSTMStage
	for i, ki := range k.ks {
		up := ki.up
		st[i] = asm.LSTMStage{W: k.w[i], ZX: k.b[i], UW: ki.seqU, C: rest[:up], HS: rest[up : up+(t+1)*up], U: ki.l.Units}
		rest = rest[up+(t+1)*up:]
	}
	st[0].Backwards = k0.l.GoBackwards
	last := k.ks[len(k.ks)-1]
	outLen := last.outLen()
	for b := 0; b < batch; b++ {
		for i, ki := range k.ks {
			ki.seqInit(st[i].C, st[i].HS)
		}
		st[0].ZX = zx[b*t*n0 : (b+1)*t*n0]
		asm.LSTMSeqStack(k.isa, st[:len(k.ks)], t, k.gate)
		last.seqOut(dst[b*outLen:(b+1)*outLen], st[len(k.ks)-1].HS)
	}
}
