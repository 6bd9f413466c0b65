package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

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

// BenchmarkGemmEfficiency interleaves the FMA-roof probe and Gemm (A B A B ...) so that
// both see the same clock and the same share of a noisy machine, and reports the median
// of Gemm's rate over the roof's rate: "%roof". The roof is the same vector width's
// independent-FMA loop (AVX2: 2 x 8-lane FMA per cycle = 32 FLOP/cycle; AVX-512 on a
// full-width Zen 5: 64 FLOP/cycle).
func BenchmarkGemmEfficiency(b *testing.B) {
	if !haveProbes {
		b.Skip("probes are amd64 assembly")
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, sz := range []int{256, 512, 1024} {
		a, w, bias := randSlice(r, sz*sz), randSlice(r, sz*sz), randSlice(r, sz)
		c := make([]float32, sz*sz)
		for _, isa := range []ISA{AVX2, AVX512} {
			if !Available(isa) {
				continue
			}
			packed := make([]float32, PackedLen(isa, sz, sz))
			PackB(isa, packed, sz, sz, w, bias)
			flops := 2 * float64(sz) * float64(sz) * float64(sz)
			probe, per := probeFMAAVX2, 12*16.0
			if isa == AVX512 {
				probe, per = probeFMAAVX512, 16*32.0
			}
			iters := int(flops / per)
			b.Run(fmt.Sprintf("%d/%v", sz, isa), func(b *testing.B) {
				var ratios []float64
				for b.Loop() {
					t0 := time.Now()
					probe(iters)
					t1 := time.Now()
					Gemm(isa, sz, sz, sz, a, sz, packed, c, sz, 0, float32(math.Inf(1)))
					t2 := time.Now()
					ratios = append(ratios, float64(t1.Sub(t0))/float64(t2.Sub(t1)))
				}
				sort.Float64s(ratios)
				b.ReportMetric(100*ratios[len(ratios)/2], "%roof")
			})
		}
	}
}
