package asm

import (
	"fmt"
	"math"
)

// RecStage is one GRU or SimpleRNN layer of a RecStack, over units padded to
// up = LSTMSeqPad(U), with GRUSeqX's (GRU) or RNNSeqX's (SimpleRNN) weights:
//
//   - Input: the stage reads the call's input rows (the first In floats of each,
//     time order, last first with Backwards); otherwise the previous stage's hs rows
//     1..t (its processing order; In is then the previous stage's U, Backwards false);
//   - W: In rows of 3*up (GRU) or up floats; B: 3*up or up floats (zeros for none);
//   - UW: U rows as W's; RBH: up floats (GRU with ResetAfter); H0: the initial h (U
//     floats; nil: zeros).
//
// With Acts the stage's activations are RecAct (a GRU's gates) and Act (a GRU's
// candidate, a SimpleRNN's activation) instead of Gate, tanh and Relu.
type RecStage struct {
	GRU, ResetAfter, Relu bool
	Gate                  GateAct // GRU gates (not Relu)
	Input, Backwards      bool
	In                    int
	XOff                  int // Input: the stage's rows start XOff floats into the input (another sample)
	W, B, UW, RBH, H0     []float32
	U                     int
	Acts                  bool
	RecAct, Act           RecAct
}

// RecAct is an activation of a RecStack stage with Acts: Kind one of the Act
// constants, A and B the hard sigmoid's clip(A*x+B, 0, 1). The vector forms are the
// whole-sequence kernels' sigmoidRational (within 4*2^-24 absolute) and tanhRational
// (6 ULP), and Softplus's, Selu's and Softsign's (2, 2 and 1.5 ULP); relu (max(0, x))
// and linear are exact.
type RecAct struct {
	Kind int
	A, B float32
}

// The activations a RecStack stage takes (RecAct.Kind), in the kernel's numbering.
const (
	ActSigmoid = iota
	ActHardSigmoid
	ActTanh
	ActReLU
	ActLinear
	ActSoftsign
	ActSoftplus
	ActSelu
	ActSoftmax // over the units (at most 8: one chunk)
	numRecActs
)

// recActsMaxU bounds the units of a stage with Acts (the Generic loop's buffers).
const recActsMaxU = 64

// applyVec applies a to the units' values v in float64 (softmax over all of v).
func (a RecAct) applyVec(v []float64) {
	if a.Kind != ActSoftmax {
		for j, x := range v {
			v[j] = a.eval64(x)
		}
		return
	}
	m := math.Inf(-1)
	for _, x := range v {
		if x > m || x != x {
			m = x
		}
	}
	var sum float64
	for j, x := range v {
		v[j] = math.Exp(x - m)
		sum += v[j]
	}
	for j := range v {
		v[j] /= sum
	}
}

// eval64 is a in float64 (the Generic form).
func (a RecAct) eval64(x float64) float64 {
	switch a.Kind {
	case ActSigmoid:
		return sigmoid64(x)
	case ActHardSigmoid:
		return math.Min(1, math.Max(0, float64(a.A)*x+float64(a.B)))
	case ActTanh:
		return math.Tanh(x)
	case ActReLU:
		if x < 0 {
			return 0
		}
		return x
	case ActSoftsign:
		return x / (1 + math.Abs(x))
	case ActSoftplus:
		l := math.Log1p(math.Exp(-math.Abs(x)))
		if !(x > 0) {
			return l
		}
		return x + l
	case ActSelu:
		if x > 0 {
			return seluScale * x
		}
		return seluScale * seluAlpha * math.Expm1(x)
	}
	return x
}

