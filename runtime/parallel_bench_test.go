package runtime

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/layers"
)

// BenchmarkThreads times a model named by KINFER_BENCH_MODEL (an .npz) at batch 1, 8 and
// 64 on 1 and 2 threads (and 2 with intra-op splits only); it is skipped without it.
func BenchmarkThreads(b *testing.B) {
	path := os.Getenv("KINFER_BENCH_MODEL")
	if path == "" {
		b.Skip("KINFER_BENCH_MODEL not set")
	}
	km, err := keras.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 8, 64} {
		for _, th := range []int{1, 2, -2} {
			m, err := Compile(km.Graph, Options{MaxBatch: batch, Threads: max(th, -th)})
			if err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("b%d/t%d", batch, th)
			if th < 0 {
				m.batchSplit = false // intra-op splits only
				name = fmt.Sprintf("b%d/t%dintra", batch, -th)
			}
			r := rand.New(rand.NewPCG(1, 2))
			x := randSlice(r, batch*m.InputShape().Size(), 1)
			y := make([]float32, batch*m.OutputShape().Size())
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = m.RunInto(y, x, batch)
				}
			})
		}
	}
}

// BenchmarkTeamRegion is the cost of posting and joining one region of empty tasks (the
// fixed cost every split step pays), on a team of 2 and on the caller alone.
func BenchmarkTeamRegion(b *testing.B) {
	for _, threads := range []int{1, 2} {
		for _, tasks := range []int{2, 4} {
			b.Run(fmt.Sprintf("threads%d/tasks%d", threads, tasks), func(b *testing.B) {
				tm := newTeam(threads)
				defer tm.stop()
				c := &counter{ran: make([]int, tasks)}
				for b.Loop() {
					tm.runTasks(c, tasks, nil, nil, nil, 0, 0, 0)
				}
			})
		}
	}
}

