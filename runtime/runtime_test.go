package runtime

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

func randSlice(r *rand.Rand, n int, scale float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = (r.Float32()*2 - 1) * scale
	}
	return s
}

func info(name, class string) layers.Info { return layers.Info{Name: name, Class: class} }

// testGraphs builds small random graphs covering every layer kind.
func testGraphs(t testing.TB) map[string]*layers.Graph {
	r := rand.New(rand.NewPCG(1, 2))
	gs := map[string]*layers.Graph{}
	add := func(name string, in layers.Shape, ls ...layers.Layer) {
		g, err := layers.NewGraph(in, ls, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gs[name] = g
	}
	dense := func(name string, in, out int, act layers.Activation) *layers.Dense {
		return &layers.Dense{Info: info(name, "Dense"), In: in, Units: out, W: randSlice(r, in*out, 0.3), B: randSlice(r, out, 0.1), Act: act}
	}
	add("mlp", layers.Shape{13},
		dense("d1", 13, 33, layers.ActReLU),
		&layers.Identity{Info: info("drop", "Dropout")},
		dense("d2", 33, 17, layers.Activation{Kind: layers.Tanh}),
		dense("d3", 17, 5, layers.Activation{Kind: layers.Softmax}))
	conv := func(name string, cin, cout, k, s int, pad layers.Padding, act layers.Activation) *layers.Conv2D {
		return &layers.Conv2D{Info: info(name, "Conv2D"), Window: layers.Window{KH: k, KW: k, SH: s, SW: s, DH: 1, DW: 1, Pad: pad},
			In: cin, Filters: cout, Groups: 1, W: randSlice(r, k*k*cin*cout, 0.3), B: randSlice(r, cout, 0.1), Act: act}
	}
	bnScale, bnShift, _ := layers.FoldBatchNorm(randSlice(r, 8, 1), randSlice(r, 8, 1), randSlice(r, 8, 1), []float32{1, 2, 0.5, 0.1, 1, 1, 3, 0.2}, 1e-3)
	add("cnn", layers.Shape{12, 11, 3},
		&layers.Affine{Info: info("rescale", "Rescaling"), Scale: []float32{1.0 / 255}, Shift: []float32{0}},
		&layers.ZeroPad2D{Info: info("zp", "ZeroPadding2D"), Pads: [4]int{1, 0, 2, 1}},
		conv("c1", 3, 8, 3, 1, layers.PadSame, layers.ActLinear),
		&layers.Affine{Info: info("bn", "BatchNormalization"), Scale: bnScale, Shift: bnShift},
		&layers.ActivationLayer{Info: info("relu", "ReLU"), Act: layers.ActReLU6},
		&layers.Pool2D{Info: info("mp", "MaxPooling2D"), Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, Pad: layers.PadSame}, Max: true},
		conv("c2", 8, 6, 3, 2, layers.PadValid, layers.ActReLU),
		&layers.Pool2D{Info: info("ap", "AveragePooling2D"), Window: layers.Window{KH: 2, KW: 2, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame}},
		&layers.Reshape{Info: info("flat", "Flatten"), Target: layers.Shape{-1}},
		dense("out", 54, 4, layers.Activation{Kind: layers.Sigmoid}))
	add("cnn_gap", layers.Shape{9, 9, 4},
		&layers.Permute{Info: info("p", "Permute"), Perm: []int{1, 0, 2}},
		&layers.Conv2D{Info: info("dw", "DepthwiseConv2D"), Window: layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 2, DW: 2, Pad: layers.PadValid},
			In: 4, Filters: 8, Groups: 4, W: randSlice(r, 9*8, 0.3), Act: layers.Activation{Kind: layers.Elu, Alpha: 1}},
		&layers.GlobalPool2D{Info: info("gap", "GlobalAveragePooling2D")},
		dense("out", 8, 3, layers.ActLinear))
	lstm := func(name string, in, u int, seq, back bool) *layers.LSTM {
		return &layers.LSTM{Info: info(name, "LSTM"), In: in, Units: u, W: randSlice(r, in*4*u, 0.4), U: randSlice(r, u*4*u, 0.4), B: randSlice(r, 4*u, 0.2),
			Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}, ReturnSequences: seq, GoBackwards: back}
	}
	bwd := lstm("bwd", 6, 5, true, true)
	bwd.KeepTimeOrder = true
	add("lstm", layers.Shape{7, 6},
		lstm("l1", 6, 9, true, false),
		dense("td", 9, 6, layers.Activation{Kind: layers.Swish}),
		&layers.Bidirectional{Info: info("bi", "Bidirectional"), Fwd: lstm("fwd", 6, 5, true, false), Bwd: bwd, Merge: "concat"},
		lstm("l2", 10, 8, false, true),
		dense("out", 8, 2, layers.ActLinear))
	gru := func(name string, in, u int, after, seq, back bool) *layers.GRU {
		l := &layers.GRU{Info: info(name, "GRU"), In: in, Units: u, W: randSlice(r, in*3*u, 0.4), U: randSlice(r, u*3*u, 0.4), B: randSlice(r, 3*u, 0.2),
			Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}, ResetAfter: after,
			ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: back && seq}
		if after {
			l.RB = randSlice(r, 3*u, 0.2)
		}
		return l
	}
	rnn := func(name string, in, u int, act layers.Activation, seq, back bool) *layers.SimpleRNN {
		return &layers.SimpleRNN{Info: info(name, "SimpleRNN"), In: in, Units: u, W: randSlice(r, in*u, 0.4), U: randSlice(r, u*u, 0.4), B: randSlice(r, u, 0.2),
			Act: act, ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: back && seq}
	}
	add("gru_rnn", layers.Shape{6, 5},
		gru("g1", 5, 9, true, true, false),
		&layers.Bidirectional{Info: info("bg", "Bidirectional"), Fwd: gru("gf", 9, 7, false, true, false), Bwd: gru("gb", 9, 7, false, true, true), Merge: "sum"},
		rnn("r1", 7, 6, layers.ActReLU, true, true),
		&layers.Bidirectional{Info: info("br", "Bidirectional"), Fwd: rnn("rf", 6, 4, layers.Activation{Kind: layers.Tanh}, true, false),
			Bwd: rnn("rb", 6, 4, layers.Activation{Kind: layers.Tanh}, true, true), Merge: "concat"},
		gru("g2", 8, 40, false, true, false), // wider than the whole-sequence kernels: GEMM per step
		rnn("r2", 40, 36, layers.Activation{Kind: layers.Softsign}, false, false),
		dense("out", 36, 2, layers.ActLinear))
	return gs
}

