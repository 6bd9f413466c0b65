package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestRecStack checks RecStack on every path against GRUSeqX and RNNSeqX run stage by
// stage on the same path (TestGRUSeqX and TestRNNSeqX hold those to float64 loops):
// bit for bit, for random stacks of 1 to 4 stages of every kind, stacked (reading the
// previous stage's hs rows) or independent (the first In floats of the call's input
// rows from XOff on, either direction), unit counts around the 8-lane chunks, sequences of 0, 1, 2
// and 7 steps, initial states given or zero. Padding lanes of the weights are NaN
// (they must never reach a unit < u), a guard follows the scratch, and the input and
// weights are not written.
func TestRecStack(t *testing.T) {
	r := rand.New(rand.NewPCG(91, 92))
	nan := float32(math.NaN())
	units := []int{1, 3, 7, 8, 9, 13, 16, 17}
	gates := []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}, {Hard: true, A: 1.0 / 6, B: 0.5}}
	for _, isa := range testISAs() {
		for trial := 0; trial < 300; trial++ {
			steps := []int{0, 1, 2, 7}[trial%4]
			n := 1 + r.IntN(recSeqStackMax)
			st := make([]RecStage, n)
			xRow := 0
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
					s.Input, s.In, s.Backwards = true, []int{1, 3, 13}[r.IntN(3)], r.IntN(2) == 0
					xRow = max(xRow, s.In)
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
				if s.GRU && s.ResetAfter {
					s.RBH = randSlice(r, up)
				}
				if r.IntN(2) == 0 {
					s.H0 = randSlice(r, s.U)
				}
				desc += fmt.Sprintf(" [gru=%v after=%v relu=%v gate=%+v u=%d in=%d input=%v back=%v]", s.GRU, s.ResetAfter, s.Relu, s.Gate, s.U, s.In, s.Input, s.Backwards)
			}
			xRow += r.IntN(3)
			extra := r.IntN(2) * 2 * xRow // room for stages reading other rows (XOff)
			for i := range st {
				if st[i].Input && extra > 0 {
					st[i].XOff = r.IntN(extra + 1)
				}
			}
			x := randSlice(r, steps*xRow+extra)
			// the reference: each stage on its own kernel, its input rows made contiguous
			want := make([][]float32, n)
			for i := range st {
				s := &st[i]
				up := LSTMSeqPad(s.U)
				xs := make([]float32, steps*s.In)
				for k := 0; k < steps; k++ {
					if s.Input {
						copy(xs[k*s.In:(k+1)*s.In], x[s.XOff+k*xRow:s.XOff+k*xRow+s.In])
					} else {
						pup := LSTMSeqPad(st[i-1].U)
						copy(xs[k*s.In:(k+1)*s.In], want[i-1][(k+1)*pup:(k+1)*pup+s.In])
					}
				}
				want[i] = make([]float32, (steps+1)*up)
				copy(want[i], s.H0)
				if s.GRU {
					var rh []float32
					if !s.ResetAfter {
						rh = make([]float32, 2*up)
					}
					GRUSeqX(isa, xs, s.In, s.W, s.B, s.UW, s.RBH, want[i], rh, steps, s.U, s.Backwards, s.ResetAfter, s.Gate)
				} else {
					RNNSeqX(isa, xs, s.In, s.W, s.B, s.UW, want[i], steps, s.U, s.Backwards, s.Relu)
				}
			}
			saved := append([]float32(nil), x...)
			for i := range st {
				saved = append(append(saved, st[i].W...), st[i].UW...)
			}
			p := NewRecStack(isa, st, steps, xRow)
			scratch := randSlice(r, p.ScratchLen()+1) // stale values: Run must set row 0
			scratch[p.ScratchLen()] = guard
			p.Run(x, scratch)
			if scratch[p.ScratchLen()] != guard {
				t.Fatalf("%s: wrote past the scratch", desc)
			}
			now := append([]float32(nil), x...)
			for i := range st {
				now = append(append(now, st[i].W...), st[i].UW...)
			}
			for k := range now {
				if math.Float32bits(now[k]) != math.Float32bits(saved[k]) {
					t.Fatalf("%s: input or weights written", desc)
				}
			}
			for i := range st {
				s := &st[i]
				up := LSTMSeqPad(s.U)
				hs := p.HS(scratch, i)
				for k := 0; k <= steps; k++ {
					for j := 0; j < s.U; j++ {
						if got, wv := hs[k*up+j], want[i][k*up+j]; math.Float32bits(got) != math.Float32bits(wv) {
							t.Fatalf("%s: stage %d row %d unit %d: h=%v want %v (GRUSeqX/RNNSeqX)", desc, i, k, j, got, wv)
						}
					}
				}
			}
		}
	}
}

