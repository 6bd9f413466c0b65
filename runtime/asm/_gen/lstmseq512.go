package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX-512 forms of the up == 8 sequence kernels (LSTMSeq, LSTMSeqX, LSTMSeqMulti for
// u <= 8). The AVX2 kernel's step is bound as much by the number of multiplies and FMAs
// (two ports) as by its dependency chain: with sigmoid gates ~110 per step for ~90
// cycles of chain, and 40 extra independent multiplies slow the hard-sigmoid kernel by
// ~14 cycles a step. Here the gate vectors travel in pairs in ZMM registers, [i | f] and
// [g | o], so the h*U and x*W FMAs and the gates' rationals take half the instructions
// (per-lane constants where the two halves of a pair differ, a masked FMA where only
// one half has a step; the c/h update, cellHard and cellSigmoid, runs on YMM halves as
// in the AVX2 kernels). h*U is summed as a tree (treeSum) instead of the AVX2 kernels'
// two FMA chains: the AVX512 path's results differ from the AVX2 path's by that
// summation order, and all three AVX512 kernels agree bit for bit.

var consts64 = map[string]Mem{}

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

// z8 holds what the ZMM up == 8 kernels share: the hard-sigmoid constants, the K1 mask
// (lanes 8-15) and the broadcast index table.
type z8 struct {
	hard bool
	gate func(VecVirtual) VecVirtual // hard sigmoid on a ZMM pair
	idx  Mem
}

func newZ8(hard bool) *z8 {
	z := &z8{hard: hard, gate: seqGate(hard, true, nil)}
	km := GP32()
	MOVL(U32(0xff00), km)
	KMOVW(km, K1)
	z.idx = bcastIdx(true)
	return z
}

// treeSum adds h*U to the gate pairs acc (which hold x*W + b): for the u at run time
// (1..8, one block each) every product h[k]*U[k] is formed at once, the first as an FMA
// into acc, the rest as multiplies, and the u terms are added pairwise, level by level
// ([t0+t1, t2+t3, ...] until one is left). Against a chain of FMAs over k (two halves
// for even and odd k) that is 3 add levels (2 cycles each) instead of 3-4 FMAs (4
// cycles each) on the step chain for u = 5..8. The order is fixed by u, so every ZMM
// kernel sums in the same order and they agree bit for bit.
func (z *z8) treeSum(lbl string, hz VecVirtual, acc [2]VecVirtual, wp, u Register) {
	for uu := 1; uu < 8; uu++ {
		CMPQ(u, U8(uu))
		JE(LabelRef(fmt.Sprintf("%s_u%d", lbl, uu)))
	}
	JMP(LabelRef(lbl + "_u8"))
	ip := GP64()
	for uu := 1; uu <= 8; uu++ {
		Label(fmt.Sprintf("%s_u%d", lbl, uu))
		LEAQ(z.idx, ip)
		b := make([]VecVirtual, uu)
		for k := range b {
			b[k] = ZMM()
			VMOVUPS(Mem{Base: ip, Disp: 64 * k}, b[k])
			VPERMPS(hz, b[k], b[k]) // h[k] in every lane (indices < 8: h's lanes)
		}
		for g := 0; g < 2; g++ {
			terms := []VecVirtual{acc[g]}
			VFMADD231PS(Mem{Base: wp, Disp: 64 * g}, b[0], acc[g])
			for k := 1; k < uu; k++ {
				p := ZMM()
				VMULPS(Mem{Base: wp, Disp: 128*k + 64*g}, b[k], p)
				terms = append(terms, p)
			}
			for len(terms) > 1 {
				var next []VecVirtual
				for i := 0; i+1 < len(terms); i += 2 {
					VADDPS(terms[i+1], terms[i], terms[i])
					next = append(next, terms[i])
				}
				if len(terms)%2 == 1 {
					next = append(next, terms[len(terms)-1])
				}
				terms = next
			}
		}
		JMP(LabelRef(lbl + "_sum"))
	}
	Label(lbl + "_sum")
}

// cell applies the gates to the summed pairs acc ([i|f], [g|o]) with the cell state at
// cb (updated) and returns h: the same per-lane operations as cellUpdate.
func (z *z8) cell(acc [2]VecVirtual, cb Register) VecVirtual {
	if z.hard {
		ifz := z.gate(acc[0])
		goz := z.gate(acc[1]) // o in the high half; the low half (g) is not a gate
		ing, dg := ratNDm(lo(acc[1]), false, lo(ifz))
		return cellHard(cb, hiHalf(ifz), hiHalf(goz), ing, dg)
	}
	m := ZMM() // [1 | c]: f's numerator takes c
	VMOVUPS(cst64("one", 1, 1), m)
	VINSERTF64X4(U8(1), Mem{Base: cb}, m, m)
	nif, dif := ratNDz(acc[0], false, m, K1)
	ngo, dgo := ratNDz(acc[1], true, nil, K1)
	return cellSigmoid(cb, lo(nif), lo(dif), hiHalf(nif), hiHalf(dif), lo(ngo), lo(dgo), hiHalf(ngo), hiHalf(dgo))
}

// lstmSeq8Kernel512 emits the ZMM up == 8 whole-sequence kernel: with xproj, LSTMSeqX's
// (same signature as lstmSeqX8Kernel; the next step's x*W + b runs beside this step's
// gates), without, LSTMSeq's (same signature as lstmSeqKernel, zx rows from a GEMM).
// h stays in a register from step to step.
func lstmSeq8Kernel512(name string, hard, xproj bool) {
	var sig string
	switch {
	case xproj && hard:
		sig = "func(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int, a, b float32)"
	case xproj:
		sig = "func(x *float32, xStride int, wx, bias, uw, c, hs *float32, t, u, nin int)"
	case hard:
		sig = "func(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int, a, b float32)"
	default:
		sig = "func(zx *float32, zxStride int, uw, c, hs *float32, t, u, up int)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + ": the up == 8 sequence kernel with ZMM gate pairs and a tree h*U sum (see LSTMSeq, LSTMSeqX).")
	buf := AllocLocal(128)
	px, pu, pc, ph := GP64(), GP64(), GP64(), GP64()
	if xproj {
		Load(Param("x"), px)
	} else {
		Load(Param("zx"), px)
	}
	Load(Param("uw"), pu)
	Load(Param("c"), pc)
	Load(Param("hs"), ph)
	t, u := GP64(), GP64()
	Load(Param("t"), t)
	Load(Param("u"), u)
	z := newZ8(hard)
	// project: buf = bias + x row (at px) * W, as two ZMM pairs
	project := func(lbl string) {
		pb, wp, xp, k := GP64(), GP64(), GP64(), GP64()
		Load(Param("bias"), pb)
		Load(Param("wx"), wp)
		MOVQ(px, xp)
		Load(Param("nin"), k)
		projectRow(name+lbl, pb, wp, xp, k, true, func(g int) Mem { return buf.Offset(64 * g) })
	}
	TESTQ(t, t)
	JZ(LabelRef(name + "_done"))
	if xproj {
		project("_x0")
	}
	hr := YMM()
	VMOVUPS(Mem{Base: ph}, hr) // initial h (lanes >= u never broadcast)
	Label(name + "_step")
	var acc [2]VecVirtual
	for g := 0; g < 2; g++ {
		acc[g] = ZMM()
		if xproj {
			VMOVUPS(buf.Offset(64*g), acc[g])
		} else {
			VMOVUPS(Mem{Base: px, Disp: 64 * g}, acc[g])
		}
	}
	z.treeSum(name+"_h", hr.AsZ().(VecVirtual), acc, pu, u)
	if !xproj {
		zs := GP64()
		Load(Param("zxStride"), zs)
		ADDQ(zs, px)
	}
	th := z.cell(acc, pc)
	VMOVUPS(th, Mem{Base: ph, Disp: 32}) // hs row s+1
	VMOVAPS(th, hr)
	ADDQ(U8(32), ph)
	if xproj {
		// the next step's projection after this step's gates in program order: the
		// front end reaches the gates first and the projection fills the ports while
		// the gate chain waits on its latencies
		CMPQ(t, U8(1))
		JE(LabelRef(name + "_last"))
		xs := GP64()
		Load(Param("xStride"), xs)
		ADDQ(xs, px)
		project("_xn")
	}
	DECQ(t)
	JNZ(LabelRef(name + "_step"))
	Label(name + "_last")
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// lstmSeqMulti8Kernel512 emits LSTMSeqMulti's kernel for up == 8 with lstmSeq8Kernel512's
// step (ZMM pairs, tree sum): n chains stepped together, as lstmSeqMultiKernel, so the
// chains agree bit for bit with LSTMSeq on the same path. h is read back from the hs
// row the chain's previous step stored.
func lstmSeqMulti8Kernel512(name string, hard bool) {
	sig := "func(d *int, n, t, u, up int)"
	if hard {
		sig = "func(d *int, n, t, u, up int, a, b float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + ": LSTMSeqMulti's loop for up == 8 with ZMM gate pairs and a tree h*U sum.")
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
	u := GP64()
	Load(Param("u"), u)
	z := newZ8(hard)
	Label(name + "_step")
	Load(Param("d"), dp)
	Label(name + "_chain")
	// this chain's step: pzx = zx + s*zxStride, ph = hs + s*32
	pzx, ph := GP64(), GP64()
	MOVQ(sidx, pzx)
	IMULQ(Mem{Base: dp, Disp: 8}, pzx)
	ADDQ(Mem{Base: dp}, pzx)
	MOVQ(sidx, ph)
	SHLQ(U8(5), ph)
	ADDQ(Mem{Base: dp, Disp: 32}, ph)
	var acc [2]VecVirtual
	for g := 0; g < 2; g++ {
		acc[g] = ZMM()
		VMOVUPS(Mem{Base: pzx, Disp: 64 * g}, acc[g])
	}
	hr, wp, cb := YMM(), GP64(), GP64()
	VMOVUPS(Mem{Base: ph}, hr)
	MOVQ(Mem{Base: dp, Disp: 16}, wp)
	z.treeSum(name+"_h", hr.AsZ().(VecVirtual), acc, wp, u)
	MOVQ(Mem{Base: dp, Disp: 24}, cb)
	th := z.cell(acc, cb)
	VMOVUPS(th, Mem{Base: ph, Disp: 32})
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

// lo returns the lower 8 lanes of z as a YMM virtual register (the same register).
func lo(z VecVirtual) VecVirtual { return z.AsY().(VecVirtual) }

// lstmSeqPair8Kernel512 emits LSTMSeqXPair's kernel: a Bidirectional layer's two
// directions over the same input rows, each as lstmSeq8Kernel512 with its projection in
// the step loop (the forward chain takes x rows 0..t-1, the backward chain t-1..0),
// stepped together so the two step chains overlap, each chain's h kept in a register.
// Per chain the operations are lstmSeq8Kernel512's, so each direction gives
// LSTMSeqX's bits on the same path. d points to two descriptors of 5 words (w, b, uw,
// c, hs: the forward chain's, then the backward chain's).
func lstmSeqPair8Kernel512(name string, hard bool) {
	sig := "func(x *float32, nin int, d *int, t, u int)"
	if hard {
		sig = "func(x *float32, nin int, d *int, t, u int, a, b float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + ": two LSTMSeqX chains (forward and backward over the same rows) stepped together (see LSTMSeqXPair).")
	buf := AllocLocal(256) // the next step's projections: forward pair, backward pair
	sidx := AllocLocal(8)
	t, u, dp := GP64(), GP64(), GP64()
	Load(Param("t"), t)
	Load(Param("u"), u)
	Load(Param("d"), dp)
	z := newZ8(hard)
	// project: buf[off:] = bias + x row r * W for chain ch (descriptor at dp + 40*ch)
	project := func(lbl string, ch int, row Register) {
		pb, wp, xp, k := GP64(), GP64(), GP64(), GP64()
		MOVQ(Mem{Base: dp, Disp: 40*ch + 8}, pb)
		MOVQ(Mem{Base: dp, Disp: 40 * ch}, wp)
		Load(Param("nin"), k)
		MOVQ(row, xp)
		IMULQ(k, xp)
		SHLQ(U8(2), xp)
		pxr := GP64()
		Load(Param("x"), pxr)
		ADDQ(pxr, xp)
		projectRow(name+lbl, pb, wp, xp, k, true, func(g int) Mem { return buf.Offset(128*ch + 64*g) })
	}
	TESTQ(t, t)
	JZ(LabelRef(name + "_done"))
	r0 := GP64()
	XORQ(r0, r0)
	MOVQ(r0, sidx)
	project("_f0", 0, r0)
	MOVQ(t, r0)
	DECQ(r0)
	project("_b0", 1, r0)
	var hr [2]VecVirtual
	for ch := 0; ch < 2; ch++ {
		hp := GP64()
		MOVQ(Mem{Base: dp, Disp: 40*ch + 32}, hp)
		hr[ch] = YMM()
		VMOVUPS(Mem{Base: hp}, hr[ch]) // initial h (lanes >= u never broadcast)
	}
	Label(name + "_step")
	var acc [2][2]VecVirtual
	for ch := 0; ch < 2; ch++ {
		for g := 0; g < 2; g++ {
			acc[ch][g] = ZMM()
			VMOVUPS(buf.Offset(128*ch+64*g), acc[ch][g])
		}
		wp := GP64()
		MOVQ(Mem{Base: dp, Disp: 40*ch + 16}, wp)
		z.treeSum(fmt.Sprintf("%s_h%d", name, ch), hr[ch].AsZ().(VecVirtual), acc[ch], wp, u)
	}
	s := GP64()
	for ch := 0; ch < 2; ch++ {
		cb, hp := GP64(), GP64()
		MOVQ(Mem{Base: dp, Disp: 40*ch + 24}, cb)
		th := z.cell(acc[ch], cb)
		MOVQ(sidx, hp)
		SHLQ(U8(5), hp)
		ADDQ(Mem{Base: dp, Disp: 40*ch + 32}, hp)
		VMOVUPS(th, Mem{Base: hp, Disp: 32}) // hs row s+1
		VMOVAPS(th, hr[ch])
	}
	// the next step's projections (rows s+1 and t-2-s) after the gates in program
	// order (see lstmSeq8Kernel512)
	MOVQ(sidx, s)
	INCQ(s)
	CMPQ(s, t)
	JE(LabelRef(name + "_done"))
	project("_fn", 0, s)
	MOVQ(t, s)
	SUBQ(U8(2), s)
	SUBQ(sidx, s)
	project("_bn", 1, s)
	MOVQ(sidx, s)
	INCQ(s)
	MOVQ(s, sidx)
	JMP(LabelRef(name + "_step"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