// RecStack runs up to 4 GRU and SimpleRNN stages over the same t steps of one sample,
// each computing what GRUSeqX or RNNSeqX computes on its input rows (a stage without
// Input reads the previous stage's hs rows, a layer stacked on it). It is prepared
// once (NewRecStack); a call gives the sample's input and scratch for every stage's
// hs rows (row s+1 = h after the s-th processed step, rows of up floats) and the
// reset-before GRUs' 2*up floats of rh. On AVX2/AVX512 one kernel call steps the
// stages together: the s-th step of a stage reading the input in the same pass as the
// s-th of the others (independent chains, e.g. the two directions of a
// Bidirectional), a stacked stage one pass behind its input's (a wavefront), so the
// chains' latencies overlap; each step is the in-loop projection kernels' step with
// the same operations in the same order, so every stage's hs rows are GRUSeqX's or
// RNNSeqX's bit for bit. Elsewhere (and with a stage of 0 units) it runs their
// float64 Go loops stage after stage.
type RecStack struct {
	isa        ISA
	st         []RecStage
	t, xRow    int
	hsOff      [recSeqStackMax]int // each stage's hs rows in scratch, then its rh
	scratchLen int
	d          [recSeqStackMax]recStackDesc // weights, kinds and sizes; the call sets x, hs, rh
	iters      int
	vec        bool
	xNeed      int // input floats a call reads (t > 0)
}

// NewRecStack validates and prepares stages over t steps of input rows xRow floats
// apart (xRow at least every Input stage's In).
func NewRecStack(isa ISA, stages []RecStage, t, xRow int) *RecStack {
	if len(stages) == 0 || len(stages) > recSeqStackMax || t < 0 {
		panic(fmt.Sprintf("asm.NewRecStack: %d stages, t=%d", len(stages), t))
	}
	p := &RecStack{isa: isa, st: append([]RecStage(nil), stages...), t: t, xRow: xRow, vec: actAsm(isa)}
	maxLag := 0
	for i := range p.st {
		st := &p.st[i]
		up := LSTMSeqPad(st.U)
		g := 1
		if st.GRU {
			g = 3
		}
		in := st.In
		if !st.Input {
			if i == 0 {
				panic("asm.NewRecStack: the first stage reads no input")
			}
			in = p.st[i-1].U
		}
		acts := func(a RecAct) bool { return a.Kind >= 0 && a.Kind < numRecActs && (a.Kind != ActSoftmax || st.U <= 8) }
		bad := st.U < 0 || in <= 0 || (st.Acts && (!acts(st.Act) || st.GRU && !acts(st.RecAct) || st.U > recActsMaxU)) || len(st.W) < in*g*up || len(st.B) < g*up || len(st.UW) < st.U*g*up ||
			(st.GRU && st.Gate.Relu) || len(st.H0) > st.U || (st.GRU && st.ResetAfter && len(st.RBH) < up)
		if st.Input {
			bad = bad || xRow < in || st.XOff < 0
			p.xNeed = max(p.xNeed, st.XOff+max(0, t-1)*xRow+in)
		} else {
			bad = bad || st.Backwards || in != st.In && st.In != 0
		}
		if bad {
			panic(fmt.Sprintf("asm.NewRecStack: stage %d: bad arguments (w %d, b %d, uw %d, rbh %d, h0 %d) for t=%d u=%d in=%d xRow=%d",
				i, len(st.W), len(st.B), len(st.UW), len(st.RBH), len(st.H0), t, st.U, in, xRow))
		}
		st.In = in
		p.vec = p.vec && st.U > 0
		p.hsOff[i] = p.scratchLen
		p.scratchLen += (t + 1) * up
		if st.GRU && !st.ResetAfter {
			p.scratchLen += 2 * up
		}
		x := &p.d[i]
		*x = recStackDesc{wx: &st.W[0], bias: &st.B[0], uw: &st.UW[0], u: st.U, us: 4 * up, nin: in}
		if st.Input {
			x.xStride = 4 * xRow
			if st.Backwards {
				x.xStride = -4 * xRow
			}
		} else {
			x.xStride, x.lag = 4*LSTMSeqPad(p.st[i-1].U), p.d[i-1].lag+1
		}
		maxLag = max(maxLag, x.lag)
		switch {
		case !st.GRU && st.Relu:
			x.kind = 1
		case !st.GRU:
		case st.ResetAfter:
			x.kind, x.rbh = 2, &st.RBH[0]
		default:
			x.kind = 4
		}
		if st.GRU && st.Gate.Hard {
			x.kind++
			x.a, x.b = st.Gate.A, st.Gate.B
		}
		if st.Acts {
			x.gact, x.a, x.b, x.cact, x.ca, x.cb = st.RecAct.Kind, st.RecAct.A, st.RecAct.B, st.Act.Kind, st.Act.A, st.Act.B
			switch {
			case !st.GRU:
				x.kind = 8
			case st.ResetAfter:
				x.kind = 6
			default:
				x.kind = 7
			}
		}
	}
	p.iters = t + maxLag
	return p
}

