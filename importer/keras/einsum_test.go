package keras

import (
	"errors"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
)

// einsumRef is a plain-Go einsum "X,K->O" over the batch of x (shape xs, batch
// included), kernel k (shape ks), for the test's reference.
func einsumRef(eq string, x []float32, xs []int, k []float32, ks []int) ([]float32, []int) {
	lhs, o, _ := strings.Cut(eq, "->")
	xl, kl, _ := strings.Cut(lhs, ",")
	dim := map[byte]int{}
	for i := range xl {
		dim[xl[i]] = xs[i]
	}
	for i := range kl {
		dim[kl[i]] = ks[i]
	}
	all := xl + kl + o
	labels := ""
	for i := range all {
		if !strings.Contains(labels, all[i:i+1]) {
			labels += all[i : i+1]
		}
	}
	os := make([]int, len(o))
	n := 1
	for i := range o {
		os[i] = dim[o[i]]
		n *= os[i]
	}
	out := make([]float64, n)
	idx := map[byte]int{}
	at := func(l string) int {
		f := 0
		for i := range l {
			f = f*dim[l[i]] + idx[l[i]]
		}
		return f
	}
	var walk func(int)
	walk = func(p int) {
		if p == len(labels) {
			out[at(o)] += float64(x[at(xl)]) * float64(k[at(kl)])
			return
		}
		for i := 0; i < dim[labels[p]]; i++ {
			idx[labels[p]] = i
			walk(p + 1)
		}
	}
	walk(0)
	r := make([]float32, n)
	for i, v := range out {
		r[i] = float32(v)
	}
	return r, os
}

// TestEinsumLowering compares the imported EinsumDense (reshapes and a Dense, run by
// the reference kernels) with einsumRef on random weights, for kernels in the
// (contracted, new) order and permuted.
func TestEinsumLowering(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, c := range []struct {
		eq     string
		in     []int // batch excluded
		out    []any
		kshape []int
	}{
		{"ab,bc->ac", []int{5}, []any{3}, []int{5, 3}},
		{"ab,cb->ac", []int{5}, []any{3}, []int{3, 5}},
		{"...b,bc->...c", []int{5}, []any{3}, []int{5, 3}},
		{"...b,bc->...c", []int{2, 5}, []any{3}, []int{5, 3}},
		{"...cd,cde->...e", []int{2, 3, 4}, []any{5}, []int{3, 4, 5}},
		{"abc,cd->abd", []int{2, 5}, []any{2, 3}, []int{5, 3}},
		{"abc,cde->abde", []int{2, 5}, []any{nil, 3, 4}, []int{5, 3, 4}},
		{"abc,ecd->abde", []int{2, 5}, []any{nil, 3, 4}, []int{4, 5, 3}},
		{"abcd,cde->abe", []int{2, 3, 4}, []any{2, 5}, []int{3, 4, 5}},
		{"abcd,dec->abe", []int{2, 3, 4}, []any{2, 5}, []int{4, 5, 3}},
	} {
		kn := 1
		for _, d := range c.kshape {
			kn *= d
		}
		kd := make([]float32, kn)
		for i := range kd {
			kd[i] = float32(rng.NormFloat64())
		}
		cfg := map[string]any{"name": "ed", "equation": c.eq, "output_shape": c.out, "activation": "linear", "bias_axes": nil}
		tm := &tmodel{config: seq3("s", input3(c.in...), k3("EinsumDense", cfg)), weights: []lw{{"ed", []*array{arr(c.kshape, kd...)}}}}
		m, err := tm.load()
		if err != nil {
			t.Fatalf("%s: %v", c.eq, err)
		}
		cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: "generic", MaxBatch: 2})
		if err != nil {
			t.Fatal(err)
		}
		xs := append([]int{2}, c.in...)
		x := make([]float32, 2*layers.Shape(c.in).Size())
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		got, err := cm.Run(x, 2)
		if err != nil {
			t.Fatal(err)
		}
		want, os := einsumRef(elide(c.eq, len(xs)), x, xs, kd, c.kshape)
		if !layers.Shape(os[1:]).Equal(m.Graph.Output()) || len(got) != len(want) {
			t.Fatalf("%s: output %v (%d values), want %v", c.eq, m.Graph.Output(), len(got), os[1:])
		}
		for i := range want {
			if d := math.Abs(float64(got[i] - want[i])); d > 1e-5+1e-5*math.Abs(float64(want[i])) {
				t.Fatalf("%s: output %d = %v, einsum %v", c.eq, i, got[i], want[i])
			}
		}
	}
}

// TestEinsumRefused: equations that are no matrix product after reshapes, and biases
// kinfer's Dense cannot hold, are refused naming the layer and the equation.
func TestEinsumRefused(t *testing.T) {
	for _, c := range []struct {
		eq, bias string
		in       []int
		out      []any
		msg      string
	}{
		{"abc,bd->acd", "", []int{2, 3}, []any{3, 4}, "contracted"},                                             // an input axis neither kept nor contracted
		{"abc,cd->acd", "", []int{2, 3}, []any{3, 4}, "leading"},                                                // an input axis kept behind the kernel's
		{"abc,bd->abd", "", []int{2, 3}, []any{2, 4}, "abc,bd->abd"},                                            // contracts the middle axis, keeps the last
		{"ab...,bc->ac...", "", []int{3}, []any{4}, "ellipsis"},                                                 // right-elided
		{"abc,cd->abd", "bd", []int{2, 3}, []any{2, 4}, "bias_axes"},                                            // bias over a leading axis
		{"ab,bc->ac", "", []int{3}, []any{4, 5}, "output_shape"},                                                // output_shape of another rank
		{"abc,acd->abd", "", []int{2, 3}, []any{2, 4}, "abc,acd->abd"},                                          // batch axis in the kernel
		{"abc,cdefg->abdefg", "", []int{2, 3}, []any{2, 1 << 20, 1 << 20, 1 << 20, 1 << 20}, "outputs per row"}, // no overflow
	} {
		cfg := map[string]any{"name": "ed", "equation": c.eq, "output_shape": c.out, "bias_axes": c.bias}
		tm := &tmodel{config: seq3("s", input3(c.in...), k3("EinsumDense", cfg)), weights: []lw{{"ed", []*array{arr([]int{3, 4})}}}}
		_, err := tm.load()
		if err == nil {
			t.Fatalf("%s: imported", c.eq)
		}
		if !strings.Contains(err.Error(), `"ed" (EinsumDense)`) || !strings.Contains(err.Error(), c.msg) ||
			!(errors.Is(err, layers.ErrUnsupported) || errors.Is(err, layers.ErrInvalid)) {
			t.Fatalf("%s: %v", c.eq, err)
		}
		t.Log(err)
	}
}
