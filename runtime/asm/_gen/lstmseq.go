package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// lstmSeqKernel emits a whole LSTM sequence for one sample in one call (see LSTMSeq):
// the steps loop inside, so the recurrent product h*U, the gates and the c/h update of a
// step never leave the core. Everything works on units padded to up (a multiple of 8):
//
//	zx: per step 4*up floats (gate g, unit j at g*up+j), x*W+b; the first processed
//	    step at zx, the next zxStride bytes on (negative for go_backwards)
//	uw: u rows of 4*up floats (row k: U[k, gate g, unit j] at g*up+j), zero padded
//	c:  up floats, updated in place
//	hs: (t+1) rows of up floats: row 0 is the initial h, row s+1 is h after step s
//
// Per 8-unit chunk the 4 gate sums start from zx and take the u products in two
// accumulator sets (even and odd k) to halve the FMA latency chain; h[k] is
// broadcast from the previous row of hs (a store-forwarded load).
func lstmSeqKernel(name string, hard bool) {
	sig := "func(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int)"
	if hard {
		sig = "func(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int, a, b float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + ": a whole LSTM sequence over padded units (see LSTMSeq).")
	pzx, pu, pc, ph := GP64(), GP64(), GP64(), GP64()
	Load(Param("zx"), pzx)
	Load(Param("uw"), pu)
	Load(Param("c"), pc)
	Load(Param("hs"), ph)
	t, u := GP64(), GP64()
	Load(Param("t"), t)
	Load(Param("u"), u)
	us := GP64() // up*4 bytes: gate stride and h row stride
	Load(Param("up"), us)
	SHLQ(U8(2), us)
	us3 := GP64()
	LEAQ(Mem{Base: us, Index: us, Scale: 2}, us3)
	rowb := GP64() // 4*up*4 bytes: one U row / one zx step
	LEAQ(Mem{Base: us, Index: us, Scale: 2}, rowb)
	ADDQ(us, rowb)
	gate := seqGate(hard, false, sigmoidRational)
	gm := func(base Register, g int, disp int) Mem {
		switch g {
		case 1:
			return Mem{Base: base, Index: us, Scale: 1, Disp: disp}
		case 2:
			return Mem{Base: base, Index: us, Scale: 2, Disp: disp}
		case 3:
			return Mem{Base: base, Index: us3, Scale: 1, Disp: disp}
		}
		return Mem{Base: base, Disp: disp}
	}
	TESTQ(t, t)
	JZ(LabelRef(name + "_done"))
	CMPQ(us, U8(32))
	JNE(LabelRef(name + "_step"))
	lstmSeqStep8(name, pzx, pu, pc, ph, t, u, us, us3, rowb, hard, gate)
	JMP(LabelRef(name + "_done"))
	Label(name + "_step")
	j := GP64() // byte offset of the chunk within a gate block
	XORQ(j, j)
	Label(name + "_chunk")
	// gate sums: acc (even k, starting from zx), acc2 (odd k, from 0)
	zb, cb, hn := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: pzx, Index: j, Scale: 1}, zb)
	var acc, acc2 [4]VecVirtual
	for g := 0; g < 4; g++ {
		acc[g] = YMM()
		VMOVUPS(gm(zb, g, 0), acc[g])
		acc2[g] = YMM()
		VXORPS(acc2[g], acc2[g], acc2[g])
	}
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
	for g := 0; g < 4; g++ {
		VFMADD231PS(gm(wp, g, 0), b0, acc[g])
	}
	ADDQ(rowb, wp)
	for g := 0; g < 4; g++ {
		VFMADD231PS(gm(wp, g, 0), b1, acc2[g])
	}
	ADDQ(rowb, wp)
	ADDQ(U8(8), hp)
	SUBQ(U8(2), k)
	JMP(LabelRef(name + "_k2"))
	Label(name + "_k1")
	TESTQ(k, k)
	JZ(LabelRef(name + "_gates"))
	b2 := YMM()
	VBROADCASTSS(Mem{Base: hp}, b2)
	for g := 0; g < 4; g++ {
		VFMADD231PS(gm(wp, g, 0), b2, acc[g])
	}
	Label(name + "_gates")
	for g := 0; g < 4; g++ {
		VADDPS(acc2[g], acc[g], acc[g])
	}
	LEAQ(Mem{Base: pc, Index: j, Scale: 1}, cb)
	th := cellUpdate(acc, cb, hard, gate)
	LEAQ(Mem{Base: ph, Index: us, Scale: 1}, hn)
	VMOVUPS(th, Mem{Base: hn, Index: j, Scale: 1})
	ADDQ(U8(32), j)
	CMPQ(j, us)
	JL(LabelRef(name + "_chunk"))
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

// The LSTM sequence kernel's activations are shorter forms of sigmoidv and tanhv, for the
// latency of the step chain (sigmoid gate, then tanh of c): 2^n from a magic-number
// round (one FMA gives n and the exponent bits, no VROUNDPS/VCVTPS2DQ), the degree-7
// expm1 polynomial by Estrin's scheme (4 FMA levels instead of 6), no two-step scaling
// (inputs clamped so 2^n stays normal) and NaN kept by the clamp operand order instead
// of a compare and blend. Bounds are measured by TestActivationULP (sigmoidGate,
// tanhCell).

// expm1Magic returns p = expm1(t) and s = 2^n with y = n*ln2 + t, for y in [-87, 88]
// (NaN gives NaN in p). rr1 reduces with ln2 rounded to float32 in one FMA instead of
// the hi/lo pair: t is then off by n*(ln2 - float32(ln2)) ~ n*1.9e-9, a relative error
// of e^y that tanh (|n| <= 26, where it only matters through e/(1-e^2)) absorbs within
// a fraction of an ULP but a sigmoid tail (n up to 126) would not.
//
// With twice set the argument is y = 2*x (formed alongside the first FMA, which takes x
// times 2*log2e: both roundings exact).
func expm1Magic(x VecVirtual, rr1, twice bool) (p, s VecVirtual) {
	v := YMM()
	VMOVUPS(consts["magic"], v)
	y := x
	if twice {
		VFMADD231PS(consts["log2e2"], x, v) // 2x*log2e + magic: n+127 in the low bits
		y = YMM()
		VADDPS(x, x, y)
	} else {
		VFMADD231PS(consts["log2e"], x, v) // x*log2e + magic
	}
	s = YMM()
	VPSLLD(U8(23), v, s)
	n := YMM()
	VSUBPS(consts["magic"], v, n)
	t := YMM()
	VMOVAPS(y, t)
	if rr1 {
		VFNMADD231PS(consts["ln2"], n, t)
	} else {
		VFNMADD231PS(consts["ln2hi"], n, t)
		VFNMADD231PS(consts["ln2lo"], n, t)
	}
	tt, a, b, d := YMM(), YMM(), YMM(), YMM()
	VMULPS(t, t, tt)
	VMOVUPS(consts["c3"], a)
	VFMADD213PS(consts["c2"], t, a) // c2 + c3 t
	VMOVUPS(consts["c5"], b)
	VFMADD213PS(consts["c4"], t, b) // c4 + c5 t
	VMOVUPS(consts["c7"], d)
	VFMADD213PS(consts["c6"], t, d) // c6 + c7 t
	t4 := YMM()
	VMULPS(tt, tt, t4)
	VFMADD213PS(a, tt, b) // a + t^2 b
	VFMADD213PS(b, t4, d) // a + t^2 b + t^4 d
	VFMADD213PS(t, tt, d) // t + t^2 (...) = expm1(t)
	return d, s
}

