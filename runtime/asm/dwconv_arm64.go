//go:build !noasm && !purego && gc

package asm

func dwKernel(ISA, *DWConv, []float32, []float32, int, int, int, int) bool { return false }
