package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

// maxPoolKernel: for p < npix, i < c (c a multiple of 8):
// dst[p*c+i] = max over t < ntaps of src[bases[p]+offs[t]+i] (ntaps >= 1), NaN
// propagating as in vmaxTapsAVX2: a whole output map of max pooling in one call.
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
	Label("mp_ch")
	acc := YMM()
	o := GP64()
	MOVQ(Mem{Base: po}, o)
	VMOVUPS(Mem{Base: s, Index: o, Scale: 4}, acc)
	t := GP64()
	MOVQ(U32(1), t)
	Label("mp_tap")
	CMPQ(t, nt)
	JGE(LabelRef("mp_store"))
	MOVQ(Mem{Base: po, Index: t, Scale: 8}, o)
	x, u := YMM(), YMM()
	VMOVUPS(Mem{Base: s, Index: o, Scale: 4}, x)
	VCMPPS(U8(3), x, acc, u) // unordered
	VMAXPS(x, acc, acc)      // Intel max(acc, x): x on NaN
	VORPS(u, acc, acc)
	INCQ(t)
	JMP(LabelRef("mp_tap"))
	Label("mp_store")
	VMOVUPS(acc, Mem{Base: pd})
	ADDQ(U8(32), pd)
	ADDQ(U8(32), s)
	SUBQ(U8(8), i)
	JNZ(LabelRef("mp_ch"))
	ADDQ(U8(8), pb)
	DECQ(np)
	JMP(LabelRef("mp_pix"))
	Label("mp_done")
	VZEROUPPER()
	RET()
}
