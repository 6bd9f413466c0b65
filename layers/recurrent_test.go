package layers

import (
	"errors"
	"math"
	"testing"
)

// TestGRUStep checks one GRU step against the formulas written out by hand, in both
// reset forms (units 1, so every product is a scalar).
func TestGRUStep(t *testing.T) {
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	x, h0 := 0.7, 0.3
	w := []float32{0.5, -0.4, 0.9} // z, r, h
	u := []float32{0.2, 0.6, -0.8}
	b := []float32{0.1, -0.2, 0.05}
	rb := []float32{0.3, 0.1, -0.4}
	for _, after := range []bool{true, false} {
		l := &GRU{In: 1, Units: 1, W: w, U: u, B: b, Act: Activation{Kind: Tanh}, RecAct: Activation{Kind: Sigmoid}, ResetAfter: after, H0: []float32{float32(h0)}}
		if after {
			l.RB = rb
		}
		if _, err := l.OutputShape(Shape{1, 1}); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, 1)
		l.Forward(got, []float32{float32(x)}, make([]float32, l.ScratchLen(Shape{1, 1}, 1)), Shape{1, 1}, 1)
		f := func(v []float32, i int) float64 { return float64(v[i]) }
		var z, r, c float64
		if after {
			z = sig(x*f(w, 0) + f(b, 0) + h0*f(u, 0) + f(rb, 0))
			r = sig(x*f(w, 1) + f(b, 1) + h0*f(u, 1) + f(rb, 1))
			c = math.Tanh(x*f(w, 2) + f(b, 2) + r*(h0*f(u, 2)+f(rb, 2)))
		} else {
			z = sig(x*f(w, 0) + f(b, 0) + h0*f(u, 0))
			r = sig(x*f(w, 1) + f(b, 1) + h0*f(u, 1))
			c = math.Tanh(x*f(w, 2) + f(b, 2) + (r*h0)*f(u, 2))
		}
		want := z*h0 + (1-z)*c
		if math.Abs(float64(got[0])-want) > 1e-6 {
			t.Errorf("reset_after=%v: h = %v, want %v", after, got[0], want)
		}
	}
}

// TestRecurrentValidation: weights of the wrong length, a recurrent bias without
// reset_after, a wrong input and mismatched Bidirectional directions are errors.
func TestRecurrentValidation(t *testing.T) {
	tanh, sig := Activation{Kind: Tanh}, Activation{Kind: Sigmoid}
	gru := func() *GRU {
		return &GRU{In: 2, Units: 3, W: make([]float32, 18), U: make([]float32, 27), Act: tanh, RecAct: sig, ResetAfter: true}
	}
	rnn := func(back bool) *SimpleRNN {
		return &SimpleRNN{In: 2, Units: 3, W: make([]float32, 6), U: make([]float32, 9), Act: tanh, GoBackwards: back}
	}
	cases := []struct {
		name string
		l    Layer
		in   Shape
		kind error
	}{
		{"gru kernel", func() Layer { g := gru(); g.W = g.W[:17]; return g }(), Shape{4, 2}, ErrShapeMismatch},
		{"gru rb without reset_after", func() Layer { g := gru(); g.ResetAfter, g.RB = false, make([]float32, 9); return g }(), Shape{4, 2}, ErrInvalid},
		{"gru bias", func() Layer { g := gru(); g.B = make([]float32, 6); return g }(), Shape{4, 2}, ErrShapeMismatch},
		{"gru input features", gru(), Shape{4, 3}, ErrShapeMismatch},
		{"gru rank", gru(), Shape{4}, ErrShapeMismatch},
		{"gru units 0", &GRU{In: 2, Act: tanh, RecAct: sig}, Shape{4, 2}, ErrInvalid},
		{"rnn recurrent kernel", func() Layer { r := rnn(false); r.U = r.U[:8]; return r }(), Shape{4, 2}, ErrShapeMismatch},
		{"rnn h0", func() Layer { r := rnn(false); r.H0 = make([]float32, 2); return r }(), Shape{4, 2}, ErrShapeMismatch},
		{"bidirectional both forward", &Bidirectional{Fwd: rnn(false), Bwd: rnn(false), Merge: "sum"}, Shape{4, 2}, ErrInvalid},
		{"bidirectional merge", &Bidirectional{Fwd: rnn(false), Bwd: rnn(true), Merge: "max"}, Shape{4, 2}, ErrUnsupported},
		{"timedistributed rank", &TimeDistributed{Inner: rnn(false)}, Shape{2}, ErrShapeMismatch},
		{"timedistributed inner", &TimeDistributed{Inner: rnn(false)}, Shape{3, 4, 5}, ErrShapeMismatch},
	}
	for _, c := range cases {
		if _, err := c.l.OutputShape(c.in); !errors.Is(err, c.kind) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.kind)
		}
	}
	out, err := (&TimeDistributed{Inner: &Bidirectional{Fwd: rnn(false), Bwd: rnn(true), Merge: "concat"}}).OutputShape(Shape{5, 4, 2})
	if err != nil || !out.Equal(Shape{5, 6}) {
		t.Errorf("TimeDistributed(Bidirectional) output %v, %v; want [5 6]", out, err)
	}
}
