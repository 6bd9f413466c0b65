package runtime_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
	"github.com/kinfer/kinfer/runtime/asm"
)

// attCase is one attention fixture run: a graph, its inputs and the framework's outputs.
type attCase struct {
	name  string
	g     *layers.Graph
	xs    [][]float32
	want  []float32
	batch int
}

// kerasAttCases loads testdata/attention/keras*.npz (testdata/gen_attention.py) with
// their stored samples, and the encoder at its second length from the .L7 arrays.
func kerasAttCases(t *testing.T) []attCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "attention", "keras*.npz"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Keras models in testdata/attention: %v", err)
	}
	var cs []attCase
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".npz")
		m, err := keras.Load(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s := m.Samples
		cs = append(cs, attCase{name: name, g: m.Graph, xs: s.Xs, want: s.Y, batch: s.N})
		if name != "keras_encoder_cls" {
			continue
		}
		// the same file at 7 steps: samples skipped, the None axis fixed by SeqLen
		m7, err := keras.LoadWith(f, keras.Options{SkipSamples: true, SeqLen: 7})
		if err != nil {
			t.Fatalf("%s at 7 steps: %v", name, err)
		}
		base := strings.TrimSuffix(f, ".npz") + ".L7"
		var xs [][]float32
		for i := range 2 {
			x, _, err := npyf.ReadFile(fmt.Sprintf("%s.x_%d.npy", base, i))
			if err != nil {
				t.Fatal(err)
			}
			for j, v := range x {
				x[j] = layers.IDBits(int32(v))
			}
			xs = append(xs, x)
		}
		y, _, err := npyf.ReadFile(base + ".y.npy")
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, attCase{name: name + "@7", g: m7.Graph, xs: xs, want: y, batch: len(y) / 3})
	}
	return cs
}

// onnxAttCases loads testdata/attention/torch_*.onnx (testdata/gen_attention_torch.py)
// with their inputs and ONNX Runtime's outputs (gen_attention.py --ort).
func onnxAttCases(t *testing.T) []attCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "attention", "torch_*.onnx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ONNX models in testdata/attention: %v", err)
	}
	var cs []attCase
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".onnx")
		m, err := onnx.Load(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		base := strings.TrimSuffix(f, ".onnx")
		var xs [][]float32
		batch := 0
		for i := range m.Graph.Inputs() {
			x, shape, err := npyf.ReadFile(fmt.Sprintf("%s.x_%d.npy", base, i))
			if err != nil {
				t.Fatal(err)
			}
			xs, batch = append(xs, x), shape[0]
		}
		y, _, err := npyf.ReadFile(base + ".y.npy")
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, attCase{name: name, g: m.Graph, xs: xs, want: y, batch: batch})
	}
	return cs
}

func attCases(t *testing.T) []attCase { return append(kerasAttCases(t), onnxAttCases(t)...) }

// TestAttentionZoo runs every attention fixture through the reference pass and every
// kernel path (batch 1 and the whole batch) against the framework's outputs, bound
// 1e-5 + 1e-5*|want|.
func TestAttentionZoo(t *testing.T) {
	for _, c := range attCases(t) {
		ref, err := c.g.ReferenceN(c.xs, c.batch)
		if err != nil {
			t.Fatalf("%s: reference: %v", c.name, err)
		}
		maxAbs, worst, err := zoo.Default.Check(ref[0], c.want)
		if err != nil {
			t.Errorf("%s reference: %v", c.name, err)
		}
		t.Logf("%-22s reference max abs err %.2e (%.2f of bound)", c.name, maxAbs, worst)
		for _, isa := range asm.Paths() {
			for _, mb := range []int{1, c.batch} {
				cm, err := runtime.Compile(c.g, runtime.Options{ISA: isa.String(), MaxBatch: mb})
				if err != nil {
					t.Fatalf("%s/%v: %v", c.name, isa, err)
				}
				got, err := cm.RunMulti(c.xs, c.batch)
				if err != nil {
					t.Fatal(err)
				}
				maxAbs, worst, err := zoo.Default.Check(got[0], c.want)
				if err != nil {
					t.Errorf("%s isa=%v maxbatch=%d: %v", c.name, isa, mb, err)
				}
				if mb == 1 {
					t.Logf("%-22s %-7v max abs err %.2e (%.2f of bound)", c.name, isa, maxAbs, worst)
				}
			}
		}
	}
}

// TestAttentionZeroAllocsConcurrent checks that a compiled attention model allocates
// nothing per call and gives every goroutine the same answer (run it under -race).
func TestAttentionZeroAllocsConcurrent(t *testing.T) {
	for _, c := range attCases(t) {
		cm, err := runtime.Compile(c.g, runtime.Options{MaxBatch: c.batch})
		if err != nil {
			t.Fatal(err)
		}
		want, err := cm.RunMulti(c.xs, c.batch)
		if err != nil {
			t.Fatal(err)
		}
		dsts := [][]float32{make([]float32, len(want[0]))}
		if a := testing.AllocsPerRun(20, func() {
			if err := cm.RunMultiInto(dsts, c.xs, c.batch); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%s: %v allocations per call", c.name, a)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out := [][]float32{make([]float32, len(want[0]))}
				for range 20 {
					if err := cm.RunMultiInto(out, c.xs, c.batch); err != nil {
						errs <- err
						return
					}
					for i, v := range out[0] {
						if v != want[0][i] {
							errs <- fmt.Errorf("%s: concurrent run differs at %d: %g vs %g", c.name, i, v, want[0][i])
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}
