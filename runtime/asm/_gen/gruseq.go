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
	for _, inK := range []bool{false, true} {
		x := ""
		if inK {
			x = "X"
		}
		gruSeqKernel("gruSeq"+x+"SigmoidTanhAVX2", false, true, inK)
		gruSeqKernel("gruSeq"+x+"HardSigmoidTanhAVX2", true, true, inK)
		gruSeqKernel("gruSeq"+x+"ResetBeforeSigmoidTanhAVX2", false, false, inK)
		gruSeqKernel("gruSeq"+x+"ResetBeforeHardSigmoidTanhAVX2", true, false, inK)
	}
	rnnSeqKernel("rnnSeqTanhAVX2", false, false)
	rnnSeqKernel("rnnSeqReluAVX2", true, false)
	rnnSeqKernel("rnnSeqXTanhAVX2", false, true)
	rnnSeqKernel("rnnSeqXReluAVX2", true, true)
	recStackKernel("recSeqStackAVX2")
}

// rnnSeqKernel emits a whole SimpleRNN (ONNX RNN) sequence for one sample (see RNNSeq):
// per step and 8-unit chunk h = act(zx + h U), the sum in two accumulator sets (even
// and odd k), act tanhRational or relu (max(0, x), NaN kept). zx rows and hs rows are
// up floats, uw u rows of up floats.
//
// With inK (RNNSeqX) it reads the step's input row x (nin floats, xStride bytes apart)
// instead of zx and starts the chunk from bias + x*wx (wx nin rows of up floats), the x
// sums in the second accumulator, off the step chain.
func rnnSeqKernel(name string, relu, inK bool) {
	if inK {
		TEXT(name, NOSPLIT, "func(x *float32, xStride int, wx, bias, uw, hs *float32, t, u, up, nin int)")
	} else {
		TEXT(name, NOSPLIT, "func(zx *float32, zxStride int, uw, hs *float32, t, u, up int)")
	}
	Doc(name + ": a whole SimpleRNN sequence over padded units (see RNNSeq).")
	pzx, pu, ph := GP64(), GP64(), GP64()
	if inK {
		Load(Param("x"), pzx)
	} else {
		Load(Param("zx"), pzx)
	}
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
	wp, hp, k := GP64(), GP64(), GP64()
	VXORPS(acc2, acc2, acc2)
	if inK {
		Load(Param("bias"), wp)
		VMOVUPS(Mem{Base: wp, Index: j, Scale: 1}, acc)
		Load(Param("wx"), wp)
		ADDQ(j, wp)
		MOVQ(pzx, hp)
		Load(Param("nin"), k)
		Label(name + "_x")
		bx := YMM()
		VBROADCASTSS(Mem{Base: hp}, bx)
		VFMADD231PS(Mem{Base: wp}, bx, acc2)
		ADDQ(us, wp)
		ADDQ(U8(4), hp)
		DECQ(k)
		JNZ(LabelRef(name + "_x"))
	} else {
		VMOVUPS(Mem{Base: pzx, Index: j, Scale: 1}, acc)
	}
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
	if inK {
		Load(Param("xStride"), wp)
	} else {
		Load(Param("zxStride"), wp)
	}
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
//
// With inK the kernel projects the input itself (GRUSeqX): instead of zx it reads the
// step's input row x (nin floats, the next xStride bytes on), the padded input kernel
// wx (nin rows of 3*up) and the bias (3*up); the x sums go into the second accumulator
// set (and, for the candidate after the reset form, a register of their own), which
// does not depend on h, so they run ahead of the step chain.
func gruSeqKernel(name string, hard, after, inK bool) {
	args := "zx *float32, zxStride int"
	if inK {
		args = "x *float32, xStride int, wx, bias *float32"
	}
	sig := "func(" + args + ", uw, rbh, hs, rh *float32, t, u, up"
	if inK {
		sig += ", nin"
	}
	sig += " int"
	if hard {
		sig += ", a, b float32"
	}
	TEXT(name, NOSPLIT, sig+")")
	Doc(name + ": a whole GRU sequence over padded units (see GRUSeq).")
	pzx, pu, ph, prh := GP64(), GP64(), GP64(), GP64()
	if inK {
		// wx, bias and nin are read from the arguments where used (registers are short)
		Load(Param("x"), pzx)
	} else {
		Load(Param("zx"), pzx)
	}
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
	// sums emits acc[g] += sum over k < n of v[k] * M[k, gate g, chunk] for the gates gs,
	// v[k] read from vp (4-byte stride), M rows from wp on (rowb apart); with acc2 the
	// odd k go to that second set, which the caller adds in.
	sums := func(lbl string, acc, acc2 []VecVirtual, gs []int, wp, vp Register, n string) {
		k := GP64()
		if n == "u" {
			MOVQ(u, k)
		} else {
			Load(Param(n), k)
		}
		if acc2 != nil {
			Label(lbl + "_k2")
			CMPQ(k, U8(2))
			JL(LabelRef(lbl + "_k1"))
			b0, b1 := YMM(), YMM()
			VBROADCASTSS(Mem{Base: vp}, b0)
			VBROADCASTSS(Mem{Base: vp, Disp: 4}, b1)
			for i, g := range gs {
				VFMADD231PS(gm(wp, g), b0, acc[i])
			}
			ADDQ(rowb, wp)
			for i, g := range gs {
				VFMADD231PS(gm(wp, g), b1, acc2[i])
			}
			ADDQ(rowb, wp)
			ADDQ(U8(8), vp)
			SUBQ(U8(2), k)
			JMP(LabelRef(lbl + "_k2"))
		}
		Label(lbl + "_k1")
		TESTQ(k, k)
		JZ(LabelRef(lbl + "_end"))
		b2 := YMM()
		VBROADCASTSS(Mem{Base: vp}, b2)
		for i, g := range gs {
			VFMADD231PS(gm(wp, g), b2, acc[i])
		}
		if acc2 == nil {
			ADDQ(rowb, wp)
			ADDQ(U8(4), vp)
			DECQ(k)
			JMP(LabelRef(lbl + "_k1"))
		}
		Label(lbl + "_end")
	}
	zeros := func(n int) []VecVirtual {
		v := make([]VecVirtual, n)
		for i := range v {
			v[i] = YMM()
			VXORPS(v[i], v[i], v[i])
		}
		return v
	}
	// start loads the chunk's x*W + b of gates gs (or, with inK, the bias into acc and
	// the x sums into the returned second set).
	zb, wp, hp, hn := GP64(), GP64(), GP64(), GP64()
	j := GP64() // byte offset of the chunk within a gate block
	start := func(lbl string, gs []int) (acc, acc2 []VecVirtual) {
		acc = make([]VecVirtual, len(gs))
		if inK {
			Load(Param("bias"), zb)
			ADDQ(j, zb)
		} else {
			LEAQ(Mem{Base: pzx, Index: j, Scale: 1}, zb)
		}
		for i, g := range gs {
			acc[i] = YMM()
			VMOVUPS(gm(zb, g), acc[i])
		}
		acc2 = zeros(len(gs))
		if inK {
			Load(Param("wx"), wp)
			ADDQ(j, wp)
			MOVQ(pzx, hp)
			sums(lbl+"_x", acc2, nil, gs, wp, hp, "nin")
		}
		return acc, acc2
	}
	prr := GP64() // before: the r*h half of rh
	if !after {
		LEAQ(Mem{Base: prh, Index: us, Scale: 1}, prr)
	}
	TESTQ(t, t)
	JZ(LabelRef(name + "_done"))
	Label(name + "_step")
	if after {
		XORQ(j, j)
		Label(name + "_chunk")
		acc, acc2 := start(name+"_zr", []int{0, 1})
		// the candidate: h sums from rbh; its x*W + b apart (it stays outside the reset)
		xh := start2(inK, name, gm, zb, pzx, j, wp, hp, sums)
		ah := []VecVirtual{YMM()}
		VMOVUPS(Mem{Base: prh, Index: j, Scale: 1}, ah[0])
		acc, acc2 = append(acc, ah[0]), append(acc2, zeros(1)...)
		LEAQ(Mem{Base: pu, Index: j, Scale: 1}, wp)
		MOVQ(ph, hp)
		sums(name, acc, acc2, []int{0, 1, 2}, wp, hp, "u")
		for i := range acc {
			VADDPS(acc2[i], acc[i], acc[i])
		}
		r := gate(acc[1]) // r first: it is on the step chain, z only at the update, and
		z := gate(acc[0]) // their divides share the divider
		if inK {
			VFMADD213PS(xh, r, acc[2]) // xh + r*(h U_h + rbh)
		} else {
			LEAQ(Mem{Base: pzx, Index: j, Scale: 1}, zb)
			VFMADD213PS(gm(zb, 2), r, acc[2])
		}
		c := tanhRational(acc[2])
		gruUpdate(z, c, Mem{Base: ph, Index: j, Scale: 1}, hn, ph, us, j)
		ADDQ(U8(32), j)
		CMPQ(j, us)
		JL(LabelRef(name + "_chunk"))
	} else {
		XORQ(j, j)
		Label(name + "_zr")
		acc, acc2 := start(name+"_zrx", []int{0, 1})
		LEAQ(Mem{Base: pu, Index: j, Scale: 1}, wp)
		MOVQ(ph, hp)
		sums(name+"_zr", acc, acc2, []int{0, 1}, wp, hp, "u")
		for i := range acc {
			VADDPS(acc2[i], acc[i], acc[i])
		}
		r := gate(acc[1]) // r first: it is on the step chain, z only at the update, and
		z := gate(acc[0]) // their divides share the divider
		VMOVUPS(z, Mem{Base: prh, Index: j, Scale: 1})
		VMULPS(Mem{Base: ph, Index: j, Scale: 1}, r, r)
		VMOVUPS(r, Mem{Base: prr, Index: j, Scale: 1})
		ADDQ(U8(32), j)
		CMPQ(j, us)
		JL(LabelRef(name + "_zr"))
		XORQ(j, j)
		Label(name + "_cand")
		ch, ch2 := start(name+"_candx", []int{2})
		LEAQ(Mem{Base: pu, Index: j, Scale: 1}, wp)
		MOVQ(prr, hp)
		sums(name+"_cand", ch, ch2, []int{2}, wp, hp, "u")
		VADDPS(ch2[0], ch[0], ch[0])
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
	if inK {
		Load(Param("xStride"), zb)
	} else {
		Load(Param("zxStride"), zb)
	}
	ADDQ(zb, pzx)
	DECQ(t)
	JNZ(LabelRef(name + "_step"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// start2 returns the reset-after candidate's x*W + b for the chunk at j: loaded from zx
// (nil: the caller reads it as a memory operand), or with inK the bias plus the x sums.
func start2(inK bool, name string, gm func(Register, int) Mem, zb, px, j, wp, hp Register,
	sums func(string, []VecVirtual, []VecVirtual, []int, Register, Register, string)) VecVirtual {
	if !inK {
		return nil
	}
	xh := []VecVirtual{YMM()}
	Load(Param("bias"), zb)
	ADDQ(j, zb)
	VMOVUPS(gm(zb, 2), xh[0])
	Load(Param("wx"), wp)
	ADDQ(j, wp)
	MOVQ(px, hp)
	sums(name+"_hx", xh, nil, []int{2}, wp, hp, "nin")
	return xh[0]
}

// gruUpdate stores h = (1-z)*c + z*hprev for the chunk at byte offset j of the next hs
// row (ph + us).
func gruUpdate(z, c VecVirtual, hprev Mem, hn, ph, us, j Register) {
	// as (1-z)*c + z*h: both factors come from z and h alone, ahead of c, so the
	// step chain after the candidate is one FMA (z*(h - c) + c took a subtract too)
	d, omz := YMM(), YMM()
	VMULPS(hprev, z, d) // z*h
	VMOVUPS(consts["one"], omz)
	VSUBPS(z, omz, omz)    // 1 - z
	VFMADD231PS(c, omz, d) // (1-z)*c + z*h
	LEAQ(Mem{Base: ph, Index: us, Scale: 1}, hn)
	VMOVUPS(d, Mem{Base: hn, Index: j, Scale: 1})
}