// TestBatchPartsTiming times the batch split of the model named by KINFER_BENCH_MODEL at
// batch 64 on 2 threads with 1, 2 and 4 parts per worker and on one thread, interleaved
// round by round, and logs the medians (run with -v; skipped without the variable).
func TestBatchPartsTiming(t *testing.T) {
	path := os.Getenv("KINFER_BENCH_MODEL")
	if path == "" {
		t.Skip("KINFER_BENCH_MODEL not set")
	}
	km, err := keras.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	const batch, rounds, calls = 64, 15, 3
	m1, err := Compile(km.Graph, Options{MaxBatch: batch, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := Compile(km.Graph, Options{MaxBatch: batch, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	x := randSlice(r, batch*m1.InputShape().Size(), 1)
	y := make([]float32, batch*m1.OutputShape().Size())
	old := batchPartsPerWorker
	defer func() { batchPartsPerWorker = old }()
	parts := []int{0, 1, 2, 4} // 0: one thread
	times := make([][]float64, len(parts))
	for round := range rounds {
		for j := range parts {
			p := parts[(j+round)%len(parts)]
			k := (j + round) % len(parts)
			m := m2
			if p == 0 {
				m = m1
			} else {
				batchPartsPerWorker = p
			}
			_ = m.RunInto(y, x, batch)
			start := time.Now()
			for range calls {
				_ = m.RunInto(y, x, batch)
			}
			times[k] = append(times[k], float64(time.Since(start))/calls/1e6)
		}
	}
	for k, p := range parts {
		slices.Sort(times[k])
		t.Logf("parts per worker %d (0: one thread): median %.2f ms", p, times[k][len(times[k])/2])
	}
}

// TestSplitBreakEvenTiming measures what parMinFLOPs should be: a batch-1 Dense of F
// FLOPs (256 columns, split by columns) on one thread and split on a team of 2, for F
// from 25k to 400k, interleaved round by round, with the back-off disabled so every
// split region really waits for the helper. It logs each size's minimum (the cost with
// both threads on a core) and median per call; the threshold is where split/serial
// crosses 1. Run with KINFER_TIMING=1 -v; skipped otherwise.
func TestSplitBreakEvenTiming(t *testing.T) {
	if os.Getenv("KINFER_TIMING") == "" {
		t.Skip("KINFER_TIMING not set")
	}
	oldWait, oldAlone := backOffWait, backOffAlone
	backOffWait, backOffAlone = 1<<62, 1<<30
	defer func() { backOffWait, backOffAlone = oldWait, oldAlone }()
	r := rand.New(rand.NewPCG(5, 6))
	const n, rounds, calls = 256, 41, 200
	for _, k := range []int{48, 96, 192, 384, 768} {
		g, err := layers.NewGraph(layers.Shape{k}, []layers.Layer{&layers.Dense{Info: info("d", "Dense"), In: k, Units: n,
			W: randSlice(r, k*n, 0.1), B: randSlice(r, n, 0.1), Act: layers.ActLinear}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var ms [2]*Model
		withSplitAll(func() {
			for i := range ms {
				if ms[i], err = Compile(g, Options{MaxBatch: 1, Threads: i + 1}); err != nil {
					t.Fatal(err)
				}
			}
		})
		x := randSlice(r, k, 1)
		y := make([]float32, n)
		var times [2][]float64
		old := parMinFLOPs
		parMinFLOPs = 0
		for round := range rounds {
			for j := range 2 {
				i := (j + round) % 2
				for range calls / 10 {
					_ = ms[i].RunInto(y, x, 1)
				}
				start := time.Now()
				for range calls {
					_ = ms[i].RunInto(y, x, 1)
				}
				times[i] = append(times[i], float64(time.Since(start))/calls/1e3)
			}
		}
		parMinFLOPs = old
		for i := range times {
			slices.Sort(times[i])
		}
		t.Logf("%6d FLOPs: one thread min %.2f median %.2f us; split on 2 min %.2f median %.2f us; split/serial min %.2f median %.2f",
			2*k*n, times[0][0], times[0][rounds/2], times[1][0], times[1][rounds/2], times[1][0]/times[0][0], times[1][rounds/2]/times[0][rounds/2])
	}
}

// TestSeqLSTMSplitTiming times a small LSTM (whole-sequence kernel, 16 units, 50 steps)
// at batch 8 on one thread and on 2, interleaved round by round, and logs minimum and
// median per call (KINFER_TIMING=1 -v; skipped otherwise).
func TestSeqLSTMSplitTiming(t *testing.T) {
	if os.Getenv("KINFER_TIMING") == "" {
		t.Skip("KINFER_TIMING not set")
	}
	if os.Getenv("KINFER_NO_BACKOFF") != "" {
		oldWait, oldAlone := backOffWait, backOffAlone
		backOffWait, backOffAlone = 1<<62, 1<<30
		defer func() { backOffWait, backOffAlone = oldWait, oldAlone }()
	}
	r := rand.New(rand.NewPCG(7, 8))
	const in, u, steps, batch, rounds, calls = 16, 16, 50, 8, 31, 50
	l := &layers.LSTM{Info: info("l", "LSTM"), In: in, Units: u, W: randSlice(r, in*4*u, 0.2), U: randSlice(r, u*4*u, 0.2), B: randSlice(r, 4*u, 0.2),
		Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}}
	g, err := layers.NewGraph(layers.Shape{steps, in}, []layers.Layer{l}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ms [2]*Model
	for i := range ms {
		if ms[i], err = Compile(g, Options{MaxBatch: batch, Threads: i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	x := randSlice(r, batch*steps*in, 1)
	y := make([]float32, batch*u)
	var times [2][]float64
	for round := range rounds {
		for j := range 2 {
			i := (j + round) % 2
			_ = ms[i].RunInto(y, x, batch)
			start := time.Now()
			for range calls {
				_ = ms[i].RunInto(y, x, batch)
			}
			times[i] = append(times[i], float64(time.Since(start))/calls/1e3)
		}
	}
	for i := range times {
		slices.Sort(times[i])
	}
	t.Logf("small LSTM batch %d: one thread min %.1f median %.1f us; 2 threads min %.1f median %.1f us", batch,
		times[0][0], times[0][rounds/2], times[1][0], times[1][rounds/2])
}
