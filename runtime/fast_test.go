package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

func fastISAs() []asm.ISA {
	var out []asm.ISA
	for _, i := range []asm.ISA{asm.AVX2, asm.AVX512, asm.NEON} {
		if asm.Available(i) {
			out = append(out, i)
		}
	}
	return out
}

func rnd(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func absf(s []float32) []float32 {
	if s == nil {
		return nil
	}
	o := make([]float32, len(s))
	for i, v := range s {
		o[i] = float32(math.Abs(float64(v)))
	}
	return o
}

// absDense / absConv are the layer with |W|, |B| and no activation: on |x| they give
// M = |b| + sum|x*w| per output, the scale of the summation error.
func absDense(l *layers.Dense) layers.Layer {
	return &layers.Dense{In: l.In, Units: l.Units, W: absf(l.W), B: absf(l.B)}
}

func absConv(l *layers.Conv2D) layers.Layer {
	return &layers.Conv2D{Window: l.Window, In: l.In, Filters: l.Filters, Groups: l.Groups, W: absf(l.W), B: absf(l.B)}
}

// checkFast runs the compiled fast kernel and the layer's reference Forward on the same
// random input. Both sum k products in float32 (different order, FMA or not), so each is
// within (k+1)*2^-24*M of the exact sum, M = |b| + sum|x*w|; the activations used here
// are at most 1.2-Lipschitz and the post-GEMM activation kernels add a few ULPs. Bound:
// |got-want| <= 2.4*(k+2)*2^-24*M + 1e-6*|want| + 1e-30.
func checkFast(t *testing.T, l, abs layers.Layer, k int, in layers.Shape, isa asm.ISA, batch int, r *rand.Rand) {
	t.Helper()
	out, err := l.OutputShape(in)
	if err != nil {
		t.Fatal(err)
	}
	c, err := compileLayer(l, in, out, isa, batch)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.k.(refKernel); ok {
		t.Fatalf("%v: compileLayer chose the reference kernel for %T", isa, l)
	}
	src := rnd(r, batch*in.Size())
	want := make([]float32, batch*out.Size())
	l.Forward(want, src, make([]float32, l.ScratchLen(in, batch)), in, batch)
	got := make([]float32, len(want)+8)
	for i := range got {
		got[i] = -777
	}
	c.k.run(got[:len(want)], src, make([]float32, c.scratchLen), batch)
	mag := make([]float32, len(want))
	abs.Forward(mag, absf(src), make([]float32, abs.ScratchLen(in, batch)), in, batch)
	for i, w := range want {
		bound := 2.4*float64(k+2)*0x1p-24*float64(mag[i]) + 1e-6*math.Abs(float64(w)) + 1e-30
		if d := math.Abs(float64(got[i] - w)); !(d <= bound) {
			t.Fatalf("%v %s: out[%d] = %v, want %v (bound %g)", isa, c.name, i, got[i], w, bound)
		}
	}
	for i := len(want); i < len(got); i++ {
		if got[i] != -777 {
			t.Fatalf("%v %s: wrote past the output", isa, c.name)
		}
	}
}

func TestFastDense(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	acts := []layers.Activation{layers.ActLinear, layers.ActReLU, layers.ActReLU6, layers.LeakyReLU(0.2),
		{Kind: layers.Sigmoid}, {Kind: layers.Tanh}, {Kind: layers.Softmax}, {Kind: layers.Gelu}, {Kind: layers.Swish},
		{Kind: layers.GeluTanh}, {Kind: layers.Elu, Alpha: 0.7}, {Kind: layers.Clip, Alpha: -1, Beta: 2}}
	for _, isa := range fastISAs() {
		for _, sz := range [][2]int{{1, 1}, {3, 7}, {64, 10}, {100, 33}, {17, 128}} {
			for ai, act := range acts {
				l := &layers.Dense{In: sz[0], Units: sz[1], W: rnd(r, sz[0]*sz[1]), Act: act}
				if ai%2 == 0 {
					l.B = rnd(r, sz[1])
				}
				for _, batch := range []int{1, 5} {
					t.Run(fmt.Sprintf("%v/%dx%d/%v/b%d", isa, sz[0], sz[1], act, batch), func(t *testing.T) {
						checkFast(t, l, absDense(l), sz[0], layers.Shape{sz[0]}, isa, batch, r)
						checkFast(t, l, absDense(l), sz[0], layers.Shape{3, sz[0]}, isa, batch, r) // rank>2: last axis
					})
				}
			}
		}
	}
}

func TestFastConv(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	type cs struct {
		h, w, c, f int
		win        layers.Window
	}
	cases := []cs{
		{5, 5, 3, 4, layers.Window{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}},
		{8, 7, 3, 16, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame}},
		{9, 9, 5, 17, layers.Window{KH: 3, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, Pad: layers.PadSame}},
		{10, 11, 2, 8, layers.Window{KH: 3, KW: 3, SH: 1, SW: 2, DH: 2, DW: 1}},
		{6, 6, 4, 33, layers.Window{KH: 2, KW: 2, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadExplicit, Pads: [4]int{1, 0, 2, 1}}},
		{4, 4, 8, 8, layers.Window{KH: 1, KW: 1, SH: 2, SW: 2, DH: 1, DW: 1}},
		{40, 40, 16, 32, layers.Window{KH: 5, KW: 5, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame}}, // several im2col chunks
		// im2col runs: 1 channel (inline short runs), dilation along W (tap by tap),
		// padding wider than the kernel reach (whole rows and columns of zeros),
		// rows longer than the inline limit (KW*C > 16), 3 channels stride 2.
		{28, 28, 1, 8, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1}},
		{9, 8, 1, 5, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 2, DW: 2, Pad: layers.PadSame}},
		{7, 6, 2, 3, layers.Window{KH: 3, KW: 4, SH: 2, SW: 3, DH: 1, DW: 3, Pad: layers.PadExplicit, Pads: [4]int{4, 3, 5, 6}}},
		{5, 4, 3, 7, layers.Window{KH: 2, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadExplicit, Pads: [4]int{3, 3, 4, 4}}},
		{6, 9, 7, 4, layers.Window{KH: 2, KW: 5, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame}},
		{32, 32, 3, 16, layers.Window{KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, Pad: layers.PadSame}},
		{1, 1, 1, 1, layers.Window{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame}},
		{3, 2, 1, 2, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame}},
		// padded input too large for the gather path: the tap-range im2col
		{130, 130, 16, 4, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame}},
		{70, 70, 60, 4, layers.Window{KH: 2, KW: 3, SH: 2, SW: 1, DH: 1, DW: 2, Pad: layers.PadExplicit, Pads: [4]int{1, 2, 3, 0}}},
	}
	// grouped and depthwise (groups = channels, depth multiplier 1, 2, 3), run as dense
	groups := map[int]int{len(cases): 2, len(cases) + 1: 4, len(cases) + 2: 4, len(cases) + 3: 5, len(cases) + 4: 3}
	cases = append(cases,
		cs{8, 7, 6, 4, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame}},
		cs{10, 10, 4, 8, layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame}},
		cs{10, 10, 4, 4, layers.Window{KH: 3, KW: 3, SH: 2, SW: 3, DH: 1, DW: 1}},
		cs{9, 6, 5, 15, layers.Window{KH: 2, KW: 3, SH: 1, SW: 1, DH: 2, DW: 1, Pad: layers.PadSame}},
		cs{5, 5, 3, 3, layers.Window{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}},
	)
	for _, isa := range fastISAs() {
		for ci, c := range cases {
			for _, act := range []layers.Activation{layers.ActReLU, {Kind: layers.Elu, Alpha: 1}} {
				g := max(1, groups[ci])
				l := &layers.Conv2D{Window: c.win, In: c.c, Filters: c.f, Groups: g,
					W: rnd(r, c.win.KH*c.win.KW*c.c/g*c.f), B: rnd(r, c.f), Act: act}
				t.Run(fmt.Sprintf("%v/case%d/%v", isa, ci, act), func(t *testing.T) {
					checkFast(t, l, absConv(l), c.win.KH*c.win.KW*c.c/g, layers.Shape{c.h, c.w, c.c}, isa, 2, r)
				})
			}
		}
	}
}

