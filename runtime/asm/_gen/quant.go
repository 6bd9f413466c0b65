package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// quantKernels emits the AVX2 element-wise quantizers: float32 to the int8 GEMM's A
// elements (u8, or u16 for the widening kernel) and the quantize-dequantize round trip
// (FakeQuant). Each handles n rounded down to 32; the stub does the tail in Go.
func quantKernels() {
	permTbl := GLOBL("quantPerm", RODATA|NOPTR)
	for i, v := range []uint32{0, 4, 1, 5, 2, 6, 3, 7} {
		DATA(4*i, U32(v))
	}
	for _, kind := range []string{"u8", "u16", "fake"} {
		name := map[string]string{"u8": "quantizeU8AVX2", "u16": "quantizeU16AVX2", "fake": "fakeQuantAVX2"}[kind]
		sig := "func(dst *byte, src *float32, n int, scale, lo, hi float32, zp int32)"
		if kind == "fake" {
			sig = "func(dst *float32, src *float32, n int, scale, lo, hi float32, zp int32)"
		}
		TEXT(name, NOSPLIT, sig)
		Doc(name + " quantizes n (a multiple of 32) values; see the stub.")
		dst, src, n := Load(Param("dst"), GP64()), Load(Param("src"), GP64()), Load(Param("n"), GP64())
		sc, lo, hi, zp := YMM(), YMM(), YMM(), YMM()
		VBROADCASTSS(addr("scale"), sc)
		VBROADCASTSS(addr("lo"), lo)
		VBROADCASTSS(addr("hi"), hi)
		zg := Load(Param("zp"), GP32())
		MOVD(zg, zp.AsX())
		VPBROADCASTD(zp.AsX(), zp)
		var perm VecVirtual
		if kind == "u8" {
			perm = YMM()
			VMOVDQU(permTbl, perm)
		}
		loop, done := lbl("qloop"), lbl("qdone")
		Label(loop)
		CMPQ(n, U32(32))
		JL(LabelRef(done))
		x := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
		for i, v := range x {
			VMOVUPS(Mem{Base: src, Disp: 32 * i}, v)
			VDIVPS(sc, v, v)
			VMAXPS(lo, v, v) // a NaN becomes lo (VMAXPS returns its second source on NaN)
			VMINPS(hi, v, v)
			VCVTPS2DQ(v, v) // round half to even (MXCSR default)
			if kind == "fake" {
				VCVTDQ2PS(v, v)
				VMULPS(sc, v, v)
				VMOVUPS(v, Mem{Base: dst, Disp: 32 * i})
			} else {
				VPADDD(zp, v, v)
			}
		}
		switch kind {
		case "u8":
			VPACKSSDW(x[1], x[0], x[0]) // [a0-3 b0-3 | a4-7 b4-7]
			VPACKSSDW(x[3], x[2], x[2])
			VPACKUSWB(x[2], x[0], x[0]) // [a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7]
			VPERMD(x[0], perm, x[0])
			VMOVDQU(x[0], Mem{Base: dst})
			ADDQ(U32(32), dst)
		case "u16":
			VPACKUSDW(x[1], x[0], x[0])
			VPERMQ(U8(0xd8), x[0], x[0])
			VPACKUSDW(x[3], x[2], x[2])
			VPERMQ(U8(0xd8), x[2], x[2])
			VMOVDQU(x[0], Mem{Base: dst})
			VMOVDQU(x[2], Mem{Base: dst, Disp: 32})
			ADDQ(U32(64), dst)
		case "fake":
			ADDQ(U32(128), dst)
		}
		ADDQ(U32(128), src)
		SUBQ(U32(32), n)
		JMP(LabelRef(loop))
		Label(done)
		VZEROUPPER()
		RET()
	}
	copyRunsKernel()
	thin1PoolKernel()
}

