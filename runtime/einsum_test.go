package runtime_test

import (
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/internal/npyf"
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

// TestKerasInt8MHA runs an int8 MultiHeadAttention model (Embedding -> MHA ->
// GlobalAveragePooling1D -> Dense, model.quantize("int8"); gen_keras_einsum.py) on
// every path against Keras's predict. Bound: 1e-5 + 1e-5*|want| (the int8 projections
// are Keras's arithmetic; the softmax is kinfer's polynomial exp against TensorFlow's).
func TestKerasInt8MHA(t *testing.T) {
	base := "../testdata/keras_einsum/mha_int8"
	m, err := keras.Load(base + ".npz")
	if err != nil {
		t.Fatal(err)
	}
	ids, shape, err := npyf.ReadIDsFile(base + ".ids.npy")
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := npyf.ReadFile(base + ".y.npy")
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, len(ids))
	for i, v := range ids {
		x[i] = layers.IDBits(v)
	}
	nq := 0
	for i := 0; i < m.Graph.Len(); i++ {
		if _, ok := m.Graph.Layer(i).(*layers.KerasQDense); ok {
			nq++
		}
	}
	if nq != 5 { // four projections and the Dense
		t.Fatalf("%d int8 Dense layers, want 5", nq)
	}
	for _, p := range quantPaths() {
		old := asm.SetNoVNNI(p.novnni)
		cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: p.isa.String(), MaxBatch: shape[0]})
		asm.SetNoVNNI(old)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cm.Run(x, shape[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(y) {
			t.Fatalf("%d outputs, Keras %d", len(got), len(y))
		}
		worst := 0.0
		for i, w := range y {
			d := math.Abs(float64(got[i] - w))
			worst = max(worst, d)
			if d > 1e-5+1e-5*math.Abs(float64(w)) {
				t.Fatalf("%v novnni=%v: output %d = %v, Keras %v", p.isa, p.novnni, i, got[i], w)
			}
		}
		t.Logf("mha_int8 %v novnni=%v: max error %.3g vs Keras", p.isa, p.novnni, worst)
		dst := make([]float32, len(y))
		if a := testing.AllocsPerRun(20, func() {
			if err := cm.RunInto(dst, x, shape[0]); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("%v: %v allocations per call", p.isa, a)
		}
		// concurrent calls on one Model give the same bits
		var wg sync.WaitGroup
		bad := make(chan int, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := make([]float32, len(y))
				for range 10 {
					if err := cm.RunInto(d, x, shape[0]); err != nil {
						bad <- -1
						return
					}
					for i := range d {
						if math.Float32bits(d[i]) != math.Float32bits(got[i]) {
							bad <- i
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(bad)
		for i := range bad {
			t.Fatalf("%v: concurrent call differs at output %d", p.isa, i)
		}
	}
}
