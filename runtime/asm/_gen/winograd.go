package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Winograd F(2x2, 3x3) transforms in AVX2, 8 channels per vector; the channel counts
// are multiples of 8. Tiles are NHWC 4x4 input windows and 2x2 output blocks; the
// transformed tile t keeps its 16 positions p = 4*i+j at t*16*c + p*c (channels
// contiguous), so the 16 GEMMs read position p with row stride 16*c.
//
// Input, V = B^T d B with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]: rows first
// (t0 = d0-d2, t1 = d1+d2, t2 = d2-d1, t3 = d1-d3 per column), then the same combinations
// over columns. Output, Y = A^T M A + bias with A^T = [1 1 1 0; 0 1 -1 -1]: columns first
// (s0 = (m0+m1)+m2, s1 = (m1-m2)-m3 per row), then rows, then the bias and the clamp.
func winogradKernels() {
	winogradIn()
	winogradOut()
}

// combo computes the four B^T combinations of x0..x3 into out0..out3 given a loader:
// out0 = x0-x2, out1 = x1+x2, out2 = x2-x1, out3 = x1-x3.
func winoInRow(ld func(k int) Mem, out [4]VecVirtual) {
	VMOVUPS(ld(0), out[0])
	VSUBPS(ld(2), out[0], out[0])
	VMOVUPS(ld(1), out[1])
	VADDPS(ld(2), out[1], out[1])
	VMOVUPS(ld(2), out[2])
	VSUBPS(ld(1), out[2], out[2])
	VMOVUPS(ld(1), out[3])
	VSUBPS(ld(3), out[3], out[3])
}

func winogradIn() {
	TEXT("winogradInF2x2"+sfx, NOSPLIT, "func(dst, src *float32, offs *int, ntiles, c, rowStride int)")
	Doc("winogradInF2x2" + sfx + ": dst[t*16*c+p*c+ci] = (B^T d B)[p] of the 4x4 window at src[offs[t]:] (row stride rowStride, pixel stride c).")
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
	c12 := GP64()
	LEAQ(Mem{Base: c4, Index: c4, Scale: 2}, c12)
	Label("win_tile")
	TESTQ(nt, nt)
	JZ(LabelRef("win_done"))
	s := GP64()
	MOVQ(Mem{Base: po}, s)
	LEAQ(Mem{Base: ps, Index: s, Scale: 4}, s)
	cl := GP64()
	MOVQ(c4, cl)
	Label("win_ch")
	// rows of d: row r at s + r*rs4; column j at + j*c4
	row := func(r int, tmp Register) Register {
		switch r {
		case 0:
			return s
		case 1:
			LEAQ(Mem{Base: s, Index: rs4, Scale: 1}, tmp)
		case 2:
			LEAQ(Mem{Base: s, Index: rs4, Scale: 2}, tmp)
		case 3:
			LEAQ(Mem{Base: s, Index: rs4, Scale: 2}, tmp)
			ADDQ(rs4, tmp)
		}
		return tmp
	}
	col := func(base Register, j int) Mem {
		switch j {
		case 0:
			return Mem{Base: base}
		case 1:
			return Mem{Base: base, Index: c4, Scale: 1}
		case 2:
			return Mem{Base: base, Index: c4, Scale: 2}
		}
		return Mem{Base: base, Index: c12, Scale: 1}
	}
	pairs := [4][2]int{{0, 2}, {1, 2}, {2, 1}, {1, 3}} // t_i = d_a op d_b
	ra, rb, q := GP64(), GP64(), GP64()
	for i := 0; i < 4; i++ {
		var t [4]VecVirtual
		for j := range t {
			t[j] = vec()
		}
		a := row(pairs[i][0], ra)
		b := row(pairs[i][1], rb)
		for j := 0; j < 4; j++ {
			VMOVUPS(col(a, j), t[j])
			if i == 1 {
				VADDPS(col(b, j), t[j], t[j])
			} else {
				VSUBPS(col(b, j), t[j], t[j])
			}
		}
		var v [4]VecVirtual
		for j := range v {
			v[j] = vec()
		}
		VSUBPS(t[2], t[0], v[0])
		VADDPS(t[2], t[1], v[1])
		VSUBPS(t[1], t[2], v[2])
		VSUBPS(t[3], t[1], v[3])
		// positions 4i..4i+3 at pd + (4i+j)*c4
		switch i {
		case 0:
			MOVQ(pd, q)
		case 1:
			LEAQ(Mem{Base: pd, Index: c4, Scale: 4}, q)
		case 2:
			LEAQ(Mem{Base: pd, Index: c4, Scale: 8}, q)
		case 3:
			LEAQ(Mem{Base: pd, Index: c12, Scale: 4}, q)
		}
		for j := 0; j < 4; j++ {
			VMOVUPS(v[j], col(q, j))
		}
	}
	ADDQ(U8(vb), s)
	ADDQ(U8(vb), pd)
	SUBQ(U8(vb), cl)
	JNZ(LabelRef("win_ch"))
	// pd advanced by c4 over the channels: on to the next tile's 16*c4
	LEAQ(Mem{Base: pd, Index: c12, Scale: 4}, pd)
	ADDQ(c12, pd)
	ADDQ(U8(8), po)
	DECQ(nt)
	JMP(LabelRef("win_tile"))
	Label("win_done")
	VZEROUPPER()
	RET()
}

