package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// splitGraphs are models whose steps are large enough to split: Dense layers with column
// counts that are not multiples of the split alignment (including a last block of at
// most 8 columns), activations fused and not, wide LSTMs (forwards, backwards, with and
// without sequences, kept time order), and convolutions of every fast kind.
func splitGraphs(t testing.TB) map[string]*layers.Graph {
	r := rand.New(rand.NewPCG(21, 22))
	gs := map[string]*layers.Graph{}
	add := func(name string, in layers.Shape, ls ...layers.Layer) {
		g, err := layers.NewGraph(in, ls, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gs[name] = g
	}
	dense := func(name string, in, out int, act layers.Activation) *layers.Dense {
		return &layers.Dense{Info: info(name, "Dense"), In: in, Units: out, W: randSlice(r, in*out, 0.1), B: randSlice(r, out, 0.1), Act: act}
	}
	add("wide_mlp", layers.Shape{300},
		dense("d1", 300, 520, layers.ActReLU), // 520 = 16*32 + 8: the short block joins the one before
		dense("d2", 520, 200, layers.Activation{Kind: layers.Tanh}),
		dense("d3", 200, 37, layers.Activation{Kind: layers.Softmax}))
	lstm := func(name string, in, u int, seq, back bool) *layers.LSTM {
		return &layers.LSTM{Info: info(name, "LSTM"), In: in, Units: u, W: randSlice(r, in*4*u, 0.2), U: randSlice(r, u*4*u, 0.2), B: randSlice(r, 4*u, 0.2),
			Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}, ReturnSequences: seq, GoBackwards: back}
	}
	back := lstm("l2", 72, 100, true, true)
	back.KeepTimeOrder = true
	hard := lstm("l3", 100, 130, false, false)
	hard.RecAct = layers.Activation{Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}
	add("wide_lstm", layers.Shape{9, 20},
		lstm("l1", 20, 72, true, false),
		back,
		hard,
		dense("out", 130, 3, layers.ActLinear))
	// small LSTMs (whole-sequence kernels): split by samples, with the projection in the
	// step loop (6 units), by a GEMM first (20 units, then a Dense fused on its h rows),
	// and backwards with hard-sigmoid gates
	add("small_lstm_x", layers.Shape{9, 5}, lstm("s1", 5, 6, false, false), dense("out", 6, 3, layers.ActLinear))
	small := lstm("s2", 40, 20, true, true)
	small.RecAct = layers.Activation{Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}
	add("small_lstm_seq", layers.Shape{11, 40}, small, dense("out", 20, 4, layers.ActLinear))
	// GRU and SimpleRNN: split by samples, whole-sequence kernels (few units) and the
	// per-step GEMM path (more than the whole-sequence bound)
	gru := func(name string, in, u int, seq, back, after bool) *layers.GRU {
		g := &layers.GRU{Info: info(name, "GRU"), In: in, Units: u, W: randSlice(r, in*3*u, 0.2), U: randSlice(r, u*3*u, 0.2), B: randSlice(r, 3*u, 0.2),
			Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}, ResetAfter: after, ReturnSequences: seq, GoBackwards: back}
		if after {
			g.RB = randSlice(r, 3*u, 0.2)
		}
		return g
	}
	rnn := func(name string, in, u int, seq, back bool) *layers.SimpleRNN {
		return &layers.SimpleRNN{Info: info(name, "SimpleRNN"), In: in, Units: u, W: randSlice(r, in*u, 0.2), U: randSlice(r, u*u, 0.2), B: randSlice(r, u, 0.2),
			Act: layers.Activation{Kind: layers.Tanh}, ReturnSequences: seq, GoBackwards: back}
	}
	add("gru_small", layers.Shape{8, 6}, gru("q1", 6, 10, true, false, true), dense("mid", 10, 7, layers.ActLinear), gru("q2", 7, 12, false, true, false),
		dense("out", 12, 3, layers.ActLinear))
	add("gru_wide", layers.Shape{7, 20}, gru("q1", 20, 70, true, true, true), gru("q2", 70, 66, false, false, false), dense("out", 66, 3, layers.ActLinear))
	add("rnn", layers.Shape{9, 5}, rnn("r1", 5, 12, true, false), rnn("r2", 12, 80, false, true), dense("out", 80, 3, layers.ActLinear))
	// Bidirectional: over GRUs (two kernels: directions as two tasks at batch 1), over
	// small LSTMs (the pair kernel) and wide LSTMs (two kernels), merges of every kind
	bi := func(name, merge string, f, b layers.Recurrent) *layers.Bidirectional {
		switch q := b.(type) { // a backward direction keeps the time order
		case *layers.GRU:
			q.KeepTimeOrder = true
		case *layers.LSTM:
			q.KeepTimeOrder = true
		case *layers.SimpleRNN:
			q.KeepTimeOrder = true
		}
		return &layers.Bidirectional{Info: info(name, "Bidirectional"), Fwd: f, Bwd: b, Merge: merge}
	}
	add("bi_gru", layers.Shape{10, 6},
		bi("b1", "concat", gru("f", 6, 12, true, false, true), gru("b", 6, 12, true, true, true)),
		bi("b2", "sum", gru("f2", 24, 40, false, false, false), gru("b2", 24, 40, false, true, false)),
		dense("out", 40, 3, layers.ActLinear))
	add("bi_lstm", layers.Shape{9, 7},
		bi("b1", "ave", lstm("f", 7, 12, true, false), lstm("b", 7, 12, true, true)),
		bi("b2", "concat", lstm("f2", 12, 70, false, false), lstm("b2", 12, 70, false, true)),
		dense("out", 140, 3, layers.ActLinear))
	add("bi_rnn", layers.Shape{8, 5}, bi("b1", "mul", rnn("f", 5, 20, false, false), rnn("b", 5, 20, false, true)), dense("out", 20, 2, layers.ActLinear))
	// two small LSTMs as one wavefront step (lstmStack), and two in-loop-projecting
	// ones chained on their h rows (seqChain: the second runs backwards)
	add("stack_lstm", layers.Shape{12, 8}, lstm("k1", 8, 16, true, false), lstm("k2", 16, 12, false, false), dense("out", 12, 3, layers.ActLinear))
	add("chain_lstm", layers.Shape{10, 5}, lstm("c1", 5, 6, true, false), lstm("c2", 6, 7, false, true), dense("out", 7, 3, layers.ActLinear))
	gen := lstm("g1", 16, 66, false, false) // per-element gates in Go (not the fused step)
	gen.RecAct = layers.Activation{Kind: layers.Tanh}
	add("lstm_go_gates", layers.Shape{5, 16}, gen, dense("out", 66, 2, layers.ActLinear))
	dw := func(name string, c, m, k, s, d int, pad layers.Padding, act layers.Activation) *layers.Conv2D {
		return &layers.Conv2D{Info: info(name, "DepthwiseConv2D"), Window: layers.Window{KH: k, KW: k, SH: s, SW: s, DH: d, DW: d, Pad: pad},
			In: c, Filters: c * m, Groups: c, W: randSlice(r, k*k*c*m, 0.3), B: randSlice(r, c*m, 0.1), Act: act}
	}
	win := func(k, s int, pad layers.Padding) layers.Window {
		return layers.Window{KH: k, KW: k, SH: s, SW: s, DH: 1, DW: 1, Pad: pad}
	}
	// depthwise (row splits of every sample, and per sample after the multiplier's
	// expansion) and pooling (tap-list, whole-map and per-pixel paths, split by rows)
	add("wide_dw", layers.Shape{23, 17, 37},
		dw("dw1", 37, 1, 3, 1, 1, layers.PadSame, layers.ActReLU6),
		dw("dw2", 37, 2, 3, 2, 1, layers.PadSame, layers.Activation{Kind: layers.Swish}), // 12x9x74
		&layers.Pool2D{Info: info("ap", "AveragePooling2D"), Window: win(3, 1, layers.PadSame)},
		dw("dw3", 74, 1, 5, 1, 2, layers.PadSame, layers.ActLinear),
		&layers.Pool2D{Info: info("mp", "MaxPooling2D"), Window: win(3, 2, layers.PadSame), Max: true}, // 6x5
		dw("dw4", 74, 1, 3, 1, 1, layers.PadValid, layers.ActReLU),
		&layers.Reshape{Info: info("flat", "Flatten"), Target: layers.Shape{-1}},
		dense("out", 4*3*74, 5, layers.ActLinear))
	add("wide_pool", layers.Shape{26, 24, 16},
		&layers.Pool2D{Info: info("mp1", "MaxPooling2D"), Window: win(2, 2, layers.PadValid), Max: true}, // whole map
		&layers.Pool2D{Info: info("ap1", "AveragePooling2D"), Window: win(2, 1, layers.PadValid)},
		&layers.Reshape{Info: info("flat", "Flatten"), Target: layers.Shape{-1}},
		dense("out", 12*11*16, 3, layers.ActLinear))
	conv := func(name string, cin, cout, k, s, d int, pad layers.Padding, act layers.Activation) *layers.Conv2D {
		return &layers.Conv2D{Info: info(name, "Conv2D"), Window: layers.Window{KH: k, KW: k, SH: s, SW: s, DH: d, DW: d, Pad: pad},
			In: cin, Filters: cout, Groups: 1, W: randSlice(r, k*k*cin*cout, 0.1), B: randSlice(r, cout, 0.1), Act: act}
	}
	add("wide_cnn", layers.Shape{21, 19, 16},
		conv("wino4", 16, 32, 3, 1, 1, layers.PadSame, layers.ActReLU),                         // F(4x4), 21x19: not a multiple of 4
		conv("gather", 32, 24, 3, 2, 1, layers.PadValid, layers.Activation{Kind: layers.Tanh}), // im2col gather, 10x9
		conv("pw", 24, 40, 1, 1, 1, layers.PadValid, layers.ActReLU),                           // 1x1: plain GEMM
		conv("dil", 40, 16, 3, 1, 2, layers.PadSame, layers.ActLinear),                         // dilated im2col
		&layers.Pool2D{Info: info("mp", "MaxPooling2D"), Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, Pad: layers.PadValid}, Max: true},
		conv("wino2", 16, 16, 3, 1, 1, layers.PadSame, layers.ActReLU), // 5x4: F(2x2)
		&layers.Reshape{Info: info("flat", "Flatten"), Target: layers.Shape{-1}},
		dense("out", 5*4*16, 7, layers.ActLinear))
	c3 := func(name string, cin, cout, k, s, d int, pad layers.Padding, act layers.Activation) *layers.Conv3D {
		return &layers.Conv3D{Info: info(name, "Conv3D"), Window3D: layers.Window3D{KD: k, KH: k, KW: k, SD: s, SH: s, SW: s, DD: d, DH: d, DW: d, Pad: pad},
			In: cin, Filters: cout, Groups: 1, W: randSlice(r, k*k*k*cin*cout, 0.1), B: randSlice(r, cout, 0.1), Act: act}
	}
	add("wide_conv3d", layers.Shape{6, 13, 11, 4},
		c3("c1", 4, 24, 3, 1, 1, layers.PadSame, layers.ActReLU),                         // im2col gather, several chunks
		c3("pw", 24, 40, 1, 1, 1, layers.PadValid, layers.Activation{Kind: layers.Tanh}), // 1x1x1: plain GEMM
		&layers.Pool3D{Info: info("mp", "MaxPooling3D"), Window3D: layers.Window3D{KD: 2, KH: 2, KW: 2, SD: 2, SH: 2, SW: 2, DD: 1, DH: 1, DW: 1}, Max: true},
		c3("dil", 40, 16, 2, 1, 2, layers.PadSame, layers.ActLinear),
		&layers.GlobalPool3D{Info: info("gap", "GlobalAveragePooling3D")},
		dense("out", 16, 5, layers.ActLinear))
	return gs
}