// clampKeepNaN returns min(max(x, lo), hi) with a NaN x kept (x is the operand Intel's
// VMAXPS/VMINPS return on unordered).
func clampKeepNaN(x VecVirtual, lo, hi string) VecVirtual {
	l, r := YMM(), YMM()
	VMOVUPS(consts[lo], l)
	VMAXPS(x, l, r)
	if hi != "" {
		VMOVUPS(consts[hi], l)
		VMINPS(r, l, r)
	}
	return r
}

// sigmoidGate: 1/(1+exp(-x)), -x clamped to [-87, 87.33] (results below ~1.2e-38 come
// out as ~1.2e-38).
func sigmoidGate(x VecVirtual) VecVirtual {
	y := YMM()
	VXORPS(consts["signmask"], x, y)
	y = clampKeepNaN(y, "sigmin", "sigmax")
	p, s := expm1Magic(y, false, false)
	sp1 := YMM()
	VADDPS(consts["one"], s, sp1) // s+1 while the polynomial runs
	VFMADD213PS(sp1, s, p)        // 1 + e = s*p + (s+1)
	r := YMM()
	VMOVUPS(consts["one"], r)
	VDIVPS(p, r, r)
	return r
}

// tanhCell: sign(x) * -em/(2+em), em = expm1(-2|x|) (|x| clamped at 9).
func tanhCell(x VecVirtual) VecVirtual {
	y := YMM()
	VORPS(consts["signmask"], x, y) // -|x|
	y = clampKeepNaN(y, "negnine", "")
	p, s := expm1Magic(y, true, true)
	sm1, d := YMM(), YMM()
	VSUBPS(consts["one"], s, sm1)
	VADDPS(consts["one"], s, d)
	VFMADD231PS(p, s, d)   // 2 + em = s*p + (s+1), beside em
	VFMADD213PS(sm1, s, p) // em = s*p + (s-1)
	VDIVPS(d, p, p)
	VANDPS(consts["absmask"], p, p)
	sg := YMM()
	VANDPS(consts["signmask"], x, sg)
	VORPS(sg, p, p)
	return p
}

