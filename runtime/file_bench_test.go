package runtime_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/runtime"
)

// BenchmarkModelFiles times the .npz models named in KINFER_BENCH_MODELS (a
// comma-separated list, e.g. bench/.cache/resnet18/model.npz written by bench/models.py)
// at batch 1 on one thread with the ISA of KINFER_ISA (default: the best): the
// CPU-profilable form of `kinfer bench`. It skips when the variable is unset.
func BenchmarkModelFiles(b *testing.B) {
	list := os.Getenv("KINFER_BENCH_MODELS")
	if list == "" {
		b.Skip("KINFER_BENCH_MODELS not set")
	}
	for _, p := range strings.Split(list, ",") {
		m, err := keras.Load(p)
		if err != nil {
			b.Fatal(err)
		}
		g := m.Graph
		cm, err := runtime.Compile(g, runtime.Options{MaxBatch: 1})
		if err != nil {
			b.Fatal(err)
		}
		x := make([]float32, g.Input().Size())
		for i := range x {
			x[i] = float32(i%7)*0.1 - 0.3
		}
		y := make([]float32, g.Output().Size())
		name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cm.RunInto(y, x, 1)
			}
		})
	}
}
