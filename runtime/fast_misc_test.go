package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// miscRun compiles l for isa, runs it on src (out of place, then in place when the
// kernel allows it) and checks each result against the reference Forward with cmp. It
// also checks nothing is written past the output and that a run allocates nothing.
func miscRun(t *testing.T, l layers.Layer, in layers.Shape, isa asm.ISA, batch int, src []float32,
	cmp func(i int, got, want float32) bool) {
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
	if g, _ := compileLayer(l, in, out, asm.Generic, batch); g.name != "generic" {
		t.Fatalf("generic ISA compiled %T to %q, want the reference", l, g.name)
	}
	want := make([]float32, batch*out.Size())
	l.Forward(want, append([]float32(nil), src...), make([]float32, l.ScratchLen(in, batch)), in, batch)
	got := make([]float32, len(want)+8)
	for i := range got {
		got[i] = -777
	}
	sc := make([]float32, c.scratchLen)
	x := append([]float32(nil), src...)
	c.k.run(got[:len(want)], x, sc, batch)
	for i, w := range want {
		if !cmp(i, got[i], w) {
			t.Fatalf("%v %s %v batch %d: out[%d] = %v, want %v", isa, c.name, in, batch, i, got[i], w)
		}
	}
	for i := len(want); i < len(got); i++ {
		if got[i] != -777 {
			t.Fatalf("%v %s: wrote past the output", isa, c.name)
		}
	}
	for i := range src {
		if math.Float32bits(x[i]) != math.Float32bits(src[i]) {
			t.Fatalf("%v %s: changed its input", isa, c.name)
		}
	}
	if c.inPlace {
		y := append([]float32(nil), src...)
		c.k.run(y, y, sc, batch)
		for i, w := range want {
			if !cmp(i, y[i], w) {
				t.Fatalf("%v %s in place: out[%d] = %v, want %v", isa, c.name, i, y[i], w)
			}
		}
	}
	dst := got[:len(want)]
	if a := testing.AllocsPerRun(20, func() { c.k.run(dst, x, sc, batch) }); a != 0 {
		t.Fatalf("%v %s: %v allocations per run", isa, c.name, a)
	}
}

func sameBits(_ int, got, want float32) bool {
	return math.Float32bits(got) == math.Float32bits(want) || (got != got && want != want)
}

func miscSrc(r *rand.Rand, n int, specials bool) []float32 {
	s := rnd(r, n)
	if specials {
		sp := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0, 1e30, -1e30, 6, -6}
		for _, v := range sp {
			s[r.IntN(n)] = v
		}
	}
	return s
}

func TestFastPermute(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	shapes := []layers.Shape{{1}, {5}, {1, 1}, {3, 1}, {1, 7}, {3, 5}, {2, 9}, {9, 2}, {17, 6}, {5, 300},
		{300, 5}, {1, 1, 1}, {3, 12, 10}, {2, 2, 5}, {6, 6, 3}, {2, 1, 3}, {1, 3, 1}, {7, 5, 1},
		{3, 4, 5}, {33, 3, 17}, {2, 3, 1, 5}, {4, 1, 3, 2}, {3, 3, 3, 3}}
	for _, isa := range fastISAs() {
		for _, in := range shapes {
			for _, perm := range permutations(len(in)) {
				for _, batch := range []int{1, 3} {
					l := &layers.Permute{Perm: perm}
					t.Run(fmt.Sprintf("%v/%v/%v/b%d", isa, in, perm, batch), func(t *testing.T) {
						miscRun(t, l, in, isa, batch, miscSrc(r, batch*in.Size(), true), sameBits)
					})
				}
			}
		}
		// rank 5 and the largest rank, a few permutations each
		for _, c := range []struct {
			in   layers.Shape
			perm []int
		}{
			{layers.Shape{2, 3, 1, 4, 5}, []int{4, 2, 0, 3, 1}},
			{layers.Shape{2, 3, 2, 4, 3}, []int{0, 1, 4, 2, 3}},
			{layers.Shape{2, 1, 2, 3, 1, 2, 3, 2}, []int{7, 6, 5, 4, 3, 2, 1, 0}},
			{layers.Shape{2, 1, 2, 3, 1, 2, 3, 2}, []int{1, 0, 3, 2, 5, 4, 7, 6}},
		} {
			for _, batch := range []int{1, 3} {
				l := &layers.Permute{Perm: c.perm}
				miscRun(t, l, c.in, isa, batch, miscSrc(r, batch*c.in.Size(), true), sameBits)
			}
		}
	}
}

