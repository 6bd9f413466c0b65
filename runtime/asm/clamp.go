package asm

import "fmt"

// The NEON kernels are arm64 text from _gen/clampneon.go; the directive lives in this
// file of every architecture so that go generate on amd64 rewrites it.
//
//go:generate go run -C _gen . -kernel clamp_neon -out ../clamp_neon_arm64.s

// The clamp family: the element-wise ReLU / ReLU6 / Clip pass, and the residual
// epilogue (the sum of a convolution's output and the skip tensor, and the clamp after
// it) that the runtime applies to each GEMM or Winograd output block while it is in
// cache. Every path computes v < lo ? lo : v, then v > hi ? hi : v: a NaN stays NaN and a
// -0 stays -0 (as in the GEMM store's clamp), so all paths give the same bits.

// Clamp sets x[i] = min(max(x[i], lo), hi), a NaN unchanged. lo = 0, hi = +Inf is ReLU.
func Clamp(isa ISA, x []float32, lo, hi float32) {
	if len(x) == 0 {
		return
	}
	if clampAsm(isa) {
		vclampAVX2(&x[0], len(x), lo, hi)
		return
	}
	if clampNEON(isa) {
		vclampNEON(&x[0], len(x), lo, hi)
		return
	}
	clampGo(x, lo, hi)
}

// AddClamp sets dst[i] = min(max(a[i]+b[i], lo), hi) for i < len(dst), a NaN sum
// unchanged; dst may be a (in place). a and b must hold len(dst) values.
func AddClamp(isa ISA, dst, a, b []float32, lo, hi float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	if len(a) < n || len(b) < n {
		panic(fmt.Sprintf("asm.AddClamp: short slice (dst %d, a %d, b %d)", n, len(a), len(b)))
	}
	if clampAsm(isa) {
		vaddClampAVX2(&dst[0], &a[0], &b[0], n, lo, hi)
		return
	}
	if clampNEON(isa) {
		vaddClampNEON(&dst[0], &a[0], &b[0], n, lo, hi)
		return
	}
	addClampGo(dst, a[:n], b[:n], lo, hi)
}

func clampGo(x []float32, lo, hi float32) {
	for i, v := range x {
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		x[i] = v
	}
}

func addClampGo(dst, a, b []float32, lo, hi float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	for i := range dst {
		v := a[i] + b[i]
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		dst[i] = v
	}
}
