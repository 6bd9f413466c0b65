package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// clampKernels emits clamp_avx2_amd64.s: the clamp family, x = min(max(x, lo), hi) in
// place and dst = min(max(a+b, lo), hi) (a residual sum and the ReLU/ReLU6/Clip after it),
// 32 floats a loop, then 8, then a masked tail. The operand order of VMAXPS/VMINPS
// returns x when x is NaN (they return the second source on NaN or equal zeros), as the
// GEMM store's clamp does.
func clampKernels() {
	cstPrefix = "clamp_"
	defTailMask()
	clampKernel("vclampAVX2", false)
	clampKernel("vaddClampAVX2", true)
}

func clampKernel(name string, add bool) {
	if add {
		TEXT(name, NOSPLIT, "func(dst, a, b *float32, n int, lo, hi float32)")
		Doc(name + ": dst[i] = min(max(a[i]+b[i], lo), hi) for i < n.")
	} else {
		TEXT(name, NOSPLIT, "func(x *float32, n int, lo, hi float32)")
		Doc(name + ": x[i] = min(max(x[i], lo), hi) for i < n.")
	}
	var pd, pa, pb GPVirtual
	pd = GP64()
	if add {
		Load(Param("dst"), pd)
		pa, pb = GP64(), GP64()
		Load(Param("a"), pa)
		Load(Param("b"), pb)
	} else {
		Load(Param("x"), pd)
		pa = pd
	}
	n := GP64()
	Load(Param("n"), n)
	lo, hi := YMM(), YMM()
	VBROADCASTSS(addr("lo"), lo)
	VBROADCASTSS(addr("hi"), hi)
	// body computes one vector at displacement d (a masked load/store with mask mk)
	body := func(d int, mk VecVirtual) {
		x := YMM()
		if mk == nil {
			VMOVUPS(Mem{Base: pa, Disp: d}, x)
			if add {
				VADDPS(Mem{Base: pb, Disp: d}, x, x)
			}
		} else {
			VMASKMOVPS(Mem{Base: pa, Disp: d}, mk, x)
			if add {
				y := YMM()
				VMASKMOVPS(Mem{Base: pb, Disp: d}, mk, y)
				VADDPS(y, x, x)
			}
		}
		VMAXPS(x, lo, x)
		VMINPS(x, hi, x)
		if mk == nil {
			VMOVUPS(x, Mem{Base: pd, Disp: d})
		} else {
			VMASKMOVPS(x, mk, Mem{Base: pd, Disp: d})
		}
	}
	advance := func(bytes int) {
		ADDQ(U32(bytes), pd)
		if add {
			ADDQ(U32(bytes), pa)
			ADDQ(U32(bytes), pb)
		}
	}
	loop4, loop1, tail, done := name+"_loop4", name+"_loop1", name+"_tail", name+"_done"
	Label(loop4)
	CMPQ(n, U8(32))
	JL(LabelRef(loop1))
	for v := 0; v < 4; v++ {
		body(32*v, nil)
	}
	advance(128)
	SUBQ(U8(32), n)
	JMP(LabelRef(loop4))
	Label(loop1)
	CMPQ(n, U8(8))
	JL(LabelRef(tail))
	body(0, nil)
	advance(32)
	SUBQ(U8(8), n)
	JMP(LabelRef(loop1))
	Label(tail)
	TESTQ(n, n)
	JZ(LabelRef(done))
	tp := GP64()
	LEAQ(consts["tailmask"], tp)
	NEGQ(n)
	ADDQ(U8(8), n)
	mk := YMM()
	VMOVUPS(Mem{Base: tp, Index: n, Scale: 4}, mk)
	body(0, mk)
	Label(done)
	VZEROUPPER()
	RET()
}
