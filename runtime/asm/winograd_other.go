//go:build noasm || purego || !gc || !amd64

package asm

func winogradAsm(ISA) bool    { return false }
func winogradAsm512(ISA) bool { return false }

func winogradInF2x2AVX2(dst, src *float32, offs *int, ntiles, c, rowStride int) {
	panic("unreachable")
}
func winogradOutF2x2AVX2(dst, src *float32, offs *int, bias *float32, ntiles, n, rowStride int, lo, hi float32) {
	panic("unreachable")
}
func winogradInF4x4AVX2(dst, src *float32, offs *int, ntiles, c, rowStride int) {
	panic("unreachable")
}
func winogradOutF4x4AVX2(dst, src *float32, offs *int, bias *float32, ntiles, n, rowStride int, lo, hi float32) {
	panic("unreachable")
}
func winogradInF2x2AVX512(dst, src *float32, offs *int, ntiles, c, rowStride int) {
	panic("unreachable")
}
func winogradInF4x4AVX512(dst, src *float32, offs *int, ntiles, c, rowStride int) {
	panic("unreachable")
}
func winogradOutF2x2AVX512(dst, src *float32, offs *int, bias *float32, ntiles, n, rowStride int, lo, hi float32) {
	panic("unreachable")
}
func winogradOutF4x4AVX512(dst, src *float32, offs *int, bias *float32, ntiles, n, rowStride int, lo, hi float32) {
	panic("unreachable")
}
func winogradOutAddF4x4AVX2(dst, src *float32, offs *int, bias, res *float32, ntiles, n, rowStride int, lo, hi float32) {
	panic("unreachable")
}
func winogradOutAddF4x4AVX512(dst, src *float32, offs *int, bias, res *float32, ntiles, n, rowStride int, lo, hi float32) {
	panic("unreachable")
}
