package asm

import (
	"fmt"
	"math"
)

// RecStage is one GRU or SimpleRNN layer for RecSeqStack, over units padded to
// up = LSTMSeqPad(U), with GRUSeqX's (GRU) or RNNSeqX's (SimpleRNN) weights:
//
//   - X: the stage's input rows, XRow floats apart (XRow >= In), time order, read last
//     first with Backwards; nil: the previous stage's HS rows 1..t (its processing
//     order; In is then the previous stage's U and Backwards must be false);
//   - W: In rows of 3*up (GRU) or up floats; B: 3*up or up floats (zeros for none);
//   - UW: U rows as W's; HS: (t+1)*up floats, row 0 the initial h;
//   - RBH: up floats (GRU with ResetAfter); RH: 2*up floats of scratch (GRU without).
type RecStage struct {
	GRU, ResetAfter, Relu bool
	Gate                  GateAct // GRU gates (not Relu)
	X                     []float32
	XRow, In              int
	Backwards             bool
	W, B, UW, RBH, RH, HS []float32
	U                     int
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
	kind     int // 0 rnn tanh, 1 rnn relu, 2 gru after, 3 gru after hard, 4 gru before, 5 gru before hard
	a, b     float32
}

// recSeqStackMax is how many stages RecSeqStack runs in one kernel call.
const recSeqStackMax = 4

// RecSeqStackAsm reports whether RecSeqStack runs a vector kernel for isa.
func RecSeqStackAsm(isa ISA) bool { return actAsm(isa) }

// RecSeqStack runs up to 4 GRU and SimpleRNN stages over the same t steps of one
// sample, each computing what GRUSeqX or RNNSeqX computes on its input rows (a stage
// without X reads the previous stage's hs rows in its processing order, a layer
// stacked on it). On AVX2/AVX512 one kernel steps them together: the s-th step of a
// stage with its own X in the same pass as the s-th of the others (independent
// chains, e.g. the two directions of a Bidirectional), a stacked stage one pass behind
// its input's (a wavefront), so the chains' latencies overlap; each step is the
// in-loop projection kernels' step with the same operations in the same order, so
// every stage's hs rows are GRUSeqX's or RNNSeqX's bit for bit. Elsewhere (and for a
// stage of 0 units) it runs their float64 Go loops stage after stage.
func RecSeqStack(isa ISA, stages []RecStage, t int) {
	if len(stages) > recSeqStackMax || t < 0 {
		panic(fmt.Sprintf("asm.RecSeqStack: %d stages, t=%d", len(stages), t))
	}
	for i := range stages {
		st := &stages[i]
		up := LSTMSeqPad(st.U)
		g := 1
		if st.GRU {
			g = 3
		}
		in := st.In
		if st.X == nil {
			if i == 0 {
				panic("asm.RecSeqStack: the first stage has no input rows")
			}
			in = stages[i-1].U
		}
		bad := st.U < 0 || in <= 0 || len(st.W) < in*g*up || len(st.B) < g*up || len(st.UW) < st.U*g*up ||
			len(st.HS) < (t+1)*up || (st.GRU && st.Gate.Relu)
		if st.X != nil {
			bad = bad || st.XRow < in || (t > 0 && len(st.X) < (t-1)*st.XRow+in)
		} else {
			bad = bad || st.Backwards || in != st.In && st.In != 0
		}
		if st.GRU && st.ResetAfter {
			bad = bad || len(st.RBH) < up
		} else if st.GRU {
			bad = bad || len(st.RH) < 2*up
		}
		if bad {
			panic(fmt.Sprintf("asm.RecSeqStack: stage %d: bad arguments (x %d, w %d, b %d, uw %d, rbh %d, rh %d, hs %d) for t=%d u=%d in=%d",
				i, len(st.X), len(st.W), len(st.B), len(st.UW), len(st.RBH), len(st.RH), len(st.HS), t, st.U, in))
		}
	}
	if t == 0 || len(stages) == 0 {
		return
	}
	asmOK := actAsm(isa)
	for i := range stages {
		asmOK = asmOK && stages[i].U > 0
	}
	if !asmOK {
		recSeqStackGo(stages, t)
		return
	}
	var d [recSeqStackMax]recStackDesc
	maxLag := 0
	for i := range stages {
		st := &stages[i]
		up := LSTMSeqPad(st.U)
		x := &d[i]
		*x = recStackDesc{wx: &st.W[0], bias: &st.B[0], uw: &st.UW[0], hs: &st.HS[0], u: st.U, us: 4 * up}
		if st.X != nil {
			x.x, x.xStride, x.nin = &st.X[0], 4*st.XRow, st.In
			if st.Backwards {
				x.x, x.xStride = &st.X[(t-1)*st.XRow], -4*st.XRow
			}
		} else {
			pv := &stages[i-1]
			pup := LSTMSeqPad(pv.U)
			x.x, x.xStride, x.nin, x.lag = &pv.HS[pup], 4*pup, pv.U, d[i-1].lag+1
		}
		maxLag = max(maxLag, x.lag)
		x.rbh, x.rh = x.hs, x.hs // stand-ins for the pointer a kind does not read
		switch {
		case !st.GRU && st.Relu:
			x.kind = 1
		case !st.GRU:
		case st.ResetAfter:
			x.kind, x.rbh = 2, &st.RBH[0]
		default:
			x.kind, x.rh = 4, &st.RH[0]
		}
		if st.GRU && st.Gate.Hard {
			x.kind++
			x.a, x.b = st.Gate.A, st.Gate.B
		}
	}
	recSeqStackAVX2(&d[0], len(stages), t, t+maxLag)
}

// recSeqStackGo is RecSeqStack's Generic form: GRUSeqX's or RNNSeqX's Go loop per
// stage, stage after stage.
func recSeqStackGo(stages []RecStage, t int) {
	for i := range stages {
		st := &stages[i]
		u, up := st.U, LSTMSeqPad(st.U)
		x, xRow, in, first, stride := st.X, st.XRow, st.In, 0, st.XRow
		if x == nil {
			pv := &stages[i-1]
			pup := LSTMSeqPad(pv.U)
			x, xRow, in, first, stride = pv.HS[pup:], pup, pv.U, 0, pup
		} else if st.Backwards {
			first, stride = (t-1)*xRow, -xRow
		}
		if u == 0 {
			continue
		}
		if st.GRU {
			row := 3 * up
			gruSeqGo(func(s, col int) float64 {
				v := float64(st.B[col])
				xs := x[first+s*stride : first+s*stride+in]
				for k, xv := range xs {
					v += float64(xv) * float64(st.W[k*row+col])
				}
				return v
			}, st.UW, st.RBH, st.HS, st.RH, t, u, st.ResetAfter, st.Gate)
			continue
		}
		for s := 0; s < t; s++ {
			xs := x[first+s*stride : first+s*stride+in]
			hp, hn := st.HS[s*up:(s+1)*up], st.HS[(s+1)*up:(s+2)*up]
			for j := 0; j < up; j++ {
				v := float64(st.B[j])
				for k, xv := range xs {
					v += float64(xv) * float64(st.W[k*up+j])
				}
				for k := 0; k < u; k++ {
					v += float64(hp[k]) * float64(st.UW[k*up+j])
				}
				if st.Relu {
					if v < 0 {
						v = 0
					}
				} else {
					v = math.Tanh(v)
				}
				hn[j] = float32(v)
			}
		}
	}
}
