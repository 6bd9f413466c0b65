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

// gatherShortKernel: GatherRuns for runs of at most 8 floats (im2col rows of 1- and
// 2-channel convolutions): one 8-float block per run, two runs per iteration, no inner
// loop. Reads up to 8 floats from each run's start and writes 8 at dst[r*runLen:] (the
// next run overwrites the excess; callers leave GatherSlack floats after the last).
func gatherShortKernel() {
	TEXT("gatherShortAVX2", NOSPLIT, "func(dst, src *float32, offs *int, nruns, runLen int)")
	Doc("gatherShortAVX2: dst[r*runLen+j] = src[offs[r]+j] for r < nruns, j < runLen <= 8 (one 8-float block per run).")
	pd, ps, po := GP64(), GP64(), GP64()
	Load(Param("dst"), pd)
	Load(Param("src"), ps)
	Load(Param("offs"), po)
	nr, rb := GP64(), GP64()
	Load(Param("nruns"), nr)
	Load(Param("runLen"), rb)
	SHLQ(U8(2), rb) // runLen*4 bytes
	o0, o1 := GP64(), GP64()
	y0, y1 := YMM(), YMM()
	Label("gs_pair")
	CMPQ(nr, U8(2))
	JL(LabelRef("gs_one"))
	MOVQ(Mem{Base: po}, o0)
	MOVQ(Mem{Base: po, Disp: 8}, o1)
	VMOVUPS(Mem{Base: ps, Index: o0, Scale: 4}, y0)
	VMOVUPS(Mem{Base: ps, Index: o1, Scale: 4}, y1)
	VMOVUPS(y0, Mem{Base: pd})
	VMOVUPS(y1, Mem{Base: pd, Index: rb, Scale: 1})
	LEAQ(Mem{Base: pd, Index: rb, Scale: 2}, pd)
	ADDQ(U8(16), po)
	SUBQ(U8(2), nr)
	JMP(LabelRef("gs_pair"))
	Label("gs_one")
	TESTQ(nr, nr)
	JZ(LabelRef("gs_done"))
	MOVQ(Mem{Base: po}, o0)
	VMOVUPS(Mem{Base: ps, Index: o0, Scale: 4}, y0)
	VMOVUPS(y0, Mem{Base: pd})
	Label("gs_done")
	VZEROUPPER()
	RET()
}
