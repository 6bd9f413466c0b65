package layers

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func act(name string, k ActKind) *ActivationLayer {
	a := Activation{Kind: k}
	if k == ReLU {
		a = ActReLU
	}
	return &ActivationLayer{Info: Info{Name: name, Class: "Activation"}, Act: a}
}

func TestBuilderChainOrder(t *testing.T) {
	// Two branches added interleaved: a1 b1 a2 b2, then their sum. The frozen order
	// keeps each branch contiguous so ChainNext sees a1->a2 and b1->b2.
	b := NewBuilder()
	x := b.Input("x", Shape{4}, Float32)
	a1 := b.Node(act("a1", Tanh), x)
	b1 := b.Node(act("b1", Sigmoid), x)
	a2 := b.Node(act("a2", ReLU), a1)
	b2 := b.Node(act("b2", ReLU), b1)
	dead := b.Node(act("dead", Tanh), x)
	_ = dead
	sum := b.Node(&Merge{Info: Info{Name: "add", Class: "Add"}, Op: MergeAdd}, a2, b2)
	g, err := b.Build([]Value{sum}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := 0; i < g.Len(); i++ {
		names = append(names, g.Layer(i).LayerInfo().Name)
	}
	want := []string{"a1", "a2", "b1", "b2", "add"}
	if len(names) != len(want) {
		t.Fatalf("order %v, want %v (dead node dropped)", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("order %v, want %v", names, want)
		}
	}
	if !g.ChainNext(0) || g.ChainNext(1) || !g.ChainNext(2) || g.ChainNext(3) {
		t.Errorf("ChainNext wrong for %v", names)
	}
	if g.IsChain() {
		t.Error("a two-branch graph reported as a chain")
	}
	if g.Users(0) != 2 || g.Outputs()[0].Name != "add" {
		t.Errorf("users of x %d, output %v", g.Users(0), g.Outputs())
	}
	// reference: tanh->relu + sigmoid->relu, computed independently
	xs := []float32{-1, 0.5, 2, -3}
	y, err := g.Reference(xs, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range xs {
		w := max(math.Tanh(float64(v)), 0) + max(1/(1+math.Exp(-float64(v))), 0)
		if math.Abs(float64(y[i])-w) > 1e-6 {
			t.Errorf("y[%d] = %g, want %g", i, y[i], w)
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	cases := map[string]func() error{
		"no inputs": func() error {
			b := NewBuilder()
			_, err := b.Build(nil, nil, nil)
			return err
		},
		"undefined input": func() error {
			b := NewBuilder()
			b.Input("x", Shape{3}, Float32)
			v := b.Node(act("a", Tanh), Value(5))
			_, err := b.Build([]Value{v}, nil, nil)
			return err
		},
		"two inputs to a single-input layer": func() error {
			b := NewBuilder()
			x := b.Input("x", Shape{3}, Float32)
			v := b.Node(act("a", Tanh), x, x)
			_, err := b.Build([]Value{v}, nil, nil)
			return err
		},
		"merge shapes do not broadcast": func() error {
			b := NewBuilder()
			x := b.Input("x", Shape{3}, Float32)
			y := b.Input("y", Shape{4}, Float32)
			v := b.Node(&Merge{Info: Info{Name: "add", Class: "Add"}}, x, y)
			_, err := b.Build([]Value{v}, nil, nil)
			return err
		},
		"subtract of three": func() error {
			b := NewBuilder()
			x := b.Input("x", Shape{3}, Float32)
			v := b.Node(&Merge{Info: Info{Name: "sub", Class: "Subtract"}, Op: MergeSub}, x, x, x)
			_, err := b.Build([]Value{v}, nil, nil)
			return err
		},
		"concatenate axis mismatch": func() error {
			b := NewBuilder()
			x := b.Input("x", Shape{3, 2}, Float32)
			y := b.Input("y", Shape{4, 3}, Float32)
			v := b.Node(&Concatenate{Info: Info{Name: "cat", Class: "Concatenate"}, Axis: 1}, x, y)
			_, err := b.Build([]Value{v}, nil, nil)
			return err
		},
		"input after node": func() error {
			b := NewBuilder()
			x := b.Input("x", Shape{3}, Float32)
			v := b.Node(act("a", Tanh), x)
			b.Input("late", Shape{3}, Float32)
			_, err := b.Build([]Value{v}, nil, nil)
			return err
		},
	}
	for name, f := range cases {
		err := f()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrShapeMismatch) {
			t.Errorf("%s: %v is not a named error", name, err)
		}
	}
}

// naiveBroadcast computes a merge by explicit multi-index arithmetic, independent of
// idx.Odometer.
func naiveBroadcast(op MergeOp, ins []Shape, xs [][]float32, out Shape) []float32 {
	n := out.Size()
	y := make([]float32, n)
	for o := 0; o < n; o++ {
		// multi-index of o
		ix := make([]int, len(out))
		r := o
		for a := len(out) - 1; a >= 0; a-- {
			ix[a] = r % out[a]
			r /= out[a]
		}
		var acc float64
		for k, s := range ins {
			off, str := 0, 1
			for a := len(s) - 1; a >= 0; a-- {
				i := ix[a+len(out)-len(s)]
				if s[a] == 1 {
					i = 0
				}
				off += i * str
				str *= s[a]
			}
			v := float64(xs[k][off])
			switch {
			case k == 0:
				acc = v
			case op == MergeAdd || op == MergeAvg:
				acc += v
			case op == MergeSub:
				acc -= v
			case op == MergeMul:
				acc *= v
			case op == MergeMax:
				acc = math.Max(acc, v)
			case op == MergeMin:
				acc = math.Min(acc, v)
			}
		}
		if op == MergeAvg {
			acc /= float64(len(ins))
		}
		y[o] = float32(acc)
	}
	return y
}

func TestMergeBroadcast(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	shapes := [][]Shape{
		{{2, 3, 4}, {2, 3, 4}},
		{{2, 3, 4}, {4}},
		{{2, 3, 4}, {1, 1, 4}},
		{{2, 1, 4}, {1, 3, 1}},
		{{3}, {2, 1}, {1, 1, 1}},
		{{5, 1}, {1, 6}},
	}
	for _, ins := range shapes {
		for op := MergeAdd; op <= MergeMin; op++ {
			if op == MergeSub && len(ins) != 2 {
				continue
			}
			l := &Merge{Info: Info{Name: "m", Class: "Merge"}, Op: op}
			out, err := l.OutputShapeN(ins)
			if err != nil {
				t.Fatalf("%v %v: %v", op, ins, err)
			}
			const batch = 2
			xs := make([][]float32, len(ins))
			for k, s := range ins {
				xs[k] = make([]float32, batch*s.Size())
				for i := range xs[k] {
					xs[k][i] = r.Float32()*4 - 2
				}
			}
			got := make([]float32, batch*out.Size())
			l.ForwardN(got, xs, nil, ins, batch)
			for b := 0; b < batch; b++ {
				per := make([][]float32, len(ins))
				for k, s := range ins {
					per[k] = xs[k][b*s.Size() : (b+1)*s.Size()]
				}
				want := naiveBroadcast(op, ins, per, out)
				for i, w := range want {
					if g := got[b*out.Size()+i]; math.Abs(float64(g-w)) > 1e-6*(1+math.Abs(float64(w))) {
						t.Fatalf("%v %v sample %d elem %d: got %g want %g", op, ins, b, i, g, w)
					}
				}
			}
		}
	}
}

func TestConcatenate(t *testing.T) {
	l := &Concatenate{Info: Info{Name: "c", Class: "Concatenate"}, Axis: 1}
	ins := []Shape{{2, 1, 2}, {2, 2, 2}}
	out, err := l.OutputShapeN(ins)
	if err != nil || !out.Equal(Shape{2, 3, 2}) {
		t.Fatalf("shape %v, %v", out, err)
	}
	a := []float32{1, 2, 3, 4}                // (2,1,2)
	b := []float32{5, 6, 7, 8, 9, 10, 11, 12} // (2,2,2)
	want := []float32{1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12}
	got := make([]float32, 12)
	l.ForwardN(got, [][]float32{a, b}, nil, ins, 1)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}
