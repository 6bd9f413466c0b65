package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// checkRecurrent compiles l for isa at batch 1 and 3, wants a fast kernel that
// allocates nothing per run and writes nothing past its output, and compares it with
// the reference Forward on random input within 2e-5*(1+|want|): the fast paths sum in
// float32 in another order and use the vector activations (a few ULPs) over a handful
// of contracting steps; the whole-sequence kernels' own bounds are in runtime/asm
// (TestGRUSeq, TestGRUSeqX, TestRNNSeq, TestRNNSeqX).
func checkRecurrent(t *testing.T, name string, l layers.Layer, shape layers.Shape, isa asm.ISA, r *rand.Rand) {
	t.Helper()
	out, err := l.OutputShape(shape)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for _, batch := range []int{1, 3} {
		c, err := compileLayer(l, shape, out, isa, batch)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.k.(refKernel); ok {
			t.Fatalf("%s: reference kernel chosen on %v", name, isa)
		}
		src := rnd(r, batch*shape.Size())
		want := make([]float32, batch*out.Size())
		l.Forward(want, src, make([]float32, l.ScratchLen(shape, batch)), shape, batch)
		got := make([]float32, len(want)+4)
		for i := range got {
			got[i] = -777
		}
		scratch := make([]float32, c.scratchLen)
		c.k.run(got[:len(want)], src, scratch, batch)
		if a := testing.AllocsPerRun(2, func() { c.k.run(got[:len(want)], src, scratch, batch) }); a != 0 {
			t.Fatalf("%v %s (%s): %v allocations per run", isa, name, c.name, a)
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); !(d <= 2e-5*(1+math.Abs(float64(want[i])))) {
				t.Fatalf("%v %s (%s) batch %d: out[%d] = %v, want %v", isa, name, c.name, batch, i, got[i], want[i])
			}
		}
		for i := len(want); i < len(got); i++ {
			if got[i] != -777 {
				t.Fatalf("%v %s: wrote past the output", isa, name)
			}
		}
	}
}

var (
	actTanh    = layers.Activation{Kind: layers.Tanh}
	actSigmoid = layers.Activation{Kind: layers.Sigmoid}
	actHard3   = layers.Activation{Kind: layers.HardSigmoid, Alpha: 1.0 / 6, Beta: 0.5}
)

// TestFastGRU: the GRU fast paths (whole-sequence kernels up to 32 units, GEMM per
// step beyond and for other activations) vs the reference at units 1, 7, 8, 9, 16, 17,
// 33, 13 (prime) and steps 1, 2, 7, both reset forms, with and without biases and an
// initial state, forward, backwards, sequences in both orders.
func TestFastGRU(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	acts := [][2]layers.Activation{{actTanh, actSigmoid}, {actTanh, actHard3}, {layers.ActReLU, actSigmoid}, {{Kind: layers.Softmax}, actTanh}}
	for _, isa := range fastISAs() {
		for _, u := range []int{1, 7, 8, 9, 13, 16, 17, 33} {
			for _, steps := range []int{1, 2, 7} {
				for flags := 0; flags < 16; flags++ {
					after, seq, back, bias := flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
					a := acts[(u+steps+flags)%len(acts)]
					in := 1 + (u+flags)%5
					l := &layers.GRU{In: in, Units: u, W: rnd(r, in*3*u), U: rnd(r, u*3*u), Act: a[0], RecAct: a[1],
						ResetAfter: after, ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: back && seq && flags%3 == 0}
					for i := range l.U {
						l.U[i] *= float32(0.5 / math.Sqrt(float64(u)))
					}
					if bias {
						l.B = rnd(r, 3*u)
						if after {
							l.RB = rnd(r, 3*u)
						}
						l.H0 = rnd(r, u)
					}
					checkRecurrent(t, l.Config(), l, layers.Shape{steps, in}, isa, r)
				}
			}
		}
	}
}

