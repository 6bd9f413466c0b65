package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Winograd F(4x4, 3x3) transforms in AVX2, 8 channels per vector (channel counts are
// multiples of 8). A transformed tile t keeps its 36 positions p = 6*i+j at
// t*36*c + p*c. Each transform is two passes over a 6x6 (input) or 6x6 -> 4x6 (output)
// block through a stack buffer: along rows, then along columns. Only multiplications by
// powers of two (exact) and by 5 (rounded, then added) appear, so the Go loops that
// round every step in the same order give the same bits.
//
// Input rows of B^T, for x0..x5:
//
//	r0 = (x4 + 4*x0) - 5*x2        r3 = (x4 - x2) + 2*(x3 - x1)
//	r1 = (x3 + x4) - 4*(x1 + x2)    r4 = (x4 - x2) - 2*(x3 - x1)
//	r2 = (x4 - x3) + 4*(x1 - x2)    r5 = (x5 + 4*x1) - 5*x3
//
// Output rows of A^T, for m0..m5 (a = m1+m2, b = m1-m2, c = m3+m4, d = m3-m4):
//
//	y0 = (m0 + a) + c    y1 = b + 2*d    y2 = a + 4*c    y3 = (b + 8*d) + m5
func winograd4Kernels() {
	winogradIn4()
	winogradOut4(false)
	winogradOut4(true)
}

var w4consts = map[string]Mem{}

// Vector width of the transforms being generated: AVX2 (ymm, 8 lanes) or AVX-512 (zmm,
// 16 lanes; channel counts then multiples of 16).
var (
	vb  = 32
	vec = YMM
	sfx = "AVX2"
)

func setWide(wide bool) {
	if wide {
		vb, vec, sfx = 64, ZMM, "AVX512"
	} else {
		vb, vec, sfx = 32, YMM, "AVX2"
	}
}

func w4cst(name string, v float32) Mem {
	if m, ok := w4consts[name]; ok {
		return m
	}
	m := GLOBL("wino4_"+name, RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(math.Float32bits(v)))
	}
	w4consts[name] = m
	return m
}

// alignedLocal reserves n bytes of stack aligned to the vector width (Go only aligns SP
// to 8 bytes; unaligned 64-byte stores and reloads would split cache lines) and returns
// its base, a register holding the aligned address.
func alignedLocal(n int) Mem {
	m := AllocLocal(n + vb)
	r := GP64()
	LEAQ(m, r)
	ADDQ(U8(vb-1), r)
	ANDQ(I8(-int8(vb)), r)
	return Mem{Base: r}
}

// bt6 computes the six B^T combinations of x (vectors in registers) into r.
func bt6(x [6]VecVirtual, r [6]VecVirtual, k2, k4, k5 VecVirtual) {
	t := vec()
	// r0 = (x4 + 4*x0) - 5*x2
	VMULPS(k4, x[0], r[0])
	VADDPS(r[0], x[4], r[0])
	VMULPS(k5, x[2], t)
	VSUBPS(t, r[0], r[0])
	// r5 = (x5 + 4*x1) - 5*x3
	VMULPS(k4, x[1], r[5])
	VADDPS(r[5], x[5], r[5])
	VMULPS(k5, x[3], t)
	VSUBPS(t, r[5], r[5])
	// r1 = (x3 + x4) - 4*(x1 + x2)
	u := vec()
	VADDPS(x[2], x[1], u)
	VADDPS(x[4], x[3], r[1])
	VMULPS(k4, u, u)
	VSUBPS(u, r[1], r[1])
	// r2 = (x4 - x3) + 4*(x1 - x2)
	VSUBPS(x[2], x[1], u)
	VSUBPS(x[3], x[4], r[2])
	VMULPS(k4, u, u)
	VADDPS(u, r[2], r[2])
	// r3 = (x4 - x2) + 2*(x3 - x1); r4 = (x4 - x2) - 2*(x3 - x1)
	VSUBPS(x[1], x[3], u)
	VMULPS(k2, u, u)
	VSUBPS(x[2], x[4], t)
	VADDPS(u, t, r[3])
	VSUBPS(u, t, r[4])
}

