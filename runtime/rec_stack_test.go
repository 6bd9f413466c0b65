package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// TestRecStack compiles random chains of 2 to 6 GRU and SimpleRNN layers (every gate
// and reset form, tanh and relu, both directions and sequence orders, units around
// the 8-lane chunk, biases and initial states or none; a third with the activations
// only asm.RecStack's Acts stages run) on every path and checks: without those, a
// layer is fused into the stack before it exactly when the path has the kernel, both
// run the in-loop projection kernel and the second consumes the first's processing
// order (at most 4 per stack); the fused model's outputs are those of the same model
// compiled without fuseRecStacks bit for bit (asm.RecStack's stages are GRUSeqX's and
// RNNSeqX's), at batch 1 and 3, on one thread and on two, and within TestFastGRU's
// 2e-5*(1+|want|) of the generic path (with them too); and a call allocates nothing.
func TestRecStack(t *testing.T) {
	r := rand.New(rand.NewPCG(93, 94))
	sig := layers.Activation{Kind: layers.Sigmoid}
	hard2 := layers.Activation{Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}
	tanh := layers.Activation{Kind: layers.Tanh}
	acts := []layers.Activation{layers.ActReLU, layers.ActLinear, {Kind: layers.Softsign}, {Kind: layers.Softplus},
		{Kind: layers.Selu}, {Kind: layers.Softmax}, sig, tanh}
	saved := graphPasses
	defer func() { graphPasses = saved }()
	var noStack []graphPass
	for _, p := range saved {
		if fmt.Sprintf("%p", p) != fmt.Sprintf("%p", graphPass(fuseRecStacks)) {
			noStack = append(noStack, p)
		}
	}
	if len(noStack) != len(saved)-1 {
		t.Fatal("fuseRecStacks is not a graph pass")
	}
	for trial := 0; trial < 120; trial++ {
		n := 2 + r.IntN(5)
		steps := []int{1, 2, 7, 13}[trial%4]
		in := 1 + r.IntN(6)
		var ls []layers.Layer
		var recs []layers.Recurrence
		exotic := false // a layer only a stack runs whole-sequence (unfused: the GEMM path)
		desc := fmt.Sprintf("t=%d in=%d", steps, in)
		for i := 0; i < n; i++ {
			u := []int{1, 4, 7, 8, 9, 16}[r.IntN(6)]
			seq, back := i < n-1 || r.IntN(2) == 0, r.IntN(4) == 0
			keep := back && seq && r.IntN(2) == 0
			name := fmt.Sprint("l", i)
			var l layers.Layer
			if r.IntN(3) > 0 {
				g := &layers.GRU{Info: layers.Info{Name: name, Class: "GRU"}, In: in, Units: u, W: rnd(r, in*3*u), U: rnd(r, u*3*u),
					Act: tanh, RecAct: []layers.Activation{sig, hard2}[r.IntN(2)], ResetAfter: r.IntN(2) == 0,
					ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: keep}
				if r.IntN(3) == 0 { // asm.RecStack's Acts stages (gates kept in [0, 1])
					g.Act = acts[r.IntN(len(acts))]
					if u <= 8 && r.IntN(4) == 0 {
						g.RecAct = layers.Activation{Kind: layers.Softmax}
					}
					if g.Act.Kind == layers.Softmax && u > 8 {
						g.Act = tanh
					}
					exotic = exotic || g.Act != tanh || g.RecAct.Kind == layers.Softmax
				}
				for k := range g.U {
					g.U[k] *= float32(0.5 / math.Sqrt(float64(u)))
				}
				if r.IntN(2) == 0 {
					g.B, g.H0 = rnd(r, 3*u), rnd(r, u)
					if g.ResetAfter {
						g.RB = rnd(r, 3*u)
					}
				}
				l = g
				recs = append(recs, g.Recurrence())
				desc += fmt.Sprintf(" [gru u=%d after=%v %v back=%v keep=%v seq=%v]", u, g.ResetAfter, g.RecAct, back, keep, seq)
			} else {
				s := &layers.SimpleRNN{Info: layers.Info{Name: name, Class: "SimpleRNN"}, In: in, Units: u, W: rnd(r, in*u), U: rnd(r, u*u),
					Act: []layers.Activation{tanh, layers.ActReLU}[r.IntN(2)], ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: keep}
				if r.IntN(3) == 0 {
					s.Act = acts[r.IntN(len(acts))]
					if s.Act.Kind == layers.Softmax && u > 8 {
						s.Act = tanh
					}
					exotic = exotic || s.Act != tanh && s.Act != layers.ActReLU
				}
				for k := range s.U {
					s.U[k] *= float32(0.5 / math.Sqrt(float64(u)))
				}
				if r.IntN(2) == 0 {
					s.B, s.H0 = rnd(r, u), rnd(r, u)
				}
				l = s
				recs = append(recs, s.Recurrence())
				desc += fmt.Sprintf(" [rnn u=%d %v back=%v keep=%v seq=%v]", u, s.Act, back, keep, seq)
			}
			ls = append(ls, l)
			in = u
		}
		g, err := layers.NewGraph(layers.Shape{steps, ls[0].(layers.Recurrent).Recurrence().In}, ls, nil)
		if err != nil {
			t.Fatal(err)
		}
		graphPasses = saved
		ref, err := Compile(g, Options{ISA: "generic", MaxBatch: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, isa := range isas() {
			graphPasses = noStack
			plain, err := Compile(g, Options{ISA: isa.String(), MaxBatch: 3})
			if err != nil {
				t.Fatal(err)
			}
			graphPasses = saved
			m, err := Compile(g, Options{ISA: isa.String(), MaxBatch: 3})
			if err != nil {
				t.Fatal(err)
			}
			m2, err := Compile(g, Options{ISA: isa.String(), MaxBatch: 3, Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			ks := m.Kernels()
			size := 0 // layers in the current stack
			for i := range ls {
				if exotic {
					break // a lone Acts layer is a stack of one: checked through the outputs
				}
				got := strings.HasPrefix(ks[i], "fused into")
				want := i > 0 && asm.RecStackAsm(isa) && size < 4 && recStackable(recs[i-1], recs[i])
				if want {
					size++
				} else {
					size = 1
				}
				if got != want {
					t.Fatalf("%s %v: layer %d kernel %q, fused %v want %v (%q)", desc, isa, i, ks[i], got, want, ks)
				}
			}
			for _, batch := range []int{1, 3} {
				x := rnd(r, batch*g.Input().Size())
				want := make([]float32, batch*g.Output().Size())
				if err := ref.RunInto(want, x, batch); err != nil {
					t.Fatal(err)
				}
				exact := make([]float32, len(want))
				if err := plain.RunInto(exact, x, batch); err != nil {
					t.Fatal(err)
				}
				for _, mm := range []*Model{m, m2} {
					got := make([]float32, len(want))
					if err := mm.RunInto(got, x, batch); err != nil {
						t.Fatal(err)
					}
					for i := range want {
						if !exotic && math.Float32bits(got[i]) != math.Float32bits(exact[i]) {
							t.Fatalf("%s %v batch %d: out[%d] = %v, unfused %v (%q)", desc, isa, batch, i, got[i], exact[i], ks)
						}
						if d := math.Abs(float64(got[i] - want[i])); !(d <= 2e-5*(1+math.Abs(float64(want[i])))) {
							t.Fatalf("%s %v batch %d: out[%d] = %v, generic %v (%q)", desc, isa, batch, i, got[i], want[i], ks)
						}
					}
					if a := testing.AllocsPerRun(5, func() { _ = mm.RunInto(got, x, batch) }); a != 0 {
						t.Fatalf("%s %v batch %d: %v allocations per RunInto", desc, isa, batch, a)
					}
				}
			}
		}
	}
}

// TestRecGroups: a whole-sequence GRU or SimpleRNN (or a Bidirectional of them; and
// TimeDistributed over either) run
// at batch 1 to 9 gives every sample the bits of that sample run alone (the sample
// groups of asm.RecStack are GRUSeqX's and RNNSeqX's stage by stage), on every path.
func TestRecGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(97, 98))
	for trial := 0; trial < 40; trial++ {
		steps, in, u := []int{1, 2, 7}[trial%3], 1+r.IntN(5), []int{1, 5, 8, 9, 16}[r.IntN(5)]
		back, seq := r.IntN(2) == 0, r.IntN(2) == 0
		var l layers.Layer
		if trial%2 == 0 {
			g := &layers.GRU{Info: layers.Info{Name: "g", Class: "GRU"}, In: in, Units: u, W: rnd(r, in*3*u), U: rnd(r, u*3*u),
				Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}, ResetAfter: r.IntN(2) == 0,
				ReturnSequences: seq, GoBackwards: back, B: rnd(r, 3*u)}
			if r.IntN(2) == 0 {
				g.RecAct = layers.Activation{Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}
			}
			l = g
		} else {
			l = &layers.SimpleRNN{Info: layers.Info{Name: "s", Class: "SimpleRNN"}, In: in, Units: u, W: rnd(r, in*u), U: rnd(r, u*u),
				Act: []layers.Activation{{Kind: layers.Tanh}, layers.ActReLU}[r.IntN(2)], ReturnSequences: seq, GoBackwards: back, H0: rnd(r, u)}
		}
		shape := layers.Shape{steps, in}
		if trial%3 == 2 { // both directions of a sample, two samples per call
			var bwd layers.Recurrent
			switch f := l.(type) {
			case *layers.GRU:
				f.GoBackwards = false
				c := *f
				c.GoBackwards, c.KeepTimeOrder, c.W = true, true, rnd(r, len(f.W))
				bwd = &c
			case *layers.SimpleRNN:
				f.GoBackwards = false
				c := *f
				c.GoBackwards, c.KeepTimeOrder, c.W = true, true, rnd(r, len(f.W))
				bwd = &c
			}
			l = &layers.Bidirectional{Info: layers.Info{Name: "bi", Class: "Bidirectional"}, Fwd: l.(layers.Recurrent), Bwd: bwd,
				Merge: []string{"concat", "sum", "mul", "ave"}[r.IntN(4)]}
		}
		if trial%4 >= 2 {
			l = &layers.TimeDistributed{Info: layers.Info{Name: "td", Class: "TimeDistributed"}, Inner: l}
			shape = layers.Shape{3, steps, in}
		}
		g, err := layers.NewGraph(shape, []layers.Layer{l}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, isa := range isas() {
			m, err := Compile(g, Options{ISA: isa.String(), MaxBatch: 9})
			if err != nil {
				t.Fatal(err)
			}
			n, o := g.Input().Size(), g.Output().Size()
			x := rnd(r, 9*n)
			for _, batch := range []int{1, 2, 3, 4, 5, 9} {
				got := make([]float32, batch*o)
				if err := m.RunInto(got, x[:batch*n], batch); err != nil {
					t.Fatal(err)
				}
				for b := 0; b < batch; b++ {
					one := make([]float32, o)
					if err := m.RunInto(one, x[b*n:(b+1)*n], 1); err != nil {
						t.Fatal(err)
					}
					for i := range one {
						if math.Float32bits(one[i]) != math.Float32bits(got[b*o+i]) {
							t.Fatalf("%s %v batch %d sample %d: out[%d] = %v, alone %v (%q)", l.Config(), isa, batch, b, i, got[b*o+i], one[i], m.Kernels())
						}
					}
				}
			}
		}
	}
}

// TestRecStackConcurrent: 64 goroutines on one Model of each fixture the RecStack
// kernels run (a stack, Bidirectional pairs, Acts stages, TimeDistributed sample
// groups), batch 1 and 2 in turn, every output the bits of the serial run (run under
// -race in .ci/run).
func TestRecStackConcurrent(t *testing.T) {
	for _, name := range []string{"simple_rnn", "bidirectional_gru", "gru_activations", "gru_time_distributed", "keras2_simple_rnn_bidi"} {
		m, err := keras.Load("../testdata/keras/" + name + ".npz")
		if err != nil {
			t.Fatal(err)
		}
		s := m.Samples
		cm, err := Compile(m.Graph, Options{MaxBatch: 2})
		if err != nil {
			t.Fatal(err)
		}
		in, out := len(s.X)/s.N, cm.OutputShape().Size()
		want := make([]float32, 2*out)
		if err := cm.RunInto(want, s.X[:2*in], 2); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := 0; w < 64; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				got := make([]float32, 2*out)
				for i := 0; i < 20; i++ {
					batch := 1 + (w+i)%2
					if err := cm.RunInto(got[:batch*out], s.X[:batch*in], batch); err != nil {
						errs <- err
						return
					}
					for k := range got[:batch*out] {
						if math.Float32bits(got[k]) != math.Float32bits(want[k]) {
							errs <- fmt.Errorf("%s goroutine %d batch %d: out[%d] = %v, serial %v", name, w, batch, k, got[k], want[k])
							return
						}
					}
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
}
