package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestRecSeqStack checks RecSeqStack on every path against GRUSeqX and RNNSeqX run
// stage by stage on the same path (TestGRUSeqX and TestRNNSeqX hold those to float64
// loops): bit for bit, for random stacks of 1 to 4 stages of every kind, stacked
// (reading the previous stage's hs rows) or independent (their own strided input,
// either direction), unit counts around the 8-lane chunks, sequences of 0, 1, 2 and 7
// steps. Padding lanes of the weights are NaN (they must never reach a unit < u),
// guards follow every hs, and the inputs and weights are not written.
func TestRecSeqStack(t *testing.T) {
	r := rand.New(rand.NewPCG(91, 92))
	nan := float32(math.NaN())
	units := []int{1, 3, 7, 8, 9, 13, 16, 17}
	gates := []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}, {Hard: true, A: 1.0 / 6, B: 0.5}}
	for _, isa := range testISAs() {
		for trial := 0; trial < 300; trial++ {
			steps := []int{0, 1, 2, 7}[trial%4]
			n := 1 + r.IntN(recSeqStackMax)
			st := make([]RecStage, n)
			desc := fmt.Sprintf("%v t=%d", isa, steps)
			for i := range st {
				s := &st[i]
				s.GRU, s.U = r.IntN(3) > 0, units[r.IntN(len(units))]
				if s.GRU {
					s.ResetAfter, s.Gate = r.IntN(2) == 0, gates[r.IntN(len(gates))]
				} else {
					s.Relu = r.IntN(2) == 0
				}
				if i == 0 || r.IntN(3) == 0 {
					s.In = []int{1, 3, 13}[r.IntN(3)]
					s.XRow = s.In + r.IntN(3)
					s.X = randSlice(r, max(0, (steps-1)*s.XRow+s.In))
					s.Backwards = r.IntN(2) == 0
				} else {
					s.In = st[i-1].U
				}
				up, g := LSTMSeqPad(s.U), 1
				if s.GRU {
					g = 3
				}
				s.W, s.B, s.UW = randSlice(r, s.In*g*up), randSlice(r, g*up), randSlice(r, s.U*g*up)
				for k := range s.W {
					s.W[k] *= float32(1 / math.Sqrt(float64(s.In)))
				}
				for k := range s.UW {
					s.UW[k] *= float32(0.5 / math.Sqrt(float64(s.U)))
				}
				for _, p := range [][]float32{s.W, s.B, s.UW} {
					for k := range p {
						if k%up >= s.U {
							p[k] = nan
						}
					}
				}
				s.RBH, s.RH = randSlice(r, up), make([]float32, 2*up)
				s.HS = make([]float32, (steps+1)*up+1)
				copy(s.HS, randSlice(r, s.U))
				s.HS[(steps+1)*up] = guard
				desc += fmt.Sprintf(" [gru=%v after=%v relu=%v gate=%+v u=%d in=%d x=%v back=%v]", s.GRU, s.ResetAfter, s.Relu, s.Gate, s.U, s.In, s.X != nil, s.Backwards)
			}
			// the reference: each stage on its own kernel, its input rows made contiguous
			want := make([][]float32, n)
			for i := range st {
				s := &st[i]
				up := LSTMSeqPad(s.U)
				x := make([]float32, steps*s.In)
				for k := 0; k < steps; k++ {
					if s.X != nil {
						copy(x[k*s.In:(k+1)*s.In], s.X[k*s.XRow:k*s.XRow+s.In])
					} else {
						pup := LSTMSeqPad(st[i-1].U)
						copy(x[k*s.In:(k+1)*s.In], want[i-1][(k+1)*pup:(k+1)*pup+s.In])
					}
				}
				want[i] = append([]float32(nil), s.HS[:(steps+1)*up]...)
				if s.GRU {
					var rbh, rh []float32
					if s.ResetAfter {
						rbh = s.RBH
					} else {
						rh = make([]float32, 2*up)
					}
					GRUSeqX(isa, x, s.In, s.W, s.B, s.UW, rbh, want[i], rh, steps, s.U, s.Backwards, s.ResetAfter, s.Gate)
				} else {
					RNNSeqX(isa, x, s.In, s.W, s.B, s.UW, want[i], steps, s.U, s.Backwards, s.Relu)
				}
			}
			saved := make([][]float32, n)
			for i := range st {
				saved[i] = append(append(append([]float32(nil), st[i].X...), st[i].W...), st[i].UW...)
			}
			RecSeqStack(isa, st, steps)
			for i := range st {
				s := &st[i]
				up := LSTMSeqPad(s.U)
				if s.HS[(steps+1)*up] != guard {
					t.Fatalf("%s: stage %d wrote past hs", desc, i)
				}
				now := append(append(append([]float32(nil), s.X...), s.W...), s.UW...)
				for k := range now {
					if math.Float32bits(now[k]) != math.Float32bits(saved[i][k]) {
						t.Fatalf("%s: stage %d: input or weights written", desc, i)
					}
				}
				for k := 1; k <= steps; k++ {
					for j := 0; j < s.U; j++ {
						if got, wv := s.HS[k*up+j], want[i][k*up+j]; math.Float32bits(got) != math.Float32bits(wv) {
							t.Fatalf("%s: stage %d step %d unit %d: h=%v want %v (GRUSeqX/RNNSeqX)", desc, i, k-1, j, got, wv)
						}
					}
				}
			}
		}
	}
}

// TestRecSeqStackArgs: malformed stages panic with the function's name (the runtime
// sizes every slice at compile; a panic here is a bug there, not bad input).
func TestRecSeqStackArgs(t *testing.T) {
	ok := RecStage{GRU: true, ResetAfter: true, X: make([]float32, 6), XRow: 3, In: 3, W: make([]float32, 3*24),
		B: make([]float32, 24), UW: make([]float32, 2*24), RBH: make([]float32, 8), HS: make([]float32, 3*8), U: 2}
	RecSeqStack(Generic, []RecStage{ok}, 2)
	for i, bad := range []func(s *RecStage){
		func(s *RecStage) { s.HS = s.HS[:16] },
		func(s *RecStage) { s.X = s.X[:4] },
		func(s *RecStage) { s.RBH = nil },
		func(s *RecStage) { s.XRow = 2 },
		func(s *RecStage) { s.Gate.Relu = true },
	} {
		s := ok
		bad(&s)
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("case %d: no panic", i)
				}
			}()
			RecSeqStack(Generic, []RecStage{s}, 2)
		}()
	}
}
