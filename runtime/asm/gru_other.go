//go:build noasm || purego || !gc || !amd64

package asm

func gruSeqSigmoidTanhAVX2(zx *float32, zxStride int, uw, rbh, hs, rh *float32, t, u, up int) {
	panic("unreachable")
}
func gruSeqHardSigmoidTanhAVX2(zx *float32, zxStride int, uw, rbh, hs, rh *float32, t, u, up int, a, b float32) {
	panic("unreachable")
}
func gruSeqResetBeforeSigmoidTanhAVX2(zx *float32, zxStride int, uw, rbh, hs, rh *float32, t, u, up int) {
	panic("unreachable")
}
func gruSeqResetBeforeHardSigmoidTanhAVX2(zx *float32, zxStride int, uw, rbh, hs, rh *float32, t, u, up int, a, b float32) {
	panic("unreachable")
}
func rnnSeqTanhAVX2(zx *float32, zxStride int, uw, hs *float32, t, u, up int) { panic("unreachable") }
func rnnSeqReluAVX2(zx *float32, zxStride int, uw, hs *float32, t, u, up int) { panic("unreachable") }