// TestFastSimpleRNN: as TestFastGRU for SimpleRNN (tanh and relu whole-sequence
// kernels, softsign on the GEMM path).
func TestFastSimpleRNN(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	acts := []layers.Activation{actTanh, layers.ActReLU, {Kind: layers.Softsign}}
	for _, isa := range fastISAs() {
		for _, u := range []int{1, 7, 8, 9, 13, 16, 17, 33} {
			for _, steps := range []int{1, 2, 7} {
				for flags := 0; flags < 8; flags++ {
					seq, back, bias := flags&1 != 0, flags&2 != 0, flags&4 != 0
					in := 1 + (u+flags)%5
					l := &layers.SimpleRNN{In: in, Units: u, W: rnd(r, in*u), U: rnd(r, u*u), Act: acts[(u+flags)%3],
						ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: back && seq && flags%3 == 0}
					for i := range l.U {
						l.U[i] *= float32(0.5 / math.Sqrt(float64(u)))
					}
					if bias {
						l.B, l.H0 = rnd(r, u), rnd(r, u)
					}
					checkRecurrent(t, l.Config(), l, layers.Shape{steps, in}, isa, r)
				}
			}
		}
	}
}

// TestFastBidirectionalGRU: Bidirectional over GRU and SimpleRNN for every merge mode,
// with and without sequences.
func TestFastBidirectionalGRU(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for _, isa := range fastISAs() {
		for _, merge := range []string{"concat", "sum", "mul", "ave"} {
			for _, seq := range []bool{false, true} {
				steps, in, u := 5, 3, 9
				gru := func(back bool) layers.Recurrent {
					return &layers.GRU{In: in, Units: u, W: rnd(r, in*3*u), U: rnd(r, u*3*u), B: rnd(r, 3*u), RB: rnd(r, 3*u),
						Act: actTanh, RecAct: actSigmoid, ResetAfter: true, ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: back}
				}
				rnn := func(back bool) layers.Recurrent {
					return &layers.SimpleRNN{In: in, Units: u, W: rnd(r, in*u), U: rnd(r, u*u), B: rnd(r, u),
						Act: actTanh, ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: back}
				}
				for _, mk := range []func(bool) layers.Recurrent{gru, rnn} {
					l := &layers.Bidirectional{Fwd: mk(false), Bwd: mk(true), Merge: merge}
					checkRecurrent(t, "bidirectional "+merge+" "+l.Fwd.Config(), l, layers.Shape{steps, in}, isa, r)
				}
			}
		}
	}
}

// TestFastTimeDistributed: TimeDistributed over a GRU, a Bidirectional SimpleRNN and an
// LSTM runs the wrapped fast kernel with the leading axis as batch.
func TestFastTimeDistributed(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	steps, in, u := 4, 3, 6
	gru := &layers.GRU{In: in, Units: u, W: rnd(r, in*3*u), U: rnd(r, u*3*u), B: rnd(r, 3*u), RB: rnd(r, 3*u),
		Act: actTanh, RecAct: actSigmoid, ResetAfter: true, ReturnSequences: true}
	rnn := func(back bool) layers.Recurrent {
		return &layers.SimpleRNN{In: in, Units: u, W: rnd(r, in*u), U: rnd(r, u*u), B: rnd(r, u), Act: actTanh, GoBackwards: back}
	}
	lstm := &layers.LSTM{In: in, Units: u, W: rnd(r, in*4*u), U: rnd(r, u*4*u), Act: actTanh, RecAct: actSigmoid}
	for _, isa := range fastISAs() {
		for _, inner := range []layers.Layer{gru, &layers.Bidirectional{Fwd: rnn(false), Bwd: rnn(true), Merge: "ave"}, lstm} {
			l := &layers.TimeDistributed{Inner: inner}
			checkRecurrent(t, "timedistributed "+inner.Config(), l, layers.Shape{5, steps, in}, isa, r)
		}
	}
}
