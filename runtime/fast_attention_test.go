package runtime

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// randMHA is a random MultiHeadAttention layer.
func randMHA(r *rand.Rand, heads, kd, vd, qd, kdim, vdim, out int, bias bool) *layers.MultiHeadAttention {
	l := &layers.MultiHeadAttention{Info: layers.Info{Name: "mha", Class: "test"}, Heads: heads, KeyDim: kd, ValueDim: vd,
		QDim: qd, KDim: kdim, VDim: vdim, OutDim: out, Scale: float32(1 / math.Sqrt(float64(kd))), MaskAdd: -1e9}
	l.Wq, l.Wk = randSlice(r, qd*heads*kd, 0.5), randSlice(r, kdim*heads*kd, 0.5)
	l.Wv, l.Wo = randSlice(r, vdim*heads*vd, 0.5), randSlice(r, heads*vd*out, 0.5)
	if bias {
		l.Bq, l.Bk, l.Bv, l.Bo = randSlice(r, heads*kd, 0.3), randSlice(r, heads*kd, 0.3), randSlice(r, heads*vd, 0.3), randSlice(r, out, 0.3)
	}
	return l
}

// TestFastMHA compares the GEMM attention kernel with the reference on every ISA over
// sequence lengths around the GEMM tiles (1, 5, 7, 8, 9, 16, 17, 31), self and cross
// attention, a separate key, masks of every shape, causal masks, an additive score
// constant and no biases. Bound:
// 1e-5 + 1e-5*|want| on outputs of order 1.
func TestFastMHA(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	type cfg struct {
		tq, tv, heads, kd, vd, qd, kdim, vdim, out int
		bias, key, self, causal                    bool
		mask                                       string // "", "full", "row", "pad"
	}
	var cs []cfg
	for _, tl := range []int{1, 5, 7, 8, 9, 16, 17, 31} {
		cs = append(cs,
			cfg{tl, tl, 4, 8, 8, 32, 32, 32, 32, true, false, true, false, ""},
			cfg{tl, tl, 2, 5, 3, 12, 12, 12, 7, false, false, true, true, ""},
			cfg{tl, tl + 2, 3, 4, 6, 10, 9, 11, 10, true, true, false, false, "full"},
			cfg{tl, tl, 1, 16, 16, 16, 16, 16, 16, true, false, false, true, "pad"},
			cfg{tl, 3, 2, 8, 8, 8, 8, 8, 8, true, false, false, false, "row"},
		)
	}
	for _, c := range cs {
		l := randMHA(r, c.heads, c.kd, c.vd, c.qd, c.kdim, c.vdim, c.out, c.bias)
		l.Causal, l.HasKey, l.HasMask = c.causal, c.key, c.mask != ""
		ins := []layers.Shape{{c.tq, c.qd}, {c.tv, c.vdim}}
		if c.key {
			ins = append(ins, layers.Shape{c.tv, c.kdim})
		}
		switch c.mask {
		case "full":
			ins = append(ins, layers.Shape{c.tq, c.tv})
		case "row":
			ins = append(ins, layers.Shape{1, c.tv})
		case "pad":
			ins = append(ins, layers.Shape{c.tv})
		}
		if c.mask == "row" {
			// an additive constant with -Inf entries (never a whole row)
			l.ScoreBias = randSlice(r, c.tq*c.tv, 1)
			for i := range l.ScoreBias {
				if i%c.tv != 0 && r.IntN(4) == 0 {
					l.ScoreBias[i] = float32(math.Inf(-1))
				}
			}
		}
		out, err := l.OutputShapeN(ins)
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		const batch = 3
		srcs := make([][]float32, len(ins))
		for i, s := range ins {
			srcs[i] = randSlice(r, batch*s.Size(), 1)
		}
		if c.self {
			srcs[1] = srcs[0]
		}
		if l.HasMask {
			m := srcs[len(srcs)-1]
			for i := range m {
				m[i] = float32(r.IntN(3) / 2) // two thirds masked
			}
			for i := 0; i < len(m); i += c.tv {
				m[i] = 1 // every row attends to something
			}
		}
		want := make([]float32, batch*out.Size())
		l.ForwardN(want, srcs, make([]float32, l.ScratchLenN(ins, batch)), ins, batch)
		for _, isa := range asm.Paths() {
			if isa == asm.Generic {
				continue
			}
			for _, mb := range []int{1, batch} {
				k, ok := newFastMHA(l, ins, out, isa, mb)
				if !ok {
					t.Fatalf("%+v: kernel does not apply", c)
				}
				got := make([]float32, batch*out.Size())
				sc := make([]float32, k.scratchLen+16)
				for b := 0; b < batch; b += mb {
					n := min(mb, batch-b)
					sub := make([][]float32, len(srcs))
					for i, s := range srcs {
						sub[i] = s[b*ins[i].Size() : (b+n)*ins[i].Size()]
					}
					if c.self {
						sub[1] = sub[0]
					}
					for i := range sc {
						sc[i] = float32(math.NaN()) // the kernel must not read scratch it did not write
					}
					k.kn.runN(got[b*out.Size():(b+n)*out.Size()], sub, sc, n)
				}
				if err := closeTo(got, want, 1e-5, 1e-5); err != nil {
					t.Errorf("%v maxbatch %d %+v: %v", isa, mb, c, err)
				}
			}
		}
	}
}
