package runtime_test

import (
	"math"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/runtime"
	"github.com/kinfer/kinfer/runtime/asm"
)

// TestKerasZooEveryISA runs every Keras fixture through the compiled model on every
// kernel path this machine has, against Keras's own outputs, within the same bound as
// the reference pass (testdata/keras/MANIFEST.json; default 1e-5 + 1e-5*|want|).
func TestKerasZooEveryISA(t *testing.T) {
	cases, err := zoo.Keras("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		m, err := keras.Load(c.Path)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		s := m.Samples
		if s == nil || s.Y == nil {
			t.Errorf("%s: no stored samples", c.Name)
			continue
		}
		for _, isa := range asm.Paths() {
			for _, mb := range []int{1, s.N} {
				cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa.String(), MaxBatch: mb})
				if err != nil {
					t.Fatalf("%s/%v: %v", c.Name, isa, err)
				}
				var x0 [][]float32
				for _, x := range s.Xs {
					x0 = append(x0, append([]float32(nil), x...))
				}
				gots, err := cm.RunMulti(s.Xs, s.N)
				if err != nil {
					t.Fatal(err)
				}
				for k := range x0 {
					for i := range x0[k] {
						if math.Float32bits(s.Xs[k][i]) != math.Float32bits(x0[k][i]) {
							t.Fatalf("%s isa=%v: input %d was written (index %d)", c.Name, isa, k, i)
						}
					}
				}
				if len(gots) != len(s.Ys) {
					t.Fatalf("%s: %d outputs, %d stored", c.Name, len(gots), len(s.Ys))
				}
				var maxAbs, worst float64
				for k, got := range gots {
					a, w, err := c.Bound.Check(got, s.Ys[k])
					if err != nil {
						t.Errorf("%s isa=%v maxbatch=%d output %d: %v", c.Name, isa, mb, k, err)
					}
					maxAbs, worst = max(maxAbs, a), max(worst, w)
				}
				if testing.Verbose() && mb == 1 {
					t.Logf("%-32s %-8v max abs err %.2e (%.2f of bound)", c.Name, isa, maxAbs, worst)
				}
			}
		}
	}
}

// TestKerasZooZeroAllocs checks that every Keras fixture, chains and DAGs, runs with
// zero allocations per call after warm-up, on every kernel path.
func TestKerasZooZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	cases, err := zoo.Keras("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		m, err := keras.Load(c.Path)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		s := m.Samples
		for _, isa := range asm.Paths() {
			cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa.String(), MaxBatch: s.N})
			if err != nil {
				t.Fatalf("%s/%v: %v", c.Name, isa, err)
			}
			dsts := make([][]float32, len(s.Ys))
			for k, y := range s.Ys {
				dsts[k] = make([]float32, len(y))
			}
			if err := cm.RunMultiInto(dsts, s.Xs, s.N); err != nil {
				t.Fatal(err)
			}
			if a := testing.AllocsPerRun(5, func() { cm.RunMultiInto(dsts, s.Xs, s.N) }); a != 0 {
				t.Errorf("%s isa=%v: %v allocations per RunMultiInto", c.Name, isa, a)
			}
			if len(s.Xs) == 1 && len(s.Ys) == 1 {
				if a := testing.AllocsPerRun(5, func() { cm.RunInto(dsts[0], s.X, s.N) }); a != 0 {
					t.Errorf("%s isa=%v: %v allocations per RunInto", c.Name, isa, a)
				}
			}
		}
	}
}

// TestONNXZooEveryISA runs every ONNX fixture (every input and output) through the
// compiled model on every kernel path against ONNX Runtime's outputs (bound 1e-5 +
// 1e-5*|want|), and checks a call allocates nothing.
func TestONNXZooEveryISA(t *testing.T) {
	cases, err := zoo.ONNX("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		m, err := onnx.Load(c.Path)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		xs, ys, batch, err := c.ArraysN()
		if err != nil {
			t.Fatal(err)
		}
		for _, isa := range asm.Paths() {
			cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa.String(), MaxBatch: 2})
			if err != nil {
				t.Fatalf("%s/%v: %v", c.Name, isa, err)
			}
			x0 := make([][]float32, len(xs))
			for k := range xs {
				x0[k] = append([]float32(nil), xs[k]...)
			}
			got, err := cm.RunMulti(xs, batch)
			if err != nil {
				t.Fatal(err)
			}
			for k := range xs {
				for i := range xs[k] {
					if math.Float32bits(xs[k][i]) != math.Float32bits(x0[k][i]) {
						t.Fatalf("%s isa=%v: input %d was written (index %d)", c.Name, isa, k, i)
					}
				}
			}
			if len(got) != len(ys) {
				t.Fatalf("%s: %d outputs, ORT %d", c.Name, len(got), len(ys))
			}
			for k := range ys {
				maxAbs, worst, err := c.Bound.Check(got[k], ys[k])
				if err != nil {
					t.Errorf("%s isa=%v output %d: %v", c.Name, isa, k, err)
				}
				if testing.Verbose() {
					t.Logf("%-32s %-8v out %d max abs err %.2e (%.2f of bound)", c.Name, isa, k, maxAbs, worst)
				}
			}
			if allocs := testing.AllocsPerRun(3, func() { _ = cm.RunMultiInto(got, xs, batch) }); allocs != 0 {
				t.Errorf("%s isa=%v: %v allocations per call", c.Name, isa, allocs)
			}
		}
	}
}

// BenchmarkKerasZoo measures every Keras fixture at batch 1 and 32 on every kernel
// path. Compare paths as ratios within one run (e.g. with benchstat over -count runs).
func BenchmarkKerasZoo(b *testing.B) {
	cases, err := zoo.Keras("..")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range cases {
		m, err := keras.Load(c.Path)
		if err != nil {
			b.Fatal(err)
		}
		g := m.Graph
		for _, batch := range []int{1, 32} {
			for _, isa := range asm.Paths() {
				cm, err := runtime.Compile(g, runtime.Options{ISA: isa.String(), MaxBatch: batch})
				if err != nil {
					b.Fatal(err)
				}
				xs := make([][]float32, g.NumInputs())
				for k, in := range g.Inputs() {
					xs[k] = make([]float32, batch*in.Shape.Size())
					for i := range xs[k] {
						xs[k][i] = float32(i%7) * 0.1
					}
				}
				ys := make([][]float32, len(g.Outputs()))
				for k, o := range g.Outputs() {
					ys[k] = make([]float32, batch*o.Shape.Size())
				}
				b.Run(c.Name+"/batch"+itoa(batch)+"/"+isa.String(), func(b *testing.B) {
					b.ReportAllocs()
					single := len(xs) == 1 && len(ys) == 1
					for b.Loop() {
						if single {
							cm.RunInto(ys[0], xs[0], batch)
						} else {
							cm.RunMultiInto(ys, xs, batch)
						}
					}
					b.ReportMetric(float64(g.FLOPs())*float64(batch)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
