package runtime

import (
	"math/rand/v2"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/kinfer/kinfer/layers"
)

// TestMinPart: the split threshold for Dense-heavy and convolutional models.
func TestMinPart(t *testing.T) {
	for _, c := range []struct {
		params, flops int64
		want          int
	}{
		{669706, 1339442, 16}, // bench mlp: ~2 FLOPs per weight per sample
		{34826, 4968754, 1},   // bench mnist_cnn
		{948970, 79101450, 1}, // bench cifar_cnn
		{0, 100, 1},
		{100, 0, 1},
	} {
		if got := minPart(c.params, c.flops); got != c.want {
			t.Errorf("minPart(%d, %d) = %d, want %d", c.params, c.flops, got, c.want)
		}
	}
}

// TestPoolWorkersExit: a Model with Threads starts its workers on the first split batch,
// and they end once the Model is unreachable (no goroutine leak per Model).
func TestPoolWorkersExit(t *testing.T) {
	g := testGraphs(t)["cnn"]
	before := goruntime.NumGoroutine()
	func() {
		m, err := Compile(g, Options{MaxBatch: 4, Threads: 4})
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 64*g.Input().Size())
		if _, err := m.Run(x, 64); err != nil {
			t.Fatal(err)
		}
	}()
	for i := 0; i < 100 && goruntime.NumGoroutine() > before; i++ {
		goruntime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := goruntime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the Model is gone, %d before", n, before)
	}
}

// TestBatchSplitPlan: recurrent models split the batch from batch 2 (also those whose
// LSTM steps split by gate columns at batch 1: lstmColMaxBatch), and a Dense-only
// model never splits its batch.
func TestBatchSplitPlan(t *testing.T) {
	gs := benchRecGraphs(t)
	for _, c := range []struct {
		g       *layers.Graph
		name    string
		split   bool
		minPart int
	}{
		{gs["text_lstm"], "text_lstm", true, 1},
		{gs["lstm256"], "lstm256", true, 1},
		{splitGraphs(t)["gru_wide"], "gru_wide", true, 3}, // its intensity bound (7 steps)
		{splitGraphs(t)["stack_lstm"], "stack_lstm", true, 2},
		{splitGraphs(t)["wide_mlp"], "wide_mlp", false, 0},
	} {
		m, err := Compile(c.g, Options{MaxBatch: 8, Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		if m.batchSplit != c.split || c.split && m.minPart != c.minPart {
			t.Errorf("%s: batch split %v, minPart %d; want %v, %d", c.name, m.batchSplit, m.minPart, c.split, c.minPart)
		}
	}
}

// benchRecGraphs are random-weight models of the bench's recurrent shapes (bench/models.py):
// lstm256 (LSTM 256 over 100 steps of 32, Dense 10) and text_lstm (two LSTM 128 over 50
// steps of 64, Dense 5 softmax).
func benchRecGraphs(t testing.TB) map[string]*layers.Graph {
	r := rand.New(rand.NewPCG(31, 32))
	lstm := func(name string, in, u int, seq bool) *layers.LSTM {
		return &layers.LSTM{Info: info(name, "LSTM"), In: in, Units: u, W: randSlice(r, in*4*u, 0.1), U: randSlice(r, u*4*u, 0.1), B: randSlice(r, 4*u, 0.1),
			Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}, ReturnSequences: seq}
	}
	dense := func(name string, in, out int, act layers.Activation) *layers.Dense {
		return &layers.Dense{Info: info(name, "Dense"), In: in, Units: out, W: randSlice(r, in*out, 0.1), B: randSlice(r, out, 0.1), Act: act}
	}
	gs := map[string]*layers.Graph{}
	add := func(name string, in layers.Shape, ls ...layers.Layer) {
		g, err := layers.NewGraph(in, ls, nil)
		if err != nil {
			t.Fatal(err)
		}
		gs[name] = g
	}
	add("lstm256", layers.Shape{100, 32}, lstm("l", 32, 256, false), dense("d", 256, 10, layers.ActLinear))
	add("text_lstm", layers.Shape{50, 64}, lstm("l1", 64, 128, true), lstm("l2", 128, 128, false),
		dense("d", 128, 5, layers.Activation{Kind: layers.Softmax}))
	return gs
}