func winogradIn4() {
	TEXT("winogradInF4x4"+sfx, 0, "func(dst, src *float32, offs *int, ntiles, c, rowStride int)")
	Doc("winogradInF4x4" + sfx + ": dst[t*36*c+p*c+ci] = (B^T d B)[p] of the 6x6 window at src[offs[t]:] (row stride rowStride, pixel stride c).")
	tmp := alignedLocal(36 * vb)
	pd, ps, po := GP64(), GP64(), GP64()
	Load(Param("dst"), pd)
	Load(Param("src"), ps)
	Load(Param("offs"), po)
	nt, c4, rs4 := GP64(), GP64(), GP64()
	Load(Param("ntiles"), nt)
	Load(Param("c"), c4)
	SHLQ(U8(2), c4)
	Load(Param("rowStride"), rs4)
	SHLQ(U8(2), rs4)
	k2, k4, k5 := vec(), vec(), vec()
	VBROADCASTSS(w4cst("two", 2), k2)
	VBROADCASTSS(w4cst("four", 4), k4)
	VBROADCASTSS(w4cst("five", 5), k5)
	Label("win4_tile")
	TESTQ(nt, nt)
	JZ(LabelRef("win4_done"))
	s := GP64()
	MOVQ(Mem{Base: po}, s)
	LEAQ(Mem{Base: ps, Index: s, Scale: 4}, s)
	cl := GP64()
	MOVQ(c4, cl)
	Label("win4_ch")
	// pass 1: each input row y, combine its 6 columns: tmp[y][j]
	row, q := GP64(), GP64()
	MOVQ(s, row)
	for y := 0; y < 6; y++ {
		var x, r [6]VecVirtual
		MOVQ(row, q)
		for j := 0; j < 6; j++ {
			x[j] = vec()
			VMOVUPS(Mem{Base: q}, x[j])
			if j < 5 {
				ADDQ(c4, q)
			}
		}
		for j := range r {
			r[j] = vec()
		}
		bt6(x, r, k2, k4, k5)
		for j := 0; j < 6; j++ {
			VMOVUPS(r[j], tmp.Offset((y*6+j)*vb))
		}
		if y < 5 {
			ADDQ(rs4, row)
		}
	}
	// pass 2: each column j, combine the 6 rows: position 6*i+j
	for j := 0; j < 6; j++ {
		var x, r [6]VecVirtual
		for y := 0; y < 6; y++ {
			x[y] = vec()
			VMOVUPS(tmp.Offset((y*6+j)*vb), x[y])
		}
		for i := range r {
			r[i] = vec()
		}
		bt6(x, r, k2, k4, k5)
		// store r[i] at pd + (6i+j)*c4
		if j == 0 {
			MOVQ(pd, q)
		} else {
			LEAQ(Mem{Base: pd}, q)
			for k := 0; k < j; k++ {
				ADDQ(c4, q)
			}
		}
		for i := 0; i < 6; i++ {
			VMOVUPS(r[i], Mem{Base: q})
			if i < 5 {
				for k := 0; k < 6; k++ {
					ADDQ(c4, q)
				}
			}
		}
	}
	ADDQ(U8(vb), s)
	ADDQ(U8(vb), pd)
	SUBQ(U8(vb), cl)
	JNZ(LabelRef("win4_ch"))
	// pd advanced by c4 over the channels: on to the next tile's 36*c4
	IMUL3Q(U8(35), c4, q)
	ADDQ(q, pd)
	ADDQ(U8(8), po)
	DECQ(nt)
	JMP(LabelRef("win4_tile"))
	Label("win4_done")
	VZEROUPPER()
	RET()
}

// at4 computes the four A^T combinations of m into y (bias not included).
func at4(m [6]VecVirtual, y [4]VecVirtual, k2, k4, k8 VecVirtual) {
	a, b, c, d := vec(), vec(), vec(), vec()
	VADDPS(m[2], m[1], a)
	VSUBPS(m[2], m[1], b)
	VADDPS(m[4], m[3], c)
	VSUBPS(m[4], m[3], d)
	// y0 = (m0 + a) + c
	VADDPS(a, m[0], y[0])
	VADDPS(c, y[0], y[0])
	// y1 = b + 2*d (2*d exact: one rounding, as the FMA)
	VMOVAPS(b, y[1])
	VFMADD231PS(k2, d, y[1])
	// y2 = a + 4*c
	VMOVAPS(a, y[2])
	VFMADD231PS(k4, c, y[2])
	// y3 = (b + 8*d) + m5
	VMOVAPS(b, y[3])
	VFMADD231PS(k8, d, y[3])
	VADDPS(m[5], y[3], y[3])
}

