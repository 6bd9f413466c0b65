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
				x0 := append([]float32(nil), s.X...)
				got, err := cm.Run(s.X, s.N)
				if err != nil {
					t.Fatal(err)
				}
				for i := range x0 {
					if math.Float32bits(s.X[i]) != math.Float32bits(x0[i]) {
						t.Fatalf("%s isa=%v: the input was written (index %d)", c.Name, isa, i)
					}
				}
				maxAbs, worst, err := c.Bound.Check(got, s.Y)
				if err != nil {
					t.Errorf("%s isa=%v maxbatch=%d: %v", c.Name, isa, mb, err)
				}
				if testing.Verbose() && mb == 1 {
					t.Logf("%-32s %-8v max abs err %.2e (%.2f of bound)", c.Name, isa, maxAbs, worst)
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
				x := make([]float32, batch*g.Input().Size())
				for i := range x {
					x[i] = float32(i%7) * 0.1
				}
				y := make([]float32, batch*g.Output().Size())
				b.Run(c.Name+"/batch"+itoa(batch)+"/"+isa.String(), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						cm.RunInto(y, x, batch)
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