// withSplitAll runs f with every step large enough to split.
func withSplitAll(f func()) {
	old, oldSeq, oldStep := parMinFLOPs, seqParMinSteps, lstmStepSplit
	parMinFLOPs, seqParMinSteps, lstmStepSplit = 0, 0, true
	defer func() { parMinFLOPs, seqParMinSteps, lstmStepSplit = old, oldSeq, oldStep }()
	f()
}

// TestSplitBitIdentical: every thread count, with batch splits and with intra-op splits
// of every step, gives the one-thread output bit for bit, on every kernel path.
func TestSplitBitIdentical(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	withSplitAll(func() {
		for name, g := range splitGraphs(t) {
			for _, isa := range isas() {
				serial, err := Compile(g, Options{MaxBatch: 16, ISA: isa.String()})
				if err != nil {
					t.Fatal(err)
				}
				for _, batch := range []int{1, 2, 5, 37} {
					x := randSlice(r, batch*g.Input().Size(), 1)
					want, _ := serial.Run(x, batch)
					for _, threads := range []int{2, 3, 4} {
						for _, intra := range []bool{false, true} {
							m, err := Compile(g, Options{MaxBatch: 16, ISA: isa.String(), Threads: threads})
							if err != nil {
								t.Fatal(err)
							}
							m.batchSplit = !intra
							got, _ := m.Run(x, batch)
							if err := closeTo(got, want, 0, 0); err != nil {
								t.Errorf("%s %v batch %d threads %d intra %v: %v", name, isa, batch, threads, intra, err)
							}
						}
					}
				}
			}
		}
	})
}

