package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"time"

	"github.com/kinfer/kinfer/internal/bytesize"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
)

// benchResult is the --json output; scripts depend on these field names.
type benchResult struct {
	Model          string  `json:"model"`
	Fingerprint    string  `json:"fingerprint"`
	ISA            string  `json:"isa"`
	Batch          int     `json:"batch"`
	Threads        int     `json:"threads"`
	Iters          int     `json:"iters"`
	P50us          float64 `json:"p50_us"`
	P90us          float64 `json:"p90_us"`
	P99us          float64 `json:"p99_us"`
	MeanUs         float64 `json:"mean_us"`
	MinUs          float64 `json:"min_us"`
	ThroughputPerS float64 `json:"throughput_per_s"`
	AllocsPerRun   float64 `json:"allocs_per_run"`
	ArenaBytes     int64   `json:"arena_bytes"`
	GoMaxProcs     int     `json:"gomaxprocs"`
}

func cmdBench(args []string, stdout io.Writer) error {
	fs := newFlags("bench", "bench MODEL [--batch N | --input X.npy] [--threads T] [--iters N | --duration D] [--json]", stdout)
	batch := fs.Int("batch", 1, "samples per call")
	threads := fs.Int("threads", 1, "worker goroutines splitting each batch (1 = single-threaded)")
	iters := fs.Int("iters", 0, "timed calls (overrides --duration)")
	dur := fs.Duration("duration", 2*time.Second, "time spent in timed calls")
	warm := fs.Duration("warmup", 200*time.Millisecond, "warm-up time before timing")
	asJSON := fs.Bool("json", false, "print one JSON object")
	input := fs.String("input", "", "time this input (.npy; its batch axis sets --batch) instead of random normal data")
	maxArena := arenaFlag(fs)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *batch < 1 || *threads < 1 || *iters < 0 || *dur <= 0 {
		return fmt.Errorf("%w: --batch and --threads must be >= 1, --iters >= 0, --duration > 0", errUsage)
	}
	l, err := load(pos[0], false, *batch, maxArena)
	if err != nil {
		return err
	}
	var x []float32
	multi := l.graph.NumInputs() != 1 || len(l.graph.Outputs()) != 1
	if multi && *input != "" {
		return fmt.Errorf("%w: --input takes one array; this model has %d inputs and %d outputs (it is timed on random normal data)", errUsage, l.graph.NumInputs(), len(l.graph.Outputs()))
	}
	if *input != "" {
		var shape []int
		if x, shape, err = readInput(*input, l.graph); err != nil {
			return err
		}
		n, err := batchOf(shape, l.graph.Input(), *input)
		if err != nil {
			return err
		}
		explicit := false
		fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "batch" })
		if explicit && n != *batch {
			return fmt.Errorf("%w: --batch %d but %s holds %d samples", errUsage, *batch, *input, n)
		}
		*batch = n
	} else {
		r := rand.New(rand.NewPCG(1, 1))
		x = make([]float32, *batch*l.graph.Input().Size())
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		if v := l.graph.Vocabulary(0); v > 0 { // token ids: uniform over the vocabulary
			for i := range x {
				x[i] = layers.IDBits(int32(r.IntN(v)))
			}
		}
	}
	m, err := runtime.Compile(l.graph, runtime.Options{MaxBatch: *batch, Threads: *threads, MaxArenaBytes: int64(*maxArena)})
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	y := make([]float32, *batch*l.graph.Output().Size())
	call := func() error { return m.RunInto(y, x, *batch) }
	if multi {
		r := rand.New(rand.NewPCG(1, 1))
		xs := make([][]float32, l.graph.NumInputs())
		for k, t := range l.graph.Inputs() {
			xs[k] = make([]float32, *batch*t.Shape.Size())
			for i := range xs[k] {
				xs[k][i] = float32(r.NormFloat64())
			}
		}
		ys := make([][]float32, len(l.graph.Outputs()))
		for k, t := range l.graph.Outputs() {
			ys[k] = make([]float32, *batch*t.Shape.Size())
		}
		call = func() error { return m.RunMultiInto(ys, xs, *batch) }
	}

	for t0 := time.Now(); time.Since(t0) < *warm; {
		if err := call(); err != nil {
			return err
		}
	}
	n := *iters
	if n == 0 {
		// estimate the count that fills --duration from a short probe
		t0 := time.Now()
		k := 0
		for time.Since(t0) < 50*time.Millisecond {
			call()
			k++
		}
		per := time.Since(t0) / time.Duration(k)
		n = max(10, int(*dur/max(per, 1)))
	}
	lat := make([]time.Duration, n)
	bar := newProgress(n)
	var ms0, ms1 goruntime.MemStats
	goruntime.ReadMemStats(&ms0)
	start := time.Now()
	for i := 0; i < n; i++ {
		t := time.Now()
		call()
		lat[i] = time.Since(t)
		bar.tick(i)
	}
	total := time.Since(start)
	goruntime.ReadMemStats(&ms1)
	bar.done()

	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	res := benchResult{
		Model: pos[0], Fingerprint: l.graph.Fingerprint(), ISA: m.ISA(), Batch: *batch, Threads: *threads, Iters: n,
		P50us: pct(0.5), P90us: pct(0.9), P99us: pct(0.99), MinUs: float64(lat[0].Nanoseconds()) / 1e3,
		MeanUs:         float64(total.Nanoseconds()) / 1e3 / float64(n),
		ThroughputPerS: float64(n**batch) / total.Seconds(),
		AllocsPerRun:   float64(ms1.Mallocs-ms0.Mallocs) / float64(n),
		ArenaBytes:     m.ArenaBytes(), GoMaxProcs: goruntime.GOMAXPROCS(0),
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "%s  batch %d  threads %d  kernel path %s  %d calls\n", pos[0], res.Batch, res.Threads, res.ISA, n)
	fmt.Fprintf(stdout, "latency  p50 %s  p90 %s  p99 %s  min %s\n", us(res.P50us), us(res.P90us), us(res.P99us), us(res.MinUs))
	fmt.Fprintf(stdout, "throughput %.1f samples/s  allocs/call %.2f  arena %s\n", res.ThroughputPerS, res.AllocsPerRun, bytesize.String(res.ArenaBytes))
	return nil
}

func us(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.3f ms", v/1000)
	}
	return fmt.Sprintf("%.2f µs", v)
}

// progress draws a bar on stderr when it is a terminal, and nothing otherwise.
type progress struct {
	n, last int
	on      bool
}

func newProgress(n int) *progress {
	st, err := os.Stderr.Stat()
	return &progress{n: n, last: -1, on: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

func (p *progress) tick(i int) {
	if !p.on {
		return
	}
	pc := (i + 1) * 100 / p.n
	if pc == p.last {
		return
	}
	p.last = pc
	fmt.Fprintf(os.Stderr, "\r[%-40s] %3d%%", strings.Repeat("#", pc*40/100), pc)
}

func (p *progress) done() {
	if p.on {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
}
