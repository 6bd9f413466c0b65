package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// TestFastMaskedGRURNN: the masked GRU and SimpleRNN kernels (whole-sequence kernels
// in runs of kept steps, and the GEMM paths), alone and in a Bidirectional, vs the
// reference ForwardMasked over return_sequences, go_backwards, keep_time_order,
// zero_output_for_mask, biases and initial states, units around the 8- and 16-wide
// tiles and past the whole-sequence bound (33), inputs past the in-loop projection
// bound (40), non-tanh activations (GEMM path), masks that keep all, none, some, a
// prefix, a suffix or a run, at batch 1 and 6; zero allocations per run; bound as
// checkRecurrent, |got-want| <= 2e-5*(1+|want|).
func TestFastMaskedGRURNN(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	acts := [][2]layers.Activation{{actTanh, actSigmoid}, {actTanh, actHard3}, {layers.ActReLU, actSigmoid}}
	for _, isa := range fastISAs() {
		for ci, sz := range [][3]int{{1, 1, 1}, {5, 3, 8}, {7, 2, 7}, {4, 16, 33}, {6, 5, 16}, {3, 4, 17}, {5, 40, 9}} {
			steps, in, u := sz[0], sz[1], sz[2]
			for flags := 0; flags < 64*len(acts); flags++ {
				ap := acts[flags/64]
				gru := flags&32 != 0
				mk := func(back bool) layers.Recurrent {
					seq, keep, zero, bias := flags&1 != 0, flags&4 != 0, flags&16 != 0, flags&8 != 0
					if gru {
						l := &layers.GRU{In: in, Units: u, W: rnd(r, in*3*u), U: rnd(r, u*3*u), Act: ap[0], RecAct: ap[1],
							ResetAfter: flags%3 != 0, ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: keep, ZeroMaskedOutput: zero}
						scale(l.U, 0.5/math.Sqrt(float64(u)))
						if bias {
							l.B, l.H0 = rnd(r, 3*u), rnd(r, u)
							if l.ResetAfter {
								l.RB = rnd(r, 3*u)
							}
						}
						return l
					}
					l := &layers.SimpleRNN{In: in, Units: u, W: rnd(r, in*u), U: rnd(r, u*u), Act: ap[0],
						ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: keep, ZeroMaskedOutput: zero}
					scale(l.U, 0.5/math.Sqrt(float64(u)))
					if bias {
						l.B, l.H0 = rnd(r, u), rnd(r, u)
					}
					return l
				}
				var ml layers.Maskable = mk(flags&2 != 0).(layers.Maskable)
				if flags%5 == 0 { // a Bidirectional every fifth combination
					bw := mk(true)
					setKeepTimeOrder(bw)
					ml = &layers.Bidirectional{Fwd: mk(false), Bwd: bw, Merge: []string{"concat", "sum", "mul", "ave"}[flags/5%4]}
				}
				l := &layers.Masked{Layer: ml}
				ins := []layers.Shape{{steps, in}, {steps}}
				out, err := l.OutputShapeN(ins)
				if err != nil {
					t.Fatal(err)
				}
				for _, batch := range []int{1, 6} {
					c := selectKernel(l, ins, out, isa, batch)
					if _, ok := c.kn.(*fastMasked); !ok {
						t.Fatalf("%v: kernel %s chosen for %s", isa, c.name, l.Config())
					}
					x, mask := rnd(r, batch*ins[0].Size()), maskFor(r, batch, steps)
					want := make([]float32, batch*out.Size())
					l.ForwardN(want, [][]float32{x, mask}, make([]float32, l.ScratchLenN(ins, batch)), ins, batch)
					got := make([]float32, len(want))
					srcs := [][]float32{x, mask}
					scratch := make([]float32, c.scratchLen)
					c.kn.runN(got, srcs, scratch, batch)
					for i := range want {
						if d := math.Abs(float64(got[i] - want[i])); !(d <= 2e-5*(1+math.Abs(float64(want[i])))) {
							t.Fatalf("%v %s case %d flags %b batch %d: out[%d] = %v, want %v", isa, c.name, ci, flags, batch, i, got[i], want[i])
						}
					}
					if flags%7 == 0 {
						if a := testing.AllocsPerRun(2, func() { c.kn.runN(got, srcs, scratch, batch) }); a != 0 {
							t.Fatalf("%v %s: %v allocations per run", isa, c.name, a)
						}
					}
				}
			}
		}
	}
}

func scale(w []float32, s float64) {
	for i := range w {
		w[i] *= float32(s)
	}
}

// setKeepTimeOrder makes a backward direction return its sequence in time order.
func setKeepTimeOrder(r layers.Recurrent) {
	switch l := r.(type) {
	case *layers.GRU:
		l.KeepTimeOrder = l.ReturnSequences
	case *layers.SimpleRNN:
		l.KeepTimeOrder = l.ReturnSequences
	}
}