// ScratchLen is the scratch a call needs.
func (p *RecStack) ScratchLen() int { return p.scratchLen }

// HS returns stage i's hs rows ((t+1) rows of up floats) in a call's scratch.
func (p *RecStack) HS(scratch []float32, i int) []float32 {
	up := LSTMSeqPad(p.st[i].U)
	return scratch[p.hsOff[i] : p.hsOff[i]+(p.t+1)*up]
}

// Run runs the stages on one sample: x holds t rows of xRow floats (time order),
// scratch at least ScratchLen floats; every stage starts from its H0.
func (p *RecStack) Run(x, scratch []float32) {
	t := p.t
	if len(scratch) < p.scratchLen || (t > 0 && len(x) < p.xNeed) {
		panic(fmt.Sprintf("asm.RecStack.Run: short slices (x %d, scratch %d) for t=%d xRow=%d", len(x), len(scratch), t, p.xRow))
	}
	for i := range p.st {
		up := LSTMSeqPad(p.st[i].U)
		h := scratch[p.hsOff[i] : p.hsOff[i]+up]
		clear(h)
		copy(h, p.st[i].H0)
	}
	if t == 0 {
		return
	}
	if !p.vec {
		p.runGo(x, scratch)
		return
	}
	d := p.d
	for i := range p.st {
		st, dx := &p.st[i], &d[i]
		up := LSTMSeqPad(st.U)
		dx.hs = &scratch[p.hsOff[i]]
		dx.rh = dx.hs // stands in where the kind does not read it
		if dx.rbh == nil {
			dx.rbh = dx.hs
		}
		if st.GRU && !st.ResetAfter {
			dx.rh = &scratch[p.hsOff[i]+(t+1)*up]
		}
		switch {
		case !st.Input:
			dx.x = &scratch[p.hsOff[i-1]+LSTMSeqPad(p.st[i-1].U)]
		case st.Backwards:
			dx.x = &x[st.XOff+(t-1)*p.xRow]
		default:
			dx.x = &x[st.XOff]
		}
	}
	recSeqStackAVX2(&d[0], len(p.st), t, p.iters)
}

// recStackDesc is the kernel's view of a RecStage (see _gen/recstack.go for the field
// offsets and kind numbers).
type recStackDesc struct {
	x        *float32 // the first processed input row
	xStride  int      // bytes to the next processed row (negative backwards)
	wx, bias *float32
	uw       *float32
	rbh, rh  *float32
	hs       *float32
	nin, u   int
	us       int // up*4
	lag      int
	kind     int // 0 rnn tanh, 1 rnn relu, 2 gru after, 3 gru after hard, 4 gru before, 5 gru before hard, 6 gru after acts, 7 gru before acts, 8 rnn acts
	a, b     float32
	gact     int // acts kinds: RecAct.Kind of the gates and of the candidate / activation
	cact     int
	ca, cb   float32
}

// recSeqStackMax is how many stages RecSeqStack runs in one kernel call.
const recSeqStackMax = 4

// RecStackAsm reports whether RecStack runs a vector kernel for isa.
func RecStackAsm(isa ISA) bool { return actAsm(isa) }

