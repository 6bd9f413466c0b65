package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 form of LSTMSeqX's up == 8 kernel. The AVX2 kernel's step is bound as much
// by the number of multiplies and FMAs (two ports) as by its dependency chain: with
// sigmoid gates ~110 per step for ~90 cycles of chain, and 40 extra independent
// multiplies slow the hard-sigmoid kernel by ~14 cycles a step. Here the gate vectors
// travel in pairs in ZMM registers, [i | f] and [g | o], so the h*U and x*W FMAs and the
// gates' rationals take half the instructions; the c/h update (cellHard, cellSigmoid)
// runs on YMM halves as before. Every lane sees the same operations in the same order
// as in the AVX2 kernel (per-lane constants where the two halves of a pair differ, a
// masked FMA where only one half has a step), so the results are the same bits.

var consts64 = map[string]Mem{}

// lstmBcastIdx16 is the ZMM VPERMPS index table: 8 vectors, vector k all k.
var lstmBcastIdx16 Mem

// cst64 is a 64-byte constant: 8 lanes of lo, then 8 of hi.
func cst64(name string, lo, hi float32) Mem {
	if m, ok := consts64[name]; ok {
		return m
	}
	m := GLOBL("act_z_"+name, RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := lo
		if i >= 8 {
			v = hi
		}
		DATA(4*i, U32(math.Float32bits(v)))
	}
	consts64[name] = m
	return m
}

// ratCoef is the k-th coefficient of the rational's P (q false) or Q (q true) in the
// tanh form (sig false) or the sigmoid form of ratNDm (halved argument, Q times 4).
func ratCoef(k int, q, sig bool) float32 {
	v := tanhRat.p[k]
	if q {
		v = tanhRat.q[k]
		if sig {
			v *= 4
		}
	}
	if sig {
		for i := 0; i < k; i++ {
			v *= 0.25
		}
	}
	return v
}

// ratNDz is ratNDm on a ZMM pair of gate vectors: lanes 0-7 take the tanh form when
// loTanh (else the sigmoid form), lanes 8-15 the sigmoid form; m (nil for 1) multiplies
// the numerator as in ratNDm. With loTanh the sigmoid's final D/2 is added under the
// mask hiMask, so the tanh lanes keep N = x P(s) exactly as ratND leaves it.
func ratNDz(x VecVirtual, loTanh bool, m VecVirtual, hiMask Register) (VecVirtual, VecVirtual) {
	lo := !loTanh // the low half's sig flag
	name := func(s string) string {
		if loTanh {
			return s + "_ts"
		}
		return s + "_ss"
	}
	coef := func(k int, q bool) Mem {
		n := "p"
		if q {
			n = "q"
		}
		return cst64(name(n+string(rune('0'+k))), ratCoef(k, q, lo), ratCoef(k, q, true))
	}
	limLo := float32(18.04)
	if loTanh {
		limLo = 9.02
	}
	a, l := ZMM(), ZMM()
	VMOVUPS(cst64(name("min"), -limLo, -18.04), l)
	VMAXPS(x, l, a) // Intel order max(l, x): x's NaN is kept
	VMOVUPS(cst64(name("max"), limLo, 18.04), l)
	VMINPS(a, l, a)
	s, xs, s2 := ZMM(), ZMM(), ZMM()
	VMULPS(x, x, s) // min(x^2, lim^2) = a^2 (see ratNDm)
	VMOVUPS(cst64(name("max2"), limLo*limLo, float32(18.04)*float32(18.04)), l)
	VMINPS(s, l, s)
	VMULPS(s, a, xs)
	VMULPS(s, s, s2)
	pa, pb, qa, qb := ZMM(), ZMM(), ZMM(), ZMM()
	VMOVUPS(coef(2, false), pa)
	VMOVUPS(coef(2, true), qa)
	VMOVUPS(coef(4, false), pb)
	VMOVUPS(coef(4, true), qb)
	VFMADD213PS(coef(1, false), s, pa)
	VFMADD213PS(coef(1, true), s, qa)
	VFMADD213PS(coef(3, false), s, pb)
	VFMADD213PS(coef(3, true), s, qb)
	VFMADD213PS(pa, s2, pb)
	VFMADD213PS(qa, s2, qb)
	if m != nil {
		ma, mxs := ZMM(), ZMM()
		VMULPS(m, a, ma)
		VMULPS(m, xs, mxs)
		VFMADD213PS(ma, mxs, pb)
	} else {
		VFMADD213PS(a, xs, pb)
	}
	d0 := float32(4)
	if loTanh {
		d0 = 1
	}
	VFMADD213PS(cst64(name("d0"), d0, 4), s, qb)
	switch {
	case m != nil:
		mh := ZMM()
		VMULPS(cst64("half", 0.5, 0.5), m, mh)
		VFMADD231PS(mh, qb, pb)
	case loTanh:
		VFMADD231PS(cst64("half", 0.5, 0.5), qb, hiMask, pb)
	default:
		VFMADD231PS(cst64("half", 0.5, 0.5), qb, pb)
	}
	return pb, qb
}

// hiHalf returns the upper 8 lanes of z in a YMM register.
func hiHalf(z VecVirtual) VecVirtual {
	y := YMM()
	VEXTRACTF64X4(U8(1), z, y)
	return y
}

