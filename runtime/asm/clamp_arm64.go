//go:build !noasm && !purego && gc

package asm

// clampNEON reports whether the NEON clamp kernels serve isa.
func clampNEON(isa ISA) bool { return isa == NEON && Available(isa) }

// vclampNEON is Clamp: for i := 0; i < n; i++ { x[i] = min(max(x[i], lo), hi) }, 16
// floats a loop, then 4, then 1.
//
//go:noescape
func vclampNEON(x *float32, n int, lo, hi float32)

// vaddClampNEON is AddClamp: for i := 0; i < n; i++ { dst[i] = min(max(a[i]+b[i], lo), hi) }.
//
//go:noescape
func vaddClampNEON(dst, a, b *float32, n int, lo, hi float32)

func clampAsm(ISA) bool { return false }

func vclampAVX2(x *float32, n int, lo, hi float32) { panic("unreachable") }

func vaddClampAVX2(dst, a, b *float32, n int, lo, hi float32) { panic("unreachable") }
