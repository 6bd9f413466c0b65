package runtime

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// dagGraphs builds small random DAGs: a residual block, a squeeze-and-excitation block,
// a two-input two-output wide-and-deep model, broadcasting merges, and an input read by
// several nodes.
func dagGraphs(t testing.TB) map[string]*layers.Graph {
	r := rand.New(rand.NewPCG(7, 8))
	gs := map[string]*layers.Graph{}
	conv := func(name string, cin, cout, k int, act layers.Activation) *layers.Conv2D {
		return &layers.Conv2D{Info: info(name, "Conv2D"), Window: layers.Window{KH: k, KW: k, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame},
			In: cin, Filters: cout, Groups: 1, W: randSlice(r, k*k*cin*cout, 0.3), B: randSlice(r, cout, 0.1), Act: act}
	}
	dense := func(name string, in, out int, act layers.Activation) *layers.Dense {
		return &layers.Dense{Info: info(name, "Dense"), In: in, Units: out, W: randSlice(r, in*out, 0.3), B: randSlice(r, out, 0.1), Act: act}
	}
	build := func(name string, b *layers.Builder, outs ...layers.Value) {
		g, err := b.Build(outs, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gs[name] = g
	}
	merge := func(name string, op layers.MergeOp) *layers.Merge {
		return &layers.Merge{Info: info(name, "Merge"), Op: op}
	}
	{ // residual: x + bn(conv(relu(conv(x)))), then relu, pool, dense
		b := layers.NewBuilder()
		x := b.Input("x", layers.Shape{9, 7, 5}, layers.Float32)
		stem := b.Node(conv("stem", 5, 6, 3, layers.ActReLU), x)
		c1 := b.Node(conv("c1", 6, 6, 3, layers.ActReLU), stem)
		c2 := b.Node(conv("c2", 6, 6, 1, layers.ActLinear), c1)
		bn := b.Node(&layers.Affine{Info: info("bn", "BatchNormalization"), Scale: randSlice(r, 6, 1), Shift: randSlice(r, 6, 1)}, c2)
		add := b.Node(merge("add", layers.MergeAdd), stem, bn)
		relu := b.Node(&layers.ActivationLayer{Info: info("relu", "ReLU"), Act: layers.ActReLU}, add)
		gap := b.Node(&layers.GlobalPool2D{Info: info("gap", "GlobalAveragePooling2D")}, relu)
		build("residual", b, b.Node(dense("out", 6, 3, layers.ActLinear), gap))
	}
	{ // squeeze-and-excitation: c * sigmoid(dense(relu(dense(gap(c)))))
		b := layers.NewBuilder()
		x := b.Input("x", layers.Shape{6, 6, 8}, layers.Float32)
		c := b.Node(conv("c", 8, 8, 3, layers.ActLinear), x)
		gap := b.Node(&layers.GlobalPool2D{Info: info("gap", "GlobalAveragePooling2D")}, c)
		d1 := b.Node(dense("sq", 8, 2, layers.ActReLU), gap)
		d2 := b.Node(dense("ex", 2, 8, layers.Activation{Kind: layers.Sigmoid}), d1)
		rs := b.Node(&layers.Reshape{Info: info("rs", "Reshape"), Target: layers.Shape{1, 1, 8}}, d2)
		build("se", b, b.Node(merge("mul", layers.MergeMul), c, rs))
	}
	{ // wide and deep: two inputs, two outputs, concatenate
		b := layers.NewBuilder()
		wide := b.Input("wide", layers.Shape{10}, layers.Float32)
		deep := b.Input("deep", layers.Shape{5}, layers.Float32)
		d1 := b.Node(dense("d1", 5, 16, layers.ActReLU), deep)
		d2 := b.Node(dense("d2", 16, 7, layers.ActReLU), d1)
		cat := b.Node(&layers.Concatenate{Info: info("cat", "Concatenate"), Axis: 0}, wide, d2)
		out := b.Node(dense("out", 17, 1, layers.Activation{Kind: layers.Sigmoid}), cat)
		aux := b.Node(dense("aux", 7, 3, layers.Activation{Kind: layers.Softmax}), d2)
		build("wide_deep", b, out, aux)
	}
	{ // broadcasting merges the channel-vector fast path does not cover
		b := layers.NewBuilder()
		x := b.Input("x", layers.Shape{4, 3, 5}, layers.Float32)
		// (4, 1, 5): a max over the middle axis, broadcast back over it
		col := b.Node(&layers.Pool2D{Info: info("mp", "MaxPooling2D"), Window: layers.Window{KH: 1, KW: 3, SH: 1, SW: 3, DH: 1, DW: 1, Pad: layers.PadValid}, Max: true},
			b.Node(dense("d", 5, 5, layers.ActLinear), x))
		sub := b.Node(merge("sub", layers.MergeSub), x, col)
		mx := b.Node(merge("max", layers.MergeMax), sub, col, x)
		mn := b.Node(merge("min", layers.MergeMin), mx, x)
		avg := b.Node(merge("avg", layers.MergeAvg), mn, x, sub)
		build("broadcast", b, avg, sub)
	}
	{ // the input read by three nodes; a chain prefix that micro-batching may take
		b := layers.NewBuilder()
		x := b.Input("x", layers.Shape{12, 12, 3}, layers.Float32)
		a := b.Node(conv("a", 3, 4, 3, layers.ActReLU), x)
		p := b.Node(&layers.Pool2D{Info: info("mp", "MaxPooling2D"), Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, Pad: layers.PadValid}, Max: true}, a)
		c := b.Node(conv("c", 3, 4, 1, layers.ActLinear), x)
		cp := b.Node(&layers.Pool2D{Info: info("ap", "AveragePooling2D"), Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, Pad: layers.PadValid}}, c)
		s := b.Node(merge("add", layers.MergeAdd), p, cp)
		xs := b.Node(&layers.Affine{Info: info("scale", "Rescaling"), Scale: []float32{0.5}, Shift: []float32{0}}, x)
		gx := b.Node(&layers.GlobalPool2D{Info: info("gx", "GlobalAveragePooling2D")}, xs)
		gs2 := b.Node(&layers.GlobalPool2D{Info: info("gs", "GlobalAveragePooling2D")}, s)
		build("shared_input", b, b.Node(&layers.Concatenate{Info: info("cat", "Concatenate"), Axis: 0}, gx, gs2))
	}
	{ // views (Reshape, Identity) of a value that is read again later or is an output:
		// they cannot share its buffer and must copy
		b := layers.NewBuilder()
		x := b.Input("x", layers.Shape{4, 6}, layers.Float32)
		d := b.Node(dense("d", 6, 6, layers.ActLinear), x)
		rs := b.Node(&layers.Reshape{Info: info("rs", "Reshape"), Target: layers.Shape{24}}, d)
		g2 := b.Node(dense("g", 24, 6, layers.ActLinear), rs)
		add := b.Node(merge("add", layers.MergeAdd), d, g2)
		id := b.Node(&layers.Identity{Info: info("id", "Identity")}, add)
		build("shared_view", b, b.Node(dense("out", 6, 2, layers.ActLinear), id), add)
	}
	return gs
}

