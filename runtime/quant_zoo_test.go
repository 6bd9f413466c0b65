package runtime_test

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
	"github.com/kinfer/kinfer/runtime/asm"
)

// quantPaths are the kernel paths of the int8 tests: every ISA here, and AVX2, AVX512
// and NEON with the int8 kernel without dot products forced.
func quantPaths() []struct {
	isa    asm.ISA
	novnni bool
} {
	var out []struct {
		isa    asm.ISA
		novnni bool
	}
	for _, i := range asm.Paths() {
		out = append(out, struct {
			isa    asm.ISA
			novnni bool
		}{i, false})
		if i == asm.AVX512 || i == asm.AVX2 || i == asm.NEON { // NEON: the non-dotprod kernel
			out = append(out, struct {
				isa    asm.ISA
				novnni bool
			}{i, true})
		}
	}
	return out
}

// outStep is the quantization step of the graph's output (its last int8 layer's
// output scale), 0 when the output is not quantized.
func outStep(g *layers.Graph) float32 {
	var s float32
	for i := 0; i < g.Len(); i++ {
		switch l := g.Layer(i).(type) {
		case *layers.QDense:
			s = l.Out.Scale
		case *layers.QConv2D:
			s = l.Out.Scale
		case *layers.FakeQuant:
			s = l.Q.Scale
		}
	}
	return s
}

// TestQuantZoo runs the int8 fixtures (testdata/gen_quant.py: ORT-quantized models and
// ORT's outputs) on every kernel path, the non-VNNI AVX2 kernel forced too. Bound:
// exact. Every layer of these models computes ORT's arithmetic: int32 sums, the
// float32 requantization multiplier (inScale*wScale)/outScale, clamp then round half to
// even; FakeQuant and MaxPool on grid values; dynamic quantization's range, scale and
// zero point, float32(sum)*float32(xScale*wScale) + bias. The residual model's Add and
// GlobalAveragePool (QLinearAdd, QLinearGlobalAveragePool in ORT: fixed point, integer
// sums) run in float32 on grid values and FakeQuant; they could differ from ORT by one
// step of their output on some element, and on these samples do not. Each fixture must
// also run at least one layer in int8.
func TestQuantZoo(t *testing.T) {
	files, err := filepath.Glob("../testdata/quant/*.onnx")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".onnx")
		if name == "fp16_io" {
			continue // TestFP16IO
		}
		m, err := onnx.Load(f)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		x, xs, err := npyf.ReadFile(strings.TrimSuffix(f, ".onnx") + ".inputs.npy")
		if err != nil {
			t.Fatal(err)
		}
		want, _, err := npyf.ReadFile(strings.TrimSuffix(f, ".onnx") + ".outputs.npy")
		if err != nil {
			t.Fatal(err)
		}
		batch := xs[0]
		lstm := strings.HasPrefix(name, "lstm")
		step := outStep(m.Graph)
		int8Layers := 0
		for i := 0; i < m.Graph.Len(); i++ {
			switch m.Graph.Layer(i).(type) {
			case *layers.QDense, *layers.QConv2D, *layers.DynQDense, *layers.DynQConv2D:
				int8Layers++
			}
		}
		if int8Layers == 0 {
			t.Errorf("%s: no layer runs in int8", name)
		}
		var ref []float32
		for _, p := range quantPaths() {
			old := asm.SetNoVNNI(p.novnni)
			cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: p.isa.String(), MaxBatch: batch})
			asm.SetNoVNNI(old)
			if err != nil {
				t.Fatalf("%s/%v: %v", name, p.isa, err)
			}
			got, err := cm.Run(x, batch)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, len(got))
			if a := testing.AllocsPerRun(5, func() { _ = cm.RunInto(out, x, batch) }); a != 0 {
				t.Errorf("%s isa=%v: %v allocations per call", name, p.isa, a)
			}
			if ref == nil {
				ref = got
			}
			exact, worst := 0, 0.0
			for i := range want {
				// lstm_dyn's LSTM runs float32 kernels (FMA order differs by path)
				if d := math.Abs(float64(got[i] - ref[i])); math.Float32bits(got[i]) != math.Float32bits(ref[i]) && !(lstm && d <= 1e-5+1e-5*math.Abs(float64(ref[i]))) {
					t.Fatalf("%s isa=%v novnni=%v: element %d = %v, the reference pass gives %v", name, p.isa, p.novnni, i, got[i], ref[i])
				}
				d := math.Abs(float64(got[i] - want[i]))
				if d == 0 {
					exact++
				}
				worst = max(worst, d)
			}
			// every fixture's layers run ORT's own arithmetic (int8 layers, FakeQuant,
			// MaxPool on grid values), so the bound is exact equality, except
			// misc_qdq: there ORT runs LeakyRelu, Sigmoid (tables of MLAS's own
			// float functions), AveragePool, Mul and Concat through its QDQ fusions,
			// kinfer in float32 on grid values, so an element can differ by one
			// step of the output (15 of 80 do)
			if lstm {
				// ORT's DynamicQuantizeLSTM quantizes x and h to uint8 every step;
				// kinfer runs the LSTM in float32 over the dequantized weights, so the
				// difference is ORT's activation quantization noise through 12 steps
				// and the Gemm (measured 5.9e-3 on logits of magnitude ~1)
				if worst > 2e-2 {
					t.Errorf("%s isa=%v: max error %.3g over 2e-2", name, p.isa, worst)
				}
			} else if strings.HasPrefix(name, "misc_qdq") {
				if worst > float64(step)*1.0001 {
					t.Errorf("%s isa=%v: max error %.3g over one output step %.3g", name, p.isa, worst, step)
				}
			} else if worst != 0 {
				t.Errorf("%s isa=%v novnni=%v: %d/%d elements differ from ORT, max error %.3g (output step %.3g)", name, p.isa, p.novnni, len(want)-exact, len(want), worst, step)
			}
			if testing.Verbose() || os.Getenv("KINFER_QUANT_LOG") != "" {
				t.Logf("%-22s %-7v novnni=%-5v int8 layers %d: %d/%d exact, max err %.3g (step %.3g)", name, p.isa, p.novnni, int8Layers, exact, len(want), worst, step)
			}
		}
	}
}