// TestSplitZeroAllocs: a call that splits steps across the team allocates nothing.
func TestSplitZeroAllocs(t *testing.T) {
	withSplitAll(func() {
		for name, g := range splitGraphs(t) {
			for _, threads := range []int{2, 4} {
				for _, intra := range []bool{false, true} {
					m, err := Compile(g, Options{MaxBatch: 8, Threads: threads})
					if err != nil {
						t.Fatal(err)
					}
					m.batchSplit = !intra
					for _, batch := range []int{1, 8, 19} {
						x := make([]float32, batch*g.Input().Size())
						y := make([]float32, batch*g.Output().Size())
						_ = m.RunInto(y, x, batch)
						if n := testing.AllocsPerRun(20, func() { _ = m.RunInto(y, x, batch) }); n != 0 {
							t.Errorf("%s threads %d intra %v batch %d: %v allocations per call", name, threads, intra, batch, n)
						}
					}
				}
			}
		}
	})
}

// TestSplitConcurrent: 64 goroutines share one threaded Model (one of them at a time
// holds the team, the others run alone); every output matches one thread bit for bit.
// Run under -race, it also checks the team's hand-offs.
func TestSplitConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	withSplitAll(func() {
		for name, g := range splitGraphs(t) {
			serial, _ := Compile(g, Options{MaxBatch: 4})
			m, err := Compile(g, Options{MaxBatch: 4, Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			const callers = 64
			xs, wants := make([][]float32, callers), make([][]float32, callers)
			for i := range xs {
				batch := 1 + i%5
				xs[i] = randSlice(r, batch*g.Input().Size(), 1)
				wants[i], _ = serial.Run(xs[i], batch)
			}
			var wg sync.WaitGroup
			errs := make(chan error, callers)
			for i := 0; i < callers; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					batch := 1 + i%5
					y := make([]float32, len(wants[i]))
					for rep := 0; rep < 5; rep++ {
						if err := m.RunInto(y, xs[i], batch); err != nil {
							errs <- err
							return
						}
						if err := closeTo(y, wants[i], 0, 0); err != nil {
							errs <- fmt.Errorf("%s caller %d rep %d: %v", name, i, rep, err)
							return
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
	})
}

// panicky is a region whose task 1 panics; the others record that they ran.
type panicky struct{ ran []int }

func (p *panicky) parTask(_ *region, i, _ int) {
	if i == 1 {
		panic("task 1")
	}
	p.ran[i]++
}

// counter counts its tasks.
type counter struct{ ran []int }

func (c *counter) parTask(_ *region, i, _ int) { c.ran[i]++ }

// TestTeamPanic: a panicking task is re-raised on the caller after every other task has
// run, and the team keeps working afterwards.
func TestTeamPanic(t *testing.T) {
	tm := newTeam(3)
	defer tm.stop()
	p := &panicky{ran: make([]int, 8)}
	func() {
		defer func() {
			if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "task 1") {
				t.Errorf("recovered %v, want the task's panic", v)
			}
		}()
		tm.runTasks(p, 8, nil, nil, nil, 0, 0, 0)
	}()
	for i, n := range p.ran {
		if i != 1 && n != 1 {
			t.Errorf("task %d ran %d times", i, n)
		}
	}
	c := &counter{ran: make([]int, 100)}
	for rep := 0; rep < 50; rep++ {
		tm.runTasks(c, 100, nil, nil, nil, 0, 0, 0)
	}
	for i, n := range c.ran {
		if n != 50 {
			t.Fatalf("task %d ran %d times in 50 regions", i, n)
		}
	}
}

// TestTeamWithoutHelpers: a region completes on the caller alone when no helper takes a
// task (helpers stopped, as when they are descheduled or gone).
func TestTeamWithoutHelpers(t *testing.T) {
	tm := newTeam(4)
	tm.stop()
	c := &counter{ran: make([]int, 10)}
	tm.runTasks(c, 10, nil, nil, nil, 0, 0, 0)
	for i, n := range c.ran {
		if n != 1 {
			t.Errorf("task %d ran %d times", i, n)
		}
	}
}

// TestColSpan: the column parts of a split GEMM tile [0, n) and, past the first 32,
// none is at most 8 columns wide.
func TestColSpan(t *testing.T) {
	for n := 1; n < 700; n++ {
		for tasks := 1; tasks <= max(1, n/(2*gemmColAlign)); tasks++ {
			at := 0
			for i := 0; i < tasks; i++ {
				lo, hi := colSpan(n, tasks, i)
				if lo != at || hi < lo || lo%gemmColAlign != 0 {
					t.Fatalf("n=%d tasks=%d part %d = [%d,%d), want start %d aligned", n, tasks, i, lo, hi, at)
				}
				if n > 8 && hi-lo <= 8 {
					t.Fatalf("n=%d tasks=%d part %d = [%d,%d): narrow", n, tasks, i, lo, hi)
				}
				at = hi
			}
			if at != n {
				t.Fatalf("n=%d tasks=%d: parts end at %d", n, tasks, at)
			}
		}
	}
}

// TestHelpersPark: after a call, helpers stop spinning within a few spin periods (they
// park on their channel instead of holding a core).
func TestHelpersPark(t *testing.T) {
	tm := newTeam(3)
	defer tm.stop()
	c := &counter{ran: make([]int, 4)}
	tm.runTasks(c, 4, nil, nil, nil, 0, 0, 0)
	deadline := time.Now().Add(2 * time.Second)
	for {
		parked := 0
		for _, h := range tm.helpers {
			if h.sleeping.Load() {
				parked++
			}
		}
		if parked == len(tm.helpers) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d helpers parked 2 s after the last region", parked, len(tm.helpers))
		}
		time.Sleep(time.Millisecond)
	}
	// and a parked team still runs regions
	tm.runTasks(c, 4, nil, nil, nil, 0, 0, 0)
	for i, n := range c.ran {
		if n != 2 {
			t.Errorf("task %d ran %d times", i, n)
		}
	}
}

// TestSplitMulti: RunMultiInto on a two-input, two-output DAG with wide Dense branches
// splits its steps with the same bits as one thread and allocates nothing.
func TestSplitMulti(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	dense := func(name string, in, out int) *layers.Dense {
		return &layers.Dense{Info: info(name, "Dense"), In: in, Units: out, W: randSlice(r, in*out, 0.1), B: randSlice(r, out, 0.1), Act: layers.ActReLU}
	}
	b := layers.NewBuilder()
	x := b.Input("x", layers.Shape{200}, layers.Float32)
	z := b.Input("z", layers.Shape{200}, layers.Float32)
	hx := b.Node(dense("dx", 200, 300), x)
	hz := b.Node(dense("dz", 200, 300), z)
	sum := b.Node(&layers.Merge{Info: info("add", "Add"), Op: layers.MergeAdd}, hx, hz)
	o1 := b.Node(dense("o1", 300, 130), sum)
	o2 := b.Node(dense("o2", 300, 70), hx)
	g, err := b.Build([]layers.Value{o1, o2}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	withSplitAll(func() {
		serial, _ := Compile(g, Options{MaxBatch: 8})
		m, err := Compile(g, Options{MaxBatch: 8, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{1, 3, 8} {
			srcs := [][]float32{randSlice(r, batch*200, 1), randSlice(r, batch*200, 1)}
			want, _ := serial.RunMulti(srcs, batch)
			got, _ := m.RunMulti(srcs, batch)
			for k := range want {
				if err := closeTo(got[k], want[k], 0, 0); err != nil {
					t.Errorf("batch %d output %d: %v", batch, k, err)
				}
			}
			if n := testing.AllocsPerRun(20, func() { _ = m.RunMultiInto(got, srcs, batch) }); n != 0 {
				t.Errorf("batch %d: %v allocations per RunMultiInto", batch, n)
			}
		}
	})
}

// slowHelper is a region whose tasks sleep when a helper runs them (a helper off its
// core) and record which worker ran each.
type slowHelper struct{ by []int }

func (s *slowHelper) parTask(_ *region, i, w int) {
	if w > 0 {
		time.Sleep(3 * time.Millisecond)
	}
	s.by[i] = w
}

// TestTeamBackOff: a region that waited long for a helper makes the following regions
// run on the caller alone (same tasks), until the back-off ends.
func TestTeamBackOff(t *testing.T) {
	tm := newTeam(2)
	defer tm.stop()
	s := &slowHelper{by: make([]int, 64)}
	for rep := 0; rep < 200 && tm.serialUntil.Load() <= now(); rep++ {
		tm.runTasks(s, 64, nil, nil, nil, 0, 0, 0) // until the helper took a task
	}
	if tm.serialUntil.Load() <= now() {
		t.Skip("the helper never took a task (machine too busy)")
	}
	tm.runTasks(s, 64, nil, nil, nil, 0, 0, 0)
	for i, w := range s.by {
		if w != 0 {
			t.Fatalf("task %d ran on worker %d during the back-off", i, w)
		}
	}
}

// needSIMDKernels skips a test of the SIMD kernels' split paths where the default path
// is the generic one (purego builds, KINFER_ISA=generic), which has no such steps.
// recurrentCoverage reports whether the AVX2/AVX-512 whole-sequence recurrent kernels
// are in use, the ones whose every split path the tests below require to see.
func needSIMDKernels(t *testing.T) (recurrentCoverage bool) {
	t.Helper()
	isa, err := pickISA("")
	if err != nil {
		t.Fatal(err)
	}
	if isa == asm.Generic {
		t.Skip("the generic path has no whole-sequence or split recurrent kernels")
	}
	return isa != asm.NEON
}

// TestSeqLSTMWorkerBlocks: every part of a whole-sequence LSTM's sample split, run on
// every worker's c/hs block (the helpers' at the end of the scratch, poisoned with NaN
// beforehand), gives the serial kernel's output bit for bit, whichever goroutine would
// have claimed it.
func TestSeqLSTMWorkerBlocks(t *testing.T) {
	full := needSIMDKernels(t)
	r := rand.New(rand.NewPCG(27, 28))
	gs := splitGraphs(t)
	for _, name := range []string{"small_lstm_x", "small_lstm_seq"} {
		const workers, batch = 3, 7
		m, err := Compile(gs[name], Options{MaxBatch: batch, Threads: workers})
		if err != nil {
			t.Fatal(err)
		}
		var k *fastLSTM
		var s *step
		for i := range m.steps {
			if q, ok := m.steps[i].k.(*fastLSTM); ok && q.seq {
				k, s = q, &m.steps[i]
			}
		}
		if k == nil {
			if !full {
				t.Logf("%s: no whole-sequence LSTM step on this path", name)
				continue
			}
			t.Fatalf("%s: no whole-sequence LSTM step", name)
		}
		src := randSlice(r, batch*s.inPer, 1)
		want := make([]float32, batch*s.outPer)
		k.runSeq(want, src, make([]float32, s.scratchLen), batch)
		for parts := 1; parts <= batch; parts++ {
			sc := make([]float32, s.scratchLen)
			for i := range sc {
				sc[i] = float32(math.NaN())
			}
			got := make([]float32, len(want))
			if !k.inK {
				zx, _, _ := k.seqScratch(sc, batch)
				k.seqProject(zx, src, batch)
			}
			for i := 0; i < parts; i++ {
				k.seqTask(got, src, sc, batch, i, parts, (i+1)%workers)
			}
			if err := closeTo(got, want, 0, 0); err != nil {
				t.Errorf("%s parts %d: %v", name, parts, err)
			}
		}
	}
}

// TestRecurrentWorkerBlocks: every part of a GRU's or SimpleRNN's sample split, run on
// every worker's scratch block (poisoned with NaN beforehand), gives the whole batch's
// output bit for bit; both kernel shapes (whole-sequence and per-step GEMM) are covered.
func TestRecurrentWorkerBlocks(t *testing.T) {
	full := needSIMDKernels(t)
	r := rand.New(rand.NewPCG(29, 30))
	gs := splitGraphs(t)
	kinds := map[string]bool{}
	for _, name := range []string{"gru_small", "gru_wide", "rnn"} {
		const workers, batch = 3, 7
		m, err := Compile(gs[name], Options{MaxBatch: batch, Threads: workers})
		if err != nil {
			t.Fatal(err)
		}
		for si := range m.steps {
			s := &m.steps[si]
			k, ok := s.k.(recKernel)
			if !ok {
				continue
			}
			switch q := k.(type) {
			case *fastGRU:
				kinds[fmt.Sprintf("gru seq=%v", q.seq)] = true
			case *fastRNN:
				kinds[fmt.Sprintf("rnn seq=%v", q.seq)] = true
			}
			src := randSlice(r, batch*s.inPer, 1)
			want := make([]float32, batch*s.outPer)
			k.run(want, src, make([]float32, s.scratchLen), batch)
			for parts := 1; parts <= batch; parts++ {
				sc := make([]float32, s.scratchLen)
				for i := range sc {
					sc[i] = float32(math.NaN())
				}
				got := make([]float32, len(want))
				reg := region{dst: got, src: src, scratch: sc, batch: batch, a: parts, b: scratchPer(sc, workers)}
				for i := 0; i < parts; i++ {
					samplesTask(k, &reg, i, (i+1)%workers)
				}
				if err := closeTo(got, want, 0, 0); err != nil {
					t.Errorf("%s step %d parts %d: %v", name, si, parts, err)
				}
			}
		}
	}
	for _, want := range []string{"gru seq=true", "gru seq=false", "rnn seq=true", "rnn seq=false"} {
		if !kinds[want] && full {
			t.Errorf("no %s step in the test graphs (have %v)", want, kinds)
		}
	}
}

// TestBidirectionalWorkerBlocks: a Bidirectional step's sample parts on every worker's
// scratch block, and its two directions as two tasks at batch 1 (the backward's working
// space in worker 1's block), all on NaN-poisoned scratch, give the serial output bit
// for bit; the two-kernel and pair paths are both covered.
func TestBidirectionalWorkerBlocks(t *testing.T) {
	full := needSIMDKernels(t)
	r := rand.New(rand.NewPCG(31, 32))
	gs := splitGraphs(t)
	kinds, tasks := map[bool]bool{}, map[bool]bool{}
	for _, name := range []string{"bi_gru", "bi_lstm", "bi_rnn"} {
		const workers, batch = 2, 5
		m, err := Compile(gs[name], Options{MaxBatch: batch, Threads: workers})
		if err != nil {
			t.Fatal(err)
		}
		for si := range m.steps {
			s := &m.steps[si]
			k, ok := s.k.(*fastBidirectional)
			if !ok {
				continue
			}
			kinds[k.pair] = true
			tasks[k.directionTasks()] = true
			poisoned := func() []float32 {
				sc := make([]float32, s.scratchLen)
				for i := range sc {
					sc[i] = float32(math.NaN())
				}
				return sc
			}
			for _, b := range []int{1, batch} {
				src := randSlice(r, b*s.inPer, 1)
				want := make([]float32, b*s.outPer)
				k.run(want, src, make([]float32, s.scratchLen), b)
				per := scratchPer(poisoned(), workers)
				for parts := 1; parts <= b; parts++ {
					sc, got := poisoned(), make([]float32, len(want))
					reg := region{dst: got, src: src, scratch: sc, batch: b, a: parts, b: per}
					for i := 0; i < parts; i++ {
						k.parTask(&reg, i, (i+1)%workers)
					}
					if err := closeTo(got, want, 0, 0); err != nil {
						t.Errorf("%s step %d batch %d parts %d: %v", name, si, b, parts, err)
					}
				}
				if !k.directionTasks() {
					continue
				}
				sc, got := poisoned(), make([]float32, len(want))
				reg := region{dst: got, src: src, scratch: sc, batch: b, a: 0, b: per}
				k.parTask(&reg, 1, 1)
				k.parTask(&reg, 0, 0)
				n, u := k.n, k.l.Fwd.Recurrence().Units
				mergeDirections(got, sc[:b*n], sc[b*n:2*b*n], k.l.Merge, b*n, u)
				if err := closeTo(got, want, 0, 0); err != nil {
					t.Errorf("%s step %d batch %d directions as tasks: %v", name, si, b, err)
				}
			}
		}
	}
	if !full {
		return
	}
	if !kinds[true] || !kinds[false] {
		t.Errorf("paths covered (pair: seen): %v, want both", kinds)
	}
	if !tasks[true] {
		t.Errorf("no Bidirectional step ran its directions as two tasks")
	}
}

// TestSplitMultiRecurrent: RunMultiInto on a two-input model (a sequence and its mask)
// with masked LSTMs (the whole-sequence kernel, 12 units, and the GEMM path, 70 units,
// which also splits its steps by gate columns) splits the batch, and every split gives
// one thread's bits with no allocation.
func TestSplitMultiRecurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	const steps, in = 9, 6
	lstm := func(name string, in, u int, seq bool) *layers.LSTM {
		return &layers.LSTM{Info: info(name, "LSTM"), In: in, Units: u, W: randSlice(r, in*4*u, 0.2), U: randSlice(r, u*4*u, 0.2), B: randSlice(r, 4*u, 0.2),
			Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}, ReturnSequences: seq}
	}
	b := layers.NewBuilder()
	x := b.Input("x", layers.Shape{steps, in}, layers.Float32)
	mask := b.Input("mask", layers.Shape{steps}, layers.Float32)
	h1 := b.Node(&layers.Masked{Layer: lstm("m1", in, 12, true)}, x, mask)
	h2 := b.Node(&layers.Masked{Layer: lstm("m2", 12, 70, false)}, h1, mask)
	o := b.Node(&layers.Dense{Info: info("out", "Dense"), In: 70, Units: 3, W: randSlice(r, 210, 0.1), B: randSlice(r, 3, 0.1), Act: layers.ActLinear}, h2)
	g, err := b.Build([]layers.Value{o}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	withSplitAll(func() {
		serial, err := Compile(g, Options{MaxBatch: 8})
		if err != nil {
			t.Fatal(err)
		}
		for _, threads := range []int{2, 3} {
			m, err := Compile(g, Options{MaxBatch: 8, Threads: threads})
			if err != nil {
				t.Fatal(err)
			}
			if !m.batchSplit {
				t.Fatalf("threads %d: a masked recurrent model does not split its batch", threads)
			}
			for _, batch := range []int{1, 2, 7, 19} {
				srcs := [][]float32{randSlice(r, batch*steps*in, 1), maskFor(r, batch, steps)}
				want, _ := serial.RunMulti(srcs, batch)
				got, _ := m.RunMulti(srcs, batch)
				if err := closeTo(got[0], want[0], 0, 0); err != nil {
					t.Errorf("threads %d batch %d: %v", threads, batch, err)
				}
				if n := testing.AllocsPerRun(20, func() { _ = m.RunMultiInto(got, srcs, batch) }); n != 0 {
					t.Errorf("threads %d batch %d: %v allocations per RunMultiInto", threads, batch, n)
				}
			}
		}
	})
}