// TestFastLSTM: fast LSTM vs the reference Forward over every flag combination and
// several activation pairs. The
// error compounds over steps through the recurrence; bound |got-want| <= 2e-5*(1+|want|)
// for these <= 12-step sequences with unit-scale weights.
func TestFastLSTM(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	// activation pairs (cell, gate): the fused asm step (sigmoid and both hard sigmoids)
	// and the Go gate pass (vector and scalar activations).
	acts := [][2]layers.Activation{
		{{Kind: layers.Tanh}, {Kind: layers.Sigmoid}},
		{{Kind: layers.Tanh}, {Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}},
		{{Kind: layers.Tanh}, {Kind: layers.HardSigmoid, Alpha: float32(1.0 / 6), Beta: 0.5}},
		{layers.ActReLU, {Kind: layers.Sigmoid}},
		{{Kind: layers.Softsign}, {Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}},
	}
	for _, isa := range fastISAs() {
		for ci, sz := range [][3]int{{1, 1, 1}, {5, 3, 8}, {12, 7, 9}, {4, 16, 33}, {2, 2, 7}, {13, 3, 17}, {3, 5, 16}} {
			steps, in, u := sz[0], sz[1], sz[2]
			for flags := 0; flags < 16*len(acts); flags++ {
				ap := acts[flags/16]
				l := &layers.LSTM{In: in, Units: u, W: rnd(r, in*4*u), U: rnd(r, u*4*u),
					Act: ap[0], RecAct: ap[1],
					ReturnSequences: flags&1 != 0, GoBackwards: flags&2 != 0, KeepTimeOrder: flags&4 != 0}
				for i := range l.U {
					l.U[i] *= 0.3
				}
				if flags&8 != 0 {
					l.B, l.H0, l.C0 = rnd(r, 4*u), rnd(r, u), rnd(r, u)
				}
				shape := layers.Shape{steps, in}
				out, err := l.OutputShape(shape)
				if err != nil {
					t.Fatal(err)
				}
				for _, batch := range []int{1, 3} {
					c, err := compileLayer(l, shape, out, isa, batch)
					if err != nil {
						t.Fatal(err)
					}
					if _, ok := c.k.(refKernel); ok {
						t.Fatalf("reference kernel chosen for LSTM on %v", isa)
					}
					src := rnd(r, batch*shape.Size())
					want := make([]float32, batch*out.Size())
					l.Forward(want, src, make([]float32, l.ScratchLen(shape, batch)), shape, batch)
					got := make([]float32, len(want))
					c.k.run(got, src, make([]float32, c.scratchLen), batch)
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

// TestFastBidirectional: the fast Bidirectional vs the reference Forward for every merge
// mode, with and without sequences, at batch 1 and 3; bound as TestFastLSTM.
func TestFastBidirectional(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 3))
	for _, isa := range fastISAs() {
		for _, merge := range []string{"concat", "sum", "mul", "ave"} {
			for _, seq := range []bool{false, true} {
				for _, rec := range []layers.Activation{{Kind: layers.Sigmoid}, layers.ActReLU} {
					steps, in, u := 6, 3, 9
					mk := func(back bool) *layers.LSTM {
						l := &layers.LSTM{In: in, Units: u, W: rnd(r, in*4*u), U: rnd(r, u*4*u), B: rnd(r, 4*u),
							Act: layers.Activation{Kind: layers.Tanh}, RecAct: rec,
							ReturnSequences: seq, GoBackwards: back, KeepTimeOrder: back}
						for i := range l.U {
							l.U[i] *= 0.3
						}
						return l
					}
					l := &layers.Bidirectional{Fwd: mk(false), Bwd: mk(true), Merge: merge}
					shape := layers.Shape{steps, in}
					out, err := l.OutputShape(shape)
					if err != nil {
						t.Fatal(err)
					}
					for _, batch := range []int{1, 3} {
						c, err := compileLayer(l, shape, out, isa, batch)
						if err != nil {
							t.Fatal(err)
						}
						if _, ok := c.k.(refKernel); ok {
							t.Fatalf("reference kernel chosen for Bidirectional on %v", isa)
						}
						src := rnd(r, batch*shape.Size())
						want := make([]float32, batch*out.Size())
						l.Forward(want, src, make([]float32, l.ScratchLen(shape, batch)), shape, batch)
						got := make([]float32, len(want))
						c.k.run(got, src, make([]float32, c.scratchLen), batch)
						for i := range want {
							if d := math.Abs(float64(got[i] - want[i])); !(d <= 2e-5*(1+math.Abs(float64(want[i])))) {
								t.Fatalf("%v %s %s seq=%v batch %d: out[%d] = %v, want %v", isa, c.name, merge, seq, batch, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// TestFastPool: fast pooling vs the reference Forward, exactly (same order of operations;
// == also accepts a zero of the other sign), over window/stride/dilation/padding forms
// whose taps run off every edge, channel counts around the 4-wide unroll, and NaN inputs.
func TestFastPool(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	wins := []layers.Window{
		{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1},
		{KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, Pad: layers.PadSame},
		{KH: 3, KW: 2, SH: 1, SW: 3, DH: 2, DW: 1, Pad: layers.PadSame},
		{KH: 2, KW: 3, SH: 2, SW: 1, DH: 1, DW: 2, Pad: layers.PadExplicit, Pads: [4]int{2, 1, 0, 3}},
		{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1},
		{KH: 5, KW: 5, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame},
		{KH: 2, KW: 3, SH: 1, SW: 2, DH: 2, DW: 2}, // dilated, every window inside
	}
	for _, isa := range fastISAs() {
		for wi, win := range wins {
			for _, c := range []int{1, 3, 4, 5, 8, 13, 16, 24} { // multiples of 8 with windows inside: asm.MaxPool
				for _, kind := range []int{0, 1, 2} { // max, avg, avg count_include_pad
					l := &layers.Pool2D{Window: win, Max: kind == 0, CountIncludePad: kind == 2}
					in := layers.Shape{7, 6, c}
					out, err := l.OutputShape(in)
					if err != nil {
						t.Fatal(err)
					}
					cp, err := compileLayer(l, in, out, isa, 2)
					if err != nil {
						t.Fatal(err)
					}
					if _, ok := cp.k.(refKernel); ok {
						t.Fatalf("reference kernel chosen for %v", l.Config())
					}
					checkExact(t, fmt.Sprintf("%v win%d c%d kind%d", isa, wi, c, kind), l, cp, in, out, 2, r)
				}
			}
		}
		for _, c := range []int{1, 4, 7} {
			for _, mx := range []bool{false, true} {
				l := &layers.GlobalPool2D{Max: mx}
				in := layers.Shape{3, 5, c}
				out, _ := l.OutputShape(in)
				cp, err := compileLayer(l, in, out, isa, 3)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := cp.k.(refKernel); ok {
					t.Fatal("reference kernel chosen for GlobalPool2D")
				}
				checkExact(t, fmt.Sprintf("%v global c%d max=%v", isa, c, mx), l, cp, in, out, 3, r)
			}
		}
	}
}

// checkExact runs the compiled kernel and the reference on one random input (with a NaN
// planted) and wants equal outputs, NaN where the reference has NaN, and nothing
// written past the output.
func checkExact(t *testing.T, name string, l layers.Layer, cp compiled, in, out layers.Shape, batch int, r *rand.Rand) {
	t.Helper()
	src := rnd(r, batch*in.Size())
	src[r.IntN(len(src))] = float32(math.NaN())
	want := make([]float32, batch*out.Size())
	l.Forward(want, src, make([]float32, l.ScratchLen(in, batch)), in, batch)
	got := make([]float32, len(want)+8)
	for i := range got {
		got[i] = -777
	}
	cp.k.run(got[:len(want)], src, make([]float32, cp.scratchLen), batch)
	for i, w := range want {
		if g := got[i]; g != w && !(g != g && w != w) {
			t.Fatalf("%s: out[%d] = %v, want %v", name, i, g, w)
		}
	}
	for i := len(want); i < len(got); i++ {
		if got[i] != -777 {
			t.Fatalf("%s: wrote past the output", name)
		}
	}
}
