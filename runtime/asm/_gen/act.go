package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Element-wise activations in AVX2, in place over x[:n], 8 lanes at a time with a masked
// tail. exp uses a round-to-nearest range reduction x = n*ln2 + t (ln2 split hi/lo),
// the degree-7 Taylor expm1(t) = t + t^2*(1/2 + t/6 + ... + t^5/5040) (truncation
// < 5e-9 relative on |t| <= ln2/2) and a two-step 2^n scale so that results down to the
// denormals and up to overflow come out right; tanh and elu use expm1 the same way,
// which keeps them accurate near zero.

var consts = map[string]Mem{}

// cstPrefix names the constants of one output file (each .s file defines its own).
var cstPrefix = "act_"

// cst is a 32-byte constant of 8 equal float32 lanes.
func cst(name string, v float32) Mem {
	return cstBits(name, math.Float32bits(v))
}

func cstBits(name string, bits uint32) Mem {
	if m, ok := consts[name]; ok {
		return m
	}
	m := GLOBL(cstPrefix+name, RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(bits))
	}
	consts[name] = m
	return m
}

func defConsts() {
	cst("log2e", float32(math.Log2E))
	cst("ln2hi", 0.693145751953125)
	cst("ln2lo", 1.428606765330187045e-06)
	for i, c := range []float64{1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040} {
		cst(fmt.Sprintf("c%d", i+2), float32(c))
	}
	cst("one", 1)
	cst("two", 2)
	cst("expmin", -104)
	cst("expmax", 89)
	cst("em1min", -18)
	cstBits("bias127", 127)
	cstBits("absmask", 0x7fffffff)
	cstBits("signmask", 0x80000000)
	cstBits("expmask", 0x7f800000)
	cstBits("exp254", 254<<23)
	cstBits("exp508", 508<<23)
	cst("zero", 0)
	cstBits("magic", 0x4B40007F) // 1.5*2^23 + 127
	cst("sigmin", -87)
	cst("sigmax", 87.33)
	cst("negnine", -9)
	cst("log2e2", float32(2*math.Log2E))
	cst("ln2", float32(math.Ln2))
	cst("geluc1", float32(2*math.Sqrt(2/math.Pi)))
	cst("geluc2", float32(2*math.Sqrt(2/math.Pi)*0.044715))
	defTailMask()
}