func randInputs(r *rand.Rand, g *layers.Graph, batch int) [][]float32 {
	var xs [][]float32
	for _, t := range g.Inputs() {
		xs = append(xs, randSlice(r, batch*t.Shape.Size(), 1))
	}
	return xs
}

func TestDAGMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for name, g := range dagGraphs(t) {
		for _, isa := range isas() {
			for _, mb := range []int{1, 3, 64} {
				m, err := Compile(g, Options{MaxBatch: mb, ISA: isa.String()})
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, batch := range []int{1, 2, 5, 40} {
					xs := randInputs(r, g, batch)
					want, err := g.ReferenceN(xs, batch)
					if err != nil {
						t.Fatal(err)
					}
					got, err := m.RunMulti(xs, batch)
					if err != nil {
						t.Fatal(err)
					}
					for k := range want {
						if err := closeTo(got[k], want[k], 1e-5, 1e-4); err != nil {
							t.Errorf("%s isa=%v maxbatch=%d batch=%d output %d: %v", name, isa, mb, batch, k, err)
						}
					}
					if len(want) == 1 && len(xs) == 1 {
						y, err := m.Run(xs[0], batch)
						if err != nil {
							t.Fatal(err)
						}
						if err := closeTo(y, got[0], 0, 0); err != nil {
							t.Errorf("%s: Run and RunMulti differ: %v", name, err)
						}
					}
				}
			}
		}
	}
}

