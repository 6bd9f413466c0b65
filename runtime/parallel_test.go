package runtime

import (
	goruntime "runtime"
	"testing"
	"time"
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