// TestQuantBenchModels checks the bench-size int8 models (KINFER_QBENCH=DIR from
// `testdata/gen_quant.py --bench DIR`; skipped when unset) against ORT's outputs at
// batch 1 and 64 on every path: models no fixture test has seen, same exact bound.
func TestQuantBenchModels(t *testing.T) {
	dir := os.Getenv("KINFER_QBENCH")
	if dir == "" {
		t.Skip("KINFER_QBENCH not set")
	}
	for _, model := range []string{"mlp", "mnist_cnn"} {
		m, err := onnx.Load(filepath.Join(dir, model+"_qdq_u8s8_pc.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range []int{1, 64} {
			pre := filepath.Join(dir, model+"_qdq_u8s8_pc.b"+strconv.Itoa(batch))
			x, _, err := npyf.ReadFile(pre + ".inputs.npy")
			if err != nil {
				t.Fatal(err)
			}
			want, _, err := npyf.ReadFile(pre + ".outputs.npy")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range quantPaths() {
				old := asm.SetNoVNNI(p.novnni)
				cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: p.isa.String(), MaxBatch: batch})
				asm.SetNoVNNI(old)
				if err != nil {
					t.Fatal(err)
				}
				got, err := cm.Run(x, batch)
				if err != nil {
					t.Fatal(err)
				}
				diff := 0
				for i := range want {
					if got[i] != want[i] {
						diff++
					}
				}
				t.Logf("%s b%d %v novnni=%v: %d/%d differ from ORT", model, batch, p.isa, p.novnni, diff, len(want))
				if diff != 0 {
					t.Errorf("%s b%d %v: %d elements differ from ORT", model, batch, p.isa, diff)
				}
			}
		}
	}
}