// winogradOut4 emits the F(4x4) output transform; with res (winogradOutAddF4x4) the
// residual at the same offsets of res is added after the bias, before the clamp (the
// residual epilogue in the transform's store).
func winogradOut4(res bool) {
	name := "winogradOutF4x4" + sfx
	if res {
		name = "winogradOutAddF4x4" + sfx
		TEXT(name, 0, "func(dst, src *float32, offs *int, bias, res *float32, ntiles, n, rowStride int, lo, hi float32)")
		Doc(name + ": the 4x4 block at dst[offs[t]:] = clamp((A^T M A + bias) + res[offs[t]+...], lo, hi) of src[t*36*n+p*n+co].")
	} else {
		TEXT(name, 0, "func(dst, src *float32, offs *int, bias *float32, ntiles, n, rowStride int, lo, hi float32)")
		Doc(name + ": the 4x4 block at dst[offs[t]:] = clamp(A^T M A + bias, lo, hi) of src[t*36*n+p*n+co].")
	}
	tmp := alignedLocal(24 * vb)
	pd, ps, po, pb := GP64(), GP64(), GP64(), GP64()
	Load(Param("dst"), pd)
	Load(Param("src"), ps)
	Load(Param("offs"), po)
	Load(Param("bias"), pb)
	// rd: res - dst in bytes, so a block's residual is at the output address + rd
	var rd GPVirtual
	if res {
		rd = GP64()
		Load(Param("res"), rd)
		SUBQ(pd, rd)
	}
	nt, n4, rs4 := GP64(), GP64(), GP64()
	Load(Param("ntiles"), nt)
	Load(Param("n"), n4)
	SHLQ(U8(2), n4)
	Load(Param("rowStride"), rs4)
	SHLQ(U8(2), rs4)
	Label(name + "_tile")
	TESTQ(nt, nt)
	JZ(LabelRef(name + "_done"))
	o := GP64()
	MOVQ(Mem{Base: po}, o)
	LEAQ(Mem{Base: pd, Index: o, Scale: 4}, o)
	bp := GP64()
	MOVQ(pb, bp)
	cl := GP64()
	MOVQ(n4, cl)
	Label(name + "_ch")
	k2, k4, k8 := vec(), vec(), vec()
	VBROADCASTSS(w4cst("two", 2), k2)
	VBROADCASTSS(w4cst("four", 4), k4)
	VBROADCASTSS(w4cst("eight", 8), k8)
	// pass 1: each row i of M (positions 6i..6i+5), combine columns: tmp[i][jo], jo < 4
	q := GP64()
	MOVQ(ps, q)
	for i := 0; i < 6; i++ {
		var m [6]VecVirtual
		var y [4]VecVirtual
		for j := 0; j < 6; j++ {
			m[j] = vec()
			VMOVUPS(Mem{Base: q}, m[j])
			if i < 5 || j < 5 {
				ADDQ(n4, q)
			}
		}
		for k := range y {
			y[k] = vec()
		}
		at4(m, y, k2, k4, k8)
		for k := 0; k < 4; k++ {
			VMOVUPS(y[k], tmp.Offset((i*4+k)*vb))
		}
	}
	// pass 2: each output column x, combine the 6 rows: Y[yo][x]
	b := vec()
	VMOVUPS(Mem{Base: bp}, b)
	lo, hi := vec(), vec()
	VBROADCASTSS(addr("lo"), lo)
	VBROADCASTSS(addr("hi"), hi)
	for x := 0; x < 4; x++ {
		var m [6]VecVirtual
		var y [4]VecVirtual
		for i := 0; i < 6; i++ {
			m[i] = vec()
			VMOVUPS(tmp.Offset((i*4+x)*vb), m[i])
		}
		for k := range y {
			y[k] = vec()
		}
		at4(m, y, k2, k4, k8)
		// Y[yo][x] at o + yo*rs4 + x*n4
		MOVQ(o, q)
		for k := 0; k < x; k++ {
			ADDQ(n4, q)
		}
		for yo := 0; yo < 4; yo++ {
			VADDPS(b, y[yo], y[yo])
			if res {
				VADDPS(Mem{Base: q, Index: rd, Scale: 1}, y[yo], y[yo])
			}
			VMAXPS(y[yo], lo, y[yo]) // operand order keeps NaN (as in the GEMM stores)
			VMINPS(y[yo], hi, y[yo])
			VMOVUPS(y[yo], Mem{Base: q})
			if yo < 3 {
				ADDQ(rs4, q)
			}
		}
	}
	ADDQ(U8(vb), o)
	ADDQ(U8(vb), ps)
	ADDQ(U8(vb), bp)
	SUBQ(U8(vb), cl)
	JNZ(LabelRef(name + "_ch"))
	IMUL3Q(U8(35), n4, q)
	ADDQ(q, ps)
	ADDQ(U8(8), po)
	DECQ(nt)
	JMP(LabelRef(name + "_tile"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}
