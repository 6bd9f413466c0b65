package layers

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > tol*(1+math.Abs(float64(want[i]))) {
			t.Fatalf("%s: [%d] = %g, want %g (all: %v)", what, i, got[i], want[i], got)
		}
	}
}

func TestWindowSame(t *testing.T) {
	cases := []struct{ in, k, s, d, out, before int }{
		{7, 3, 2, 1, 4, 1},  // pad 2: 1 before, 1 after
		{5, 2, 1, 1, 5, 0},  // pad 1: extra cell after (bottom/right)
		{6, 3, 2, 1, 3, 0},  // pad 1 -> 0 before
		{8, 3, 1, 2, 8, 2},  // dilated span 5, pad 4
		{1, 5, 3, 1, 1, 2},  // pad 4
		{4, 1, 3, 1, 2, 0},  // no pad needed
		{10, 4, 4, 1, 3, 1}, // pad 2 (out 3: (3-1)*4+4-10)
	}
	for _, c := range cases {
		w := Window{KH: c.k, KW: 1, SH: c.s, SW: 1, DH: c.d, DW: 1, Pad: PadSame}
		oh, _, pt, _, err := w.Geometry(c.in, 1)
		if err != nil || oh != c.out || pt != c.before {
			t.Errorf("%+v: out %d before %d err %v", c, oh, pt, err)
		}
	}
	w := Window{KH: 2, KW: 2, SH: 1, SW: 1, DH: 1, DW: 1, Pad: PadSameLower}
	if _, _, pt, _, _ := w.Geometry(5, 5); pt != 1 {
		t.Errorf("same_lower puts the extra cell first, got before=%d", pt)
	}
	w.Pad = PadValid
	if _, _, _, _, err := (Window{KH: 6, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}).Geometry(5, 1); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("valid window larger than input: %v", err)
	}
}

func TestDense(t *testing.T) {
	l := &Dense{In: 2, Units: 3, W: []float32{1, 2, 3, 4, 5, 6}, B: []float32{0.5, 0, -1}, Act: ActReLU}
	out, err := l.OutputShape(Shape{4, 2})
	if err != nil || !out.Equal(Shape{4, 3}) {
		t.Fatalf("rank-3 dense shape %v %v", out, err)
	}
	y := make([]float32, 3)
	l.Forward(y, []float32{1, -1}, nil, Shape{2}, 1)
	near(t, "dense", y, []float32{0, 0, 0}, 0) // 1-4+.5<0, 2-5<0, 3-6-1<0
	l.Forward(y, []float32{2, 1}, nil, Shape{2}, 1)
	near(t, "dense", y, []float32{6.5, 9, 11}, 0)
	if _, err := (&Dense{In: 2, Units: 3, W: make([]float32, 5)}).OutputShape(Shape{2}); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("short kernel: %v", err)
	}
}

func TestConv2DAndPool(t *testing.T) {
	// 3x3 single-channel input 1..9, 2x2 kernel of ones, 'same' padding: bottom/right pad.
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}
	c := &Conv2D{Window: Window{KH: 2, KW: 2, SH: 1, SW: 1, DH: 1, DW: 1, Pad: PadSame}, In: 1, Filters: 1, W: []float32{1, 1, 1, 1}}
	out, err := c.OutputShape(Shape{3, 3, 1})
	if err != nil || !out.Equal(Shape{3, 3, 1}) {
		t.Fatal(out, err)
	}
	y := make([]float32, 9)
	c.Forward(y, x, nil, Shape{3, 3, 1}, 1)
	near(t, "conv same", y, []float32{12, 16, 9, 24, 28, 15, 15, 17, 9}, 0)

	avg := &Pool2D{Window: c.Window}
	avg.Forward(y, x, nil, Shape{3, 3, 1}, 1)
	// 'same' average divides by valid cells only: the corner holds just 9.
	near(t, "avg same", y, []float32{3, 4, 4.5, 6, 7, 7.5, 7.5, 8.5, 9}, 1e-7)
	avg.CountIncludePad = true
	avg.Forward(y, x, nil, Shape{3, 3, 1}, 1)
	near(t, "avg count_include_pad", y, []float32{3, 4, 2.25, 6, 7, 3.75, 3.75, 4.25, 2.25}, 1e-7)
	mx := &Pool2D{Window: Window{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, Pad: PadSame}, Max: true}
	neg := []float32{-1, -2, -3, -4, -5, -6, -7, -8, -9}
	y4 := make([]float32, 4)
	mx.Forward(y4, neg, nil, Shape{3, 3, 1}, 1)
	near(t, "max same pads with -inf", y4, []float32{-1, -3, -7, -9}, 0)

	// depthwise: groups = channels, each channel scaled by its own weight
	dw := &Conv2D{Window: Window{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1}, In: 2, Filters: 2, Groups: 2, W: []float32{2, 3}}
	y2 := make([]float32, 2)
	dw.Forward(y2, []float32{1, 1}, nil, Shape{1, 1, 2}, 1)
	near(t, "depthwise", y2, []float32{2, 3}, 0)
}

