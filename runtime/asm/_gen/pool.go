package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// maxPoolKernel emits maxpool_avx2_amd64.s: vmaxPoolAVX2, the tap-list kernels and
// vmaxTapsAVX2.
func maxPoolKernel() {
	defTailMask() // maxTapsKernel's
	maxPoolMapKernel()
	poolTapsKernels()
	maxTapsKernel()
}

// maxPoolMapKernel: for p < npix, i < c (c a multiple of 8):
// dst[p*c+i] = max over t < ntaps of src[bases[p]+offs[t]+i] (ntaps >= 1), NaN
// propagating: a whole output map of max pooling in one call. Up to 4 vectors of 8
// channels run side by side, each with two short chains per tap (the running max, and
// an OR of the tap's own NaN lanes, set to all ones in the result), so the taps of a
// vector do not wait on a compare-max-or chain.
func maxPoolMapKernel() {
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

// poolTapsKernels: whole output maps of max / average pooling from tap lists, 8
// channels a vector (up to 4 side by side) and a masked tail for c % 8, exact against
// the reference loops:
//
//   - max: acc = -Inf; per tap acc = (x > acc || x != x) ? x : acc (VMAXPS with x as the
//     first operand keeps acc on ties and on NaN, then a blend puts a NaN x in), so the
//     first of equal zeros and the last NaN's payload survive, as in layers.Pool2D;
//   - average: acc = 0; per tap acc += x in tap order; then acc *= scale.
//
// The CSR forms take pixel p's taps from offs[ptr[p]:ptr[p+1]] (float offsets into
// src); the strided forms (global pooling) have ntaps taps at src + t*c.
func poolTapsKernels() {
	poolTapsMask = GLOBL("pool_tailmask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
	poolNegInf = GLOBL("pool_neginf", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(0xff800000))
	}
	poolTapsKernel(true, false)
	poolTapsKernel(false, false)
	poolTapsKernel(true, true)
	poolTapsKernel(false, true)
}

var poolTapsMask, poolNegInf Mem

func poolTapsKernel(isMax, strided bool) {
	name := "vpoolAvgTapsAVX2"
	sig := "func(dst, src *float32, offs, ptr *int, scale *float32, npix, c int)"
	doc := "vpoolAvgTapsAVX2: dst[p*c+i] = (sum over t in [ptr[p], ptr[p+1]) of src[offs[t]+i]) * scale[p], for p < npix, i < c."
	switch {
	case isMax && !strided:
		name = "vpoolMaxTapsAVX2"
		sig = "func(dst, src *float32, offs, ptr *int, npix, c int)"
		doc = "vpoolMaxTapsAVX2: dst[p*c+i] = max over t in [ptr[p], ptr[p+1]) of src[offs[t]+i] (from -Inf), for p < npix, i < c."
	case isMax && strided:
		name = "vpoolMaxStrideAVX2"
		sig = "func(dst, src *float32, ntaps, c int)"
		doc = "vpoolMaxStrideAVX2: dst[i] = max over t < ntaps of src[t*c+i] (from -Inf), for i < c."
	case strided:
		name = "vpoolAvgStrideAVX2"
		sig = "func(dst, src *float32, ntaps, c int, scale float32)"
		doc = "vpoolAvgStrideAVX2: dst[i] = (sum over t < ntaps of src[t*c+i]) * scale, for i < c."
	}
	TEXT(name, NOSPLIT, sig)
	Doc(doc)
	pd, ps := GP64(), GP64()
	Load(Param("dst"), pd)
	Load(Param("src"), ps)
	c := GP64()
	Load(Param("c"), c)
	var po, pp, psc, np, nt, stride GPVirtual
	sv := YMM()
	if strided {
		nt, stride = GP64(), GP64()
		Load(Param("ntaps"), nt)
		MOVQ(c, stride)
		SHLQ(U8(2), stride) // c*4 bytes between taps
		if !isMax {
			sx := XMM()
			Load(Param("scale"), sx)
			VBROADCASTSS(sx, sv)
		}
	} else {
		po, pp, np = GP64(), GP64(), GP64()
		Load(Param("offs"), po)
		Load(Param("ptr"), pp)
		Load(Param("npix"), np)
		if !isMax {
			psc = GP64()
			Load(Param("scale"), psc)
		}
	}
	ninf := YMM()
	if isMax {
		VMOVUPS(poolNegInf, ninf)
	}
	qb, qe := GP64(), GP64()
	if !strided {
		Label("pt_pix")
		TESTQ(np, np)
		JZ(LabelRef("pt_done"))
		MOVQ(Mem{Base: pp}, qb)
		LEAQ(Mem{Base: po, Index: qb, Scale: 8}, qb)
		MOVQ(Mem{Base: pp, Disp: 8}, qe)
		LEAQ(Mem{Base: po, Index: qe, Scale: 8}, qe)
		if !isMax {
			VBROADCASTSS(Mem{Base: psc}, sv)
		}
	}
	s, i := GP64(), GP64()
	MOVQ(ps, s)
	MOVQ(c, i)
	q, o := GP64(), GP64()
	mk := YMM()
	// block runs nv vectors (or, with masked, one masked vector) of channels over the
	// taps and stores them.
	block := func(nv int, masked bool) {
		sfx := fmt.Sprint(nv)
		if masked {
			sfx = "t"
		}
		acc := make([]VecVirtual, nv)
		for v := range acc {
			acc[v] = YMM()
			if isMax {
				VMOVAPS(ninf, acc[v])
			} else {
				VXORPS(acc[v], acc[v], acc[v])
			}
		}
		tap := func(m func(v int) Mem) {
			for v := 0; v < nv; v++ {
				x := YMM()
				if masked {
					VMASKMOVPS(m(v), mk, x)
				} else if !isMax {
					VADDPS(m(v), acc[v], acc[v])
					continue
				} else {
					VMOVUPS(m(v), x)
				}
				if !isMax {
					VADDPS(x, acc[v], acc[v])
					continue
				}
				g, u := YMM(), YMM()
				VMAXPS(acc[v], x, g)       // x > acc ? x : acc
				VCMPPS(U8(3), x, x, u)     // x is NaN
				VBLENDVPS(u, x, g, acc[v]) // NaN x replaces acc
			}
		}
		if strided {
			MOVQ(s, q)
			MOVQ(nt, o)
			Label("pt_tap" + sfx)
			TESTQ(o, o)
			JZ(LabelRef("pt_store" + sfx))
			tap(func(v int) Mem { return Mem{Base: q, Disp: 32 * v} })
			ADDQ(stride, q)
			DECQ(o)
			JMP(LabelRef("pt_tap" + sfx))
		} else {
			MOVQ(qb, q)
			Label("pt_tap" + sfx)
			CMPQ(q, qe)
			JAE(LabelRef("pt_store" + sfx))
			MOVQ(Mem{Base: q}, o)
			tap(func(v int) Mem { return Mem{Base: s, Index: o, Scale: 4, Disp: 32 * v} })
			ADDQ(U8(8), q)
			JMP(LabelRef("pt_tap" + sfx))
		}
		Label("pt_store" + sfx)
		for v := 0; v < nv; v++ {
			if !isMax {
				VMULPS(sv, acc[v], acc[v])
			}
			if masked {
				VMASKMOVPS(acc[v], mk, Mem{Base: pd})
			} else {
				VMOVUPS(acc[v], Mem{Base: pd, Disp: 32 * v})
			}
		}
		if !masked {
			ADDQ(U32(32*nv), pd)
			ADDQ(U32(32*nv), s)
			SUBQ(U32(8*nv), i)
		}
	}
	Label("pt_ch4")
	CMPQ(i, U8(32))
	JL(LabelRef("pt_ch2"))
	block(4, false)
	JMP(LabelRef("pt_ch4"))
	Label("pt_ch2")
	CMPQ(i, U8(16))
	JL(LabelRef("pt_ch1"))
	block(2, false)
	Label("pt_ch1")
	CMPQ(i, U8(8))
	JL(LabelRef("pt_cht"))
	block(1, false)
	Label("pt_cht")
	TESTQ(i, i)
	JZ(LabelRef("pt_next"))
	t := GP64()
	LEAQ(poolTapsMask, t)
	MOVQ(i, o)
	NEGQ(o)
	VMOVUPS(Mem{Base: t, Index: o, Scale: 4, Disp: 32}, mk) // mask of i lanes
	block(1, true)
	LEAQ(Mem{Base: pd, Index: i, Scale: 4}, pd)
	Label("pt_next")
	if !strided {
		ADDQ(U8(8), pp)
		if !isMax {
			ADDQ(U8(4), psc)
		}
		DECQ(np)
		JMP(LabelRef("pt_pix"))
		Label("pt_done")
	}
	VZEROUPPER()
	RET()
}
