package asm

import "testing"

// BenchmarkPeak measures the core clock (GHz, from a chain of dependent 1-cycle adds) and
// the FMA roof per vector width (GFLOP/s from independent FMA chains), the denominators
// for GEMM efficiency. Run it in the same `go test -bench` as the GEMM benchmarks.
func BenchmarkPeak(b *testing.B) {
	if !haveProbes {
		b.Skip("probes are amd64 assembly")
	}
	const iters = 1 << 16
	b.Run("clock", func(b *testing.B) {
		for b.Loop() {
			probeAddChain(iters)
		}
		b.ReportMetric(16*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GHz")
	})
	if Available(AVX2) {
		b.Run("fma-avx2", func(b *testing.B) {
			for b.Loop() {
				probeFMAAVX2(iters)
			}
			b.ReportMetric(12*16*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
	if Available(AVX512) {
		b.Run("fma-avx512", func(b *testing.B) {
			for b.Loop() {
				probeFMAAVX512(iters)
			}
			b.ReportMetric(16*32*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
