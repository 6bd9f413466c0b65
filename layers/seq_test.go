package layers

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestMaskedLSTMSemantics: a masked step keeps h and c, its output repeats the previous
// output (zero before the first kept step) or is zero with ZeroMaskedOutput; an
// unmasked run over only the kept steps gives the same final state.
func TestMaskedLSTMSemantics(t *testing.T) {
	u, in, T := 3, 2, 5
	w := func(n int, s float32) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = s * float32(math.Sin(float64(i)+1))
		}
		return v
	}
	l := &LSTM{In: in, Units: u, W: w(in*4*u, 0.5), U: w(u*4*u, 0.3), B: w(4*u, 0.1),
		Act: Activation{Kind: Tanh}, RecAct: Activation{Kind: Sigmoid}, ReturnSequences: true}
	x := w(T*in, 1)
	mask := []float32{0, 1, 0, 1, 1}
	got := make([]float32, T*u)
	l.ForwardMasked(got, x, mask, make([]float32, l.ScratchLen(Shape{T, in}, 1)), Shape{T, in}, 1)
	for j := 0; j < u; j++ {
		if got[j] != 0 {
			t.Fatalf("step 0 masked before any kept step: output %v, want 0", got[:u])
		}
		if got[2*u+j] != got[u+j] {
			t.Fatalf("masked step 2 output %v, want step 1's %v", got[2*u:3*u], got[u:2*u])
		}
	}
	// only the kept steps, unmasked
	kept := append(append(append([]float32(nil), x[1*in:2*in]...), x[3*in:4*in]...), x[4*in:5*in]...)
	ref := make([]float32, 3*u)
	l.Forward(ref, kept, make([]float32, l.ScratchLen(Shape{3, in}, 1)), Shape{3, in}, 1)
	for j := 0; j < u; j++ {
		if got[4*u+j] != ref[2*u+j] {
			t.Fatalf("final output %v, kept-steps run %v", got[4*u:], ref[2*u:])
		}
	}
	l.ZeroMaskedOutput = true
	l.ForwardMasked(got, x, mask, make([]float32, l.ScratchLen(Shape{T, in}, 1)), Shape{T, in}, 1)
	for j := 0; j < u; j++ {
		if got[2*u+j] != 0 {
			t.Fatalf("zero_output_for_mask: masked step output %v", got[2*u:3*u])
		}
	}
}

// TestEmbeddingAndIDs: rows by id, a zero row (never a bad read) for an id outside the
// table, and the id checks' messages.
func TestEmbeddingAndIDs(t *testing.T) {
	l := &Embedding{InputDim: 3, OutputDim: 2, W: []float32{1, 2, 3, 4, 5, 6}}
	src := []float32{IDBits(2), IDBits(0), IDBits(7), IDBits(-1)}
	dst := make([]float32, 8)
	l.Forward(dst, src, nil, Shape{4}, 1)
	want := []float32{5, 6, 1, 2, 0, 0, 0, 0}
	for i := range want {
		if dst[i] != want[i] {
			t.Fatalf("embedding %v, want %v", dst, want)
		}
	}
	err := CheckIDs([]int32{0, 1, 2, 1, 3, 0}, 3, 3)
	if !errors.Is(err, ErrIDOutOfRange) || !strings.Contains(err.Error(), "sample 1, position 1: id 3 is outside the vocabulary of 3") {
		t.Errorf("CheckIDs: %v", err)
	}
	if err := CheckIDs([]int32{-5}, 1, 0); err != nil {
		t.Errorf("vocabulary 0 accepts any id: %v", err)
	}
}

// TestBuildIDInputs: an int32 input may be read only by an IDReader, and an IDReader
// only reads an int32 input.
func TestBuildIDInputs(t *testing.T) {
	b := NewBuilder()
	x := b.Input("ids", Shape{4}, Int32)
	d := b.Node(&Dense{Info: Info{Name: "d", Class: "Dense"}, In: 4, Units: 2, W: make([]float32, 8)}, x)
	if _, err := b.Build([]Value{d}, nil, nil); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "int32 input") {
		t.Errorf("Dense on ids: %v", err)
	}
	b = NewBuilder()
	x = b.Input("x", Shape{4}, Float32)
	e := b.Node(&Embedding{Info: Info{Name: "e", Class: "Embedding"}, InputDim: 3, OutputDim: 2, W: make([]float32, 6)}, x)
	if _, err := b.Build([]Value{e}, nil, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Embedding on floats: %v", err)
	}
	b = NewBuilder()
	x = b.Input("ids", Shape{4}, Int32)
	m := b.Node(&MaskIDs{}, x)
	e = b.Node(&Embedding{Info: Info{Name: "e", Class: "Embedding"}, InputDim: 3, OutputDim: 2, W: make([]float32, 6)}, x)
	e2 := b.Node(&Embedding{Info: Info{Name: "e2", Class: "Embedding"}, InputDim: 9, OutputDim: 2, W: make([]float32, 18)}, x)
	g, err := b.Build([]Value{e, e2, m}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Vocabulary(0) != 3 {
		t.Errorf("vocabulary %d, want the smallest reader's 3", g.Vocabulary(0))
	}
	if _, err := g.ReferenceN([][]float32{{IDBits(1), IDBits(2), IDBits(3), IDBits(0)}}, 1); !errors.Is(err, ErrIDOutOfRange) {
		t.Errorf("ReferenceN with id 3: %v", err)
	}
}
