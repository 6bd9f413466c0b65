package asm

import (
	"fmt"
	"math"
)

// LayerNorm normalizes rows of n values of x into y (y may be x): per row
// y[i] = (x[i]-mean)/sqrt(var+eps)*g[i] + b[i], with the population variance. g and b hold
// n values (the caller passes ones and zeros for scale=False / center=False). As a Go loop
// (Generic, in float64):
//
//	for r := 0; r+n <= len(x); r += n {
//		mean := sum(x[r:r+n]) / n
//		v := sum((x[r+i]-mean)^2) / n
//		y[r+i] = (x[r+i]-mean) / sqrt(v+eps) * g[i] + b[i]
//	}
//
// AVX2 (also under AVX512) sums in float32 over 8 lanes, two passes: for rows of up to a
// few thousand values of similar magnitude it is within a few float32 ULPs of that loop
// times the condition of the row (|x-mean| against the standard deviation).
func LayerNorm(isa ISA, y, x, g, b []float32, n int, eps float32) {
	if n <= 0 || len(x) == 0 {
		return
	}
	if len(g) < n || len(b) < n || len(y) < len(x) || len(x)%n != 0 {
		panic(fmt.Sprintf("asm.LayerNorm: short slice (y %d, x %d, g %d, b %d) for n=%d", len(y), len(x), len(g), len(b), n))
	}
	if actAsm(isa) && normAsm {
		vlayerNormAVX2(&y[0], &x[0], &g[0], &b[0], n, len(x)/n, eps)
		return
	}
	layerNormGo(y, x, g, b, n, eps)
}

func layerNormGo(y, x, g, b []float32, n int, eps float32) {
	if n <= 0 {
		return
	}
	for r := 0; r+n <= len(x); r += n {
		row := x[r : r+n]
		var s float64
		for _, v := range row {
			s += float64(v)
		}
		mean := s / float64(n)
		var q float64
		for _, v := range row {
			d := float64(v) - mean
			q += d * d
		}
		inv := 1 / math.Sqrt(q/float64(n)+float64(eps))
		out := y[r : r+n]
		for i, v := range row {
			out[i] = float32((float64(v)-mean)*inv*float64(g[i]) + float64(b[i]))
		}
	}
}
