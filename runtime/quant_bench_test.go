package runtime_test

import (
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/runtime"
)

// BenchmarkQuant times the bench-size int8 models against their float32 originals,
// one thread: KINFER_QBENCH=DIR, the directory `testdata/gen_quant.py --bench DIR`
// wrote (skipped when unset).
func BenchmarkQuant(b *testing.B) {
	dir := os.Getenv("KINFER_QBENCH")
	if dir == "" {
		b.Skip("KINFER_QBENCH not set")
	}
	for _, model := range []string{"mlp", "mnist_cnn"} {
		for _, batch := range []int{1, 64} {
			x, _, err := npyf.ReadFile(filepath.Join(dir, fmt.Sprintf("%s_qdq_u8s8_pc.b%d.inputs.npy", model, batch)))
			if err != nil {
				b.Fatal(err)
			}
			for _, kind := range []string{"f32", "qdq_u8s8_pc"} {
				m, err := onnx.Load(filepath.Join(dir, model+"_"+kind+".onnx"))
				if err != nil {
					b.Fatal(err)
				}
				cm, err := runtime.Compile(m.Graph, runtime.Options{MaxBatch: batch})
				if err != nil {
					b.Fatal(err)
				}
				out := make([]float32, batch*cm.OutputShape().Size())
				b.Run(fmt.Sprintf("%s/%s/b%d", model, kind, batch), func(b *testing.B) {
					// the machine is shared: thread CPU time is the figure that means
					// something under load (wall time is reported too)
					goruntime.LockOSThread()
					defer goruntime.UnlockOSThread()
					b.ReportAllocs()
					t0 := threadCPU()
					for b.Loop() {
						if err := cm.RunInto(out, x, batch); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(threadCPU()-t0)/float64(b.N), "cpu-ns/op")
				})
			}
		}
	}
}
