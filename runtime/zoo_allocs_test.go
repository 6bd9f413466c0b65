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
			x := make([]float32, 3*g.Input().Size())
			for j := range x {
				x[j] = float32(j%5) - 2
			}
			y := make([]float32, 3*g.Output().Size())
			if err := m.RunInto(y, x, 3); err != nil {
				t.Fatal(err)
			}
			if n := testing.AllocsPerRun(5, func() { _ = m.RunInto(y, x, 3) }); n != 0 {
				t.Errorf("%s isa=%v: %v allocations per RunInto", names[i], isa, n)
			}
		}
	}
}
