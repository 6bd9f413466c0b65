package keras

import (
	"errors"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

func rnnLayer(class, name string, units int, extra map[string]any) map[string]any {
	cfg := map[string]any{"name": name, "units": units, "activation": "tanh", "use_bias": true,
		"return_sequences": false, "go_backwards": false, "stateful": false, "unroll": false}
	if class == "GRU" {
		cfg["recurrent_activation"] = "sigmoid"
		cfg["reset_after"] = true
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return k3(class, cfg)
}

// TestGRUConfig: reset_after picks the bias layout ((2, 3u) split into input and
// recurrent bias, or (3u)); a wrong layout, bad units, stateful options and mixed
// Bidirectional directions are errors naming the layer.
func TestGRUConfig(t *testing.T) {
	const T, F, U = 5, 3, 4
	kern := func(seed uint64) []*array { return []*array{rnd(seed, F, 3*U), rnd(seed+1, U, 3*U)} }
	after := (&tmodel{config: seq3("s", input3(T, F), rnnLayer("GRU", "g", U, nil)),
		weights: []lw{{"g", append(kern(1), rnd(3, 2, 3*U))}}}).mustLoad(t)
	g := after.Graph.Layer(0).(*layers.GRU)
	if !g.ResetAfter || len(g.B) != 3*U || len(g.RB) != 3*U {
		t.Fatalf("reset_after GRU: %s", g.Config())
	}
	before := (&tmodel{config: seq3("s", input3(T, F), rnnLayer("GRU", "g", U, map[string]any{"reset_after": false})),
		weights: []lw{{"g", append(kern(1), rnd(3, 3*U))}}}).mustLoad(t)
	if g := before.Graph.Layer(0).(*layers.GRU); g.ResetAfter || g.RB != nil {
		t.Fatalf("reset_after=False GRU: %s", g.Config())
	}
	// the two forms differ on the same kernels (the reset applies at another place)
	x := rnd(9, T, F).Data
	b2 := rnd(3, 2, 3*U)
	clear(b2.Data[3*U:]) // no recurrent bias: then only the reset's place differs
	a2 := (&tmodel{config: seq3("s", input3(T, F), rnnLayer("GRU", "g", U, nil)),
		weights: []lw{{"g", append(kern(1), b2)}}}).mustLoad(t)
	b1 := (&tmodel{config: seq3("s", input3(T, F), rnnLayer("GRU", "g", U, map[string]any{"reset_after": false})),
		weights: []lw{{"g", append(kern(1), arr([]int{3 * U}, b2.Data[:3*U]...))}}}).mustLoad(t)
	ya, yb := run(t, a2, x), run(t, b1, x)
	same := true
	for i := range ya {
		same = same && ya[i] == yb[i]
	}
	if same {
		t.Error("reset_after True and False gave the same outputs")
	}

	bad := []struct {
		name string
		tm   *tmodel
		kind error
		msg  string
	}{
		{"reset_after bias (3u)", &tmodel{config: seq3("s", input3(T, F), rnnLayer("GRU", "g", U, nil)),
			weights: []lw{{"g", append(kern(1), rnd(3, 3*U))}}}, layers.ErrShapeMismatch, "bias"},
		{"reset_before bias (2, 3u)", &tmodel{config: seq3("s", input3(T, F), rnnLayer("GRU", "g", U, map[string]any{"reset_after": false})),
			weights: []lw{{"g", append(kern(1), rnd(3, 2, 3*U))}}}, layers.ErrShapeMismatch, "bias"},
		{"kernel (in, 4u)", &tmodel{config: seq3("s", input3(T, F), rnnLayer("GRU", "g", U, map[string]any{"use_bias": false})),
			weights: []lw{{"g", []*array{rnd(1, F, 4*U), rnd(2, U, 3*U)}}}}, layers.ErrShapeMismatch, "kernel"},
		{"units 0", &tmodel{config: seq3("s", input3(T, F), rnnLayer("SimpleRNN", "r", 0, nil)),
			weights: []lw{{"r", []*array{rnd(1, F, 1), rnd(2, 1, 1), rnd(3, 1)}}}}, layers.ErrInvalid, "units"},
		{"return_state", &tmodel{config: seq3("s", input3(T, F), rnnLayer("SimpleRNN", "r", U, map[string]any{"return_state": true})),
			weights: []lw{{"r", []*array{rnd(1, F, U), rnd(2, U, U), rnd(3, U)}}}}, layers.ErrUnsupported, "return_state"},
		{"unknown activation", &tmodel{config: seq3("s", input3(T, F), rnnLayer("GRU", "g", U, map[string]any{"recurrent_activation": "mish"})),
			weights: []lw{{"g", append(kern(1), rnd(3, 2, 3*U))}}}, layers.ErrUnsupported, "mish"},
		{"rank-2 input", &tmodel{config: seq3("s", input3(F), rnnLayer("SimpleRNN", "r", U, nil)),
			weights: []lw{{"r", []*array{rnd(1, F, U), rnd(2, U, U), rnd(3, U)}}}}, layers.ErrShapeMismatch, "sequence"},
		{"mixed Bidirectional", &tmodel{config: seq3("s", input3(T, F), k3("Bidirectional", map[string]any{"name": "bi",
			"layer":          rnnLayer("GRU", "f", U, nil),
			"backward_layer": rnnLayer("SimpleRNN", "b", U, map[string]any{"go_backwards": true})})),
			weights: []lw{{"bi", append(append(kern(1), rnd(3, 2, 3*U)), rnd(4, F, U), rnd(5, U, U), rnd(6, U))}}}, layers.ErrUnsupported, "SimpleRNN"},
		{"TimeDistributed(GRU) on rank 2", &tmodel{config: seq3("s", input3(T, F), k3("TimeDistributed", map[string]any{"name": "td",
			"layer": rnnLayer("GRU", "g", U, nil)})), weights: []lw{{"td", append(kern(1), rnd(3, 2, 3*U))}}}, layers.ErrShapeMismatch, "TimeDistributed"},
	}
	for _, c := range bad {
		_, err := c.tm.load()
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err = %v, want %v naming %q", c.name, err, c.kind, c.msg)
		}
	}
}

// TestSimpleRNNBidirectional: Bidirectional(SimpleRNN) is the forward layer and the
// time-reversed backward layer, merged; TimeDistributed(SimpleRNN) is the layer per
// leading entry.
func TestSimpleRNNBidirectional(t *testing.T) {
	const T, F, U = 4, 3, 2
	ws := func(seed uint64) []*array { return []*array{rnd(seed, F, U), rnd(seed+1, U, U), rnd(seed+2, U)} }
	x := rnd(20, T, F).Data
	fw := (&tmodel{config: seq3("s", input3(T, F), rnnLayer("SimpleRNN", "r", U, map[string]any{"return_sequences": true})),
		weights: []lw{{"r", ws(1)}}}).mustLoad(t)
	bw := (&tmodel{config: seq3("s", input3(T, F), rnnLayer("SimpleRNN", "r", U, map[string]any{"return_sequences": true, "go_backwards": true})),
		weights: []lw{{"r", ws(4)}}}).mustLoad(t)
	bi := (&tmodel{config: seq3("s", input3(T, F), k3("Bidirectional", map[string]any{"name": "bi", "merge_mode": "sum",
		"layer": rnnLayer("SimpleRNN", "r", U, map[string]any{"return_sequences": true})})),
		weights: []lw{{"bi", append(ws(1), ws(4)...)}}}).mustLoad(t)
	f, b, got := run(t, fw, x), run(t, bw, x), run(t, bi, x)
	var want []float32
	for s := 0; s < T; s++ {
		for j := 0; j < U; j++ {
			want = append(want, f[s*U+j]+b[(T-1-s)*U+j])
		}
	}
	near(t, "bidirectional sum", got, want, 1e-6)

	td := (&tmodel{config: seq3("s", input3(2, T, F), k3("TimeDistributed", map[string]any{"name": "td",
		"layer": rnnLayer("SimpleRNN", "r", U, map[string]any{"return_sequences": true})})),
		weights: []lw{{"td", ws(1)}}}).mustLoad(t)
	x2 := append(append([]float32(nil), x...), rnd(21, T, F).Data...)
	y2 := run(t, td, x2)
	near(t, "timedistributed entry 0", y2[:T*U], f, 0)
	near(t, "timedistributed entry 1", y2[T*U:], run(t, fw, x2[T*F:]), 0)
}
