package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// maxPoolKernel: for p < npix, i < c (c a multiple of 8):
// dst[p*c+i] = max over t < ntaps of src[bases[p]+offs[t]+i] (ntaps >= 1), NaN
// propagating: a whole output map of max pooling in one call. Up to 4 vectors of 8
// channels run side by side, each with two short chains per tap (the running max, and
// an OR of the tap's own NaN lanes, set to all ones in the result), so the taps of a
// vector do not wait on a compare-max-or chain.
func maxPoolKernel() {
	TEXT("vmaxPoolAVX2", NOSPLIT, "func(dst, src *float32, bases *int, npix int, offs *int, ntaps, c int)")
	Doc("vmaxPoolAVX2: dst[p*c+i] = max over t < ntaps of src[bases[p]+offs[t]+i], for p < npix, i < c (c % 8 == 0).")
	pd, ps, pb, po := GP64(), GP64(), GP64(), GP64()
	Load(Param("dst"), pd)
	Load(Param("src"), ps)
	Load(Param("bases"), pb)
	Load(Param("offs"), po)
	np, nt, c := GP64(), GP64(), GP64()
	Load(Param("npix"), np)
	Load(Param("ntaps"), nt)
	Load(Param("c"), c)
	Label("mp_pix")
	TESTQ(np, np)
	JZ(LabelRef("mp_done"))
	s := GP64()
	MOVQ(Mem{Base: pb}, s)
	LEAQ(Mem{Base: ps, Index: s, Scale: 4}, s) // this pixel's window base
	i := GP64()
	MOVQ(c, i)
	o, t := GP64(), GP64()
	block := func(nv int) {
		sfx := string(rune('0' + nv))
		var acc, u [4]VecVirtual
		MOVQ(Mem{Base: po}, o)
		for v := 0; v < nv; v++ {
			acc[v], u[v] = YMM(), YMM()
			VMOVUPS(Mem{Base: s, Index: o, Scale: 4, Disp: 32 * v}, acc[v])
			VCMPPS(U8(3), acc[v], acc[v], u[v]) // NaN lanes
		}
		MOVQ(U32(1), t)
		Label("mp_tap" + sfx)
		CMPQ(t, nt)
		JGE(LabelRef("mp_store" + sfx))
		MOVQ(Mem{Base: po, Index: t, Scale: 8}, o)
		for v := 0; v < nv; v++ {
			x, n := YMM(), YMM()
			VMOVUPS(Mem{Base: s, Index: o, Scale: 4, Disp: 32 * v}, x)
			VCMPPS(U8(3), x, x, n)
			VORPS(n, u[v], u[v])
			VMAXPS(x, acc[v], acc[v])
		}
		INCQ(t)
		JMP(LabelRef("mp_tap" + sfx))
		Label("mp_store" + sfx)
		for v := 0; v < nv; v++ {
			VORPS(u[v], acc[v], acc[v])
			VMOVUPS(acc[v], Mem{Base: pd, Disp: 32 * v})
		}
		ADDQ(U32(32*nv), pd)
		ADDQ(U32(32*nv), s)
		SUBQ(U32(8*nv), i)
	}
	Label("mp_ch")
	CMPQ(i, U8(32))
	JL(LabelRef("mp_ch2"))
	block(4)
	JMP(LabelRef("mp_ch"))
	Label("mp_ch2")
	CMPQ(i, U8(16))
	JL(LabelRef("mp_ch1"))
	block(2)
	JMP(LabelRef("mp_ch2"))
	Label("mp_ch1")
	TESTQ(i, i)
	JZ(LabelRef("mp_next"))
	block(1)
	JMP(LabelRef("mp_ch1"))
	Label("mp_next")
	ADDQ(U8(8), pb)
	DECQ(np)
	JMP(LabelRef("mp_pix"))
	Label("mp_done")
	VZEROUPPER()
	RET()
}
