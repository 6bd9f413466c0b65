//go:build !noasm && !purego && gc

package asm

// hasAsm is true when assembly kernels are compiled in.
const hasAsm = true

// preferred reports whether an available path should be picked by Best. AVX-512 is
// only preferred where it measures faster than AVX2 (set by the kernel files).
func preferred(i ISA) bool { return i != AVX512 || preferAVX512 }

// preferAVX512: AVX-512 is preferred. On the Zen 5 EPYC this was measured on (full-width
// 512-bit FMA pipes), the 8x32 AVX-512 GEMM runs at about twice the 6x16 AVX2 GEMM
// (BenchmarkGemm: ~260 vs ~135 GFLOP/s at 256..1024). Kernels without an AVX-512 form
// run their AVX2 form under AVX512 (every AVX-512 CPU kinfer accepts has AVX2+FMA).
var preferAVX512 = true