func isas() []asm.ISA { return asm.Paths() }

// closeTo reports the first element where |got-want| > atol + rtol*|want|.
func closeTo(got, want []float32, atol, rtol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > atol+rtol*math.Abs(w) {
			return fmt.Errorf("element %d: got %g, want %g", i, g, w)
		}
	}
	return nil
}

func TestRunMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for name, g := range testGraphs(t) {
		for _, isa := range isas() {
			for _, mb := range []int{1, 3, 64} {
				m, err := Compile(g, Options{MaxBatch: mb, ISA: isa.String()})
				if err != nil {
					t.Fatal(err)
				}
				for _, batch := range []int{1, 2, 5} {
					x := randSlice(r, batch*g.Input().Size(), 1)
					want, err := g.Reference(x, batch)
					if err != nil {
						t.Fatal(err)
					}
					got, err := m.Run(x, batch)
					if err != nil {
						t.Fatal(err)
					}
					// Fast kernels reorder sums and use polynomial transcendentals.
					if err := closeTo(got, want, 1e-5, 1e-4); err != nil {
						t.Errorf("%s isa=%v maxbatch=%d batch=%d: %v", name, isa, mb, batch, err)
					}
				}
			}
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	for name, g := range testGraphs(t) {
		for _, isa := range isas() {
			for _, threads := range []int{1, 3} {
				m, err := Compile(g, Options{MaxBatch: 4, ISA: isa.String(), Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				for _, batch := range []int{1, 4, 9, 64} {
					x := make([]float32, batch*g.Input().Size())
					y := make([]float32, batch*g.Output().Size())
					if err := m.RunInto(y, x, batch); err != nil {
						t.Fatal(err)
					}
					if n := testing.AllocsPerRun(20, func() { _ = m.RunInto(y, x, batch) }); n != 0 {
						t.Errorf("%s isa=%v threads=%d batch=%d: %v allocations per RunInto", name, isa, threads, batch, n)
					}
				}
			}
		}
	}
}

func TestConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for name, g := range testGraphs(t) {
		m, err := Compile(g, Options{MaxBatch: 2})
		if err != nil {
			t.Fatal(err)
		}
		const workers = 32
		xs := make([][]float32, workers)
		wants := make([][]float32, workers)
		for i := range xs {
			batch := 1 + i%3
			xs[i] = randSlice(r, batch*g.Input().Size(), 1)
			wants[i], _ = m.Run(xs[i], batch)
		}
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for i := 0; i < workers; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				batch := 1 + i%3
				y := make([]float32, len(wants[i]))
				for rep := 0; rep < 20; rep++ {
					if err := m.RunInto(y, xs[i], batch); err != nil {
						errs <- err
						return
					}
					for j := range y {
						if y[j] != wants[i][j] {
							errs <- fmt.Errorf("%s worker %d rep %d: output %d = %g, want %g", name, i, rep, j, y[j], wants[i][j])
							return
						}
					}
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

func TestRunErrors(t *testing.T) {
	g := testGraphs(t)["mlp"]
	m, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Run(make([]float32, 12), 1); !errors.Is(err, layers.ErrShapeMismatch) {
		t.Errorf("short input: %v", err)
	}
	if err := m.RunInto(make([]float32, 4), make([]float32, 13), 1); !errors.Is(err, layers.ErrShapeMismatch) {
		t.Errorf("short output: %v", err)
	}
	if _, err := m.Run(nil, 0); err == nil {
		t.Error("batch 0 accepted")
	}
	if _, err := Compile(g, Options{ISA: "sparc"}); err == nil {
		t.Error("unknown ISA accepted")
	}
	if _, err := Compile(g, Options{MaxBatch: -1}); err == nil {
		t.Error("negative MaxBatch accepted")
	}
}

// TestPlanNoOverlap checks that buffers live at the same time never share memory.
func TestPlanNoOverlap(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 200; trial++ {
		n := 1 + r.IntN(12)
		bufs := make([]buffer, n)
		for i := range bufs {
			f := r.IntN(10)
			bufs[i] = buffer{size: 1 + r.IntN(100), first: f, last: f + r.IntN(4)}
		}
		total := plan(bufs)
		for i := range bufs {
			a := bufs[i]
			if a.off < 0 || a.off+a.size > total || a.off%arenaAlign != 0 {
				t.Fatalf("buffer %d placed at %d size %d, arena %d", i, a.off, a.size, total)
			}
			for j := i + 1; j < n; j++ {
				b := bufs[j]
				live := a.first <= b.last && b.first <= a.last
				mem := a.off < b.off+b.size && b.off < a.off+a.size
				if live && mem {
					t.Fatalf("buffers %v and %v overlap", a, b)
				}
			}
		}
	}
}

func TestArenaSmallerThanNaive(t *testing.T) {
	g := testGraphs(t)["cnn"]
	m, err := Compile(g, Options{MaxBatch: 1, ISA: "generic"})
	if err != nil {
		t.Fatal(err)
	}
	naive := g.Input().Size()
	for i := 0; i < g.Len(); i++ {
		naive += g.OutShape(i).Size()
	}
	if m.ArenaBytes() >= int64(naive)*4 {
		t.Errorf("arena %d bytes, naive sum of buffers %d bytes", m.ArenaBytes(), naive*4)
	}
}

func BenchmarkModels(b *testing.B) {
	for name, g := range testGraphs(b) {
		for _, isa := range isas() {
			for _, batch := range []int{1, 32} {
				m, err := Compile(g, Options{MaxBatch: batch, ISA: isa.String()})
				if err != nil {
					b.Fatal(err)
				}
				x := make([]float32, batch*g.Input().Size())
				y := make([]float32, batch*g.Output().Size())
				b.Run(fmt.Sprintf("%s/%v/batch%d", name, isa, batch), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						_ = m.RunInto(y, x, batch)
					}
				})
			}
		}
	}
}

func TestThreadsMatchSerial(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for name, g := range testGraphs(t) {
		serial, err := Compile(g, Options{MaxBatch: 4})
		if err != nil {
			t.Fatal(err)
		}
		par, err := Compile(g, Options{MaxBatch: 4, Threads: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{1, 2, 7, 13} {
			x := randSlice(r, batch*g.Input().Size(), 1)
			a, _ := serial.Run(x, batch)
			b, _ := par.Run(x, batch)
			if err := closeTo(b, a, 0, 0); err != nil {
				t.Errorf("%s batch %d: %v", name, batch, err)
			}
		}
	}
}

func TestFusion(t *testing.T) {
	g := testGraphs(t)["cnn"]
	m, err := Compile(g, Options{ISA: "generic"})
	if err != nil {
		t.Fatal(err)
	}
	ks := m.Kernels()
	if len(ks) != g.Len() {
		t.Fatalf("%d kernel names for %d layers", len(ks), g.Len())
	}
	// c1 (linear conv) absorbs the batch norm and the ReLU6 after it.
	if ks[3] != "fused into c1" || ks[4] != "fused into c1" {
		t.Errorf("kernels %q: batch norm and relu not fused into c1", ks)
	}
	if len(m.steps) != g.Len()-2 {
		t.Errorf("%d steps, want %d", len(m.steps), g.Len()-2)
	}
}

// TestOutDirect checks the last step writing straight into the caller's dst: results
// bit for bit those of the arena path (outDirect off), nothing written past dst, and dst
// aliasing src allowed. It also covers a graph ending in an in-place step (no outDirect).
func TestOutDirect(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	gs := testGraphs(t)
	sq, err := layers.NewGraph(layers.Shape{6}, []layers.Layer{
		&layers.Dense{Info: info("d", "Dense"), In: 6, Units: 6, W: randSlice(r, 36, 0.3), B: randSlice(r, 6, 0.1)},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gs["square_dense"] = sq
	view, err := layers.NewGraph(layers.Shape{2, 3}, []layers.Layer{
		&layers.Dense{Info: info("d", "Dense"), In: 3, Units: 3, W: randSlice(r, 9, 0.3), B: randSlice(r, 3, 0.1)},
		&layers.Reshape{Info: info("flat", "Flatten"), Target: layers.Shape{-1}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	gs["ends_in_view"] = view
	for name, g := range gs {
		for _, isa := range isas() {
			for _, mb := range []int{1, 3, 64} {
				m, err := Compile(g, Options{MaxBatch: mb, ISA: isa.String()})
				if err != nil {
					t.Fatal(err)
				}
				if name == "ends_in_view" && m.outDirect {
					t.Fatalf("%s: outDirect with an in-place last step", name)
				}
				if name == "mlp" && !m.outDirect {
					t.Fatalf("%s: no outDirect", name)
				}
				off, err := Compile(g, Options{MaxBatch: mb, ISA: isa.String()})
				if err != nil {
					t.Fatal(err)
				}
				off.outDirect = false
				for _, batch := range []int{1, 2, 5} {
					x := randSlice(r, batch*g.Input().Size(), 1)
					want, err := off.Run(x, batch)
					if err != nil {
						t.Fatal(err)
					}
					got := make([]float32, len(want)+9)
					for i := range got {
						got[i] = -777
					}
					if err := m.RunInto(got[:len(want)], x, batch); err != nil {
						t.Fatal(err)
					}
					if err := closeTo(got[:len(want)], want, 0, 0); err != nil {
						t.Errorf("%s isa=%v maxbatch=%d batch=%d: %v", name, isa, mb, batch, err)
					}
					for i := len(want); i < len(got); i++ {
						if got[i] != -777 {
							t.Fatalf("%s isa=%v: wrote past dst", name, isa)
						}
					}
					if len(x) == len(want) {
						buf := append([]float32(nil), x...)
						if err := m.RunInto(buf, buf, batch); err != nil {
							t.Fatal(err)
						}
						if err := closeTo(buf, want, 0, 0); err != nil {
							t.Errorf("%s isa=%v batch=%d: dst aliasing src: %v", name, isa, batch, err)
						}
					}
				}
			}
		}
	}
}
