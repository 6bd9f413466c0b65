// Command inproc times kinfer and ONNX Runtime in one Go process, interleaved: the same
// model (kinfer from the bench's model.npz, ONNX Runtime from its model.onnx through the
// C API via github.com/yalue/onnxruntime_go), the same input, at each batch size and
// thread count, with ONNX Runtime's intra-op pool spinning and not spinning. It is a
// separate module so the kinfer module stays free of cgo.
//
//	cd bench/inproc && go run . -cache ../.cache -out ../results
//
// -cache is the directory bench/models.py writes (bench/run.py's bench/.cache by default).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/runtime"
	ort "github.com/yalue/onnxruntime_go"
)

// engine is one thing being timed: run computes one batch.
type engine struct {
	name string
	run  func() error
	out  func() []float32
	done func()
}

// cell is the result for one (model, batch, threads, engine).
type cell struct {
	Model   string    `json:"model"`
	Batch   int       `json:"batch"`
	Threads int       `json:"threads"`
	Engine  string    `json:"engine"`
	Median  float64   `json:"median_us"` // median over rounds of the round's median call
	Rounds  []float64 `json:"rounds_us"`
	// CPU is the process's CPU time over wall time while the engine's calls were timed
	// (median over rounds): about the threads it kept busy, helpers' spinning included.
	CPU     float64 `json:"cpu_per_wall"`
	MaxDiff float64 `json:"max_abs_diff_vs_kinfer,omitempty"`
}

func main() {
	cache := flag.String("cache", "../.cache", "bench model directory (bench/models.py --cache)")
	models := flag.String("models", "mlp,mnist_cnn,cifar_cnn,text_lstm,lstm256", "models")
	batches := flag.String("batches", "1,8,64", "batch sizes")
	threads := flag.String("threads", "1,"+strconv.Itoa(goruntime.NumCPU()), "thread counts")
	rounds := flag.Int("rounds", 7, "interleaved rounds")
	per := flag.Duration("per", 60*time.Millisecond, "timed calls per engine per round")
	warm := flag.Duration("warm", 20*time.Millisecond, "warm-up per engine per round")
	// ONNX Runtime's spinning pool keeps a core busy for about 25 ms after its last Run
	// (measured: ~1 core for 16 ms, 0.5 for the next 16, then none), which the next
	// engine's warm-up and first timed calls would otherwise share.
	gap := flag.Duration("gap", 40*time.Millisecond, "idle time after each engine's timed calls")
	lib := flag.String("ortlib", defaultLib(), "libonnxruntime shared library")
	out := flag.String("out", "", "write inprocess.md and inprocess.json here")
	render := flag.String("render", "", "only rewrite -out's inprocess.md from this inprocess.json")
	flag.Parse()
	if *render != "" {
		var saved struct {
			Meta  map[string]string `json:"meta"`
			Cells []cell            `json:"cells"`
		}
		raw, err := os.ReadFile(*render)
		if err == nil {
			err = json.Unmarshal(raw, &saved)
		}
		if err == nil {
			err = write(*out, saved.Meta, saved.Cells)
		}
		if err != nil {
			fail(err)
		}
		return
	}

	ort.SetSharedLibraryPath(*lib)
	if err := ort.InitializeEnvironment(); err != nil {
		fail(err)
	}
	defer ort.DestroyEnvironment()

	var cells []cell
	start := time.Now()
	load0 := loadavg()
	for _, name := range strings.Split(*models, ",") {
		for _, b := range ints(*batches) {
			for _, t := range ints(*threads) {
				cs, err := measure(filepath.Join(*cache, name), name, b, t, *rounds, *per, *warm, *gap)
				if err != nil {
					fail(fmt.Errorf("%s batch %d threads %d: %w", name, b, t, err))
				}
				for _, c := range cs {
					fmt.Printf("%-10s b%-3d t%d %-16s %10.1f us  diff %.1e\n", c.Model, c.Batch, c.Threads, c.Engine, c.Median, c.MaxDiff)
				}
				cells = append(cells, cs...)
			}
		}
	}
	if *out != "" {
		meta := map[string]string{
			"date": start.UTC().Format("2006-01-02 15:04 UTC"), "elapsed": time.Since(start).Round(time.Second).String(),
			"go": goruntime.Version(), "onnxruntime_go": modVersion("github.com/yalue/onnxruntime_go"), "ortlib": filepath.Base(*lib),
			"load_start": load0, "load_end": loadavg(), "cpus": strconv.Itoa(goruntime.NumCPU()),
			"rounds": strconv.Itoa(*rounds), "per": per.String(), "warm": warm.String(), "gap": gap.String(),
		}
		if err := write(*out, meta, cells); err != nil {
			fail(err)
		}
	}
}