func TestPermuteReshape(t *testing.T) {
	// (2,3,2) -> perm (2,0,1) gives (2,2,3): out[c][h][w] = in[h][w][c]
	in := Shape{2, 3, 2}
	x := make([]float32, 12)
	for i := range x {
		x[i] = float32(i)
	}
	p := &Permute{Perm: []int{2, 0, 1}}
	out, err := p.OutputShape(in)
	if err != nil || !out.Equal(Shape{2, 2, 3}) {
		t.Fatal(out, err)
	}
	y := make([]float32, 12)
	p.Forward(y, x, nil, in, 1)
	for c := 0; c < 2; c++ {
		for h := 0; h < 2; h++ {
			for w := 0; w < 3; w++ {
				if got, want := y[(c*2+h)*3+w], x[(h*3+w)*2+c]; got != want {
					t.Fatalf("permute [%d %d %d] = %g want %g", c, h, w, got, want)
				}
			}
		}
	}
	r := &Reshape{Target: Shape{-1, 4}}
	if out, err := r.OutputShape(in); err != nil || !out.Equal(Shape{3, 4}) {
		t.Errorf("reshape: %v %v", out, err)
	}
	if _, err := (&Reshape{Target: Shape{5, -1}}).OutputShape(in); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("bad reshape: %v", err)
	}
}

func TestActivations(t *testing.T) {
	relu := Activation{Kind: ReLU, Alpha: 0.5, Max: 6, Threshold: 1}
	for _, c := range [][2]float32{{7, 6}, {6, 6}, {3, 3}, {1, 1}, {0, -0.5}, {-1, -1}} {
		if got := relu.Eval(c[0]); got != c[1] {
			t.Errorf("relu(%g) = %g, want %g", c[0], got, c[1])
		}
	}
	k2 := Activation{Kind: HardSigmoid, Alpha: 0.2, Beta: 0.5}
	k3 := Activation{Kind: HardSigmoid, Alpha: 1.0 / 6, Beta: 0.5}
	if k2.Eval(1) != 0.7 || math.Abs(float64(k3.Eval(1))-(1.0/6+0.5)) > 1e-7 || k2.Eval(3) != 1 || k3.Eval(-4) != 0 {
		t.Errorf("hard_sigmoid: %g %g", k2.Eval(1), k3.Eval(1))
	}
	checks := []struct {
		a    Activation
		x, y float64
	}{
		{Activation{Kind: Sigmoid}, 0, 0.5},
		{Activation{Kind: Sigmoid}, -100, 3.720075976020836e-44},
		{Activation{Kind: Softplus}, 100, 100},
		{Activation{Kind: Softplus}, 0, math.Ln2},
		{Activation{Kind: Softsign}, 3, 0.75},
		{Activation{Kind: Elu, Alpha: 1}, -1, math.Exp(-1) - 1},
		{Activation{Kind: Selu}, -1, SeluScale * SeluAlpha * (math.Exp(-1) - 1)},
		{Activation{Kind: Gelu}, 1, 0.8413447460685429},
		{Activation{Kind: GeluTanh}, 1, 0.8411919906082768},
		{Activation{Kind: Swish}, 1, 0.7310585786300049},
		{Activation{Kind: Exponential}, 1, math.E},
		{Activation{Kind: HardSwish}, 1, 1 * (1.0/6 + 0.5)},
		{Activation{Kind: Clip, Alpha: -1, Beta: 2}, 5, 2},
	}
	for _, c := range checks {
		if got := float64(c.a.Eval(float32(c.x))); math.Abs(got-c.y) > 1e-6*math.Max(1, math.Abs(c.y)) && !(c.y < 1e-37 && got < 1e-37) {
			t.Errorf("%v(%g) = %g, want %g", c.a, c.x, got, c.y)
		}
	}
	sm := []float32{1, 2, 3, 1000, 1000, 1000}
	(Activation{Kind: Softmax}).Apply(sm, 3)
	near(t, "softmax", sm, []float32{0.09003057, 0.24472847, 0.66524096, 1.0 / 3, 1.0 / 3, 1.0 / 3}, 1e-6)
}