// lstmSeqMultiKernel emits LSTMSeqMulti's kernel: n independent sequences (chains) of t
// steps over the same u and up, stepped together: step s of every chain, then step s+1.
// Each chain's step is the body of lstmSeqKernel; the chains' steps are independent, so
// the core overlaps one chain's activation latency with the next one's work (the
// forward and backward directions of a Bidirectional layer run in about the time of one).
// d points to n descriptors of 5 words, read only:
//
//	zx (first processed step), zxStride (bytes, negative backwards), uw, c, hs
//
// Step s of a chain reads zx + s*zxStride and hs row s, writes hs row s+1 and c.
func lstmSeqMultiKernel(name string, hard bool) {
	sig := "func(d *int, n, t, u, up int)"
	if hard {
		sig = "func(d *int, n, t, u, up int, a, b float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + ": LSTMSeq's loop for n chains stepped together (see LSTMSeqMulti).")
	sidx := AllocLocal(8) // step index
	dend := AllocLocal(8) // end of the descriptors
	t := GP64()
	Load(Param("t"), t)
	TESTQ(t, t)
	JZ(LabelRef(name + "_done"))
	dp, nn := GP64(), GP64()
	Load(Param("d"), dp)
	Load(Param("n"), nn)
	TESTQ(nn, nn)
	JZ(LabelRef(name + "_done"))
	IMUL3Q(U8(40), nn, nn)
	ADDQ(dp, nn)
	MOVQ(nn, dend)
	XORQ(nn, nn)
	MOVQ(nn, sidx)
	us := GP64() // up*4 bytes
	Load(Param("up"), us)
	SHLQ(U8(2), us)
	us3 := GP64()
	LEAQ(Mem{Base: us, Index: us, Scale: 2}, us3)
	rowb := GP64()
	LEAQ(Mem{Base: us, Index: us, Scale: 2}, rowb)
	ADDQ(us, rowb)
	gate := seqGate(hard, false, sigmoidRational)
	gm := func(base Register, g int) Mem {
		switch g {
		case 1:
			return Mem{Base: base, Index: us, Scale: 1}
		case 2:
			return Mem{Base: base, Index: us, Scale: 2}
		case 3:
			return Mem{Base: base, Index: us3, Scale: 1}
		}
		return Mem{Base: base}
	}
	Label(name + "_step")
	Load(Param("d"), dp)
	Label(name + "_chain")
	// this chain's step: pzx = zx + s*zxStride, ph = hs + s*up*4
	pzx, ph := GP64(), GP64()
	MOVQ(sidx, pzx)
	IMULQ(Mem{Base: dp, Disp: 8}, pzx)
	ADDQ(Mem{Base: dp}, pzx)
	MOVQ(sidx, ph)
	IMULQ(us, ph)
	ADDQ(Mem{Base: dp, Disp: 32}, ph)
	j := GP64()
	XORQ(j, j)
	Label(name + "_chunk")
	zb := GP64()
	LEAQ(Mem{Base: pzx, Index: j, Scale: 1}, zb)
	var acc, acc2 [4]VecVirtual
	for g := 0; g < 4; g++ {
		acc[g] = YMM()
		VMOVUPS(gm(zb, g), acc[g])
		acc2[g] = YMM()
		VXORPS(acc2[g], acc2[g], acc2[g])
	}
	wp, hp, k := GP64(), GP64(), GP64()
	MOVQ(Mem{Base: dp, Disp: 16}, wp)
	ADDQ(j, wp)
	MOVQ(ph, hp)
	Load(Param("u"), k)
	Label(name + "_k2")
	CMPQ(k, U8(2))
	JL(LabelRef(name + "_k1"))
	b0, b1 := YMM(), YMM()
	VBROADCASTSS(Mem{Base: hp}, b0)
	VBROADCASTSS(Mem{Base: hp, Disp: 4}, b1)
	for g := 0; g < 4; g++ {
		VFMADD231PS(gm(wp, g), b0, acc[g])
	}
	ADDQ(rowb, wp)
	for g := 0; g < 4; g++ {
		VFMADD231PS(gm(wp, g), b1, acc2[g])
	}
	ADDQ(rowb, wp)
	ADDQ(U8(8), hp)
	SUBQ(U8(2), k)
	JMP(LabelRef(name + "_k2"))
	Label(name + "_k1")
	TESTQ(k, k)
	JZ(LabelRef(name + "_gates"))
	b2 := YMM()
	VBROADCASTSS(Mem{Base: hp}, b2)
	for g := 0; g < 4; g++ {
		VFMADD231PS(gm(wp, g), b2, acc[g])
	}
	Label(name + "_gates")
	for g := 0; g < 4; g++ {
		VADDPS(acc2[g], acc[g], acc[g])
	}
	cb := GP64()
	MOVQ(Mem{Base: dp, Disp: 24}, cb)
	ADDQ(j, cb)
	th := cellUpdate(acc, cb, hard, gate)
	hn := GP64()
	LEAQ(Mem{Base: ph, Index: us, Scale: 1}, hn)
	VMOVUPS(th, Mem{Base: hn, Index: j, Scale: 1})
	ADDQ(U8(32), j)
	CMPQ(j, us)
	JL(LabelRef(name + "_chunk"))
	// next chain
	ADDQ(U8(40), dp)
	CMPQ(dp, dend)
	JB(LabelRef(name + "_chain"))
	// next step
	INCQ(sidx)
	DECQ(t)
	JNZ(LabelRef(name + "_step"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// tanhRational: tanh without exp, for the latency of LSTMSeq's step chain:
// sign(x) * min(1, a*P(a^2)/Q(a^2)) with a = min(|x|, 9.02), P and Q of degree 4 in a^2
// (P(0) = Q(0) = 1, all coefficients positive, so no sum cancels), fitted for the
// least maximum relative error on [0, 9.02] (2.2e-8 in float64; the float32 evaluation
// adds the rest, see the bound in asm.tanhRational). P and Q run by Estrin's scheme
// side by side, (p1 + p2 s) + s^2 (p3 + p4 s), then one FMA a + a^3 (...) and one
// divide: 3 FMA levels instead of Horner's 5 on the step chain. NaN gives NaN (kept by
// the operand order of the min), +-Inf gives +-1.
func tanhRational(x VecVirtual) VecVirtual {
	return ratTanh(x, false)
}

// sigmoidRational: the sigmoid gate of LSTMSeq's step chain without exp, as
// 0.5 + 0.5*tanh(x/2) with tanh(x/2) from tanhRational's rational: the halving is folded
// into the coefficients (p_k/4^k, q_k/4^k and the clamp 2*9.02, exact power-of-2
// scalings) and into the final FMA 0.5 + 0.25*r, r = 2*tanh(x/2). Its error is absolute
// (the tanh's relative error times 1/2, plus one rounding): see asm.sigmoidRational.
func sigmoidRational(x VecVirtual) VecVirtual {
	return ratTanh(x, true)
}

// tanhRat holds the rational's coefficients: P(s) = 1 + p1 s + p2 s^2 + p3 s^3 + p4 s^4,
// Q likewise.
var tanhRat = struct{ p, q [5]float32 }{
	p: [5]float32{1, 1.3382673210e-01, 3.4974408950e-03, 2.0635546110e-05, 1.3383914753e-08},
	q: [5]float32{1, 4.6715994462e-01, 2.5884297285e-02, 3.2884898501e-04, 7.7900934452e-07},
}

func ratTanh(x VecVirtual, sig bool) VecVirtual {
	sfx, lim, sc := "", float32(9.02), float32(1)
	if sig {
		sfx, lim, sc = "h", 18.04, 0.25 // s = x^2 = 4*(x/2)^2
	}
	pc := func(name string, k int, q bool) Mem {
		v := tanhRat.p[k]
		if q {
			v = tanhRat.q[k]
		}
		for i := 0; i < k; i++ {
			v *= sc
		}
		return cst(name+sfx, v)
	}
	a := YMM()
	VANDPS(consts["absmask"], x, a)
	l := YMM()
	VMOVUPS(cst("tanhmax"+sfx, lim), l)
	VMINPS(a, l, a) // Intel order min(l, a): a's NaN is kept
	s, xs, s2 := YMM(), YMM(), YMM()
	VMULPS(a, a, s)
	VMULPS(s, a, xs)
	VMULPS(s, s, s2)
	pa, pb, qa, qb := YMM(), YMM(), YMM(), YMM()
	VMOVUPS(pc("tanhp2", 2, false), pa)
	VMOVUPS(pc("tanhq2", 2, true), qa)
	VMOVUPS(pc("tanhp4", 4, false), pb)
	VMOVUPS(pc("tanhq4", 4, true), qb)
	VFMADD213PS(pc("tanhp1", 1, false), s, pa) // p1 + p2 s
	VFMADD213PS(pc("tanhq1", 1, true), s, qa)
	VFMADD213PS(pc("tanhp3", 3, false), s, pb) // p3 + p4 s
	VFMADD213PS(pc("tanhq3", 3, true), s, qb)
	VFMADD213PS(pa, s2, pb)           // (P-1)/s
	VFMADD213PS(qa, s2, qb)           // (Q-1)/s
	VFMADD213PS(a, xs, pb)            // a + a^3 (P-1)/s = a P(s)
	VFMADD213PS(consts["one"], s, qb) // Q(s)
	VDIVPS(qb, pb, pb)
	if sig {
		// r = 2 tanh(x/2) (up to the sign) in [0, 2]; gate = 0.5 + 0.25 r
		VMOVUPS(cst("two", 2), l)
		VMINPS(pb, l, pb) // min(2, r), NaN kept
		sg := YMM()
		VANDPS(consts["signmask"], x, sg)
		VORPS(sg, pb, pb)
		q := YMM()
		VMOVUPS(cst("quarter", 0.25), q)
		VFMADD213PS(cst("half", 0.5), q, pb)
		return pb
	}
	VMOVUPS(consts["one"], l)
	VMINPS(pb, l, pb) // min(1, r), NaN kept
	sg := YMM()
	VANDPS(consts["signmask"], x, sg)
	VORPS(sg, pb, pb)
	return pb
}

// cellUpdate applies one step's gates to the summed pre-activations acc (i, f, g, o) of
// an 8-unit chunk: c (at cb) = f*c + i*tanh(g) is stored back and h = o*tanh(c)
// returned. The new c is formed as a fraction Nc/Dc (Dc > 0) and tanh(c) is taken from
// the fraction itself (tanhFrac), so the divide that stores c runs beside the step
// chain instead of on it; the chain is then the h*U sums, one rational, a multiply-add,
// the homogeneous rational and one divide.
//
// With hard sigmoid gates (gate) i, f and o come out early: i is folded into g's
// numerator (i*Ng), so Nc = f*c*Dg + i*Ng and Dc = Dg (<= ~420). With sigmoid gates
// every activation is a fraction N/D of the rational forms (ratND):
//
//	Nc = Nf*c*Di*Dg + Ni*Ng*Df,  Dc = Df*Di*Dg
//
// scaled by the power of two that brings Dc into [1, 2) (exact, and it keeps
// tanhFrac's degree-9 products of Dc in range), and o stays a fraction No/Do that
// tanhFrac multiplies into its numerator and denominator. |N|, |D| <= ~1700 (arguments
// clamped), so the products cannot overflow. The gates come out of the products
// unclamped: a tanh or sigmoid may exceed 1 by an ULP of the rational (covered by
// TestLSTMSeq's bounds).
func cellUpdate(acc [4]VecVirtual, cb Register, hard bool, gate func(VecVirtual) VecVirtual) VecVirtual {
	if hard {
		i := gate(acc[0])
		f := gate(acc[1])
		o := gate(acc[3])
		ing, dg := ratNDm(acc[2], false, i)
		return cellHard(cb, f, o, ing, dg)
	}
	cv := YMM()
	VMOVUPS(Mem{Base: cb}, cv)
	ni, di := ratND(acc[0], true)
	ncf, df := ratNDm(acc[1], true, cv) // c*Nf
	ng, dg := ratND(acc[2], false)
	no, do := ratND(acc[3], true)
	return cellSigmoid(cb, ni, di, ncf, df, ng, dg, no, do)
}

// cellHard is cellUpdate's hard-sigmoid update from the gates f and o, i*Ng and Dg.
func cellHard(cb Register, f, o, ing, dg VecVirtual) VecVirtual {
	cv := YMM()
	VMOVUPS(Mem{Base: cb}, cv)
	VMULPS(cv, f, cv)        // f*c
	VFMADD213PS(ing, dg, cv) // Nc = f*c*Dg + i*Ng
	cs := YMM()
	VDIVPS(dg, cv, cs)
	VMOVUPS(cs, Mem{Base: cb})
	return tanhFrac(cv, dg, o, nil)
}

// cellSigmoid is cellUpdate's sigmoid-gate update from the gates' fractions (f's
// numerator already multiplied by c).
func cellSigmoid(cb Register, ni, di, ncf, df, ng, dg, no, do VecVirtual) VecVirtual {
	// r = 2^-(ei+ef+eg) for D = m*2^e (m in [1, 2)): from the exponent fields, beside
	// the numerators (Dc*r in [1, 8))
	ei, ef, eg := YMM(), YMM(), YMM()
	VPAND(consts["expmask"], di, ei)
	VPAND(consts["expmask"], df, ef)
	VPAND(consts["expmask"], dg, eg)
	VPADDD(ef, ei, ei)
	r := YMM()
	VMOVDQU(consts["exp508"], r)
	VPSUBD(eg, r, r)
	VPSUBD(ei, r, r)
	x := YMM()
	VMULPS(dg, di, x) // Di*Dg
	VMULPS(r, x, x)   // Di*Dg*r
	dfr := YMM()
	VMULPS(r, df, dfr)
	VMULPS(x, ncf, ncf)       // c*Nf*Di*Dg*r
	VMULPS(ng, ni, ni)        // Ni*Ng
	VFMADD231PS(dfr, ni, ncf) // Nc = (c*Nf*Di*Dg + Ni*Ng*Df)*r
	VMULPS(x, df, df)         // Dc = Df*Di*Dg*r
	cs := YMM()
	VDIVPS(df, ncf, cs)
	VMOVUPS(cs, Mem{Base: cb})
	return tanhFrac(ncf, df, no, do)
}

// tanhFrac returns m*tanh(n/d) for d > 0 (dm nil), or (m/dm)*tanh(n/d), with one
// divide and without forming n/d: tanh(x) ~ x*P(x^2)/Q(x^2) (tanhRational's rational)
// multiplied through by d^9 is n*Ph(S, T) / (d*Qh(S, T)) with S = n^2, T = d^2 and
// Ph(S, T) = T^4*P(S/T), homogeneous of degree 4:
//
//	Ph = T^4 + p1 T^3 S + p2 T^2 S^2 + p3 T S^3 + p4 S^4
//
// (all terms positive, so no sum cancels), evaluated by Estrin's scheme in S. The clamp |x| <= 9.02 becomes
// |n| <= 9.02*d. Everything that depends on d alone (T, T^2, p1 T, p3 T, the bounds,
// the multiplier's products) runs before n arrives; from n the chain is n^2, a min,
// two FMA levels and a third beside S^4, a multiply and the divide. d must keep T^4 * S^... in range: d in
// [1, ~1700] gives products below ~1e31.
func tanhFrac(n, d, m, dm VecVirtual) VecVirtual {
	ld, nld := YMM(), YMM()
	VMULPS(cst("tanhmax", 9.02), d, ld)
	VXORPS(consts["signmask"], ld, nld)
	ncl := YMM()
	VMAXPS(n, nld, ncl) // Intel order max(nld, n): n's NaN is kept
	VMINPS(ncl, ld, ncl)
	t, t2 := YMM(), YMM()
	VMULPS(d, d, t)
	VMULPS(t, t, t2)
	// S = min(n^2, (9.02 d)^2): ncl^2's value (rounding is monotonic) without the clamp
	// on the chain; ncl only feeds the numerator's factor
	s, ld2 := YMM(), YMM()
	VMULPS(ld, ld, ld2)
	VMULPS(n, n, s)
	VMINPS(s, ld2, s) // Intel order min(ld2, s): s's NaN is kept
	s2 := YMM()
	VMULPS(s, s, s2)
	num := YMM()
	VMULPS(m, ncl, num) // m*n, beside the polynomials
	den := d
	if dm != nil {
		den = YMM()
		VMULPS(dm, d, den)
	}
	s3 := YMM()
	VMULPS(s, s2, s3)
	hom := func(c [5]float32, name string) VecVirtual {
		c1t, c3t := YMM(), YMM()
		VMULPS(cst(name+"1", c[1]), t, c1t)
		VMULPS(cst(name+"3", c[3]), t, c3t)
		a, b := YMM(), YMM()
		VMOVUPS(cst(name+"2", c[2]), a)
		VFMADD213PS(c1t, s, a) // p1 T + p2 S
		VFMADD213PS(t2, s, a)  // T^2 + S (...)
		VMOVUPS(cst(name+"4", c[4]), b)
		VFMADD213PS(c3t, s, b) // p3 T + p4 S
		VMULPS(s3, b, b)
		VFMADD213PS(b, t2, a) // T^2 (...) + S^3 (...)
		return a
	}
	ph := hom(tanhRat.p, "tanhp")
	qh := hom(tanhRat.q, "tanhq")
	VMULPS(ph, num, num)
	dq := YMM()
	VMULPS(qh, den, dq)
	VDIVPS(dq, num, num)
	return num
}

// ratND returns N and D with N/D = tanhRational(x) (sig false) or sigmoidRational(x)
// (sig true) before their final clamp: x clamped to +-9.02 (+-18.04), the same Estrin
// evaluation, N = x P(x^2) (odd, so no sign fix-up) and D = Q(x^2); for the sigmoid
// N = 2D + x P'(x^2) and D = 4 Q'(x^2) with the halved coefficients, so that
// N/D = 0.5 + 0.25 * 2 tanh(x/2). NaN gives NaN in N.
func ratND(x VecVirtual, sig bool) (VecVirtual, VecVirtual) {
	return ratNDm(x, sig, nil)
}

// ratNDm is ratND with the tanh numerator multiplied by m (m*N for sig false, m not
// nil): the final FMA takes m*x and m*x^3, formed beside the polynomial, so m*N comes
// out when N would.
func ratNDm(x VecVirtual, sig bool, m VecVirtual) (VecVirtual, VecVirtual) {
	sfx, lim, sc := "", float32(9.02), float32(1)
	qsfx, qsc := "", float32(1)
	if sig {
		// D = 4 Q'(s): Q's coefficients times 4 (exact), so D needs no multiply
		sfx, lim, sc = "h", 18.04, 0.25
		qsfx, qsc = "h4", 4
	}
	pc := func(name string, k int, q bool) Mem {
		v := tanhRat.p[k]
		if q {
			v = tanhRat.q[k] * qsc
		}
		for i := 0; i < k; i++ {
			v *= sc
		}
		if q {
			return cst(name+qsfx, v)
		}
		return cst(name+sfx, v)
	}
	cst("tanhmax"+sfx, lim)
	cst("tanhmin"+sfx, -lim)
	a := clampKeepNaN(x, "tanhmin"+sfx, "tanhmax"+sfx)
	// s = min(x^2, lim^2): the same value as a^2 (rounding is monotonic) two cycles
	// sooner on the chain than squaring the clamped a; a only feeds x^3 and the final FMA
	s, xs, s2 := YMM(), YMM(), YMM()
	VMULPS(x, x, s)
	l2 := YMM()
	VMOVUPS(cst("tanhmax2"+sfx, lim*lim), l2)
	VMINPS(s, l2, s) // Intel order min(l2, s): s's NaN is kept
	VMULPS(s, a, xs)
	VMULPS(s, s, s2)
	pa, pb, qa, qb := YMM(), YMM(), YMM(), YMM()
	VMOVUPS(pc("tanhp2", 2, false), pa)
	VMOVUPS(pc("tanhq2", 2, true), qa)
	VMOVUPS(pc("tanhp4", 4, false), pb)
	VMOVUPS(pc("tanhq4", 4, true), qb)
	VFMADD213PS(pc("tanhp1", 1, false), s, pa)
	VFMADD213PS(pc("tanhq1", 1, true), s, qa)
	VFMADD213PS(pc("tanhp3", 3, false), s, pb)
	VFMADD213PS(pc("tanhq3", 3, true), s, qb)
	VFMADD213PS(pa, s2, pb)
	VFMADD213PS(qa, s2, qb)
	if m != nil {
		ma, mxs := YMM(), YMM()
		VMULPS(m, a, ma)
		VMULPS(m, xs, mxs)
		VFMADD213PS(ma, mxs, pb) // m x P(s) = m x + m x^3 (...)
	} else {
		VFMADD213PS(a, xs, pb) // x P(s)
	}
	if !sig {
		VFMADD213PS(consts["one"], s, qb) // D = Q(s)
		return pb, qb
	}
	VFMADD213PS(cst("four", 4), s, qb) // D = 4 Q'(s)
	if m != nil {
		mh := YMM()
		VMULPS(cst("half", 0.5), m, mh)
		VFMADD231PS(mh, qb, pb) // m N = m (D/2 + x P')
	} else {
		VFMADD231PS(cst("half", 0.5), qb, pb) // N = D/2 + x P' = 2 Q' + x P'
	}
	return pb, qb
}

// lstmSeqStackKernel emits LSTMSeqStack's kernel: n stacked LSTM layers (stages) over t
// steps as a wavefront. Stage i runs its step s in iteration s+i, after stage i-1's step
// s (written in the iteration before), so the steps of one iteration are independent and
// their latencies overlap as LSTMSeqMulti's chains do. Stage i > 0 takes its input
// projection inside the step: the gate sums start from its bias (zxStride 0) and add
// h_{i-1}[k] * W[k] for k < nin (the previous stage's h row s+1) before h*U.
// d points to n descriptors of 12 words, read only:
//
//	zx, zxStride, uw, c, hs, xh, xRow, wx, nin, u, us (up*4 bytes), lag
//
// Step s of a stage reads zx + s*zxStride, hs row s and xh + s*xRow (rows of the
// previous stage's hs starting at its row 1), writes hs row s+1 and c.
func lstmSeqStackKernel(name string, hard bool) {
	sig := "func(d *int, n, t int)"
	if hard {
		sig = "func(d *int, n, t int, a, b float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + ": LSTMSeq's loop for n stacked stages as a wavefront (see LSTMSeqStack).")
	it := AllocLocal(8)   // iteration
	iend := AllocLocal(8) // t + n - 1
	dend := AllocLocal(8) // end of the descriptors
	t := GP64()
	Load(Param("t"), t)
	TESTQ(t, t)
	JZ(LabelRef(name + "_done"))
	dp, nn := GP64(), GP64()
	Load(Param("d"), dp)
	Load(Param("n"), nn)
	TESTQ(nn, nn)
	JZ(LabelRef(name + "_done"))
	ADDQ(nn, t)
	DECQ(t)
	MOVQ(t, iend)
	IMUL3Q(U8(96), nn, nn)
	ADDQ(dp, nn)
	MOVQ(nn, dend)
	XORQ(nn, nn)
	MOVQ(nn, it)
	gate := seqGate(hard, false, nil) // only called with hard gates
	Label(name + "_iter")
	Load(Param("d"), dp)
	Label(name + "_stage")
	// s = it - lag; skip the stage unless 0 <= s < t (unsigned compare)
	sr := GP64()
	MOVQ(it, sr)
	SUBQ(Mem{Base: dp, Disp: 88}, sr)
	tt := GP64()
	Load(Param("t"), tt)
	CMPQ(sr, tt)
	JAE(LabelRef(name + "_next"))
	us, us3, rowb := GP64(), GP64(), GP64()
	MOVQ(Mem{Base: dp, Disp: 80}, us)
	LEAQ(Mem{Base: us, Index: us, Scale: 2}, us3)
	LEAQ(Mem{Base: us, Index: us, Scale: 2}, rowb)
	ADDQ(us, rowb)
	gm := func(base Register, g int) Mem {
		switch g {
		case 1:
			return Mem{Base: base, Index: us, Scale: 1}
		case 2:
			return Mem{Base: base, Index: us, Scale: 2}
		case 3:
			return Mem{Base: base, Index: us3, Scale: 1}
		}
		return Mem{Base: base}
	}
	// pzx = zx + s*zxStride, ph = hs + s*us, px = xh + s*xRow
	pzx, ph, px := GP64(), GP64(), GP64()
	MOVQ(sr, pzx)
	IMULQ(Mem{Base: dp, Disp: 8}, pzx)
	ADDQ(Mem{Base: dp}, pzx)
	MOVQ(sr, ph)
	IMULQ(us, ph)
	ADDQ(Mem{Base: dp, Disp: 32}, ph)
	MOVQ(sr, px)
	IMULQ(Mem{Base: dp, Disp: 48}, px)
	ADDQ(Mem{Base: dp, Disp: 40}, px)
	j := GP64()
	XORQ(j, j)
	Label(name + "_chunk")
	zb := GP64()
	LEAQ(Mem{Base: pzx, Index: j, Scale: 1}, zb)
	var acc, acc2 [4]VecVirtual
	for g := 0; g < 4; g++ {
		acc[g] = YMM()
		VMOVUPS(gm(zb, g), acc[g])
		acc2[g] = YMM()
		VXORPS(acc2[g], acc2[g], acc2[g])
	}
	wp, hp, k := GP64(), GP64(), GP64()
	// sums over rows of h (at hp) and weights (at wp): even k into acc, odd into acc2
	rows := func(lbl string) {
		Label(name + lbl + "_k2")
		CMPQ(k, U8(2))
		JL(LabelRef(name + lbl + "_k1"))
		b0, b1 := YMM(), YMM()
		VBROADCASTSS(Mem{Base: hp}, b0)
		VBROADCASTSS(Mem{Base: hp, Disp: 4}, b1)
		for g := 0; g < 4; g++ {
			VFMADD231PS(gm(wp, g), b0, acc[g])
		}
		ADDQ(rowb, wp)
		for g := 0; g < 4; g++ {
			VFMADD231PS(gm(wp, g), b1, acc2[g])
		}
		ADDQ(rowb, wp)
		ADDQ(U8(8), hp)
		SUBQ(U8(2), k)
		JMP(LabelRef(name + lbl + "_k2"))
		Label(name + lbl + "_k1")
		TESTQ(k, k)
		JZ(LabelRef(name + lbl + "_end"))
		b2 := YMM()
		VBROADCASTSS(Mem{Base: hp}, b2)
		for g := 0; g < 4; g++ {
			VFMADD231PS(gm(wp, g), b2, acc[g])
		}
		Label(name + lbl + "_end")
	}
	// input part (stages after the first): the previous stage's h row
	MOVQ(Mem{Base: dp, Disp: 56}, wp)
	ADDQ(j, wp)
	MOVQ(px, hp)
	MOVQ(Mem{Base: dp, Disp: 64}, k)
	rows("_x")
	// recurrent part
	MOVQ(Mem{Base: dp, Disp: 16}, wp)
	ADDQ(j, wp)
	MOVQ(ph, hp)
	MOVQ(Mem{Base: dp, Disp: 72}, k)
	rows("_h")
	for g := 0; g < 4; g++ {
		VADDPS(acc2[g], acc[g], acc[g])
	}
	cb := GP64()
	MOVQ(Mem{Base: dp, Disp: 24}, cb)
	ADDQ(j, cb)
	th := cellUpdate(acc, cb, hard, gate)
	hn := GP64()
	LEAQ(Mem{Base: ph, Index: us, Scale: 1}, hn)
	VMOVUPS(th, Mem{Base: hn, Index: j, Scale: 1})
	ADDQ(U8(32), j)
	CMPQ(j, us)
	JL(LabelRef(name + "_chunk"))
	Label(name + "_next")
	ADDQ(U8(96), dp)
	CMPQ(dp, dend)
	JB(LabelRef(name + "_stage"))
	// next iteration
	MOVQ(it, t)
	INCQ(t)
	MOVQ(t, it)
	CMPQ(t, iend)
	JL(LabelRef(name + "_iter"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// lstmSeqStep8 is lstmSeqKernel's step loop for up == 8 (u <= 8: one chunk). h stays in
// a register from one step to the next and h[k] is broadcast by VPERMPS from it instead
// of loaded from the hs row just stored (a store-forwarded load, longer on the step
// chain); the row is still stored for the caller. Same operations in the same order as
// the general loop otherwise, so the same results bit for bit.
func lstmSeqStep8(name string, pzx, pu, pc, ph, t, u, us, us3, rowb Register, hard bool, gate func(VecVirtual) VecVirtual) {
	gm := func(base Register, g int) Mem {
		switch g {
		case 1:
			return Mem{Base: base, Index: us, Scale: 1}
		case 2:
			return Mem{Base: base, Index: us, Scale: 2}
		case 3:
			return Mem{Base: base, Index: us3, Scale: 1}
		}
		return Mem{Base: base}
	}
	hr := YMM()
	VMOVUPS(Mem{Base: ph}, hr) // initial h (lanes >= u never broadcast)
	Label(name + "_s8")
	var acc, acc2 [4]VecVirtual
	for g := 0; g < 4; g++ {
		acc[g] = YMM()
		VMOVUPS(gm(pzx, g), acc[g])
		acc2[g] = YMM()
		VXORPS(acc2[g], acc2[g], acc2[g])
	}
	wp, ip, k := GP64(), GP64(), GP64()
	MOVQ(pu, wp)
	LEAQ(bcastIdx(false), ip)
	MOVQ(u, k)
	Label(name + "_s8k2")
	CMPQ(k, U8(2))
	JL(LabelRef(name + "_s8k1"))
	b0, b1 := YMM(), YMM()
	VMOVUPS(Mem{Base: ip}, b0)
	VPERMPS(hr, b0, b0) // h[k] in every lane
	VMOVUPS(Mem{Base: ip, Disp: 32}, b1)
	VPERMPS(hr, b1, b1)
	for g := 0; g < 4; g++ {
		VFMADD231PS(gm(wp, g), b0, acc[g])
	}
	ADDQ(rowb, wp)
	for g := 0; g < 4; g++ {
		VFMADD231PS(gm(wp, g), b1, acc2[g])
	}
	ADDQ(rowb, wp)
	ADDQ(U8(64), ip)
	SUBQ(U8(2), k)
	JMP(LabelRef(name + "_s8k2"))
	Label(name + "_s8k1")
	TESTQ(k, k)
	JZ(LabelRef(name + "_s8gates"))
	b2 := YMM()
	VMOVUPS(Mem{Base: ip}, b2)
	VPERMPS(hr, b2, b2)
	for g := 0; g < 4; g++ {
		VFMADD231PS(gm(wp, g), b2, acc[g])
	}
	Label(name + "_s8gates")
	for g := 0; g < 4; g++ {
		VADDPS(acc2[g], acc[g], acc[g])
	}
	th := cellUpdate(acc, pc, hard, gate)
	VMOVUPS(th, Mem{Base: ph, Disp: 32}) // hs row s+1
	VMOVAPS(th, hr)
	ADDQ(us, ph)
	zs := GP64()
	Load(Param("zxStride"), zs)
	ADDQ(zs, pzx)
	DECQ(t)
	JNZ(LabelRef(name + "_s8"))
}

// lstmSeqX8Kernel emits LSTMSeqX's kernel for up == 8 (u <= 8): lstmSeqStep8's loop,
// with the input projection inside it instead of a zx from a GEMM. The projection of
// step s+1, bias + x_{s+1}*W as one FMA chain per gate in k order (a GEMM's order, so
// the same bits), is computed during step s after its h*U sums, before its gates, so it
// runs in the shadow of the gate chain, and parked in a 4-vector stack buffer that step
// s+1 starts from. x: the first processed row; xStride: bytes to the next (negative
// backwards); wx: nin rows of 32 floats; bias: 32 floats.
func lstmSeqX8Kernel(name string, hard, relu bool) {
	sig := "func(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int)"
	if hard {
		sig = "func(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int, a, b float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + ": a whole LSTM sequence of up to 8 units projecting its input in the step loop (see LSTMSeqX).")
	buf := AllocLocal(128)
	px, pu, pc, ph := GP64(), GP64(), GP64(), GP64()
	Load(Param("x"), px)
	Load(Param("uw"), pu)
	Load(Param("c"), pc)
	Load(Param("hs"), ph)
	t, u := GP64(), GP64()
	Load(Param("t"), t)
	Load(Param("u"), u)
	gate := seqGate(hard, false, sigmoidRational)
	// xproj: buf = bias + x row (at px) * W
	xproj := func(lbl string) {
		pb, wp, xp, k := GP64(), GP64(), GP64(), GP64()
		Load(Param("bias"), pb)
		Load(Param("wx"), wp)
		MOVQ(px, xp)
		Load(Param("nin"), k)
		projectRow(name+lbl, pb, wp, xp, k, false, func(g int) Mem { return buf.Offset(32 * g) })
	}
	TESTQ(t, t)
	JZ(LabelRef(name + "_done"))
	xproj("_x0")
	hr := YMM()
	VMOVUPS(Mem{Base: ph}, hr) // initial h (lanes >= u never broadcast)
	Label(name + "_step")
	var acc, acc2 [4]VecVirtual
	for g := 0; g < 4; g++ {
		acc[g] = YMM()
		VMOVUPS(buf.Offset(32*g), acc[g])
		acc2[g] = YMM()
		VXORPS(acc2[g], acc2[g], acc2[g])
	}
	wp, ip, k := GP64(), GP64(), GP64()
	MOVQ(pu, wp)
	LEAQ(bcastIdx(false), ip)
	MOVQ(u, k)
	Label(name + "_k2")
	CMPQ(k, U8(2))
	JL(LabelRef(name + "_k1"))
	b0, b1 := YMM(), YMM()
	VMOVUPS(Mem{Base: ip}, b0)
	VPERMPS(hr, b0, b0) // h[k] in every lane
	VMOVUPS(Mem{Base: ip, Disp: 32}, b1)
	VPERMPS(hr, b1, b1)
	for g := 0; g < 4; g++ {
		VFMADD231PS(Mem{Base: wp, Disp: 32 * g}, b0, acc[g])
	}
	for g := 0; g < 4; g++ {
		VFMADD231PS(Mem{Base: wp, Disp: 128 + 32*g}, b1, acc2[g])
	}
	ADDQ(U32(256), wp)
	ADDQ(U8(64), ip)
	SUBQ(U8(2), k)
	JMP(LabelRef(name + "_k2"))
	Label(name + "_k1")
	TESTQ(k, k)
	JZ(LabelRef(name + "_sum"))
	b2 := YMM()
	VMOVUPS(Mem{Base: ip}, b2)
	VPERMPS(hr, b2, b2)
	for g := 0; g < 4; g++ {
		VFMADD231PS(Mem{Base: wp, Disp: 32 * g}, b2, acc[g])
	}
	Label(name + "_sum")
	for g := 0; g < 4; g++ {
		VADDPS(acc2[g], acc[g], acc[g])
	}
	// the next step's projection, beside this step's gates
	CMPQ(t, U8(1))
	JE(LabelRef(name + "_gates"))
	xs := GP64()
	Load(Param("xStride"), xs)
	ADDQ(xs, px)
	xproj("_xn")
	Label(name + "_gates")
	var th VecVirtual
	if relu {
		th = cellRelu(acc, pc, hard, gate)
	} else {
		th = cellUpdate(acc, pc, hard, gate)
	}
	VMOVUPS(th, Mem{Base: ph, Disp: 32}) // hs row s+1
	VMOVAPS(th, hr)
	ADDQ(U8(32), ph)
	DECQ(t)
	JNZ(LabelRef(name + "_step"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// tanhFracKernel emits vtanhFracAVX2(num, den, n): num[i] = tanh(num[i]/den[i]) by
// tanhFrac, for n a multiple of 8 (TestTanhFrac measures tanhFrac's error with it).
func tanhFracKernel() {
	TEXT("vtanhFracAVX2", NOSPLIT, "func(num, den *float32, n int)")
	Doc("vtanhFracAVX2: num[i] = tanh(num[i]/den[i]) for i < n (n a multiple of 8), LSTMSeq's fraction form.")
	pn, pd, n := GP64(), GP64(), GP64()
	Load(Param("num"), pn)
	Load(Param("den"), pd)
	Load(Param("n"), n)
	Label("vtanhFracAVX2_loop")
	CMPQ(n, U8(8))
	JL(LabelRef("vtanhFracAVX2_done"))
	nv, dv, one := YMM(), YMM(), YMM()
	VMOVUPS(Mem{Base: pn}, nv)
	VMOVUPS(Mem{Base: pd}, dv)
	VMOVUPS(consts["one"], one)
	r := tanhFrac(nv, dv, one, nil)
	VMOVUPS(r, Mem{Base: pn})
	ADDQ(U8(32), pn)
	ADDQ(U8(32), pd)
	SUBQ(U8(8), n)
	JMP(LabelRef("vtanhFracAVX2_loop"))
	Label("vtanhFracAVX2_done")
	VZEROUPPER()
	RET()
}

// cellRelu is cellUpdate for a relu cell activation (Keras LSTM activation="relu"):
// c = f*c + i*max(g, 0), h = o*max(c, 0), with the gates as sigmoidRational (one
// divide each) or the hard sigmoid. NaN is kept by the max's operand order.
func cellRelu(acc [4]VecVirtual, cb Register, hard bool, gate func(VecVirtual) VecVirtual) VecVirtual {
	g := func(x VecVirtual) VecVirtual {
		if hard {
			return gate(x)
		}
		return sigmoidRational(x)
	}
	i, f, o := g(acc[0]), g(acc[1]), g(acc[3])
	z, gg := YMM(), YMM()
	VXORPS(z, z, z)
	VMAXPS(acc[2], z, gg) // Intel order max(0, x): x's NaN is kept
	cv := YMM()
	VMOVUPS(Mem{Base: cb}, cv)
	VMULPS(cv, f, cv)
	VFMADD231PS(gg, i, cv) // c = f*c + i*relu(g)
	VMOVUPS(cv, Mem{Base: cb})
	hc := YMM()
	VMAXPS(cv, z, hc)
	VMULPS(hc, o, hc)
	return hc
}

// seqGate returns the gate activation of the sequence kernels: sig (a sigmoid form) or,
// with hard, clip(a*x+b, 0, 1) with a and b broadcast once here from the kernel's
// arguments (YMM, or ZMM with wide).
func seqGate(hard, wide bool, sig func(VecVirtual) VecVirtual) func(VecVirtual) VecVirtual {
	if !hard {
		return sig
	}
	vec, one := YMM, consts["one"]
	if wide {
		vec, one = ZMM, cst64("one", 1, 1)
	}
	ha, hb := vec(), vec()
	VBROADCASTSS(addr("a"), ha)
	VBROADCASTSS(addr("b"), hb)
	return func(x VecVirtual) VecVirtual {
		r := vec()
		VMOVAPS(hb, r)
		VFMADD231PS(ha, x, r) // a*x + b
		lim := vec()
		if wide {
			VPXORD(lim, lim, lim)
		} else {
			VXORPS(lim, lim, lim)
		}
		VMAXPS(r, lim, r) // Intel order max(lim, r): r's NaN is kept
		VMOVUPS(one, lim)
		VMINPS(r, lim, r)
		return r
	}
}

// bcastIdx is the VPERMPS index table that broadcasts lane k of h: 8 vectors of 8 lanes
// (or 16 with wide), vector k all k.
func bcastIdx(wide bool) Mem {
	lanes, name := 8, "lstm_bcastidx"
	if wide {
		lanes, name = 16, "lstm_bcastidx16"
	}
	if m, ok := bcastIdxTables[lanes]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for k := 0; k < 8; k++ {
		for l := 0; l < lanes; l++ {
			DATA(4*lanes*k+4*l, U32(k))
		}
	}
	bcastIdxTables[lanes] = m
	return m
}

var bcastIdxTables = map[int]Mem{}

// projectRow emits dst(g) = bias + x row * W for the sequence kernels' in-loop input
// projection: pb the bias, wp the padded kernel (rows of 32 floats), xp the x row, k the
// input count (consumed); the 4 gate vectors in YMM, or 2 gate pairs in ZMM with wide;
// one FMA chain per element in k order (a GEMM's, so the same bits).
func projectRow(lbl string, pb, wp, xp, k Register, wide bool, dst func(g int) Mem) {
	nv, vb, vec := 4, 32, YMM
	if wide {
		nv, vb, vec = 2, 64, ZMM
	}
	nx := make([]VecVirtual, nv)
	for g := range nx {
		nx[g] = vec()
		VMOVUPS(Mem{Base: pb, Disp: vb * g}, nx[g])
	}
	Label(lbl)
	b := vec()
	VBROADCASTSS(Mem{Base: xp}, b)
	for g := range nx {
		VFMADD231PS(Mem{Base: wp, Disp: vb * g}, b, nx[g])
	}
	ADDQ(U8(128), wp)
	ADDQ(U8(4), xp)
	DECQ(k)
	JNZ(LabelRef(lbl))
	for g := range nx {
		VMOVUPS(nx[g], dst(g))
	}
}
