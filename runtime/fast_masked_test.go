package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// maskFor returns batch*t flags: row 0 all kept, row 1 all masked, row 2 random, row 3
// post-padded, row 4 pre-padded, row 5 a kept run inside padding.
func maskFor(r *rand.Rand, batch, t int) []float32 {
	m := make([]float32, batch*t)
	for b := 0; b < batch; b++ {
		a, e := r.IntN(t+1), r.IntN(t+1)
		if a > e {
			a, e = e, a
		}
		for s := 0; s < t; s++ {
			keep := false
			switch b % 6 {
			case 0:
				keep = true
			case 2:
				keep = r.IntN(3) > 0
			case 3:
				keep = s < e
			case 4:
				keep = s >= a
			case 5:
				keep = s >= a && s < e
			}
			if keep {
				m[b*t+s] = 1
			}
		}
	}
	return m
}

// TestFastMaskedLSTM: the masked LSTM kernels, whole-sequence (contiguous masks) and
// GEMM path (alone and in a Bidirectional), vs the
// reference ForwardMasked over every flag combination (return_sequences, go_backwards,
// keep_time_order, zero_output_for_mask, bias and initial states), edge sizes of units
// around the 8- and 16-wide tiles and past the whole-sequence bound (33), masks that
// keep all, none, some, a prefix, a suffix or a run of the steps, at batch 1 and 6;
// bound as TestFastLSTM, |got-want| <= 2e-5*(1+|want|).
func TestFastMaskedLSTM(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	acts := [][2]layers.Activation{
		{{Kind: layers.Tanh}, {Kind: layers.Sigmoid}},
		{{Kind: layers.Tanh}, {Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}},
		{layers.ActReLU, {Kind: layers.Sigmoid}},
	}
	for _, isa := range fastISAs() {
		for ci, sz := range [][3]int{{1, 1, 1}, {5, 3, 8}, {7, 2, 7}, {4, 16, 33}, {6, 5, 16}, {3, 4, 17}} {
			steps, in, u := sz[0], sz[1], sz[2]
			for flags := 0; flags < 32*len(acts); flags++ {
				ap := acts[flags/32]
				mk := func(back bool) *layers.LSTM {
					l := &layers.LSTM{In: in, Units: u, W: rnd(r, in*4*u), U: rnd(r, u*4*u), Act: ap[0], RecAct: ap[1],
						ReturnSequences: flags&1 != 0, GoBackwards: back, KeepTimeOrder: flags&4 != 0, ZeroMaskedOutput: flags&16 != 0}
					for i := range l.U {
						l.U[i] *= 0.3
					}
					if flags&8 != 0 {
						l.B, l.H0, l.C0 = rnd(r, 4*u), rnd(r, u), rnd(r, u)
					}
					return l
				}
				var ml layers.Maskable = mk(flags&2 != 0)
				if flags%3 == 0 { // a Bidirectional every third combination
					bw := mk(true)
					bw.KeepTimeOrder = bw.ReturnSequences
					ml = &layers.Bidirectional{Fwd: mk(false), Bwd: bw, Merge: []string{"concat", "sum", "mul", "ave"}[flags/3%4]}
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
						t.Fatalf("%v: kernel %s chosen for a masked LSTM", isa, c.name)
					}
					x, mask := rnd(r, batch*ins[0].Size()), maskFor(r, batch, steps)
					want := make([]float32, batch*out.Size())
					l.ForwardN(want, [][]float32{x, mask}, make([]float32, l.ScratchLenN(ins, batch)), ins, batch)
					got := make([]float32, len(want))
					c.kn.runN(got, [][]float32{x, mask}, make([]float32, c.scratchLen), batch)
					for i := range want {
						if d := math.Abs(float64(got[i] - want[i])); !(d <= 2e-5*(1+math.Abs(float64(want[i])))) {
							t.Fatalf("%v %s case %d flags %b batch %d: out[%d] = %v, want %v", isa, c.name, ci, flags, batch, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestFastEmbedding: the row-copy kernel gives the reference's bits at edge sizes.
func TestFastEmbedding(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, sz := range [][3]int{{1, 1, 1}, {7, 3, 1}, {50, 8, 12}, {3, 17, 5}} {
		v, d, steps := sz[0], sz[1], sz[2]
		l := &layers.Embedding{InputDim: v, OutputDim: d, W: rnd(r, v*d)}
		in := layers.Shape{steps}
		out, _ := l.OutputShape(in)
		for _, isa := range fastISAs() {
			c := selectKernel(l, []layers.Shape{in}, out, isa, 3)
			ids := make([]float32, 3*steps)
			for i := range ids {
				ids[i] = layers.IDBits(int32(r.IntN(v)))
			}
			want := make([]float32, 3*out.Size())
			l.Forward(want, ids, nil, in, 3)
			got := make([]float32, len(want))
			c.k.run(got, ids, nil, 3)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatal(fmt.Sprintf("%v %v: out[%d] = %v, want %v", isa, sz, i, got[i], want[i]))
				}
			}
		}
	}
}
