package runtime_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
)

// TestZooThreadsBitIdentical: every Keras and ONNX fixture (recurrent models of every
// kind, masked and multi-input ones among them) gives one thread's outputs bit for bit
// on 2 and 3 threads, at batches that run on one state (1), split across the team (3)
// and run in MaxBatch chunks (9), through RunInto or RunMultiInto, and allocates
// nothing per call.
func TestZooThreadsBitIdentical(t *testing.T) {
	type fixture struct {
		name string
		g    *layers.Graph
	}
	var fs []fixture
	kc, err := zoo.Keras("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kc {
		m, err := keras.Load(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, fixture{c.Name, m.Graph})
	}
	oc, err := zoo.ONNX("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range oc {
		m, err := onnx.Load(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, fixture{c.Name, m.Graph})
	}
	if len(fs) < 20 {
		t.Fatalf("%d fixtures", len(fs))
	}
	r := rand.New(rand.NewPCG(51, 52))
	for _, f := range fs {
		serial, err := runtime.Compile(f.g, runtime.Options{MaxBatch: 4})
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{1, 3, 9} {
			var xs [][]float32
			for _, in := range f.g.Inputs() {
				x := make([]float32, batch*in.Shape.Size())
				for j := range x {
					x[j] = float32(r.NormFloat64())
					if in.DType == layers.Int32 {
						x[j] = layers.IDBits(int32(r.IntN(5))) // token ids inside every vocabulary
					}
				}
				xs = append(xs, x)
			}
			want, err := serial.RunMulti(xs, batch)
			if err != nil {
				t.Fatal(err)
			}
			for _, threads := range []int{2, 3} {
				m, err := runtime.Compile(f.g, runtime.Options{MaxBatch: 4, Threads: threads})
				if err != nil {
					t.Fatal(err)
				}
				got, _ := m.RunMulti(xs, batch)
				run := func() error { return m.RunMultiInto(got, xs, batch) }
				if len(xs) == 1 && len(got) == 1 {
					run = func() error { return m.RunInto(got[0], xs[0], batch) }
				}
				for rep := 0; rep < 2; rep++ {
					if err := run(); err != nil {
						t.Fatal(err)
					}
					if err := sameBits(got, want); err != nil {
						t.Errorf("%s batch %d threads %d: %v", f.name, batch, threads, err)
					}
				}
				if n := testing.AllocsPerRun(5, func() { _ = run() }); n != 0 {
					t.Errorf("%s batch %d threads %d: %v allocations per run", f.name, batch, threads, n)
				}
			}
		}
	}
}

func sameBits(got, want [][]float32) error {
	for k := range want {
		for i := range want[k] {
			if math.Float32bits(got[k][i]) != math.Float32bits(want[k][i]) {
				return fmt.Errorf("output %d [%d] = %v, one thread %v", k, i, got[k][i], want[k][i])
			}
		}
	}
	return nil
}