// copyRunsKernel emits copyRunsAVX2: n runs of move bytes (a multiple of 32), run i
// from src+i*step to dst+offs[i], in 32-byte vectors (an int8 conv's im2col moves).
func copyRunsKernel() {
	TEXT("copyRunsAVX2", NOSPLIT, "func(dst *byte, offs *int, n int, src *byte, step, move int)")
	Doc("copyRunsAVX2 copies n runs of move bytes; see the stub.")
	dst, offs, n := Load(Param("dst"), GP64()), Load(Param("offs"), GP64()), Load(Param("n"), GP64())
	src, step, move := Load(Param("src"), GP64()), Load(Param("step"), GP64()), Load(Param("move"), GP64())
	loop, inner, done := lbl("cloop"), lbl("cinner"), lbl("cdone")
	v := YMM()
	Label(loop)
	TESTQ(n, n)
	JZ(LabelRef(done))
	d := GP64()
	MOVQ(Mem{Base: offs}, d)
	ADDQ(dst, d)
	w := GP64()
	XORQ(w, w)
	Label(inner)
	VMOVDQU(Mem{Base: src, Index: w, Scale: 1}, v)
	VMOVDQU(v, Mem{Base: d, Index: w, Scale: 1})
	ADDQ(U32(32), w)
	CMPQ(w, move)
	JL(LabelRef(inner))
	ADDQ(U32(8), offs)
	ADDQ(step, src)
	DECQ(n)
	JMP(LabelRef(loop))
	Label(done)
	VZEROUPPER()
	RET()
}

// thin1PoolKernel emits thin1PoolAVX2: the im2col of a one-channel 3x3 stride-1 conv
// without padding in 2x2-pool window order (A rows of 12 bytes): per window, the 4x4
// input patch under it in one xmm (four 4-byte loads), its four A rows (48 bytes) three
// VPSHUFBs of it.
func thin1PoolKernel() {
	shuf := GLOBL("thin1Shuf", RODATA|NOPTR)
	for b := 0; b < 48; b++ {
		row, pos := b/12, b%12
		v := byte(0x80) // the row's tail: zero (its weights are zero)
		if pos < 9 {
			dy, dx, ky, kx := row/2, row%2, pos/3, pos%3
			v = byte((dy+ky)*4 + dx + kx)
		}
		DATA(b, U8(v))
	}
	TEXT("thin1PoolAVX2", NOSPLIT, "func(dst *byte, src *byte, w, ph, pw int)")
	Doc("thin1PoolAVX2 gathers ph x pw pool windows of A rows; see the stub.")
	dst, src := Load(Param("dst"), GP64()), Load(Param("src"), GP64())
	w, ph := Load(Param("w"), GP64()), Load(Param("ph"), GP64())
	m := []VecVirtual{XMM(), XMM(), XMM()}
	for i, x := range m {
		VMOVDQU(shuf.Offset(16*i), x)
	}
	w3 := GP64()
	LEAQ(Mem{Base: w, Index: w, Scale: 2}, w3)
	rowLoop, colLoop, rowNext, done := lbl("trow"), lbl("tcol"), lbl("tnext"), lbl("tdone")
	Label(rowLoop)
	TESTQ(ph, ph)
	JZ(LabelRef(done))
	p, n := GP64(), GP64()
	MOVQ(src, p)
	Load(Param("pw"), n)
	Label(colLoop)
	TESTQ(n, n)
	JZ(LabelRef(rowNext))
	x, o := XMM(), XMM()
	VMOVD(Mem{Base: p}, x)
	VPINSRD(U8(1), Mem{Base: p, Index: w, Scale: 1}, x, x)
	VPINSRD(U8(2), Mem{Base: p, Index: w, Scale: 2}, x, x)
	VPINSRD(U8(3), Mem{Base: p, Index: w3, Scale: 1}, x, x)
	for i := range m {
		VPSHUFB(m[i], x, o)
		VMOVDQU(o, Mem{Base: dst, Disp: 16 * i})
	}
	ADDQ(U32(48), dst)
	ADDQ(U32(2), p)
	DECQ(n)
	JMP(LabelRef(colLoop))
	Label(rowNext)
	LEAQ(Mem{Base: src, Index: w, Scale: 2}, src)
	DECQ(ph)
	JMP(LabelRef(rowLoop))
	Label(done)
	RET()
}
