package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Row kernels for attention models in AVX2: LayerNorm over rows and a softmax over rows
// with the exponentials summed in float64, both with the row loop inside and a masked
// tail for n % 8.

func normKernels() {
	defConsts()
	cstBits("neginf", 0xff800000)
	cstBits("nan", 0x7fc00000)
	od := GLOBL(cstPrefix+"oned", RODATA|NOPTR)
	DATA(0, U64(math.Float64bits(1)))
	consts["oned"] = od
	layerNormKernel()
	softmaxKernel()
}

// tailMask loads the mask of the first c lanes (0 < c < 8) into a new register.
func tailMask(c GPVirtual) VecVirtual {
	tp := GP64()
	LEAQ(consts["tailmask"], tp)
	k := GP64()
	MOVQ(U64(8), k)
	SUBQ(c, k)
	mk := YMM()
	VMOVUPS(Mem{Base: tp, Index: k, Scale: 4}, mk)
	return mk
}

// hsumPS returns the sum of the 8 lanes of v in lane 0 of an XMM register.
func hsumPS(v VecVirtual) VecVirtual {
	hi := XMM()
	VEXTRACTF128(U8(1), v, hi)
	s := XMM()
	VADDPS(hi, v.AsX(), s)
	VHADDPS(s, s, s)
	VHADDPS(s, s, s)
	return s
}

// chunks emits body(i) for each whole 8-lane chunk of a row of n floats (i: the byte
// offset), then tail(i, mask) for the n%8 remainder; name labels the loop.
func chunks(name string, n GPVirtual, body func(i GPVirtual), tail func(i GPVirtual, mk VecVirtual)) {
	i := GP64()
	XORQ(i, i)
	c := GP64()
	MOVQ(n, c)
	Label(name + "_loop")
	CMPQ(c, U8(8))
	JL(LabelRef(name + "_tail"))
	body(i)
	ADDQ(U8(32), i)
	SUBQ(U8(8), c)
	JMP(LabelRef(name + "_loop"))
	Label(name + "_tail")
	TESTQ(c, c)
	JZ(LabelRef(name + "_done"))
	tail(i, tailMask(c))
	Label(name + "_done")
}

