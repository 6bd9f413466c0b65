//go:build noasm || purego || !gc || !amd64

package asm

func clampAsm(ISA) bool { return false }

func vclampAVX2(x *float32, n int, lo, hi float32) { panic("unreachable") }

func vaddClampAVX2(dst, a, b *float32, n int, lo, hi float32) { panic("unreachable") }
