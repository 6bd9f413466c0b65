package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// TestSeqDenseFusion: a Dense after a whole-sequence LSTM runs on the LSTM's h rows
// (fuseSeqDense) exactly where the LSTM returns sequences whose rows are its h rows in
// order; the fused step gives the two unfused kernels' results bit for bit (the GEMM's
// sums do not depend on the row count or stride) and the reference's within
// TestFastLSTM's bound, at units around the 8-lane padding, 1, 2 and 9 steps, every
// direction, with and without sequences, biases and initial states, a Dense activation
// that is fused into the GEMM and one that is not, at batch 1 and 3, with no allocation
// per call.
func TestSeqDenseFusion(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 17))
	for _, isa := range fastISAs() {
		for _, u := range []int{1, 5, 8, 9, 17} {
			for _, steps := range []int{1, 2, 9} {
				for flags := 0; flags < 32; flags++ {
					seq, back, keep, states := flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
					rec := layers.Activation{Kind: layers.Sigmoid}
					if (u+steps+flags)%2 == 0 {
						rec = layers.Activation{Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}
					}
					in := 3
					l := &layers.LSTM{Info: layers.Info{Name: "l", Class: "LSTM"}, In: in, Units: u, W: rnd(r, in*4*u), U: rnd(r, u*4*u),
						Act: layers.Activation{Kind: layers.Tanh}, RecAct: rec, ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: keep && back}
					for i := range l.U {
						l.U[i] *= 0.3
					}
					if states {
						l.B, l.H0, l.C0 = rnd(r, 4*u), rnd(r, u), rnd(r, u)
					}
					act := layers.ActLinear
					if flags&16 != 0 {
						act = layers.Activation{Kind: layers.Tanh}
					}
					n := 1 + (u+flags)%4
					d := &layers.Dense{Info: layers.Info{Name: "d", Class: "Dense"}, In: u, Units: n, W: rnd(r, u*n), B: rnd(r, n), Act: act}
					g, err := layers.NewGraph(layers.Shape{steps, in}, []layers.Layer{l, d}, nil)
					if err != nil {
						t.Fatal(err)
					}
					name := fmt.Sprintf("%v u=%d t=%d seq=%v back=%v keep=%v states=%v act=%v", isa, u, steps, seq, back, keep, states, act)
					m, err := Compile(g, Options{ISA: isa.String(), MaxBatch: 3})
					if err != nil {
						t.Fatal(err)
					}
					ref, err := Compile(g, Options{ISA: "generic", MaxBatch: 3})
					if err != nil {
						t.Fatal(err)
					}
					ks := m.Kernels()
					if got, want := strings.HasPrefix(ks[1], "fused into"), asm.LSTMSeqAsm(isa) && seq && !(back && keep); got != want {
						t.Fatalf("%s: dense kernel %q, fused %v want %v", name, ks[1], got, want)
					}
					lin, lout := g.InShape(0), g.OutShape(0)
					cl, err := compileLayer(l, lin, lout, isa, 3)
					if err != nil {
						t.Fatal(err)
					}
					cd, err := compileLayer(d, lout, g.OutShape(1), isa, 3)
					if err != nil {
						t.Fatal(err)
					}
					for _, batch := range []int{1, 3} {
						x := rnd(r, batch*g.Input().Size())
						mid := make([]float32, batch*lout.Size())
						sep := make([]float32, batch*g.Output().Size())
						cl.k.run(mid, x, make([]float32, cl.scratchLen), batch)
						cd.k.run(sep, mid, make([]float32, cd.scratchLen), batch)
						want := make([]float32, len(sep))
						if err := ref.RunInto(want, x, batch); err != nil {
							t.Fatal(err)
						}
						got := make([]float32, len(sep))
						if err := m.RunInto(got, x, batch); err != nil {
							t.Fatal(err)
						}
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(sep[i]) {
								t.Fatalf("%s batch %d: out[%d] = %v, unfused %v", name, batch, i, got[i], sep[i])
							}
							if d := math.Abs(float64(got[i] - want[i])); !(d <= 2e-5*(1+math.Abs(float64(want[i])))) {
								t.Fatalf("%s batch %d: out[%d] = %v, reference %v", name, batch, i, got[i], want[i])
							}
						}
						if a := testing.AllocsPerRun(3, func() { _ = m.RunInto(got, x, batch) }); a != 0 {
							t.Fatalf("%s batch %d: %v allocations per RunInto", name, batch, a)
						}
					}
				}
			}
		}
	}
}