func layerNormKernel() {
	TEXT("vlayerNormAVX2", NOSPLIT, "func(y, x, gamma, beta *float32, n, rows int, eps float32)")
	Doc("vlayerNormAVX2: for each of rows rows of n values, y = (x-mean)/sqrt(var+eps)*g + b",
		"(population variance, two passes in float32; g and b hold n values).")
	py, px, pg, pb := GP64(), GP64(), GP64(), GP64()
	Load(Param("y"), py)
	Load(Param("x"), px)
	Load(Param("gamma"), pg)
	Load(Param("beta"), pb)
	n, rows := GP64(), GP64()
	Load(Param("n"), n)
	Load(Param("rows"), rows)
	eps := XMM()
	VMOVSS(addr("eps"), eps)
	nf := XMM()
	VXORPS(nf, nf, nf)
	VCVTSI2SSQ(n, nf, nf)
	rowBytes := GP64()
	MOVQ(n, rowBytes)
	SHLQ(U8(2), rowBytes)
	Label("ln_row")
	TESTQ(rows, rows)
	JZ(LabelRef("ln_end"))
	// pass 1: the mean
	acc := YMM()
	VXORPS(acc, acc, acc)
	chunks("ln_sum", n, func(i GPVirtual) {
		VADDPS(Mem{Base: px, Index: i, Scale: 1}, acc, acc)
	}, func(i GPVirtual, mk VecVirtual) {
		t := YMM()
		VMASKMOVPS(Mem{Base: px, Index: i, Scale: 1}, mk, t)
		VADDPS(t, acc, acc)
	})
	mean := hsumPS(acc)
	VDIVSS(nf, mean, mean)
	ym := YMM()
	VBROADCASTSS(mean, ym)
	// pass 2: the variance
	acc2 := YMM()
	VXORPS(acc2, acc2, acc2)
	chunks("ln_var", n, func(i GPVirtual) {
		d := YMM()
		VMOVUPS(Mem{Base: px, Index: i, Scale: 1}, d)
		VSUBPS(ym, d, d)
		VFMADD231PS(d, d, acc2)
	}, func(i GPVirtual, mk VecVirtual) {
		t := YMM()
		VMASKMOVPS(Mem{Base: px, Index: i, Scale: 1}, mk, t)
		VSUBPS(ym, t, t)
		VANDPS(mk, t, t)
		VFMADD231PS(t, t, acc2)
	})
	v := hsumPS(acc2)
	VDIVSS(nf, v, v)
	VADDSS(eps, v, v)
	VSQRTSS(v, v, v)
	one := XMM()
	VMOVSS(consts["one"], one)
	VDIVSS(v, one, one)
	yi := YMM()
	VBROADCASTSS(one, yi)
	// pass 3: normalize, scale, shift
	chunks("ln_out", n, func(i GPVirtual) {
		d, g := YMM(), YMM()
		VMOVUPS(Mem{Base: px, Index: i, Scale: 1}, d)
		VMOVUPS(Mem{Base: pg, Index: i, Scale: 1}, g)
		VSUBPS(ym, d, d)
		VMULPS(yi, d, d)
		VFMADD213PS(Mem{Base: pb, Index: i, Scale: 1}, g, d)
		VMOVUPS(d, Mem{Base: py, Index: i, Scale: 1})
	}, func(i GPVirtual, mk VecVirtual) {
		t, g, bb := YMM(), YMM(), YMM()
		VMASKMOVPS(Mem{Base: px, Index: i, Scale: 1}, mk, t)
		VMASKMOVPS(Mem{Base: pg, Index: i, Scale: 1}, mk, g)
		VMASKMOVPS(Mem{Base: pb, Index: i, Scale: 1}, mk, bb)
		VSUBPS(ym, t, t)
		VMULPS(yi, t, t)
		VFMADD213PS(bb, g, t)
		VMASKMOVPS(t, mk, Mem{Base: py, Index: i, Scale: 1})
	})
	ADDQ(rowBytes, px)
	ADDQ(rowBytes, py)
	DECQ(rows)
	JMP(LabelRef("ln_row"))
	Label("ln_end")
	VZEROUPPER()
	RET()
}

// addPD adds the 8 float32 lanes of e to the float64 accumulators lo and hi.
func addPD(e VecVirtual, lo, hi VecVirtual) {
	d := YMM()
	VCVTPS2PD(e.AsX(), d)
	VADDPD(d, lo, lo)
	h := XMM()
	VEXTRACTF128(U8(1), e, h)
	d2 := YMM()
	VCVTPS2PD(h, d2)
	VADDPD(d2, hi, hi)
}

// scalePD returns the 8 lanes of v times the float64 inv in every lane of ymm inv,
// rounded back to float32.
func scalePD(v VecVirtual, inv VecVirtual) VecVirtual {
	lo := YMM()
	VCVTPS2PD(v.AsX(), lo)
	VMULPD(inv, lo, lo)
	h := XMM()
	VEXTRACTF128(U8(1), v, h)
	hi := YMM()
	VCVTPS2PD(h, hi)
	VMULPD(inv, hi, hi)
	out := YMM()
	VCVTPD2PSY(lo, out.AsX())
	h2 := XMM()
	VCVTPD2PSY(hi, h2)
	VINSERTF128(U8(1), h2, out, out)
	return out
}

