//go:build noasm || purego || !gc

package asm

const hasAsm = false

func preferred(ISA) bool { return false }
