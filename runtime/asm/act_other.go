//go:build noasm || purego || !gc || !amd64

package asm

func actAsm(ISA) bool { return false }

func vexpAVX2(x *float32, n int)                { panic("unreachable") }
func vsigmoidAVX2(x *float32, n int)            { panic("unreachable") }
func vtanhAVX2(x *float32, n int)               { panic("unreachable") }
func vswishAVX2(x *float32, n int)              { panic("unreachable") }
func vgeluTanhAVX2(x *float32, n int)           { panic("unreachable") }
func veluAVX2(x *float32, n int, alpha float32) { panic("unreachable") }
func vgeluAVX2(x *float32, n int)               { panic("unreachable") }

func lstmStepSigmoidTanhAVX2(z, zx, c, h *float32, u int)                     { panic("unreachable") }
func lstmStepHardSigmoidTanhAVX2(z, zx, c, h *float32, u int, a, b float32)   { panic("unreachable") }
func lstmStepSigmoidTanhAVX512(z, zx, c, h *float32, u int)                   { panic("unreachable") }
func lstmStepHardSigmoidTanhAVX512(z, zx, c, h *float32, u int, a, b float32) { panic("unreachable") }
func vsigmoidGateAVX2(x *float32, n int)                                      { panic("unreachable") }
func vtanhCellAVX2(x *float32, n int)                                         { panic("unreachable") }
func lstmSeqSigmoidTanhAVX2(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int) {
	panic("unreachable")
}
func lstmSeqHardSigmoidTanhAVX2(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int, a, b float32) {
	panic("unreachable")
}
func lstmSeqMultiSigmoidTanhAVX2(d *lstmSeqDesc, n, t, u, up int) { panic("unreachable") }
func lstmSeqMultiHardSigmoidTanhAVX2(d *lstmSeqDesc, n, t, u, up int, a, b float32) {
	panic("unreachable")
}
func vtanhRationalAVX2(x *float32, n int)                    { panic("unreachable") }
func vsigmoidRationalAVX2(x *float32, n int)                 { panic("unreachable") }
func lstmSeqStackSigmoidTanhAVX2(d *lstmStackDesc, n, t int) { panic("unreachable") }
func lstmSeqStackHardSigmoidTanhAVX2(d *lstmStackDesc, n, t int, a, b float32) {
	panic("unreachable")
}
func vmaxTapsAVX2(dst, src *float32, offs *int, ntaps, c int) { panic("unreachable") }

func lstmSeqX8SigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int) {
	panic("unreachable")
}
func lstmSeqX8HardSigmoidTanhAVX2(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int, a, b float32) {
	panic("unreachable")
}

func lstmSeqX8SigmoidTanhAVX512(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int) {
	panic("asm: no AVX-512 kernels in this build")
}

func lstmSeqX8HardSigmoidTanhAVX512(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int, a, b float32) {
	panic("asm: no AVX-512 kernels in this build")
}

func vtanhFracAVX2(num, den *float32, n int) { panic("unreachable") }

func lstmSeqX8SigmoidReluAVX2(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int) {
	panic("unreachable")
}

func lstmSeqX8HardSigmoidReluAVX2(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int, a, b float32) {
	panic("unreachable")
}

func lstmSeq8SigmoidTanhAVX512(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int) {
	panic("unreachable")
}

func lstmSeq8HardSigmoidTanhAVX512(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int, a, b float32) {
	panic("unreachable")
}

func lstmSeqMulti8SigmoidTanhAVX512(d *lstmSeqDesc, n, t, u, up int) { panic("unreachable") }

func lstmSeqMulti8HardSigmoidTanhAVX512(d *lstmSeqDesc, n, t, u, up int, a, b float32) {
	panic("unreachable")
}

func lstmSeqPair8SigmoidTanhAVX512(x *float32, nin int, d *lstmPairDesc, t, u int) {
	panic("unreachable")
}

func lstmSeqPair8HardSigmoidTanhAVX512(x *float32, nin int, d *lstmPairDesc, t, u int, a, b float32) {
	panic("unreachable")
}
func vsoftplusAVX2(x *float32, n int) { panic("unreachable") }
func vseluAVX2(x *float32, n int)     { panic("unreachable") }
func vsoftsignAVX2(x *float32, n int) { panic("unreachable") }
