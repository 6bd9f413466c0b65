//go:build noasm || purego || !gc || !amd64

package asm

func quantizeKernel(eb int, dst []byte, src []float32, scale, lo, hi float32, zp int32) int {
	return 0
}

func fakeQuantKernel(dst, src []float32, scale, lo, hi float32) int { return 0 }

func copyRunsKernel([]byte, []int, []byte, int, int) bool { return false }

func thin1PoolKernel([]byte, []byte, int, int, int) bool { return false }