func TestLSTMOneStep(t *testing.T) {
	// One unit, one feature, one step from zero state: c = i*g, h = o*tanh(c).
	l := &LSTM{In: 1, Units: 1, W: []float32{0.5, -0.5, 1, 2}, U: []float32{1, 1, 1, 1}, B: []float32{0, 1, 0, 0},
		Act: Activation{Kind: Tanh}, RecAct: Activation{Kind: Sigmoid}}
	if _, err := l.OutputShape(Shape{1, 1}); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, 1)
	l.Forward(y, []float32{2}, make([]float32, 6), Shape{1, 1}, 1)
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	c := sig(1) * math.Tanh(2)
	h := sig(4) * math.Tanh(c)
	near(t, "lstm", y, []float32{float32(h)}, 1e-6)

	// go_backwards with sequences: output order is processing order.
	l.ReturnSequences, l.GoBackwards = true, true
	x := []float32{1, 0, -1}
	fwd := make([]float32, 3)
	l.Forward(fwd, x, make([]float32, 6), Shape{3, 1}, 1)
	l.GoBackwards = false
	rev := make([]float32, 3)
	l.Forward(rev, []float32{-1, 0, 1}, make([]float32, 6), Shape{3, 1}, 1)
	near(t, "go_backwards", fwd, rev, 0)
}

func TestGraphErrors(t *testing.T) {
	d := &Dense{Info: Info{Name: "head", Class: "Dense"}, In: 4, Units: 2, W: make([]float32, 8)}
	_, err := NewGraph(Shape{3}, []Layer{d}, nil)
	if !errors.Is(err, ErrShapeMismatch) || !strings.Contains(err.Error(), `"head"`) {
		t.Errorf("mismatch error %v should wrap ErrShapeMismatch and name the layer", err)
	}
	if _, err := NewGraph(Shape{-3}, []Layer{d}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative input: %v", err)
	}
	if _, err := NewGraph(Shape{1 << 20, 1 << 20}, []Layer{d}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("huge input: %v", err)
	}
	g, err := NewGraph(Shape{4}, []Layer{d}, nil)
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := NewGraph(Shape{4}, []Layer{&Dense{Info: Info{Name: "other", Class: "Dense"}, In: 4, Units: 2, W: make([]float32, 8)}}, nil)
	if g.Fingerprint() != g2.Fingerprint() {
		t.Error("fingerprint depends on layer names")
	}
	d3 := &Dense{Info: Info{Name: "head", Class: "Dense"}, In: 4, Units: 2, W: make([]float32, 8)}
	d3.W[5] = 1e-30
	g3, _ := NewGraph(Shape{4}, []Layer{d3}, nil)
	if g.Fingerprint() == g3.Fingerprint() {
		t.Error("fingerprint ignores weights")
	}
	if g.Params() != 8 || g.FLOPs() != 2*4*2+2 {
		t.Errorf("params %d flops %d", g.Params(), g.FLOPs())
	}
}