// TestRecStackArgs: malformed stages panic with the function's name (the runtime
// sizes every slice at compile; a panic here is a bug there, not bad input).
func TestRecStackArgs(t *testing.T) {
	ok := RecStage{GRU: true, ResetAfter: true, Input: true, In: 3, W: make([]float32, 3*24),
		B: make([]float32, 24), UW: make([]float32, 2*24), RBH: make([]float32, 8), U: 2}
	p := NewRecStack(Generic, []RecStage{ok}, 2, 3)
	p.Run(make([]float32, 6), make([]float32, p.ScratchLen()))
	for i, bad := range []func(s *RecStage){
		func(s *RecStage) { s.W = s.W[:40] },
		func(s *RecStage) { s.In = 4 },
		func(s *RecStage) { s.RBH = nil },
		func(s *RecStage) { s.Input = false },
		func(s *RecStage) { s.Gate.Relu = true },
		func(s *RecStage) { s.H0 = make([]float32, 3) },
	} {
		s := ok
		bad(&s)
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("case %d: no panic", i)
				}
			}()
			NewRecStack(Generic, []RecStage{s}, 2, 3)
		}()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("short input: no panic")
			}
		}()
		p.Run(make([]float32, 5), make([]float32, p.ScratchLen()))
	}()
}

// TestRecStackActs: stages with Acts (every activation as a GRU's gates, its candidate
// and a SimpleRNN's activation, both reset forms) on every path against the Generic
// float64 loops, within 2e-5*(1+|want|) (the vector forms' few ULP and the rational
// sigmoid's 4*2^-24 over contracting steps: weights scaled by 0.5/sqrt(u)); and a
// stage whose Acts are the fixed kinds' (sigmoid or hard gates with a tanh candidate,
// tanh or relu SimpleRNN) gives that kind's bits.
func TestRecStackActs(t *testing.T) {
	r := rand.New(rand.NewPCG(95, 96))
	for _, isa := range testISAs() {
		for trial := 0; trial < 400; trial++ {
			steps := []int{1, 2, 7}[trial%3]
			n := 1 + r.IntN(recSeqStackMax)
			st := make([]RecStage, n)
			in := 1 + r.IntN(9)
			for i := range st {
				s := &st[i]
				s.GRU, s.U, s.Acts = r.IntN(3) > 0, []int{1, 3, 8, 9, 16}[r.IntN(5)], true
				s.ResetAfter = s.GRU && r.IntN(2) == 0
				s.RecAct = RecAct{Kind: r.IntN(numRecActs), A: 0.2, B: 0.5}
				s.Act = RecAct{Kind: r.IntN(numRecActs), A: 1.0 / 6, B: 0.5}
				if s.U > 8 { // softmax over one chunk only
					s.RecAct.Kind, s.Act.Kind = s.RecAct.Kind%ActSoftmax, s.Act.Kind%ActSoftmax
				}
				s.Input, s.In = i == 0, in
				if i > 0 {
					s.In = st[i-1].U
				}
				up, g := LSTMSeqPad(s.U), 1
				if s.GRU {
					g = 3
				}
				s.W, s.B, s.UW = randSlice(r, s.In*g*up), randSlice(r, g*up), randSlice(r, s.U*g*up)
				for k := range s.UW {
					s.UW[k] *= float32(0.5 / math.Sqrt(float64(s.U)))
				}
				for k := range s.W {
					s.W[k] *= float32(1 / math.Sqrt(float64(s.In)))
				}
				if s.ResetAfter {
					s.RBH = randSlice(r, up)
				}
				s.H0 = randSlice(r, s.U)
			}
			for i := range st {
				if k := st[i].RecAct.Kind; st[i].GRU && k != ActSigmoid && k != ActHardSigmoid && k != ActSoftmax {
					// gates outside [0, 1] make h = c + z*(h - c) expanding: a rounding
					// difference grows by |z| a step, so keep those runs short
					steps = min(steps, 2)
				}
			}
			desc := fmt.Sprintf("%v t=%d", isa, steps)
			for _, s := range st {
				desc += fmt.Sprintf(" [gru=%v after=%v %v/%v u=%d]", s.GRU, s.ResetAfter, rsActName(s.RecAct.Kind), rsActName(s.Act.Kind), s.U)
			}
			x := randSlice(r, steps*in)
			p, ref := NewRecStack(isa, st, steps, in), NewRecStack(Generic, st, steps, in)
			got, want := make([]float32, p.ScratchLen()), make([]float32, p.ScratchLen())
			p.Run(x, got)
			ref.Run(x, want)
			// stage 0 against the float64 loop
			up0 := LSTMSeqPad(st[0].U)
			hg, hw := p.HS(got, 0), ref.HS(want, 0)
			for k := 1; k <= steps; k++ {
				for j := 0; j < st[0].U; j++ {
					g, w := float64(hg[k*up0+j]), float64(hw[k*up0+j])
					if g != w && !(math.Abs(g-w) <= 2e-5*(1+math.Abs(w))) && !(math.IsNaN(g) && math.IsNaN(w)) {
						t.Fatalf("%s: stage 0 step %d unit %d: h=%v want %v", desc, k-1, j, g, w)
					}
				}
			}
			// a later stage: the bits of the same stage alone on the path, fed the rows
			// its input stage produced (an error compounds over stages and expanding
			// activations, so each stage is held to the loop alone, above)
			for i := 1; i < n; i++ {
				pu, pup := st[i-1].U, LSTMSeqPad(st[i-1].U)
				prev := p.HS(got, i-1)
				xi := make([]float32, steps*pu)
				for k := 0; k < steps; k++ {
					copy(xi[k*pu:(k+1)*pu], prev[(k+1)*pup:(k+1)*pup+pu])
				}
				one := st[i]
				one.Input = true
				q := NewRecStack(isa, []RecStage{one}, steps, pu)
				qs := make([]float32, q.ScratchLen())
				q.Run(xi, qs)
				up := LSTMSeqPad(st[i].U)
				ha, hq := p.HS(got, i), q.HS(qs, 0)
				for k := 1; k <= steps; k++ {
					for j := 0; j < st[i].U; j++ {
						if math.Float32bits(ha[k*up+j]) != math.Float32bits(hq[k*up+j]) {
							t.Fatalf("%s: stage %d step %d unit %d: h=%v, alone %v", desc, i, k-1, j, ha[k*up+j], hq[k*up+j])
						}
					}
				}
			}
			// the fixed kinds' bits
			fixed := append([]RecStage(nil), st...)
			ok := true
			for i := range fixed {
				s := &fixed[i]
				switch {
				case s.GRU && s.Act.Kind == ActTanh && s.RecAct.Kind == ActSigmoid:
					s.Acts, s.Gate = false, GateAct{}
				case s.GRU && s.Act.Kind == ActTanh && s.RecAct.Kind == ActHardSigmoid:
					s.Acts, s.Gate = false, GateAct{Hard: true, A: s.RecAct.A, B: s.RecAct.B}
				case !s.GRU && (s.Act.Kind == ActTanh || s.Act.Kind == ActReLU):
					s.Acts, s.Relu = false, s.Act.Kind == ActReLU
				default:
					ok = false
				}
			}
			if !ok {
				continue
			}
			pf := NewRecStack(isa, fixed, steps, in)
			fx := make([]float32, pf.ScratchLen())
			pf.Run(x, fx)
			for i := range fixed {
				up := LSTMSeqPad(fixed[i].U)
				hf, ha := pf.HS(fx, i), p.HS(got, i)
				for k := 1; k <= steps; k++ {
					for j := 0; j < fixed[i].U; j++ {
						if math.Float32bits(hf[k*up+j]) != math.Float32bits(ha[k*up+j]) {
							t.Fatalf("%s: stage %d step %d unit %d: %v with the fixed kinds, %v with Acts", desc, i, k-1, j, hf[k*up+j], ha[k*up+j])
						}
					}
				}
			}
		}
	}
}

func rsActName(k int) string {
	return []string{"sigmoid", "hard", "tanh", "relu", "linear", "softsign", "softplus", "selu", "softmax"}[k]
}
