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

// TestLSTMStack compiles stacks of LSTM layers on every path and checks which run as one
// wavefront step (asm.LSTMSeqStack) and which stay apart: fused exactly when the path
// has the whole-sequence kernel, both layers fit it (tanh cell, <= seqMaxUnits units)
// with the same gate, and the second layer's s-th step consumes the first's s-th output
// (forward after a processing-order sequence, backward after a time-order one; the other
// go_backwards mixes must not fuse). Outputs are checked against the generic path at
// batch 1 and 3 with TestFastLSTM's bound 2e-5*(1+|want|), at units around the 8-lane
// chunk, 1, 2 and 13 steps, with and without return_sequences on the last layer, biases
// and initial states, and with no allocation per call.
func TestLSTMStack(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	sig := layers.Activation{Kind: layers.Sigmoid}
	hard2 := layers.Activation{Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}
	hard6 := layers.Activation{Kind: layers.HardSigmoid, Alpha: float32(1.0 / 6), Beta: 0.5}
	tanh := layers.Activation{Kind: layers.Tanh}
	type lcfg struct {
		u          int
		rec, act   layers.Activation
		back, keep bool
	}
	mk := func(name string, in int, c lcfg, seq, states bool) *layers.LSTM {
		l := &layers.LSTM{Info: layers.Info{Name: name, Class: "LSTM"}, In: in, Units: c.u, W: rnd(r, in*4*c.u), U: rnd(r, c.u*4*c.u),
			Act: c.act, RecAct: c.rec, ReturnSequences: seq, GoBackwards: c.back, KeepTimeOrder: c.keep && c.back}
		for i := range l.U {
			l.U[i] *= 0.3
		}
		for i := range l.W {
			l.W[i] *= 0.5
		}
		if states {
			l.B, l.H0, l.C0 = rnd(r, 4*c.u), rnd(r, c.u), rnd(r, c.u)
		}
		return l
	}
	fuses := func(a, b lcfg) bool {
		ok := func(c lcfg) bool { return c.act.Kind == layers.Tanh && c.u <= seqMaxUnits }
		return ok(a) && ok(b) && a.rec == b.rec && (a.back && a.keep) == b.back
	}
	// chains: two layers that project their input in the step loop, the second reading
	// the first's h rows (fuseSeqLSTM), where the stack does not apply
	chains := func(a, b lcfg, in int) bool {
		inK := func(c lcfg, in int) bool {
			return (c.act.Kind == layers.Tanh || c.act == layers.ActReLU) && c.u <= 8 && in <= seqMaxIn
		}
		return !fuses(a, b) && inK(a, in) && inK(b, a.u) && !(a.back && a.keep)
	}
	run := func(t *testing.T, name string, g *layers.Graph, wantFused []bool) {
		ref, err := Compile(g, Options{ISA: "generic", MaxBatch: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, isa := range isas() {
			m, err := Compile(g, Options{ISA: isa.String(), MaxBatch: 3})
			if err != nil {
				t.Fatal(err)
			}
			ks := m.Kernels()
			for i := 1; i < g.Len(); i++ {
				got := strings.HasPrefix(ks[i], "fused into")
				want := isa != asm.Generic && asm.LSTMSeqAsm(isa) && wantFused[i]
				if got != want {
					t.Fatalf("%s %v: layer %d kernel %q, fused %v want %v (%q)", name, isa, i, ks[i], got, want, ks)
				}
			}
			for _, batch := range []int{1, 3} {
				x := rnd(r, batch*g.Input().Size())
				want := make([]float32, batch*g.Output().Size())
				if err := ref.RunInto(want, x, batch); err != nil {
					t.Fatal(err)
				}
				got := make([]float32, len(want))
				if err := m.RunInto(got, x, batch); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); !(d <= 2e-5*(1+math.Abs(float64(want[i])))) {
						t.Fatalf("%s %v batch %d: out[%d] = %v, want %v (%q)", name, isa, batch, i, got[i], want[i], ks)
					}
				}
				if n := testing.AllocsPerRun(5, func() { _ = m.RunInto(got, x, batch) }); n != 0 {
					t.Fatalf("%s %v batch %d: %v allocations per RunInto", name, isa, batch, n)
				}
			}
		}
	}
	units := [][2]int{{1, 1}, {7, 8}, {8, 9}, {9, 17}, {17, 7}, {8, 4}, {33, 8}}
	gates := [][2]layers.Activation{{sig, sig}, {hard2, hard2}, {sig, hard2}, {hard2, hard6}}
	for ui, us := range units {
		for gi, gp := range gates {
			for _, steps := range []int{1, 2, 13} {
				for flags := 0; flags < 32; flags++ {
					if (ui+gi+flags)%3 != 0 && flags&3 != 1 { // a third of the mixes, every direction pair
						continue
					}
					a := lcfg{u: us[0], rec: gp[0], act: tanh, back: flags&1 != 0, keep: flags&2 != 0}
					b := lcfg{u: us[1], rec: gp[1], act: tanh, back: flags&4 != 0, keep: flags&8 != 0}
					if flags&16 != 0 && ui == 1 {
						a.act = layers.ActReLU // a whole-sequence layer only up to 8 units
					}
					seq, states := flags&16 != 0, (flags+ui)&1 != 0
					in := 3
					la := mk("a", in, a, true, states)
					lb := mk("b", us[0], b, seq, !states)
					ls := []layers.Layer{la, lb}
					if seq {
						ls = append(ls, &layers.Dense{Info: layers.Info{Name: "d", Class: "Dense"}, In: us[1], Units: 2, W: rnd(r, 2*us[1]), B: rnd(r, 2)})
					}
					g, err := layers.NewGraph(layers.Shape{steps, in}, ls, nil)
					if err != nil {
						t.Fatal(err)
					}
					name := fmt.Sprintf("units %v gates %v/%v t=%d a=%+v b=%+v seq=%v", us, gp[0], gp[1], steps, a, b, seq)
					// a Dense after b alone (no stack) runs on b's h rows (fuseSeqDense)
					// unless b reverses its sequence
					run(t, name, g, []bool{false, fuses(a, b) || chains(a, b, in), seq && !fuses(a, b) && !(b.back && b.keep)})
				}
			}
		}
	}
	// longer chains: 3 stages in one call; 6 layers as a stack of 4, then 2
	c := lcfg{rec: sig, act: tanh}
	for _, n := range []int{3, 6} {
		var ls []layers.Layer
		in := 5
		for i := 0; i < n; i++ {
			c.u = []int{9, 4, 8, 1, 17, 6}[i]
			ls = append(ls, mk(fmt.Sprint("l", i), in, c, i < n-1, i%2 == 0))
			in = c.u
		}
		g, err := layers.NewGraph(layers.Shape{11, 5}, ls, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []bool{false, true, true, false, true, true}
		if n == 6 {
			want = []bool{false, true, true, true, false, true}
		}
		run(t, fmt.Sprint("chain of ", n), g, want)
	}
}