// permutations lists every permutation of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int(nil), p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestPermuteAxesMerge(t *testing.T) {
	for _, c := range []struct {
		in            layers.Shape
		perm          []int
		dims, strides []int
	}{
		{layers.Shape{3, 12, 10}, []int{1, 2, 0}, []int{120, 3}, []int{1, 120}},
		{layers.Shape{6, 6, 3}, []int{1, 0, 2}, []int{6, 6, 3}, []int{3, 18, 1}},
		{layers.Shape{2, 1, 3}, []int{1, 2, 0}, []int{3, 2}, []int{1, 3}},
		{layers.Shape{2, 3, 4}, []int{0, 1, 2}, []int{24}, []int{1}},
		{layers.Shape{1, 1}, []int{1, 0}, nil, nil},
	} {
		d, s := permuteAxes(c.perm, c.in)
		if fmt.Sprint(d, s) != fmt.Sprint(c.dims, c.strides) {
			t.Errorf("%v %v: dims %v strides %v, want %v %v", c.in, c.perm, d, s, c.dims, c.strides)
		}
	}
}

func TestFastZeroPad(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	shapes := []layers.Shape{{1, 1, 1}, {4, 4, 3}, {11, 9, 2}, {1, 7, 5}, {7, 1, 1}, {3, 5, 17}, {30, 20, 3}}
	pads := [][4]int{{0, 0, 0, 0}, {1, 2, 1, 2}, {2, 1, 0, 3}, {0, 0, 1, 0}, {3, 0, 0, 0}, {0, 1, 0, 0}, {1, 1, 1, 1}, {0, 0, 0, 5}}
	for _, isa := range fastISAs() {
		for _, in := range shapes {
			for _, p := range pads {
				for _, batch := range []int{1, 3} {
					l := &layers.ZeroPad2D{Pads: p}
					t.Run(fmt.Sprintf("%v/%v/%v/b%d", isa, in, p, batch), func(t *testing.T) {
						miscRun(t, l, in, isa, batch, miscSrc(r, batch*in.Size(), true), sameBits)
					})
				}
			}
		}
	}
}

func TestFastAffine(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	shapes := []layers.Shape{{1}, {3}, {7, 7, 3}, {5, 1}, {2, 64}, {3, 65}, {130}, {4, 4, 5}, {2, 3, 200}}
	for _, isa := range fastISAs() {
		for _, in := range shapes {
			c := in.Last()
			for _, sl := range []int{1, c} {
				for _, tl := range []int{1, c} {
					for _, batch := range []int{1, 3} {
						l := &layers.Affine{Scale: rnd(r, sl), Shift: rnd(r, tl)}
						t.Run(fmt.Sprintf("%v/%v/%d,%d/b%d", isa, in, sl, tl, batch), func(t *testing.T) {
							miscRun(t, l, in, isa, batch, miscSrc(r, batch*in.Size(), true), sameBits)
						})
					}
				}
			}
		}
	}
}

// exactActs are computed by the same Go expressions as Activation.Eval on the fast path
// (the others by vector kernels within their ULP bounds where asm has them).
func exactAct(k layers.ActKind) bool {
	switch k {
	case layers.Sigmoid, layers.Tanh, layers.Swish, layers.GeluTanh, layers.Exponential, layers.Elu, layers.Softmax, layers.Gelu,
		layers.Softplus, layers.Softsign, layers.Selu:
		return false
	}
	return true
}

