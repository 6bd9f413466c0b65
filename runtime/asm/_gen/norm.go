package main

import (
	"fmt"
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

// erf coefficients of Go's math/erf.go (FreeBSD's s_erf.c), rounded to float32: the
// rational forms are far more accurate than float32, so the rounding of the
// coefficients and of the arithmetic is what the kernel's error is made of.
var erfCoef = map[string][]float64{
	"pp": {1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02, -5.77027029648944159157e-03, -2.37630166566501626084e-05},
	"qq": {1, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03, 1.32494738004321644526e-04, -3.96022827877536812320e-06},
	"pa": {-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01, 3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02, -2.16637559486879084300e-03},
	"qa": {1, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02, 1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02},
	"ra": {-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01, -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02, -8.12874355063065934246e+01, -9.81432934416914548592e+00},
	"sa": {1, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02, 6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02, 6.57024977031928170135e+00, -6.04244152148580987438e-02},
	"rb": {-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01, -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03, -4.83519191608651397019e+02},
	"sb": {1, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03, 3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02, -2.24409524465858183362e+01},
}

const erx = 8.45062911510467529297e-01 // exactly a float32

func defErfConsts() {
	for _, k := range []string{"pp", "qq", "pa", "qa", "ra", "sa", "rb", "sb"} { // fixed order: reproducible output
		for i, c := range erfCoef[k] {
			cst(fmt.Sprintf("%s%d", k, i), float32(c))
		}
	}
	cst("invsqrt2", float32(1/math.Sqrt2))
	cst("half", 0.5)
	cst("c1merx", float32(1-erx))
	cst("c1perx", float32(1+erx))
	cst("c0p5625", 0.5625)
	cst("b084", 0.84375)
	cst("b125", 1.25)
	cst("b2857", float32(1/0.35))
	cst("b10", 10)
}

// horner returns sum c_i t^i for the coefficients k0.. of erfCoef[k].
func horner(t VecVirtual, k string) VecVirtual {
	cs := erfCoef[k]
	p := YMM()
	VMOVUPS(consts[fmt.Sprintf("%s%d", k, len(cs)-1)], p)
	for i := len(cs) - 2; i >= 0; i-- {
		VFMADD213PS(consts[fmt.Sprintf("%s%d", k, i)], t, p) // p = t*p + c_i
	}
	return p
}

// blend returns m ? a : b lane by lane.
func blend(m, a, b VecVirtual) VecVirtual {
	out := YMM()
	VBLENDVPS(m, a, b, out)
	return out
}

// lessThan returns the mask of lanes with v < the constant c (ordered: NaN is false).
func lessThan(v VecVirtual, c string) VecVirtual {
	m := YMM()
	VCMPPS(U8(1), consts[c], v, m) // LT_OS: v < c
	return m
}

// geluErfv: x*Phi(x), Phi(x) = erfc(-x/sqrt2)/2, with erf and erfc in Go's four ranges of
// z = |x|/sqrt2 (two rational forms of erf below 1.25, two of erfc above, where
// erfc = exp(-z^2 - 0.5625 + R/S)/z with z^2 = x^2/2 split exactly by an FMA), the
// negative side always through erfc so that the left tail keeps its relative accuracy.
func geluErfv(x VecVirtual) VecVirtual {
	ax := YMM()
	VANDPS(consts["absmask"], x, ax)
	z := YMM()
	VMULPS(consts["invsqrt2"], ax, z)
	zz := YMM()
	VMULPS(z, z, zz)
	// z < 0.84375: erf = z + z*pp(zz)/qq(zz)
	e1 := horner(zz, "pp")
	q1 := horner(zz, "qq")
	VDIVPS(q1, e1, e1)
	VFMADD213PS(z, z, e1) // z*e1 + z
	// z < 1.25: erf = erx + pa(s)/qa(s), s = z-1
	s := YMM()
	VSUBPS(consts["one"], z, s)
	pq := horner(s, "pa")
	q2 := horner(s, "qa")
	VDIVPS(q2, pq, pq)
	m084 := lessThan(z, "b084")
	neg := YMM()
	VCMPPS(U8(1), consts["zero"], x, neg) // x < 0
	// 2*Phi below 1.25: 1 -/+ erf
	one := YMM()
	VMOVUPS(consts["one"], one)
	n1, p1 := YMM(), YMM()
	VSUBPS(e1, one, n1) // 1 - erf
	VADDPS(e1, one, p1) // 1 + erf
	n2, p2 := YMM(), YMM()
	VMOVUPS(consts["c1merx"], n2)
	VSUBPS(pq, n2, n2) // (1-erx) - P/Q
	VMOVUPS(consts["c1perx"], p2)
	VADDPS(pq, p2, p2) // (1+erx) + P/Q
	small := blend(neg, blend(m084, n1, n2), blend(m084, p1, p2))
	VMULPS(consts["half"], small, small)
	// z >= 1.25: erfc = exp(-h) * exp(-eh - 0.5625 + R/S) / z, h + eh = x^2/2
	w := YMM()
	VMOVUPS(consts["one"], w)
	VDIVPS(zz, w, w) // 1/z^2
	ra, sa := horner(w, "ra"), horner(w, "sa")
	rb, sb := horner(w, "rb"), horner(w, "sb")
	m285 := lessThan(z, "b2857")
	r := blend(m285, ra, rb)
	sd := blend(m285, sa, sb)
	VDIVPS(sd, r, r)
	xx := YMM()
	VMULPS(x, x, xx)
	e := YMM()
	VMOVAPS(x, e)
	VFMSUB213PS(xx, x, e) // e = x*x - xx (exact remainder)
	h := YMM()
	VMULPS(consts["half"], xx, h)
	VMULPS(consts["half"], e, e)
	VSUBPS(e, r, r)
	VSUBPS(consts["c0p5625"], r, r) // R/S - eh - 0.5625
	VXORPS(consts["signmask"], h, h)
	eA := expv(h)
	eB := expv(r)
	VMULPS(eB, eA, eA)
	VDIVPS(z, eA, eA) // erfc
	VMULPS(consts["half"], eA, eA)
	lg := YMM()
	VMOVUPS(consts["one"], lg)
	VSUBPS(eA, lg, lg) // 1 - erfc/2
	large := blend(neg, eA, lg)
	// z >= 10: Phi is 0 or 1
	big := YMM()
	VCMPPS(U8(0x1d), consts["b10"], z, big) // z >= 10 (GE_OQ)
	zero := YMM()
	VXORPS(zero, zero, zero)
	large = blend(big, blend(neg, zero, one), large)
	m125 := lessThan(z, "b125")
	phi := blend(m125, small, large)
	VMULPS(x, phi, phi)
	return phi
}