func softmaxKernel() {
	TEXT("vsoftmaxAVX2", NOSPLIT, "func(x *float32, n, rows int)")
	Doc("vsoftmaxAVX2: each of rows rows of n values becomes exp(x - max) / sum(exp(x - max)),",
		"the sum and the division in float64 (a row holding NaN becomes NaN).")
	px := GP64()
	Load(Param("x"), px)
	n, rows := GP64(), GP64()
	Load(Param("n"), n)
	Load(Param("rows"), rows)
	rowBytes := GP64()
	MOVQ(n, rowBytes)
	SHLQ(U8(2), rowBytes)
	Label("sm_row")
	TESTQ(rows, rows)
	JZ(LabelRef("sm_end"))
	// pass 1: the max, and whether a NaN is present
	m := YMM()
	VMOVUPS(consts["neginf"], m)
	nan := YMM()
	VXORPS(nan, nan, nan)
	chunks("sm_max", n, func(i GPVirtual) {
		t := YMM()
		VMOVUPS(Mem{Base: px, Index: i, Scale: 1}, t)
		u := YMM()
		VCMPPS(U8(3), t, t, u)
		VORPS(u, nan, nan)
		VMAXPS(t, m, m)
	}, func(i GPVirtual, mk VecVirtual) {
		t := YMM()
		VMASKMOVPS(Mem{Base: px, Index: i, Scale: 1}, mk, t)
		u := YMM()
		VCMPPS(U8(3), t, t, u)
		VANDPS(mk, u, u)
		VORPS(u, nan, nan)
		ni := YMM()
		VMOVUPS(consts["neginf"], ni)
		VBLENDVPS(mk, t, ni, t) // masked-off lanes: -inf
		VMAXPS(t, m, m)
	})
	hi := XMM()
	VEXTRACTF128(U8(1), m, hi)
	mx := XMM()
	VMAXPS(hi, m.AsX(), mx)
	sh := XMM()
	VPERMILPS(U8(0x4e), mx, sh)
	VMAXPS(sh, mx, mx)
	VPERMILPS(U8(0xb1), mx, sh)
	VMAXPS(sh, mx, mx)
	any := GP32()
	VMOVMSKPS(nan, any)
	TESTL(any, any)
	JZ(LabelRef("sm_nonan"))
	VMOVSS(consts["nan"], mx)
	Label("sm_nonan")
	ym := YMM()
	VBROADCASTSS(mx, ym)
	// pass 2: exp(x - max), summed in float64
	lo, hd := YMM(), YMM()
	VXORPD(lo, lo, lo)
	VXORPD(hd, hd, hd)
	chunks("sm_exp", n, func(i GPVirtual) {
		t := YMM()
		VMOVUPS(Mem{Base: px, Index: i, Scale: 1}, t)
		VSUBPS(ym, t, t)
		e := expv(t)
		VMOVUPS(e, Mem{Base: px, Index: i, Scale: 1})
		addPD(e, lo, hd)
	}, func(i GPVirtual, mk VecVirtual) {
		t := YMM()
		VMASKMOVPS(Mem{Base: px, Index: i, Scale: 1}, mk, t)
		VSUBPS(ym, t, t)
		e := expv(t)
		VMASKMOVPS(e, mk, Mem{Base: px, Index: i, Scale: 1})
		VANDPS(mk, e, e)
		addPD(e, lo, hd)
	})
	VADDPD(hd, lo, lo)
	h2 := XMM()
	VEXTRACTF128(U8(1), lo, h2)
	s := XMM()
	VADDPD(h2, lo.AsX(), s)
	VHADDPD(s, s, s)
	one := XMM()
	VMOVSD(consts["oned"], one)
	VDIVSD(s, one, one)
	inv := YMM()
	VBROADCASTSD(one, inv)
	// pass 3: times 1/sum
	chunks("sm_div", n, func(i GPVirtual) {
		t := YMM()
		VMOVUPS(Mem{Base: px, Index: i, Scale: 1}, t)
		r := scalePD(t, inv)
		VMOVUPS(r, Mem{Base: px, Index: i, Scale: 1})
	}, func(i GPVirtual, mk VecVirtual) {
		t := YMM()
		VMASKMOVPS(Mem{Base: px, Index: i, Scale: 1}, mk, t)
		r := scalePD(t, inv)
		VMASKMOVPS(r, mk, Mem{Base: px, Index: i, Scale: 1})
	})
	ADDQ(rowBytes, px)
	DECQ(rows)
	JMP(LabelRef("sm_row"))
	Label("sm_end")
	VZEROUPPER()
	RET()
}