// TestDAGInputsUntouched: no step writes into a graph input another node still reads
// (in-place steps on shared values would).
func TestDAGZeroAllocsAndConcurrent(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for name, g := range dagGraphs(t) {
		for _, isa := range isas() {
			m, err := Compile(g, Options{MaxBatch: 4, ISA: isa.String()})
			if err != nil {
				t.Fatal(err)
			}
			xs := randInputs(r, g, 9)
			ys, err := m.RunMulti(xs, 9)
			if err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(20, func() { _ = m.RunMultiInto(ys, xs, 9) }); n != 0 {
				t.Errorf("%s isa=%v: %v allocations per RunMultiInto", name, isa, n)
			}
			var wg sync.WaitGroup
			for w := 0; w < 16; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := m.RunMulti(xs, 9)
					if err != nil {
						t.Error(err)
						return
					}
					for k := range ys {
						if err := closeTo(got[k], ys[k], 0, 0); err != nil {
							t.Errorf("%s isa=%v concurrent output %d: %v", name, isa, k, err)
						}
					}
				}()
			}
			wg.Wait()
		}
	}
}

func TestRunIntoRefusesMultiIO(t *testing.T) {
	g := dagGraphs(t)["wide_deep"]
	m, err := Compile(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RunInto(make([]float32, 1), make([]float32, 10), 1); err == nil {
		t.Fatal("RunInto accepted a two-input model")
	}
	if err := m.RunMultiInto([][]float32{make([]float32, 1), make([]float32, 3)}, [][]float32{make([]float32, 10), make([]float32, 4)}, 1); err == nil {
		t.Fatal("RunMultiInto accepted a short input")
	}
	if n := len(m.Inputs()); n != 2 || len(m.Outputs()) != 2 || m.Outputs()[1].Name != "aux" {
		t.Fatalf("inputs/outputs: %v %v", m.Inputs(), m.Outputs())
	}
}

// TestResidualFused: the residual block's Add and the ReLU after it run in the step of
// the convolution that produces the Add's operand, on every path.
func TestResidualFused(t *testing.T) {
	g := dagGraphs(t)["residual"]
	for _, isa := range isas() {
		m, err := Compile(g, Options{ISA: isa.String()})
		if err != nil {
			t.Fatal(err)
		}
		ks := m.Kernels()
		for i := 0; i < g.Len(); i++ {
			switch g.Layer(i).LayerInfo().Name {
			case "add", "relu", "bn":
				if ks[i] != "fused into c2" {
					t.Errorf("%v: %s runs as %q", isa, g.Layer(i).LayerInfo().Name, ks[i])
				}
			}
		}
	}
}

// BenchmarkResidual compares the residual block with and without fuseResiduals.
func BenchmarkResidual(b *testing.B) {
	bl := layers.NewBuilder()
	r := rand.New(rand.NewPCG(1, 2))
	x := bl.Input("x", layers.Shape{28, 28, 32}, layers.Float32)
	conv := func(name string, in layers.Value, act layers.Activation) layers.Value {
		return bl.Node(&layers.Conv2D{Info: info(name, "Conv2D"), Window: layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame},
			In: 32, Filters: 32, Groups: 1, W: randSlice(r, 9*32*32, 0.1), B: randSlice(r, 32, 0.1), Act: act}, in)
	}
	c1 := conv("c1", x, layers.ActReLU)
	c2 := conv("c2", c1, layers.ActLinear)
	add := bl.Node(&layers.Merge{Info: info("add", "Add"), Op: layers.MergeAdd}, x, c2)
	out := bl.Node(&layers.ActivationLayer{Info: info("relu", "ReLU"), Act: layers.ActReLU}, add)
	g, err := bl.Build([]layers.Value{out}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	saved := graphPasses
	defer func() { graphPasses = saved }()
	for _, fuseOn := range []bool{false, true} {
		graphPasses = saved
		if !fuseOn {
			graphPasses = []graphPass{foldLinear, fuseLSTMStacks}
		}
		m, err := Compile(g, Options{MaxBatch: 1})
		if err != nil {
			b.Fatal(err)
		}
		xs := randSlice(r, g.Input().Size(), 1)
		y := make([]float32, g.Output().Size())
		name := "unfused"
		if fuseOn {
			name = "fused"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				_ = m.RunInto(y, xs, 1)
			}
		})
	}
}
