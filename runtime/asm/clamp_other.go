//go:build noasm || purego || !gc || !(amd64 || arm64)

package asm

func clampAsm(ISA) bool { return false }

func vclampAVX2(x *float32, n int, lo, hi float32) { panic("unreachable") }

func vaddClampAVX2(dst, a, b *float32, n int, lo, hi float32) { panic("unreachable") }

func clampNEON(ISA) bool { return false }

func vclampNEON(x *float32, n int, lo, hi float32) { panic("unreachable") }

func vaddClampNEON(dst, a, b *float32, n int, lo, hi float32) { panic("unreachable") }
