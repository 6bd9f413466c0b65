//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel clamp_avx2 -out ../clamp_avx2_amd64.s

// clampAsm reports whether the AVX2 clamp kernels serve isa (also under AVX512: the pass
// is bound by memory, not by vector width).
func clampAsm(isa ISA) bool { return (isa == AVX2 || isa == AVX512) && Available(isa) }

// vclampAVX2 is Clamp: for i := 0; i < n; i++ { x[i] = min(max(x[i], lo), hi) }, 8 lanes
// at a time and a masked tail.
//
//go:noescape
func vclampAVX2(x *float32, n int, lo, hi float32)

// vaddClampAVX2 is AddClamp: for i := 0; i < n; i++ { dst[i] = min(max(a[i]+b[i], lo), hi) }.
//
//go:noescape
func vaddClampAVX2(dst, a, b *float32, n int, lo, hi float32)

func clampNEON(ISA) bool { return false }

func vclampNEON(x *float32, n int, lo, hi float32) { panic("unreachable") }

func vaddClampNEON(dst, a, b *float32, n int, lo, hi float32) { panic("unreachable") }
