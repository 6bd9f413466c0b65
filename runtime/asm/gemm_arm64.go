//go:build !noasm && !purego && gc

package asm

func gemmKernel(isa ISA, m, n, k int, a *float32, lda int, packed *float32, c []float32, ldc int, lo, hi float32) bool {
	return false
}