func TestFastActivation(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	inf := float32(math.Inf(1))
	acts := []layers.Activation{layers.ActLinear, layers.ActReLU, layers.ActReLU6, layers.LeakyReLU(0.3),
		{Kind: layers.ReLU, Alpha: 0.1, Max: 6, Threshold: 0.5}, {Kind: layers.ReLU, Max: inf, Threshold: -1},
		{Kind: layers.Sigmoid}, {Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}, {Kind: layers.Tanh},
		{Kind: layers.Softmax}, {Kind: layers.Softplus}, {Kind: layers.Softsign}, {Kind: layers.Elu, Alpha: 0.7},
		{Kind: layers.Selu}, {Kind: layers.Gelu}, {Kind: layers.GeluTanh}, {Kind: layers.Swish},
		{Kind: layers.Exponential}, {Kind: layers.Clip, Alpha: -1, Beta: 2}, {Kind: layers.HardSwish},
		{Kind: layers.LogSoftmax}}
	shapes := []layers.Shape{{1}, {8}, {6}, {120}, {3, 1}, {4, 7}, {2, 3, 33}}
	for _, isa := range fastISAs() {
		for _, act := range acts {
			for _, in := range shapes {
				for _, batch := range []int{1, 3} {
					l := &layers.ActivationLayer{Act: act}
					exact := exactAct(act.Kind)
					src := miscSrc(r, batch*in.Size(), exact)
					for i := range src {
						src[i] *= 3
					}
					// the vector kernels: their stated ULP bounds (softmax: 4 + (max-x)
					// ULP; GeluTanh up to 160 ULP in the far left tail) stay well inside
					// the zoo's 1e-5 + 1e-5*|want|
					cmp := func(_ int, got, want float32) bool {
						d := math.Abs(float64(got) - float64(want))
						return d <= 2e-5*math.Abs(float64(want))+1e-7 || (got != got && want != want)
					}
					if exact {
						cmp = sameBits
					}
					t.Run(fmt.Sprintf("%v/%v/%v/b%d", isa, act, in, batch), func(t *testing.T) {
						miscRun(t, l, in, isa, batch, src, cmp)
					})
				}
			}
		}
	}
}

func BenchmarkFastMisc(b *testing.B) {
	r := rand.New(rand.NewPCG(11, 11))
	isa := asm.Best()
	cases := []struct {
		name string
		l    layers.Layer
		in   layers.Shape
	}{
		{"permute_cf_3x12x10", &layers.Permute{Perm: []int{1, 2, 0}}, layers.Shape{3, 12, 10}},
		{"permute_cf_2x11x9", &layers.Permute{Perm: []int{1, 2, 0}}, layers.Shape{2, 11, 9}},
		{"permute_hw_6x6x3", &layers.Permute{Perm: []int{1, 0, 2}}, layers.Shape{6, 6, 3}},
		{"permute_cf_64x56x56", &layers.Permute{Perm: []int{1, 2, 0}}, layers.Shape{64, 56, 56}},
		{"zeropad_4x4x3", &layers.ZeroPad2D{Pads: [4]int{1, 2, 1, 2}}, layers.Shape{4, 4, 3}},
		{"zeropad_11x9x2", &layers.ZeroPad2D{Pads: [4]int{1, 0, 1, 2}}, layers.Shape{11, 9, 2}},
		{"zeropad_56x56x32", &layers.ZeroPad2D{Pads: [4]int{1, 1, 1, 1}}, layers.Shape{56, 56, 32}},
		{"affine_7x7x3", &layers.Affine{Scale: []float32{1. / 255}, Shift: []float32{0.5}}, layers.Shape{7, 7, 3}},
		{"affine_56x56x3_perchannel", &layers.Affine{Scale: rnd(r, 3), Shift: rnd(r, 3)}, layers.Shape{56, 56, 3}},
		{"softmax_8", &layers.ActivationLayer{Act: layers.Activation{Kind: layers.Softmax}}, layers.Shape{8}},
		{"softmax_1000", &layers.ActivationLayer{Act: layers.Activation{Kind: layers.Softmax}}, layers.Shape{1000}},
	}
	for _, c := range cases {
		out, err := c.l.OutputShape(c.in)
		if err != nil {
			b.Fatal(err)
		}
		for _, is := range []asm.ISA{asm.Generic, isa} {
			k, _ := compileLayer(c.l, c.in, out, is, 1)
			src := rnd(r, c.in.Size())
			dst := make([]float32, out.Size())
			sc := make([]float32, k.scratchLen)
			b.Run(c.name+"/"+is.String(), func(b *testing.B) {
				for range b.N {
					k.k.run(dst, src, sc, 1)
				}
			})
		}
	}
}