// runGo is Run's Generic form: GRUSeqX's or RNNSeqX's Go loop per stage, stage after
// stage.
func (p *RecStack) runGo(x, scratch []float32) {
	t := p.t
	for i := range p.st {
		st := &p.st[i]
		u, up := st.U, LSTMSeqPad(st.U)
		hs := scratch[p.hsOff[i] : p.hsOff[i]+(t+1)*up]
		xs, first, stride := x, st.XOff, p.xRow
		if !st.Input {
			pup := LSTMSeqPad(p.st[i-1].U)
			xs, first, stride = scratch[p.hsOff[i-1]+pup:p.hsOff[i-1]+(t+1)*pup], 0, pup
		} else if st.Backwards {
			first, stride = st.XOff+(t-1)*p.xRow, -p.xRow
		}
		if u == 0 {
			continue
		}
		in := st.In
		if st.GRU {
			row := 3 * up
			var rh []float32
			if !st.ResetAfter {
				rh = scratch[p.hsOff[i]+(t+1)*up : p.hsOff[i]+(t+3)*up]
			}
			zv := func(s, col int) float64 {
				v := float64(st.B[col])
				for k, xv := range xs[first+s*stride : first+s*stride+in] {
					v += float64(xv) * float64(st.W[k*row+col])
				}
				return v
			}
			if st.Acts {
				gruActsGo(st, zv, hs, rh, t)
			} else {
				gruSeqGo(zv, st.UW, st.RBH, hs, rh, t, u, st.ResetAfter, st.Gate)
			}
			continue
		}
		if st.Acts {
			var v [recActsMaxU]float64
			for s := 0; s < t; s++ {
				xr := xs[first+s*stride : first+s*stride+in]
				hp, hn := hs[s*up:(s+1)*up], hs[(s+1)*up:(s+2)*up]
				for j := 0; j < u; j++ {
					a := float64(st.B[j])
					for k, xv := range xr {
						a += float64(xv) * float64(st.W[k*up+j])
					}
					for k := 0; k < u; k++ {
						a += float64(hp[k]) * float64(st.UW[k*up+j])
					}
					v[j] = a
				}
				st.Act.applyVec(v[:u])
				for j := range hn {
					hn[j] = 0
					if j < u {
						hn[j] = float32(v[j])
					}
				}
			}
			continue
		}
		for s := 0; s < t; s++ {
			xr := xs[first+s*stride : first+s*stride+in]
			hp, hn := hs[s*up:(s+1)*up], hs[(s+1)*up:(s+2)*up]
			for j := 0; j < up; j++ {
				v := float64(st.B[j])
				for k, xv := range xr {
					v += float64(xv) * float64(st.W[k*up+j])
				}
				for k := 0; k < u; k++ {
					v += float64(hp[k]) * float64(st.UW[k*up+j])
				}
				switch {
				case st.Acts:
					v = st.Act.eval64(v)
				case st.Relu:
					if v < 0 {
						v = 0
					}
				default:
					v = math.Tanh(v)
				}
				hn[j] = float32(v)
			}
		}
	}
}

// gruActsGo is the Generic loop of a GRU stage with Acts: float64 sums and
// activations (applied to each gate's units together, softmax over them), h and the
// reset-before r*h rounded to float32 as gruSeqGo does.
func gruActsGo(st *RecStage, zv func(s, col int) float64, hs, rh []float32, t int) {
	u, up := st.U, LSTMSeqPad(st.U)
	row := 3 * up
	var z, r, c [recActsMaxU]float64
	sum := func(v float64, h []float32, col int) float64 {
		for k := 0; k < u; k++ {
			v += float64(h[k]) * float64(st.UW[k*row+col])
		}
		return v
	}
	for s := 0; s < t; s++ {
		hp, hn := hs[s*up:(s+1)*up], hs[(s+1)*up:(s+2)*up]
		for j := 0; j < u; j++ {
			z[j], r[j] = sum(zv(s, j), hp, j), sum(zv(s, up+j), hp, up+j)
		}
		st.RecAct.applyVec(z[:u])
		st.RecAct.applyVec(r[:u])
		if st.ResetAfter {
			for j := 0; j < u; j++ {
				c[j] = zv(s, 2*up+j) + r[j]*sum(float64(st.RBH[j]), hp, 2*up+j)
			}
		} else {
			rs := rh[up : 2*up]
			for j := 0; j < u; j++ {
				rs[j] = float32(r[j] * float64(hp[j]))
				z[j] = float64(float32(z[j])) // gruSeqGo keeps z in rh as float32
			}
			for j := 0; j < u; j++ {
				c[j] = sum(zv(s, 2*up+j), rs, 2*up+j)
			}
		}
		st.Act.applyVec(c[:u])
		for j := range hn {
			hn[j] = 0
			if j < u {
				hn[j] = float32(c[j] + z[j]*(float64(hp[j])-c[j]))
			}
		}
	}
}
