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
func gruSeqXSigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, rbh, hs, rh *float32, t, u, up, nin int) {
	panic("unreachable")
}
func gruSeqXHardSigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, rbh, hs, rh *float32, t, u, up, nin int, a, b float32) {
	panic("unreachable")
}
func gruSeqXResetBeforeSigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, rbh, hs, rh *float32, t, u, up, nin int) {
	panic("unreachable")
}
func gruSeqXResetBeforeHardSigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, rbh, hs, rh *float32, t, u, up, nin int, a, b float32) {
	panic("unreachable")
}
func rnnSeqXTanhAVX2(x *float32, xStride int, wx, bias, uw, hs *float32, t, u, up, nin int) {
	panic("unreachable")
}
func rnnSeqXReluAVX2(x *float32, xStride int, wx, bias, uw, hs *float32, t, u, up, nin int) {
	panic("unreachable")
}
func recSeqStackAVX2(d *recStackDesc, n, t, iters int) { panic("unreachable") }