// lstmSeqX8Kernel512 emits LSTMSeqX's up == 8 kernel with ZMM gate pairs (see the top of
// this file); same signature and results as lstmSeqX8Kernel.
func lstmSeqX8Kernel512(name string, hard bool) {
	sig := "func(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int)"
	if hard {
		sig = "func(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int, a, b float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + ": lstmSeqX8 with the gate vectors in ZMM pairs (see LSTMSeqX).")
	buf := AllocLocal(128)
	px, pu, pc, ph := GP64(), GP64(), GP64(), GP64()
	Load(Param("x"), px)
	Load(Param("uw"), pu)
	Load(Param("c"), pc)
	Load(Param("hs"), ph)
	t, u := GP64(), GP64()
	Load(Param("t"), t)
	Load(Param("u"), u)
	var ha, hb VecVirtual
	if hard {
		ha, hb = ZMM(), ZMM()
		VBROADCASTSS(addr("a"), ha)
		VBROADCASTSS(addr("b"), hb)
	}
	// K1: lanes 8-15
	km := GP32()
	MOVL(U32(0xff00), km)
	KMOVW(km, K1)
	if lstmBcastIdx16.Symbol.Name == "" {
		lstmBcastIdx16 = GLOBL("lstm_bcastidx16", RODATA|NOPTR)
		for k := 0; k < 8; k++ {
			for l := 0; l < 16; l++ {
				DATA(64*k+4*l, U32(k))
			}
		}
	}
	idx := lstmBcastIdx16
	// xproj: buf = bias + x row (at px) * W, as two ZMM pairs
	xproj := func(lbl string) {
		var nx [2]VecVirtual
		pb, wp, xp, k := GP64(), GP64(), GP64(), GP64()
		Load(Param("bias"), pb)
		for g := 0; g < 2; g++ {
			nx[g] = ZMM()
			VMOVUPS(Mem{Base: pb, Disp: 64 * g}, nx[g])
		}
		Load(Param("wx"), wp)
		MOVQ(px, xp)
		Load(Param("nin"), k)
		Label(name + lbl)
		b := ZMM()
		VBROADCASTSS(Mem{Base: xp}, b)
		for g := 0; g < 2; g++ {
			VFMADD231PS(Mem{Base: wp, Disp: 64 * g}, b, nx[g])
		}
		ADDQ(U8(128), wp)
		ADDQ(U8(4), xp)
		DECQ(k)
		JNZ(LabelRef(name + lbl))
		for g := 0; g < 2; g++ {
			VMOVUPS(nx[g], buf.Offset(64*g))
		}
	}
	TESTQ(t, t)
	JZ(LabelRef(name + "_done"))
	xproj("_x0")
	hr := YMM()
	VMOVUPS(Mem{Base: ph}, hr) // initial h (lanes >= u never broadcast)
	Label(name + "_step")
	var acc, acc2 [2]VecVirtual
	for g := 0; g < 2; g++ {
		acc[g] = ZMM()
		VMOVUPS(buf.Offset(64*g), acc[g])
		acc2[g] = ZMM()
		VPXORD(acc2[g], acc2[g], acc2[g])
	}
	wp, ip, k := GP64(), GP64(), GP64()
	MOVQ(pu, wp)
	LEAQ(idx, ip)
	MOVQ(u, k)
	hz := hr.AsZ()
	Label(name + "_k2")
	CMPQ(k, U8(2))
	JL(LabelRef(name + "_k1"))
	b0, b1 := ZMM(), ZMM()
	VMOVUPS(Mem{Base: ip}, b0)
	VPERMPS(hz, b0, b0) // h[k] in every lane (indices < 8: hr's lanes)
	VMOVUPS(Mem{Base: ip, Disp: 64}, b1)
	VPERMPS(hz, b1, b1)
	for g := 0; g < 2; g++ {
		VFMADD231PS(Mem{Base: wp, Disp: 64 * g}, b0, acc[g])
	}
	for g := 0; g < 2; g++ {
		VFMADD231PS(Mem{Base: wp, Disp: 128 + 64*g}, b1, acc2[g])
	}
	ADDQ(U32(256), wp)
	ADDQ(U8(128), ip)
	SUBQ(U8(2), k)
	JMP(LabelRef(name + "_k2"))
	Label(name + "_k1")
	TESTQ(k, k)
	JZ(LabelRef(name + "_sum"))
	b2 := ZMM()
	VMOVUPS(Mem{Base: ip}, b2)
	VPERMPS(hz, b2, b2)
	for g := 0; g < 2; g++ {
		VFMADD231PS(Mem{Base: wp, Disp: 64 * g}, b2, acc[g])
	}
	Label(name + "_sum")
	for g := 0; g < 2; g++ {
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
	if hard {
		gate := func(x VecVirtual) VecVirtual {
			r := ZMM()
			VMOVAPS(hb, r)
			VFMADD231PS(ha, x, r) // a*x + b
			lim := ZMM()
			VPXORD(lim, lim, lim)
			VMAXPS(r, lim, r) // Intel order max(lim, r): r's NaN is kept
			VMOVUPS(cst64("one", 1, 1), lim)
			VMINPS(r, lim, r)
			return r
		}
		ifz := gate(acc[0])
		goz := gate(acc[1]) // o in the high half; the low half (g) is not a gate
		ing, dg := ratNDm(lo(acc[1]), false, lo(ifz))
		th = cellHard(pc, hiHalf(ifz), hiHalf(goz), ing, dg)
	} else {
		m := ZMM() // [1 | c]: f's numerator takes c
		VMOVUPS(cst64("one", 1, 1), m)
		VINSERTF64X4(U8(1), Mem{Base: pc}, m, m)
		nif, dif := ratNDz(acc[0], false, m, K1)
		ngo, dgo := ratNDz(acc[1], true, nil, K1)
		th = cellSigmoid(pc, lo(nif), lo(dif), hiHalf(nif), hiHalf(dif), lo(ngo), lo(dgo), hiHalf(ngo), hiHalf(dgo))
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

// lo returns the lower 8 lanes of z as a YMM virtual register (the same register).
func lo(z VecVirtual) VecVirtual { return z.AsY().(VecVirtual) }
