package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// gruKernels emits the whole-sequence GRU kernels (see asm.GRUSeq) into their own file:
// the activation constants are file-local symbols, so defConsts emits this file's set.
func gruKernels() {
	defConsts()
	gruSeqKernel("gruSeqSigmoidTanhAVX2", false, true)
	gruSeqKernel("gruSeqHardSigmoidTanhAVX2", true, true)
	gruSeqKernel("gruSeqResetBeforeSigmoidTanhAVX2", false, false)
	gruSeqKernel("gruSeqResetBeforeHardSigmoidTanhAVX2", true, false)
	rnnSeqKernel("rnnSeqTanhAVX2", false)
	rnnSeqKernel("rnnSeqReluAVX2", true)
}

// rnnSeqKernel emits a whole SimpleRNN (ONNX RNN) sequence for one sample (see RNNSeq):
// per step and 8-unit chunk h = act(zx + h U), the sum in two accumulator sets (even
// and odd k), act tanhRational or relu (max(0, x), NaN kept). zx rows and hs rows are
// up floats, uw u rows of up floats.
func rnnSeqKernel(name string, relu bool) {
	TEXT(name, NOSPLIT, "func(zx *float32, zxStride int, uw, hs *float32, t, u, up int)")
	Doc(name + ": a whole SimpleRNN sequence over padded units (see RNNSeq).")
	pzx, pu, ph := GP64(), GP64(), GP64()
	Load(Param("zx"), pzx)
	Load(Param("uw"), pu)
	Load(Param("hs"), ph)
	t, u := GP64(), GP64()
	Load(Param("t"), t)
	Load(Param("u"), u)
	us := GP64() // up*4 bytes: U row and h row stride
	Load(Param("up"), us)
	SHLQ(U8(2), us)
	var zero VecVirtual
	if relu {
		zero = YMM()
		VXORPS(zero, zero, zero)
	}
	TESTQ(t, t)
	JZ(LabelRef(name + "_done"))
	Label(name + "_step")
	j := GP64()
	XORQ(j, j)
	Label(name + "_chunk")
	acc, acc2 := YMM(), YMM()
	VMOVUPS(Mem{Base: pzx, Index: j, Scale: 1}, acc)
	VXORPS(acc2, acc2, acc2)
	wp, hp, k := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: pu, Index: j, Scale: 1}, wp)
	MOVQ(ph, hp)
	MOVQ(u, k)
	Label(name + "_k2")
	CMPQ(k, U8(2))
	JL(LabelRef(name + "_k1"))
	b0, b1 := YMM(), YMM()
	VBROADCASTSS(Mem{Base: hp}, b0)
	VBROADCASTSS(Mem{Base: hp, Disp: 4}, b1)
	VFMADD231PS(Mem{Base: wp}, b0, acc)
	VFMADD231PS(Mem{Base: wp, Index: us, Scale: 1}, b1, acc2)
	LEAQ(Mem{Base: wp, Index: us, Scale: 2}, wp)
	ADDQ(U8(8), hp)
	SUBQ(U8(2), k)
	JMP(LabelRef(name + "_k2"))
	Label(name + "_k1")
	TESTQ(k, k)
	JZ(LabelRef(name + "_act"))
	b2 := YMM()
	VBROADCASTSS(Mem{Base: hp}, b2)
	VFMADD231PS(Mem{Base: wp}, b2, acc)
	Label(name + "_act")
	VADDPS(acc2, acc, acc)
	var h VecVirtual
	if relu {
		h = YMM()
		VMAXPS(acc, zero, h) // Intel order max(0, acc): acc's NaN is kept
	} else {
		h = tanhRational(acc)
	}
	hn := GP64()
	LEAQ(Mem{Base: ph, Index: us, Scale: 1}, hn)
	VMOVUPS(h, Mem{Base: hn, Index: j, Scale: 1})
	ADDQ(U8(32), j)
	CMPQ(j, us)
	JL(LabelRef(name + "_chunk"))
	ADDQ(us, ph)
	Load(Param("zxStride"), wp)
	ADDQ(wp, pzx)
	DECQ(t)
	JNZ(LabelRef(name + "_step"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// gruSeqKernel emits a whole GRU sequence for one sample in one call (see GRUSeq): the
// steps loop inside, over units padded to up (a multiple of 8):
//
//	zx:  per step 3*up floats (gate g = z, r, h; unit j at g*up+j), x*W + b; the first
//	     processed step at zx, the next zxStride bytes on (negative for go_backwards)
//	uw:  u rows of 3*up floats (row k: U[k, gate g, unit j] at g*up+j), zero padded
//	rbh: up floats, the candidate's recurrent bias (after only: inside the reset)
//	hs:  (t+1) rows of up floats: row 0 is the initial h, row s+1 is h after step s
//	rh:  2*up floats of scratch (before only): z, then r*h of the step
//
// With after (reset_after / linear_before_reset=1) each 8-unit chunk sums its three
// gates from h in one pass (two accumulator sets, even and odd k, as the LSTM kernel):
// z, r = gate(.), c = tanh(zx_h + r*(h U_h + rbh)), h = c + z*(h - c). Without, a
// first pass forms z and r*h for every chunk, a second sums (r*h) U_h for the
// candidate. h[k] is broadcast from the previous row (a store-forwarded load).
func gruSeqKernel(name string, hard, after bool) {
	sig := "func(zx *float32, zxStride int, uw, rbh, hs, rh *float32, t, u, up int)"
	if hard {
		sig = "func(zx *float32, zxStride int, uw, rbh, hs, rh *float32, t, u, up int, a, b float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + ": a whole GRU sequence over padded units (see GRUSeq).")
	pzx, pu, ph, prh := GP64(), GP64(), GP64(), GP64()
	Load(Param("zx"), pzx)
	Load(Param("uw"), pu)
	Load(Param("hs"), ph)
	if after {
		Load(Param("rbh"), prh)
	} else {
		Load(Param("rh"), prh)
	}
	t, u := GP64(), GP64()
	Load(Param("t"), t)
	Load(Param("u"), u)
	us := GP64() // up*4 bytes: gate stride and h row stride
	Load(Param("up"), us)
	SHLQ(U8(2), us)
	rowb := GP64() // 3*up*4 bytes: one U row / one zx step
	LEAQ(Mem{Base: us, Index: us, Scale: 2}, rowb)
	gate := seqGate(hard, false, sigmoidRational)
	gm := func(base Register, g int) Mem {
		switch g {
		case 1:
			return Mem{Base: base, Index: us, Scale: 1}
		case 2:
			return Mem{Base: base, Index: us, Scale: 2}
		}
		return Mem{Base: base}
	}
	// sums emits acc[g] += sum over k < u of h[k] * U[k, gate g, chunk], for the gates
	// gs, h[k] read from hp (4-byte stride), U rows from wp on (rowb apart); acc starts
	// as given, the odd k in a second set added at the end.
	sums := func(lbl string, acc []VecVirtual, gs []int, wp, hp Register) {
		acc2 := make([]VecVirtual, len(acc))
		for i := range acc2 {
			acc2[i] = YMM()
			VXORPS(acc2[i], acc2[i], acc2[i])
		}
		k := GP64()
		MOVQ(u, k)
		Label(lbl + "_k2")
		CMPQ(k, U8(2))
		JL(LabelRef(lbl + "_k1"))
		b0, b1 := YMM(), YMM()
		VBROADCASTSS(Mem{Base: hp}, b0)
		VBROADCASTSS(Mem{Base: hp, Disp: 4}, b1)
		for i, g := range gs {
			VFMADD231PS(gm(wp, g), b0, acc[i])
		}
		ADDQ(rowb, wp)
		for i, g := range gs {
			VFMADD231PS(gm(wp, g), b1, acc2[i])
		}
		ADDQ(rowb, wp)
		ADDQ(U8(8), hp)
		SUBQ(U8(2), k)
		JMP(LabelRef(lbl + "_k2"))
		Label(lbl + "_k1")
		TESTQ(k, k)
		JZ(LabelRef(lbl + "_add"))
		b2 := YMM()
		VBROADCASTSS(Mem{Base: hp}, b2)
		for i, g := range gs {
			VFMADD231PS(gm(wp, g), b2, acc[i])
		}
		Label(lbl + "_add")
		for i := range acc {
			VADDPS(acc2[i], acc[i], acc[i])
		}
	}
	prr := GP64() // before: the r*h half of rh
	if !after {
		LEAQ(Mem{Base: prh, Index: us, Scale: 1}, prr)
	}
	TESTQ(t, t)
	JZ(LabelRef(name + "_done"))
	Label(name + "_step")
	j := GP64() // byte offset of the chunk within a gate block
	zb, wp, hp, hn := GP64(), GP64(), GP64(), GP64()
	if after {
		XORQ(j, j)
		Label(name + "_chunk")
		LEAQ(Mem{Base: pzx, Index: j, Scale: 1}, zb)
		acc := []VecVirtual{YMM(), YMM(), YMM()}
		VMOVUPS(gm(zb, 0), acc[0])
		VMOVUPS(gm(zb, 1), acc[1])
		VMOVUPS(Mem{Base: prh, Index: j, Scale: 1}, acc[2])
		LEAQ(Mem{Base: pu, Index: j, Scale: 1}, wp)
		MOVQ(ph, hp)
		sums(name, acc, []int{0, 1, 2}, wp, hp)
		z, r := gate(acc[0]), gate(acc[1])
		VFMADD213PS(gm(zb, 2), r, acc[2]) // zx_h + r*(h U_h + rbh)
		c := tanhRational(acc[2])
		gruUpdate(z, c, Mem{Base: ph, Index: j, Scale: 1}, hn, ph, us, j)
		ADDQ(U8(32), j)
		CMPQ(j, us)
		JL(LabelRef(name + "_chunk"))
	} else {
		XORQ(j, j)
		Label(name + "_zr")
		LEAQ(Mem{Base: pzx, Index: j, Scale: 1}, zb)
		acc := []VecVirtual{YMM(), YMM()}
		VMOVUPS(gm(zb, 0), acc[0])
		VMOVUPS(gm(zb, 1), acc[1])
		LEAQ(Mem{Base: pu, Index: j, Scale: 1}, wp)
		MOVQ(ph, hp)
		sums(name+"_zr", acc, []int{0, 1}, wp, hp)
		z, r := gate(acc[0]), gate(acc[1])
		VMOVUPS(z, Mem{Base: prh, Index: j, Scale: 1})
		VMULPS(Mem{Base: ph, Index: j, Scale: 1}, r, r)
		VMOVUPS(r, Mem{Base: prr, Index: j, Scale: 1})
		ADDQ(U8(32), j)
		CMPQ(j, us)
		JL(LabelRef(name + "_zr"))
		XORQ(j, j)
		Label(name + "_cand")
		LEAQ(Mem{Base: pzx, Index: j, Scale: 1}, zb)
		ch := []VecVirtual{YMM()}
		VMOVUPS(gm(zb, 2), ch[0])
		LEAQ(Mem{Base: pu, Index: j, Scale: 1}, wp)
		MOVQ(prr, hp)
		sums(name+"_cand", ch, []int{2}, wp, hp)
		c := tanhRational(ch[0])
		z = YMM()
		VMOVUPS(Mem{Base: prh, Index: j, Scale: 1}, z)
		gruUpdate(z, c, Mem{Base: ph, Index: j, Scale: 1}, hn, ph, us, j)
		ADDQ(U8(32), j)
		CMPQ(j, us)
		JL(LabelRef(name + "_cand"))
	}
	// next step
	ADDQ(us, ph)
	Load(Param("zxStride"), zb)
	ADDQ(zb, pzx)
	DECQ(t)
	JNZ(LabelRef(name + "_step"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// gruUpdate stores h = c + z*(hprev - c) for the chunk at byte offset j of the next hs
// row (ph + us).
func gruUpdate(z, c VecVirtual, hprev Mem, hn, ph, us, j Register) {
	d := YMM()
	VMOVUPS(hprev, d)
	VSUBPS(c, d, d)
	VFMADD213PS(c, z, d) // z*(h - c) + c
	LEAQ(Mem{Base: ph, Index: us, Scale: 1}, hn)
	VMOVUPS(d, Mem{Base: hn, Index: j, Scale: 1})
}
