//go:build noasm || purego || !gc || !(amd64 || arm64)

package asm

const haveVNNI512, haveDot, haveAVXVNNI = false, false, false

func qgemmKernel(q *QGemm, round bool, m int, a []byte, c []float32, ldc int, corr []int32, scale, bias []float32, lo, hi, sy float32) bool {
	return false
}

func qgemmPoolAsm(qpath) bool { return false }

func qgemmPoolKernel(*QGemm, int, []byte, []float32, int, []int32, []float32, float32, float32, float32) bool {
	return false
}

func qgemmBytesKernel(*QGemm, bool, int, []byte, []byte, int, []int32, []float32, float32, float32, int32) bool {
	return false
}
