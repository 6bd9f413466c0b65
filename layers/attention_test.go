package layers

import (
	"errors"
	"math"
	"testing"
)

func eye(n int) []float32 {
	w := make([]float32, n*n)
	for i := 0; i < n; i++ {
		w[i*n+i] = 1
	}
	return w
}

// identityMHA has one head whose projections are the identity.
func identityMHA(d int) *MultiHeadAttention {
	return &MultiHeadAttention{Info: Info{Name: "mha", Class: "test"}, Heads: 1, KeyDim: d, ValueDim: d,
		QDim: d, KDim: d, VDim: d, OutDim: d, Wq: eye(d), Wk: eye(d), Wv: eye(d), Wo: eye(d), Scale: 1, MaskAdd: -1e9}
}

// TestMHAMasks checks the mask semantics on identity projections: with a causal mask
// query 0 sees only key 0, so its output is value row 0; a key padding mask that keeps
// one key makes every output that key's value row; MaskIsPad inverts the flags.
func TestMHAMasks(t *testing.T) {
	const d, steps = 3, 4
	x := make([]float32, steps*d)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	l := identityMHA(d)
	l.Causal = true
	in := []Shape{{steps, d}, {steps, d}}
	out := make([]float32, steps*d)
	l.ForwardN(out, [][]float32{x, x}, make([]float32, l.ScratchLenN(in, 1)), in, 1)
	for e := 0; e < d; e++ {
		if math.Abs(float64(out[e]-x[e])) > 1e-6 {
			t.Fatalf("causal: query 0 output %v, want value row 0 %v", out[:d], x[:d])
		}
	}
	for _, pad := range []bool{false, true} {
		m := &MultiHeadAttention{}
		*m = *identityMHA(d)
		m.HasMask, m.MaskIsPad = true, pad
		flags := []float32{0, 0, 1, 0} // keep key 2
		if pad {
			flags = []float32{1, 1, 0, 1}
		}
		ins := []Shape{{steps, d}, {steps, d}, {steps}}
		if _, err := m.OutputShapeN(ins); err != nil {
			t.Fatal(err)
		}
		m.ForwardN(out, [][]float32{x, x, flags}, make([]float32, m.ScratchLenN(ins, 1)), ins, 1)
		for i := 0; i < steps; i++ {
			for e := 0; e < d; e++ {
				if math.Abs(float64(out[i*d+e]-x[2*d+e])) > 1e-6 {
					t.Fatalf("pad=%v: output row %d = %v, want value row 2 %v", pad, i, out[i*d:(i+1)*d], x[2*d:3*d])
				}
			}
		}
	}
}

// TestMHABad checks that bad configurations and input shapes are errors naming the
// problem, never panics.
func TestMHABad(t *testing.T) {
	ok := []Shape{{4, 3}, {4, 3}}
	cases := []struct {
		name string
		mod  func(l *MultiHeadAttention)
		ins  []Shape
		kind error
	}{
		{"short query kernel", func(l *MultiHeadAttention) { l.Wq = l.Wq[:5] }, ok, ErrShapeMismatch},
		{"bias length", func(l *MultiHeadAttention) { l.Bo = make([]float32, 2) }, ok, ErrShapeMismatch},
		{"zero heads", func(l *MultiHeadAttention) { l.Heads = 0 }, ok, ErrInvalid},
		{"huge heads", func(l *MultiHeadAttention) { l.Heads = MaxElements }, ok, ErrInvalid},
		{"nan scale", func(l *MultiHeadAttention) { l.Scale = float32(math.NaN()) }, ok, ErrInvalid},
		{"one input", func(*MultiHeadAttention) {}, []Shape{{4, 3}}, ErrInvalid},
		{"features", func(*MultiHeadAttention) {}, []Shape{{4, 3}, {4, 2}}, ErrShapeMismatch},
		{"rank", func(*MultiHeadAttention) {}, []Shape{{4, 3, 1}, {4, 3}}, ErrUnsupported},
		{"key steps", func(l *MultiHeadAttention) { l.HasKey = true }, []Shape{{4, 3}, {4, 3}, {5, 3}}, ErrShapeMismatch},
		{"mask shape", func(l *MultiHeadAttention) { l.HasMask = true }, []Shape{{4, 3}, {4, 3}, {3, 4}}, ErrShapeMismatch},
	}
	for _, c := range cases {
		l := identityMHA(3)
		c.mod(l)
		if _, err := l.OutputShapeN(c.ins); !errors.Is(err, c.kind) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.kind)
		}
	}
}

// TestMatMulBroadcast checks MatMul's leading-axis broadcast against per-matrix products
// of the same layer (a (2, 1, M, K) times (1, 3, K, N) is six products) and its shape
// errors.
func TestMatMulBroadcast(t *testing.T) {
	a, b := Shape{2, 1, 3, 4}, Shape{1, 3, 4, 5}
	x := make([]float32, a.Size())
	y := make([]float32, b.Size())
	for i := range x {
		x[i] = float32(math.Cos(float64(i)))
	}
	for i := range y {
		y[i] = float32(math.Sin(float64(i)))
	}
	l := &MatMul{Info: Info{Name: "mm", Class: "test"}}
	out, err := l.OutputShapeN([]Shape{a, b})
	if err != nil || !out.Equal(Shape{2, 3, 3, 5}) {
		t.Fatalf("shape %v, %v", out, err)
	}
	got := make([]float32, out.Size())
	l.ForwardN(got, [][]float32{x, y}, nil, []Shape{a, b}, 1)
	one := make([]float32, 15)
	for i := 0; i < 2; i++ {
		for j := 0; j < 3; j++ {
			l.ForwardN(one, [][]float32{x[i*12 : (i+1)*12], y[j*20 : (j+1)*20]}, nil, []Shape{{3, 4}, {4, 5}}, 1)
			for e, v := range one {
				if got[(i*3+j)*15+e] != v {
					t.Fatalf("block (%d, %d) differs at %d", i, j, e)
				}
			}
		}
	}
	for _, c := range [][]Shape{{{3, 4}, {5, 2}}, {{4}, {4, 2}}, {{2, 3, 4}, {3, 4, 2}}, {{3, 4}}} {
		if _, err := l.OutputShapeN(c); err == nil {
			t.Errorf("%v: no error", c)
		}
	}
}