func winogradOut() {
	TEXT("winogradOutF2x2"+sfx, NOSPLIT, "func(dst, src *float32, offs *int, bias *float32, ntiles, n, rowStride int, lo, hi float32)")
	Doc("winogradOutF2x2" + sfx + ": the 2x2 block at dst[offs[t]:] = clamp(A^T M A + bias, lo, hi) of src[t*16*n+p*n+co].")
	pd, ps, po, pb := GP64(), GP64(), GP64(), GP64()
	Load(Param("dst"), pd)
	Load(Param("src"), ps)
	Load(Param("offs"), po)
	Load(Param("bias"), pb)
	nt, n4, rs4 := GP64(), GP64(), GP64()
	Load(Param("ntiles"), nt)
	Load(Param("n"), n4)
	SHLQ(U8(2), n4)
	Load(Param("rowStride"), rs4)
	SHLQ(U8(2), rs4)
	n12 := GP64()
	LEAQ(Mem{Base: n4, Index: n4, Scale: 2}, n12)
	lo, hi := vec(), vec()
	VBROADCASTSS(addr("lo"), lo)
	VBROADCASTSS(addr("hi"), hi)
	Label("wout_tile")
	TESTQ(nt, nt)
	JZ(LabelRef("wout_done"))
	o := GP64()
	MOVQ(Mem{Base: po}, o)
	LEAQ(Mem{Base: pd, Index: o, Scale: 4}, o)
	bp := GP64()
	MOVQ(pb, bp)
	cl := GP64()
	MOVQ(n4, cl)
	Label("wout_ch")
	col := func(base Register, j int) Mem {
		switch j {
		case 0:
			return Mem{Base: base}
		case 1:
			return Mem{Base: base, Index: n4, Scale: 1}
		case 2:
			return Mem{Base: base, Index: n4, Scale: 2}
		}
		return Mem{Base: base, Index: n12, Scale: 1}
	}
	q := GP64()
	var s0, s1 [4]VecVirtual
	for i := 0; i < 4; i++ {
		switch i {
		case 0:
			MOVQ(ps, q)
		case 1:
			LEAQ(Mem{Base: ps, Index: n4, Scale: 4}, q)
		case 2:
			LEAQ(Mem{Base: ps, Index: n4, Scale: 8}, q)
		case 3:
			LEAQ(Mem{Base: ps, Index: n12, Scale: 4}, q)
		}
		s0[i], s1[i] = vec(), vec()
		VMOVUPS(col(q, 0), s0[i])
		VADDPS(col(q, 1), s0[i], s0[i])
		VADDPS(col(q, 2), s0[i], s0[i])
		VMOVUPS(col(q, 1), s1[i])
		VSUBPS(col(q, 2), s1[i], s1[i])
		VSUBPS(col(q, 3), s1[i], s1[i])
	}
	b := vec()
	VMOVUPS(Mem{Base: bp}, b)
	// y00 = ((s0[0]+s0[1])+s0[2])+b, y10 = ((s0[1]-s0[2])-s0[3])+b; likewise column 1 from s1
	ys := [4]VecVirtual{}
	for k, src := range [][4]VecVirtual{s0, s1} {
		y0, y1 := vec(), vec()
		VADDPS(src[1], src[0], y0)
		VADDPS(src[2], y0, y0)
		VSUBPS(src[2], src[1], y1)
		VSUBPS(src[3], y1, y1)
		ys[k], ys[2+k] = y0, y1
	}
	for k := range ys {
		VADDPS(b, ys[k], ys[k])
		VMAXPS(ys[k], lo, ys[k]) // operand order keeps NaN (as in the GEMM stores)
		VMINPS(ys[k], hi, ys[k])
	}
	r1 := GP64()
	LEAQ(Mem{Base: o, Index: rs4, Scale: 1}, r1)
	VMOVUPS(ys[0], Mem{Base: o})
	VMOVUPS(ys[1], Mem{Base: o, Index: n4, Scale: 1})
	VMOVUPS(ys[2], Mem{Base: r1})
	VMOVUPS(ys[3], Mem{Base: r1, Index: n4, Scale: 1})
	ADDQ(U8(vb), o)
	ADDQ(U8(vb), ps)
	ADDQ(U8(vb), bp)
	SUBQ(U8(vb), cl)
	JNZ(LabelRef("wout_ch"))
	LEAQ(Mem{Base: ps, Index: n12, Scale: 4}, ps)
	ADDQ(n12, ps)
	ADDQ(U8(8), po)
	DECQ(nt)
	JMP(LabelRef("wout_tile"))
	Label("wout_done")
	VZEROUPPER()
	RET()
}
