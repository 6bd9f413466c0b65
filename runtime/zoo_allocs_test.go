package runtime_test

import (
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
	"github.com/kinfer/kinfer/runtime/asm"
)

// TestZooZeroAllocs checks that RunInto allocates nothing on every Keras and ONNX
// fixture, on every kernel path, after the first call.
func TestZooZeroAllocs(t *testing.T) {
	var graphs []*layers.Graph
	var names []string
	kc, err := zoo.Keras("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kc {
		m, err := keras.Load(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		graphs, names = append(graphs, m.Graph), append(names, c.Name)
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
		graphs, names = append(graphs, m.Graph), append(names, c.Name)
	}
	for i, g := range graphs {
		for _, isa := range asm.Paths() {
			m, err := runtime.Compile(g, runtime.Options{ISA: isa.String(), MaxBatch: 2})
			if err != nil {
				t.Fatal(err)
			}
			var xs, ys [][]float32
			for _, in := range g.Inputs() {
				x := make([]float32, 3*in.Shape.Size())
				for j := range x {
					x[j] = float32(j%5) - 2
					if in.DType == layers.Int32 {
						x[j] = layers.IDBits(int32(j % 5)) // token ids inside every vocabulary
					}
				}
				xs = append(xs, x)
			}
			for _, out := range g.Outputs() {
				ys = append(ys, make([]float32, 3*out.Shape.Size()))
			}
			run := func() error { return m.RunMultiInto(ys, xs, 3) }
			if len(xs) == 1 && len(ys) == 1 {
				run = func() error { return m.RunInto(ys[0], xs[0], 3) }
			}
			if err := run(); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(5, func() { _ = run() }); n != 0 {
				t.Errorf("%s isa=%v: %v allocations per run", names[i], isa, n)
			}
		}
	}
}