// TestFP16IO runs the float16-I/O fixture (float16 input, initializers and output
// around float32 Gemms, as ORT's CPU runs it) on every path. Bound: one float16 ulp of
// each output: both compute the Gemms in float32 (summation orders differ by path) and
// round to float16 once, so a float32 result within an ulp of a rounding boundary can
// go either way.
func TestFP16IO(t *testing.T) {
	m, err := onnx.Load("../testdata/quant/fp16_io.onnx")
	if err != nil {
		t.Fatal(err)
	}
	x, xs, err := npyf.ReadFile("../testdata/quant/fp16_io.inputs.npy")
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := npyf.ReadFile("../testdata/quant/fp16_io.outputs.npy")
	if err != nil {
		t.Fatal(err)
	}
	for _, isa := range asm.Paths() {
		cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa.String()})
		if err != nil {
			t.Fatal(err)
		}
		got, err := cm.Run(x, xs[0])
		if err != nil {
			t.Fatal(err)
		}
		exact := 0
		for i, w := range want {
			if layers.ToHalf(got[i]) != got[i] {
				t.Fatalf("%v: output %d = %v is not a float16 value", isa, i, got[i])
			}
			e := math.Floor(math.Log2(math.Abs(float64(w)))) // w's binade
			ulp := math.Ldexp(1, max(int(e), -14)-10)
			if d := math.Abs(float64(got[i] - w)); d > ulp {
				t.Errorf("%v: output %d = %v, ORT %v: more than one float16 ulp (%g)", isa, i, got[i], w, ulp)
			} else if d == 0 {
				exact++
			}
		}
		t.Logf("%v: %d/%d outputs equal to ORT's", isa, exact, len(want))
	}
}

// TestQuantThreads checks that the int8 fixtures give the same bits with 2 threads
// (static int8 conv models split the batch; dynamic ones must not, their range spans
// the call).
func TestQuantThreads(t *testing.T) {
	files, _ := filepath.Glob("../testdata/quant/*.onnx")
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".onnx")
		m, err := onnx.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		x, xs, err := npyf.ReadFile(strings.TrimSuffix(f, ".onnx") + ".inputs.npy")
		if err != nil {
			t.Fatal(err)
		}
		var ref []float32
		for _, th := range []int{1, 2} {
			cm, err := runtime.Compile(m.Graph, runtime.Options{MaxBatch: xs[0], Threads: th})
			if err != nil {
				t.Fatal(err)
			}
			got, err := cm.Run(x, xs[0])
			if err != nil {
				t.Fatal(err)
			}
			if ref == nil {
				ref = got
				continue
			}
			for i := range ref {
				if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%s: threads=%d element %d = %v, threads=1 %v", name, th, i, got[i], ref[i])
				}
			}
		}
	}
}

// TestKerasInt8 runs the Keras model.quantize("int8") fixtures (testdata/
// gen_keras_quant.py; Keras's own predict outputs in the npz) on every path. Bound:
// the Keras zoo's 1e-5 + 1e-5*|want|: the int8 arithmetic is Keras's (AbsMaxQuantizer's
// float32 scale and rounding, int32 sums, the float32 division), the activations are
// kinfer's polynomial forms against TensorFlow's.
func TestKerasInt8(t *testing.T) {
	files, _ := filepath.Glob("../testdata/keras_quant/*.npz")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		m, err := keras.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		s := m.Samples
		if ids, shape, err := npyf.ReadIDsFile(strings.TrimSuffix(f, ".npz") + ".ids.npy"); err == nil {
			// token-id samples beside the npz (the exporter's are floats)
			y, _, err := npyf.ReadFile(strings.TrimSuffix(f, ".npz") + ".y.npy")
			if err != nil {
				t.Fatal(err)
			}
			x := make([]float32, len(ids))
			for i, v := range ids {
				x[i] = layers.IDBits(v)
			}
			s = &keras.Samples{N: shape[0], X: x, Y: y}
		}
		if s == nil || s.Y == nil {
			t.Fatalf("%s: no samples", f)
		}
		n8 := 0
		for i := 0; i < m.Graph.Len(); i++ {
			switch m.Graph.Layer(i).(type) {
			case *layers.KerasQDense, *layers.Embedding: // an int8 Embedding is its dequantized table
				n8++
			}
		}
		if n8 == 0 {
			t.Fatalf("%s: no int8 layer", f)
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
			worst := 0.0
			for i, w := range s.Y {
				d := math.Abs(float64(got[i] - w))
				worst = max(worst, d)
				if d > 1e-5+1e-5*math.Abs(float64(w)) {
					t.Fatalf("%s %v novnni=%v: output %d = %v, Keras %v", filepath.Base(f), p.isa, p.novnni, i, got[i], w)
				}
			}
			t.Logf("%s %v novnni=%v: %d int8 layers, max error %.3g vs Keras", filepath.Base(f), p.isa, p.novnni, n8, worst)
		}
	}
}
