package runtime_test

import (
	"os"
	"testing"

	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/runtime"
)

// BenchmarkAttentionModel times KINFER_BENCH_ONNX (an attention model, e.g. the one
// bench/attention_vs_ort.py exports) at batch 1 on one thread.
func BenchmarkAttentionModel(b *testing.B) {
	path := os.Getenv("KINFER_BENCH_ONNX")
	if path == "" {
		b.Skip("KINFER_BENCH_ONNX not set")
	}
	m, err := onnx.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	cm, err := runtime.Compile(m.Graph, runtime.Options{MaxBatch: 1})
	if err != nil {
		b.Fatal(err)
	}
	in := m.Graph.Inputs()[0]
	x := make([]float32, in.Shape.Size())
	for i := range x {
		x[i] = float32(i%7)*0.3 - 1
	}
	y := make([]float32, m.Graph.Outputs()[0].Shape.Size())
	b.ReportAllocs()
	for b.Loop() {
		if err := cm.RunInto(y, x, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAttentionZoo times every attention fixture at its stored batch size on the
// best ISA, one thread.
func BenchmarkAttentionZoo(b *testing.B) {
	t := &testing.T{}
	for _, c := range attCases(t) {
		cm, err := runtime.Compile(c.g, runtime.Options{MaxBatch: c.batch})
		if err != nil {
			b.Fatal(err)
		}
		dsts := [][]float32{make([]float32, len(c.want))}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := cm.RunMultiInto(dsts, c.xs, c.batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