// measure times kinfer and ONNX Runtime (spinning on and off) on one configuration.
func measure(dir, name string, batch, threads, rounds int, per, warm, gap time.Duration) ([]cell, error) {
	goruntime.GOMAXPROCS(threads)
	defer goruntime.GOMAXPROCS(goruntime.NumCPU())
	km, err := keras.Load(filepath.Join(dir, "model.npz"))
	if err != nil {
		return nil, err
	}
	m, err := runtime.Compile(km.Graph, runtime.Options{MaxBatch: batch, Threads: threads})
	if err != nil {
		return nil, err
	}
	in, outN := m.InputShape().Size(), m.OutputShape().Size()
	r := rand.New(rand.NewPCG(uint64(batch), 7))
	x := make([]float32, batch*in)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	y := make([]float32, batch*outN)
	engines := []*engine{{name: "kinfer", run: func() error { return m.RunInto(y, x, batch) }, out: func() []float32 { return y }, done: func() {}}}
	for _, spin := range []bool{true, false} {
		e, err := ortEngine(filepath.Join(dir, "model.onnx"), x, m.InputShape(), outN, batch, threads, spin)
		if err != nil {
			return nil, err
		}
		engines = append(engines, e)
	}
	if threads > 1 {
		// kinfer on one thread in the same rounds: the threads' speed-up, interleaved
		m1, err := runtime.Compile(km.Graph, runtime.Options{MaxBatch: batch, Threads: 1})
		if err != nil {
			return nil, err
		}
		y1 := make([]float32, batch*outN)
		engines = append(engines, &engine{name: "kinfer 1 thread", run: func() error { return m1.RunInto(y1, x, batch) }, out: func() []float32 { return y1 }, done: func() {}})
	}
	defer func() {
		for _, e := range engines {
			e.done()
		}
	}()
	for _, e := range engines {
		if err := e.run(); err != nil {
			return nil, fmt.Errorf("%s: %w", e.name, err)
		}
	}
	ref := slices.Clone(y)
	res := make([][]float64, len(engines))
	cpus := make([][]float64, len(engines))
	for round := 0; round < rounds; round++ {
		for j := range engines {
			k := (j + round) % len(engines) // rotate the order each round
			e := engines[k]
			for t0 := time.Now(); time.Since(t0) < warm; {
				_ = e.run()
			}
			var times []float64
			c0, w0 := cpuTime(), time.Now()
			for t0 := time.Now(); time.Since(t0) < per || len(times) < 3; {
				c0 := time.Now()
				if err := e.run(); err != nil {
					return nil, err
				}
				times = append(times, float64(time.Since(c0).Nanoseconds())/1e3)
			}
			res[k] = append(res[k], median(times))
			cpus[k] = append(cpus[k], (cpuTime()-c0).Seconds()/time.Since(w0).Seconds())
			time.Sleep(gap)
		}
	}
	var cs []cell
	for k, e := range engines {
		c := cell{Model: name, Batch: batch, Threads: threads, Engine: e.name, Median: median(slices.Clone(res[k])), Rounds: res[k], CPU: median(cpus[k])}
		if k > 0 {
			c.MaxDiff = maxDiff(e.out(), ref)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// ortEngine opens model.onnx with intra-op threads (inter-op 1, sequential, all graph
// optimizations), spinning or not, with the input and output tensors bound once.
func ortEngine(path string, x []float32, inShape []int, outN, batch, threads int, spin bool) (*engine, error) {
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, err
	}
	if len(ins) != 1 || len(outs) != 1 {
		return nil, fmt.Errorf("%s: %d inputs, %d outputs", path, len(ins), len(outs))
	}
	o, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer o.Destroy()
	s := "1"
	if !spin {
		s = "0"
	}
	for _, err := range []error{
		o.SetIntraOpNumThreads(threads), o.SetInterOpNumThreads(1),
		o.SetExecutionMode(ort.ExecutionModeSequential), o.SetGraphOptimizationLevel(ort.GraphOptimizationLevelEnableAll),
		o.AddSessionConfigEntry("session.intra_op.allow_spinning", s),
		o.AddSessionConfigEntry("session.inter_op.allow_spinning", s),
	} {
		if err != nil {
			return nil, err
		}
	}
	dims := []int64{int64(batch)}
	for _, d := range inShape {
		dims = append(dims, int64(d))
	}
	xt, err := ort.NewTensor(ort.NewShape(dims...), x)
	if err != nil {
		return nil, err
	}
	od := []int64{int64(batch)}
	for _, d := range outs[0].Dimensions[1:] {
		od = append(od, d)
	}
	yt, err := ort.NewEmptyTensor[float32](ort.NewShape(od...))
	if err != nil {
		return nil, err
	}
	if len(yt.GetData()) != batch*outN {
		return nil, fmt.Errorf("%s: output shape %v, want %d values", path, od, batch*outN)
	}
	sess, err := ort.NewDynamicAdvancedSession(path, []string{ins[0].Name}, []string{outs[0].Name}, o)
	if err != nil {
		return nil, err
	}
	name := "ort spin"
	if !spin {
		name = "ort no-spin"
	}
	in, out := []ort.Value{xt}, []ort.Value{yt}
	return &engine{name: name, run: func() error { return sess.Run(in, out) }, out: yt.GetData,
		done: func() { sess.Destroy(); xt.Destroy(); yt.Destroy() }}, nil
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(v []float64) float64 {
	slices.Sort(v)
	if len(v) == 0 {
		return math.NaN()
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func ints(s string) []int {
	var o []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fail(err)
		}
		o = append(o, n)
	}
	return o
}

// defaultLib is the libonnxruntime of the bench's pinned onnxruntime wheel.
func defaultLib() string {
	m, _ := filepath.Glob("/opt/kvenv/lib/python3.*/site-packages/onnxruntime/capi/libonnxruntime.so.*")
	if len(m) > 0 {
		return m[0]
	}
	return "libonnxruntime.so"
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func modVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "?"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "inproc:", err)
	os.Exit(1)
}

// write saves the cells as JSON and a markdown table of kinfer against both ORT settings.
func write(dir string, meta map[string]string, cells []cell) error {
	j, err := json.MarshalIndent(map[string]any{"meta": meta, "cells": cells}, "", " ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "inprocess.json"), j, 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# kinfer and ONNX Runtime in one Go process\n\n")
	fmt.Fprintf(&b, "Run %s (%s), %s CPUs, load average %s at the start, %s at the end; %s, onnxruntime_go %s, %s.\n",
		meta["date"], meta["elapsed"], meta["cpus"], meta["load_start"], meta["load_end"], meta["go"], meta["onnxruntime_go"], meta["ortlib"])
	fmt.Fprintf(&b, "Per configuration: %s interleaved rounds (engine order rotated), each engine warming up %s then timing %s of calls; the figure is the median over rounds of each round's median call.\n",
		meta["rounds"], meta["warm"], meta["per"])
	if meta["gap"] != "" {
		fmt.Fprintf(&b, "After each engine's timed calls the process idles %s (ONNX Runtime's spinning threads keep a core busy for ~25 ms after a run).\n", meta["gap"])
	}
	fmt.Fprintf(&b, "Ratio = ONNX Runtime time / kinfer time (> 1: kinfer faster).\n\n")
	var one []float64
	for _, c := range cells {
		if c.Engine == "kinfer" && c.Threads == 1 {
			one = append(one, c.CPU)
		}
	}
	if m := median(one); m < 0.8 {
		fmt.Fprintf(&b, "**Warning: while one-thread kinfer ran, this process got %.2f of a core (median CPU/wall): other processes held the CPUs, so these times measure the machine's load as much as the engines, and the 2-thread rows could not use a second core.**\n\n", m)
	}
	fmt.Fprintf(&b, "\"kinfer T / 1\": kinfer's time on T threads over its one-thread time in the same rounds (median of the per-round ratios; < 1: the threads help).\n\n")
	fmt.Fprintf(&b, "\"kinfer CPU\": the process's CPU time / wall time while kinfer's calls were timed (median over rounds; about 2 when two threads ran, lower when other processes held the second core).\n\n")
	fmt.Fprintf(&b, "| model | batch | threads | kinfer | kinfer CPU | kinfer T / 1 | ORT spinning | ratio | ORT not spinning | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for i := 0; i < len(cells); {
		k, s, n := cells[i], cells[i+1], cells[i+2]
		sp := "–"
		i += 3
		if i < len(cells) && cells[i].Engine == "kinfer 1 thread" {
			one := cells[i]
			var rs []float64
			for j := range k.Rounds {
				rs = append(rs, k.Rounds[j]/one.Rounds[j])
			}
			sp = fmt.Sprintf("%.2f", median(rs))
			i++
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %.2f | %s | %s | %.2f | %s | %.2f |\n", k.Model, k.Batch, k.Threads, us(k.Median), k.CPU, sp, us(s.Median), s.Median/k.Median, us(n.Median), n.Median/k.Median)
	}
	return os.WriteFile(filepath.Join(dir, "inprocess.md"), []byte(b.String()), 0o644)
}

func us(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2f ms", v/1000)
	}
	return fmt.Sprintf("%.1f µs", v)
}
