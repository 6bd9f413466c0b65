package runtime_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
)

// TestQuantExternal runs testdata/onnx models that ORT's quantizer turned into int8
// (KINFER_QEXT=DIR from `testdata/gen_quant.py --ext DIR`; skipped when unset):
// models no int8 test was written for. Each must import, except the known gaps, and
// match ORT: static (QDQ, QOperator) within one step of the output quantization on
// every element, dynamic within 1e-5 + 1e-5*|want| (float32 rounding of the
// dequantization), LSTMs within 2e-3 (ORT quantizes x and h every step, kinfer does
// not: see TestQuantZoo).
func TestQuantExternal(t *testing.T) {
	dir := os.Getenv("KINFER_QEXT")
	if dir == "" {
		t.Skip("KINFER_QEXT not set")
	}
	known := map[string]string{
		"torch_mlp_op17_qdq": "Q/DQ inside torch's Gelu (the Erf pattern is not matched)",
		"torch_mlp_op17_qop": "Q/DQ inside torch's Gelu (the Erf pattern is not matched)",
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.onnx"))
	if len(files) == 0 {
		t.Fatalf("no models in %s", dir)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".onnx")
		m, err := onnx.Load(f)
		if err != nil {
			if why, ok := known[name]; ok {
				t.Logf("%-24s not imported (known: %s): %v", name, why, err)
				continue
			}
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
		cm, err := runtime.Compile(m.Graph, runtime.Options{MaxBatch: xs[0]})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := cm.Run(x, xs[0])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n8, step := 0, float64(0)
		for i := 0; i < m.Graph.Len(); i++ {
			switch l := m.Graph.Layer(i).(type) {
			case *layers.QDense:
				n8++
				step = float64(l.Out.Scale)
			case *layers.QConv2D:
				n8++
				step = float64(l.Out.Scale)
			case *layers.FakeQuant:
				step = float64(l.Q.Scale)
			case *layers.DynQDense, *layers.DynQConv2D:
				n8++
			}
		}
		diff, worst, over := 0, 0.0, 0
		for i := range want {
			d := math.Abs(float64(got[i] - want[i]))
			if d > 0 {
				diff++
			}
			worst = max(worst, d)
			bound := step * 1.0001
			switch {
			case strings.Contains(name, "lstm") && strings.HasSuffix(name, "_dyn"):
				bound = 2e-3
			case strings.HasSuffix(name, "_dyn"):
				bound = 1e-5 + 1e-5*math.Abs(float64(want[i]))
			}
			if d > bound {
				over++
			}
		}
		t.Logf("%-24s int8 layers %2d: %d/%d differ from ORT, max %.3g (output step %.3g)", name, n8, diff, len(want), worst, step)
		if over > 0 {
			t.Errorf("%s: %d elements over the bound", name, over)
		}
		if n8 == 0 {
			t.Errorf("%s: no layer runs in int8", name)
		}
	}
}