// defTailMask defines the masked tails' table: 8 all-ones words, then 8 zeros.
func defTailMask() {
	m := GLOBL(cstPrefix+"tailmask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
	consts["tailmask"] = m
}

// expm1Reduced returns (em, s) with exp(x) = s*(1+em): n = round(x*log2e),
// t = x - n*ln2, em = expm1(t), s = 2^n as (s1, s2) halves when split, else s1 only.
func expCore(x VecVirtual, split bool) (em, s1, s2 VecVirtual) {
	n := YMM()
	VMULPS(consts["log2e"], x, n)
	VROUNDPS(U8(0), n, n) // nearest
	t := YMM()
	VMOVAPS(x, t)
	VFNMADD231PS(consts["ln2hi"], n, t)
	VFNMADD231PS(consts["ln2lo"], n, t)
	p := YMM()
	VMOVUPS(consts["c7"], p)
	for _, c := range []string{"c6", "c5", "c4", "c3", "c2"} {
		VFMADD213PS(consts[c], t, p) // p = t*p + c
	}
	tt := YMM()
	VMULPS(t, t, tt)
	VFMADD213PS(t, tt, p) // p = t^2*p + t = expm1(t)
	ni := YMM()
	VCVTPS2DQ(n, ni)
	s1 = YMM()
	if split {
		h := YMM()
		VPSRAD(U8(1), ni, h)
		VPSUBD(h, ni, ni) // ni = n - n>>1
		VPADDD(consts["bias127"], h, h)
		VPSLLD(U8(23), h, s1)
		s2 = YMM()
		VPADDD(consts["bias127"], ni, ni)
		VPSLLD(U8(23), ni, s2)
	} else {
		VPADDD(consts["bias127"], ni, ni)
		VPSLLD(U8(23), ni, s1)
	}
	return p, s1, s2
}

// keepNaN returns r with the lanes where x is NaN replaced by x.
func keepNaN(x, r VecVirtual) VecVirtual {
	m := YMM()
	VCMPPS(U8(3), x, x, m) // unordered
	out := YMM()
	VBLENDVPS(m, x, r, out)
	return out
}

// expv: exp(x).
func expv(x VecVirtual) VecVirtual {
	xc := YMM()
	VMAXPS(consts["expmin"], x, xc)
	VMINPS(consts["expmax"], xc, xc)
	em, s1, s2 := expCore(xc, true)
	VFMADD213PS(s1, s1, em) // s1*em + s1
	VMULPS(s2, em, em)
	return keepNaN(x, em)
}

// expm1Neg: expm1(u) for u <= 0 (u clamped at -18, where expm1 rounds to -1).
func expm1Neg(u VecVirtual) VecVirtual {
	uc := YMM()
	VMAXPS(consts["em1min"], u, uc)
	em, s, _ := expCore(uc, false)
	sm1 := YMM()
	VSUBPS(consts["one"], s, sm1)
	VFMADD213PS(sm1, s, em) // s*em + (s-1)
	return em
}

func sigmoidv(x VecVirtual) VecVirtual {
	z := YMM()
	VORPS(consts["signmask"], x, z) // -|x|
	e := expv(z)
	d := YMM()
	VADDPS(consts["one"], e, d)
	rp := YMM()
	VMOVUPS(consts["one"], rp)
	VDIVPS(d, rp, rp) // 1/(1+e)
	rn := YMM()
	VMULPS(rp, e, rn) // e/(1+e)
	out := YMM()
	VBLENDVPS(x, rn, rp, out) // x<0: e/(1+e), else 1/(1+e)
	return keepNaN(x, out)
}

func tanhv(x VecVirtual) VecVirtual {
	z := YMM()
	VANDPS(consts["absmask"], x, z)
	u := YMM()
	VMULPS(consts["two"], z, u)
	VXORPS(consts["signmask"], u, u) // -2|x|
	em := expm1Neg(u)
	d := YMM()
	VADDPS(consts["two"], em, d)
	VXORPS(consts["signmask"], em, em)
	VDIVPS(d, em, em) // -em/(em+2) = tanh|x|
	sg := YMM()
	VANDPS(consts["signmask"], x, sg)
	VORPS(sg, em, em)
	return keepNaN(x, em)
}

func swishv(x VecVirtual) VecVirtual {
	s := sigmoidv(x)
	VMULPS(x, s, s)
	return s
}

// geluTanhv: 0.5x(1+tanh(u)) = x*sigmoid(2u), 2u = x*(c1 + c2*x^2).
func geluTanhv(x VecVirtual) VecVirtual {
	x2 := YMM()
	VMULPS(x, x, x2)
	a := YMM()
	VMOVUPS(consts["geluc2"], a)
	VFMADD213PS(consts["geluc1"], x2, a)
	VMULPS(x, a, a)
	s := sigmoidv(a)
	VMULPS(x, s, s)
	return s
}

func eluv(alpha VecVirtual) func(x VecVirtual) VecVirtual {
	return func(x VecVirtual) VecVirtual {
		u := YMM()
		VMINPS(consts["zero"], x, u)
		em := expm1Neg(u)
		VMULPS(alpha, em, em)
		out := YMM()
		// x > 0 keeps x: blend on the sign of -x is awkward; compare instead.
		m := YMM()
		VCMPPS(U8(0x1e), consts["zero"], x, m) // x > 0 (GT_OQ)
		VBLENDVPS(m, x, em, out)
		return keepNaN(x, out)
	}
}

// softplusv: max(x, 0) + log1p(e), e = exp(-|x|) in [0, 1], the log by Cephes' logf
// polynomial (no divide): 1+e <= sqrt 2 takes f = e (no rounding of 1+e), above it
// f = (e-1)/2 with the log of 2 added (k = 1, ln 2 split hi/lo). NaN stays NaN; +Inf
// gives +Inf, -Inf 0.
func softplusv(x VecVirtual) VecVirtual {
	z := YMM()
	VORPS(consts["signmask"], x, z) // -|x|
	e := expv(z)
	m := YMM()
	VCMPPS(U8(0x1e), cst("sqrt2m1", float32(math.Sqrt2-1)), e, m) // e > sqrt 2 - 1 (GT_OQ)
	fh := YMM()
	VSUBPS(consts["one"], e, fh)
	VMULPS(cst("half", 0.5), fh, fh) // (e-1)/2, k = 1
	f := YMM()
	VBLENDVPS(m, fh, e, f)
	k := YMM()
	VANDPS(consts["one"], m, k) // 1 or 0
	p := YMM()
	VMOVUPS(cst("logp0", 7.0376836292e-2), p)
	for i, c := range []float32{-1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
		-1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1} {
		VFMADD213PS(cst(fmt.Sprintf("logp%d", i+1), c), f, p) // p = p*f + c
	}
	ff := YMM()
	VMULPS(f, f, ff)
	VMULPS(f, p, p)
	VMULPS(ff, p, p)                                   // f^3 P(f)
	VFMADD231PS(cst("logln2lo", -2.12194440e-4), k, p) // + k ln2lo
	VFNMADD231PS(cst("half", 0.5), ff, p)              // - f^2/2
	VADDPS(f, p, p)
	VFMADD231PS(cst("logln2hi", 0.693359375), k, p) // + k ln2hi
	mx := YMM()
	VMAXPS(consts["zero"], x, mx) // max(x, 0); a NaN x gives NaN in p
	VADDPS(p, mx, mx)
	return mx
}

// seluv: scale*x for x > 0, else (scale*alpha)*expm1(x) (Keras's constants).
func seluv(x VecVirtual) VecVirtual {
	u := YMM()
	VMINPS(consts["zero"], x, u)
	em := expm1Neg(u)
	VMULPS(cst("selusa", float32(1.0507009873554804934193349852946*1.6732632423543772848170429916717)), em, em)
	xs := YMM()
	VMULPS(cst("selus", float32(1.0507009873554804934193349852946)), x, xs)
	m := YMM()
	VCMPPS(U8(0x1e), consts["zero"], x, m) // x > 0 (GT_OQ)
	out := YMM()
	VBLENDVPS(m, xs, em, out)
	return keepNaN(x, out)
}

// softsignv: x/(1+|x|).
func softsignv(x VecVirtual) VecVirtual {
	a := YMM()
	VANDPS(consts["absmask"], x, a)
	VADDPS(consts["one"], a, a)
	out := YMM()
	VDIVPS(a, x, out)
	return out
}

func actKernel(name, doc string, f func(VecVirtual) VecVirtual, withAlpha bool) {
	sig := "func(x *float32, n int)"
	if withAlpha {
		sig = "func(x *float32, n int, alpha float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(doc)
	p := GP64()
	Load(Param("x"), p)
	n := GP64()
	Load(Param("n"), n)
	var fn func(VecVirtual) VecVirtual = f
	if withAlpha {
		al := YMM()
		VBROADCASTSS(addr("alpha"), al)
		fn = eluv(al)
	}
	loop, tail, done := name+"_loop", name+"_tail", name+"_done"
	Label(loop)
	CMPQ(n, U8(8))
	JL(LabelRef(tail))
	x := YMM()
	VMOVUPS(Mem{Base: p}, x)
	r := fn(x)
	VMOVUPS(r, Mem{Base: p})
	ADDQ(U8(32), p)
	SUBQ(U8(8), n)
	JMP(LabelRef(loop))
	Label(tail)
	TESTQ(n, n)
	JZ(LabelRef(done))
	tp := GP64()
	LEAQ(consts["tailmask"], tp)
	NEGQ(n)
	ADDQ(U8(8), n)
	mk := YMM()
	VMOVUPS(Mem{Base: tp, Index: n, Scale: 4}, mk)
	xt := YMM()
	VMASKMOVPS(Mem{Base: p}, mk, xt)
	rt := fn(xt)
	VMASKMOVPS(rt, mk, Mem{Base: p})
	Label(done)
	VZEROUPPER()
	RET()
}

// activations emits act_avx2_amd64.s: the element-wise kernels (the LSTM kernels' gate
// forms among them, for the Go gate pass).
func activations() {
	defConsts()
	actKernel("vexpAVX2", "vexpAVX2: x[i] = exp(x[i]) for i < n.", expv, false)
	actKernel("vsigmoidAVX2", "vsigmoidAVX2: x[i] = 1/(1+exp(-x[i])) for i < n.", sigmoidv, false)
	actKernel("vtanhAVX2", "vtanhAVX2: x[i] = tanh(x[i]) for i < n.", tanhv, false)
	actKernel("vswishAVX2", "vswishAVX2: x[i] = x[i]*sigmoid(x[i]) for i < n.", swishv, false)
	actKernel("vgeluTanhAVX2", "vgeluTanhAVX2: x[i] = x[i]*sigmoid(2*sqrt(2/pi)*(x[i]+0.044715*x[i]^3)) for i < n.", geluTanhv, false)
	actKernel("veluAVX2", "veluAVX2: x[i] = x[i] if x[i] > 0 else alpha*expm1(x[i]), for i < n.", nil, true)
	actKernel("vsoftplusAVX2", "vsoftplusAVX2: x[i] = max(x[i], 0) + log1p(exp(-|x[i]|)) for i < n.", softplusv, false)
	actKernel("vseluAVX2", "vseluAVX2: x[i] = scale*x[i] if x[i] > 0 else scale*alpha*expm1(x[i]), for i < n.", seluv, false)
	actKernel("vsoftsignAVX2", "vsoftsignAVX2: x[i] = x[i]/(1+|x[i]|) for i < n.", softsignv, false)
	defErfConsts()
	actKernel("vgeluAVX2", "vgeluAVX2: x[i] = x[i]*erfc(-x[i]/sqrt2)/2 (exact GELU) for i < n.", geluErfv, false)
	actKernel("vsigmoidGateAVX2", "vsigmoidGateAVX2: x[i] = 1/(1+exp(-x[i])) for i < n (LSTMSeq's form).", sigmoidGate, false)
	actKernel("vtanhCellAVX2", "vtanhCellAVX2: x[i] = tanh(x[i]) for i < n (LSTMSeq's form).", tanhCell, false)
	actKernel("vtanhRationalAVX2", "vtanhRationalAVX2: x[i] = tanh(x[i]) for i < n (LSTMSeq's rational form).", tanhRational, false)
	actKernel("vsigmoidRationalAVX2", "vsigmoidRationalAVX2: x[i] = 1/(1+exp(-x[i])) for i < n (LSTMSeq's rational form).", sigmoidRational, false)
	tanhFracKernel()
}

// lstmKernelsAVX2 emits lstm_seq_avx2_amd64.s: the LSTM step and sequence kernels.
func lstmKernelsAVX2() {
	defConsts()
	lstmStepKernel("lstmStepSigmoidTanhAVX2", false, false)
	lstmStepKernel("lstmStepHardSigmoidTanhAVX2", true, false)
	lstmSeqKernel("lstmSeqSigmoidTanhAVX2", false)
	lstmSeqKernel("lstmSeqHardSigmoidTanhAVX2", true)
	lstmSeqMultiKernel("lstmSeqMultiSigmoidTanhAVX2", false)
	lstmSeqMultiKernel("lstmSeqMultiHardSigmoidTanhAVX2", true)
	lstmSeqStackKernel("lstmSeqStackSigmoidTanhAVX2", false)
	lstmSeqStackKernel("lstmSeqStackHardSigmoidTanhAVX2", true)
	lstmSeqX8Kernel("lstmSeqX8SigmoidTanhAVX2", false, false)
	lstmSeqX8Kernel("lstmSeqX8HardSigmoidTanhAVX2", true, false)
	lstmSeqX8Kernel("lstmSeqX8SigmoidReluAVX2", false, true)
	lstmSeqX8Kernel("lstmSeqX8HardSigmoidReluAVX2", true, true)
}

// lstmKernelsAVX512 emits lstm_seq_avx512_amd64.s: the AVX-512 LSTM kernels.
func lstmKernelsAVX512() {
	defConsts()
	lstmStepKernel("lstmStepSigmoidTanhAVX512", false, true)
	lstmStepKernel("lstmStepHardSigmoidTanhAVX512", true, true)
	lstmSeq8Kernel512("lstmSeqX8SigmoidTanhAVX512", false, true)
	lstmSeq8Kernel512("lstmSeqX8HardSigmoidTanhAVX512", true, true)
	lstmSeq8Kernel512("lstmSeq8SigmoidTanhAVX512", false, false)
	lstmSeq8Kernel512("lstmSeq8HardSigmoidTanhAVX512", true, false)
	lstmSeqMulti8Kernel512("lstmSeqMulti8SigmoidTanhAVX512", false)
	lstmSeqMulti8Kernel512("lstmSeqMulti8HardSigmoidTanhAVX512", true)
	lstmSeqPair8Kernel512("lstmSeqPair8SigmoidTanhAVX512", false)
	lstmSeqPair8Kernel512("lstmSeqPair8HardSigmoidTanhAVX512", true)
}

// lstmStepKernel emits one LSTM step with the gate pre-activations split in two: the
// recurrent part z (h*U) and the input part zx (x*W + b), 4u values each in Keras gate
// order i, f, c(g), o. For 8 units at a time it adds the halves, applies the gate
// activation (sigmoid, or hard sigmoid clip(a*x+b, 0, 1) when hard) to i, f, o and tanh
// to g, then c = f*c + i*g, h = o*tanh(c). z and zx are only read.
//
// The remainder of u%8 units avoids AVX2 masked stores where it can (VMASKMOVPS stores
// cost ~20 ns on AMD cores, more than a whole 8-unit chunk): with u >= 8 the last 8
// units [u-8, u) are computed first from the original c and stored after the full
// chunks, overwriting the overlap with identical values; with u < 8 the AVX2 form masks,
// and the AVX-512 form (avx512) masks loads and stores with a k register instead.
func lstmStepKernel(name string, hard, avx512 bool) {
	sig := "func(z, zx, c, h *float32, u int)"
	if hard {
		sig = "func(z, zx, c, h *float32, u int, a, b float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Doc(name + ": one LSTM step over u units (see LSTMStep).")
	pz, px, pc, ph := GP64(), GP64(), GP64(), GP64()
	Load(Param("z"), pz)
	Load(Param("zx"), px)
	Load(Param("c"), pc)
	Load(Param("h"), ph)
	n := GP64()
	Load(Param("u"), n)
	us := GP64() // u*4 bytes: the gate stride
	MOVQ(n, us)
	SHLQ(U8(2), us)
	us3 := GP64()
	LEAQ(Mem{Base: us, Index: us, Scale: 2}, us3)
	gate := seqGate(hard, false, sigmoidv)
	// load reads 8 floats at m: plain, VMASKMOVPS under an AVX2 mask, or zero-masked
	// under k1 (AVX-512).
	const plain, vmask, kmask = 0, 1, 2
	load := func(mode int, mk VecVirtual, m Mem) VecVirtual {
		r := YMM()
		switch mode {
		case plain:
			VMOVUPS(m, r)
		case vmask:
			VMASKMOVPS(m, mk, r)
		default:
			VMOVUPS_Z(m, K1, r)
		}
		return r
	}
	store := func(mode int, mk, r VecVirtual, m Mem) {
		switch mode {
		case plain:
			VMOVUPS(r, m)
		case vmask:
			VMASKMOVPS(r, mk, m)
		default:
			VMOVUPS(r, K1, m)
		}
	}
	// compute returns the new c and h of the 8 units at bz, bx (gate 0; gate g is g*u*4
	// bytes on) and bc.
	compute := func(mode int, mk VecVirtual, bz, bx, bc Register) (VecVirtual, VecVirtual) {
		var zs [4]VecVirtual
		gateMem := func(base Register, g int) Mem {
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
		for g := 0; g < 4; g++ {
			a := load(mode, mk, gateMem(bz, g))
			b := load(mode, mk, gateMem(bx, g))
			VADDPS(b, a, a)
			zs[g] = a
		}
		i := gate(zs[0])
		f := gate(zs[1])
		g := tanhv(zs[2])
		o := gate(zs[3])
		c := load(mode, mk, Mem{Base: bc})
		VMULPS(c, f, c)
		VFMADD231PS(g, i, c) // c = f*c + i*g
		th := tanhv(c)
		VMULPS(th, o, th)
		return c, th
	}
	loop, tail, done := name+"_loop", name+"_tail", name+"_done"
	// u >= 8 with a remainder: the last 8 units first, kept in registers.
	lc, lh := GP64(), GP64() // c and h of the last chunk (0 when there is none)
	XORQ(lc, lc)
	XORQ(lh, lh)
	skip := name + "_nolast"
	CMPQ(n, U8(8))
	JL(LabelRef(skip))
	TESTQ(U32(7), n)
	JZ(LabelRef(skip))
	lz, lx := GP64(), GP64()
	for _, p := range [][2]Register{{pz, lz}, {px, lx}, {pc, lc}, {ph, lh}} {
		LEAQ(Mem{Base: p[0], Index: us, Scale: 1, Disp: -32}, p[1])
	}
	lastC, lastH := compute(plain, nil, lz, lx, lc)
	ANDQ(I8(-8), n) // the full chunks only; the remainder is covered by the last chunk
	Label(skip)
	Label(loop)
	CMPQ(n, U8(8))
	JL(LabelRef(tail))
	c, h := compute(plain, nil, pz, px, pc)
	store(plain, nil, c, Mem{Base: pc})
	store(plain, nil, h, Mem{Base: ph})
	for _, p := range []Register{pz, px, pc, ph} {
		ADDQ(U8(32), p)
	}
	SUBQ(U8(8), n)
	JMP(LabelRef(loop))
	Label(tail)
	TESTQ(lc, lc)
	JZ(LabelRef(tail + "_masked"))
	store(plain, nil, lastC, Mem{Base: lc})
	store(plain, nil, lastH, Mem{Base: lh})
	JMP(LabelRef(done))
	Label(tail + "_masked")
	TESTQ(n, n)
	JZ(LabelRef(done))
	var mk VecVirtual
	mode := kmask
	if avx512 {
		m32 := GP32()
		MOVL(U32(0xff), m32)
		BZHIL(n.As32(), m32, m32)
		KMOVW(m32, K1)
	} else {
		mode = vmask
		tp := GP64()
		LEAQ(consts["tailmask"], tp)
		NEGQ(n)
		ADDQ(U8(8), n)
		mk = YMM()
		VMOVUPS(Mem{Base: tp, Index: n, Scale: 4}, mk)
	}
	c, h = compute(mode, mk, pz, px, pc)
	store(mode, mk, c, Mem{Base: pc})
	store(mode, mk, h, Mem{Base: ph})
	Label(done)
	VZEROUPPER()
	RET()
}

// maxTapsKernel: dst[i] = max over t < ntaps of src[offs[t]+i], for i < c (ntaps >= 1),
// 8 channels at a time, masked tail. Any NaN among the taps gives NaN (VMAXPS alone
// would drop a NaN in its first source, so unordered lanes are ORed to all-ones).
func maxTapsKernel() {
	TEXT("vmaxTapsAVX2", NOSPLIT, "func(dst, src *float32, offs *int, ntaps, c int)")
	Doc("vmaxTapsAVX2: dst[i] = max over t < ntaps of src[offs[t]+i], for i < c.")
	pd, ps, po := GP64(), GP64(), GP64()
	Load(Param("dst"), pd)
	Load(Param("src"), ps)
	Load(Param("offs"), po)
	nt, n := GP64(), GP64()
	Load(Param("ntaps"), nt)
	Load(Param("c"), n)
	chunk := func(mk VecVirtual) {
		ld := func(m Mem, r VecVirtual) {
			if mk == nil {
				VMOVUPS(m, r)
			} else {
				VMASKMOVPS(m, mk, r)
			}
		}
		acc := YMM()
		o := GP64()
		MOVQ(Mem{Base: po}, o)
		ld(Mem{Base: ps, Index: o, Scale: 4}, acc)
		t := GP64()
		MOVQ(U32(1), t)
		inner, end := "maxtaps_inner", "maxtaps_end"
		if mk != nil {
			inner, end = inner+"_t", end+"_t"
		}
		Label(inner)
		CMPQ(t, nt)
		JGE(LabelRef(end))
		MOVQ(Mem{Base: po, Index: t, Scale: 8}, o)
		x := YMM()
		ld(Mem{Base: ps, Index: o, Scale: 4}, x)
		u := YMM()
		VCMPPS(U8(3), x, acc, u) // unordered
		VMAXPS(x, acc, acc)      // Intel max(acc, x): x on NaN
		VORPS(u, acc, acc)
		INCQ(t)
		JMP(LabelRef(inner))
		Label(end)
		if mk == nil {
			VMOVUPS(acc, Mem{Base: pd})
		} else {
			VMASKMOVPS(acc, mk, Mem{Base: pd})
		}
	}
	Label("maxtaps_loop")
	CMPQ(n, U8(8))
	JL(LabelRef("maxtaps_tail"))
	chunk(nil)
	ADDQ(U8(32), pd)
	ADDQ(U8(32), ps)
	SUBQ(U8(8), n)
	JMP(LabelRef("maxtaps_loop"))
	Label("maxtaps_tail")
	TESTQ(n, n)
	JZ(LabelRef("maxtaps_done"))
	tp := GP64()
	LEAQ(consts["tailmask"], tp)
	NEGQ(n)
	ADDQ(U8(8), n)
	mk := YMM()
	VMOVUPS(Mem{Base: tp, Index: n, Scale: 4}, mk)
	chunk(mk)
	Label("maxtaps_done")
	VZEROUPPER()
	RET()
}

// gatherRunsKernel: for r < nruns, copy runLen floats from src[offs[r]:] to
// dst[r*runLen:], in whole 8-float blocks (so up to 7 floats past each run are read,
// and written past the last one; the next run overwrites the rest).
func gatherRunsKernel() {
	TEXT("gatherRunsAVX2", NOSPLIT, "func(dst, src *float32, offs *int, nruns, runLen int)")
	Doc("gatherRunsAVX2: dst[r*runLen+j] = src[offs[r]+j] for r < nruns, j < runLen (8-float blocks).")
	pd, ps, po := GP64(), GP64(), GP64()
	Load(Param("dst"), pd)
	Load(Param("src"), ps)
	Load(Param("offs"), po)
	nr, rl := GP64(), GP64()
	Load(Param("nruns"), nr)
	Load(Param("runLen"), rl)
	rb := GP64()
	LEAQ(Mem{Base: rl, Index: rl, Scale: 1}, rb)
	SHLQ(U8(1), rb) // runLen*4 bytes
	Label("gather_loop")
	TESTQ(nr, nr)
	JZ(LabelRef("gather_done"))
	o := GP64()
	MOVQ(Mem{Base: po}, o)
	s := GP64()
	LEAQ(Mem{Base: ps, Index: o, Scale: 4}, s)
	d := GP64()
	MOVQ(pd, d)
	j := GP64()
	MOVQ(rl, j)
	Label("gather_inner")
	y := YMM()
	VMOVUPS(Mem{Base: s}, y)
	VMOVUPS(y, Mem{Base: d})
	ADDQ(U8(32), s)
	ADDQ(U8(32), d)
	SUBQ(U8(8), j)
	JG(LabelRef("gather_inner"))
	ADDQ(rb, pd)
	ADDQ(U8(8), po)
	DECQ(nr)
	JMP(LabelRef("gather_loop"))
	Label("gather_done")
	VZEROUPPER()
	RET()
}
