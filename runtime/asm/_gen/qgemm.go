package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// qgemmCfg describes one int8 GEMM kernel: u8 activations times s8 weights (VNNI, 4
// k-values per 32-bit lane) or zero-extended u16 activations times s16 weights (AVX2
// without VNNI, 2 k-values per lane through VPMADDWD, which is exact: no int16
// saturation as with VPMADDUBSW), int32 sums, and a float output stage.
type qgemmCfg struct {
	name   string
	mr, nr int
	vb     int  // vector bytes
	vnni   bool // VPDPBUSD (EVEX) in zmm; else VPMADDWD+VPADDD in ymm
	vex    bool // AVX-VNNI: VPDPBUSD in ymm, re-encoded as VEX by vexVNNI after avo
	round  bool // requantize: round to the int grid, clamp, scale by sy; else +bias, clamp
	pool   bool // requantize the max of each 4 consecutive rows (a fused 2x2 max pool): m%4 == 0, m/4 output rows
	u8     bool // requantize to stored A elements q+zp (VPMOVDB; AVX-VNNI: packs, n%4 == 0; AVX2: u16, n%2 == 0)
}

// qgemmPerm is the dword order that undoes VPACKSSDW/VPACKUSWB's lane interleave (one
// per generated file).
var qgemmPerm *Mem

// cb is the bytes of one output element.
func (g qgemmCfg) cb() int {
	switch {
	case g.u16():
		return 2
	case g.u8:
		return 1
	}
	return 4
}

// u16 is the widening kernel's stored output: q+zp as the u16 A elements it reads.
func (g qgemmCfg) u16() bool { return g.u8 && !g.vnni && !g.vex }

func (g qgemmCfg) nv() int { return g.nr * 4 / g.vb }

func (g qgemmCfg) vec() VecVirtual {
	if g.vnni {
		return ZMM()
	}
	return YMM()
}

func qgemmKernels(vnni, vex bool) {
	for _, v := range []struct{ round, pool, u8 bool }{{true, false, false}, {false, false, false}, {true, true, false}, {true, false, true}, {true, true, true}} {
		round := v.round
		g := qgemmCfg{mr: 4, nr: 16, vb: 32, round: round, vex: vex, pool: v.pool, u8: v.u8}
		if vnni {
			g = qgemmCfg{mr: 8, nr: 32, vb: 64, vnni: true, round: round, pool: v.pool, u8: v.u8}
		}
		op := "Float"
		if round {
			op = "Requant"
		}
		if v.pool {
			op = "RequantPool"
		}
		if v.u8 {
			op += "Bytes"
		}
		isa := "AVX2"
		switch {
		case vnni:
			isa = "VNNI512"
		case vex:
			isa = "AVXVNNI"
		}
		g.name = fmt.Sprintf("qgemm%s%dx%d%s", op, g.mr, g.nr, isa)
		g.gen()
	}
}

func (g qgemmCfg) gen() {
	var maskTbl Mem
	if !g.vnni {
		if m, ok := gemmMasks[g.nr]; ok {
			maskTbl = m
		} else {
			maskTbl = GLOBL(fmt.Sprintf("qgemmMask%d", g.nr), RODATA|NOPTR)
			for i := 0; i < 2*g.nr; i++ {
				v := uint32(0)
				if i < g.nr {
					v = 0xffffffff
				}
				DATA(4*i, U32(v))
			}
			gemmMasks[g.nr] = maskTbl
		}
	}
	sig := "func(m, n, kg int, a *byte, lda int, packed *byte, c *float32, ldc int, corr *int32, scale *float32, bias *float32, lo, hi, sy float32)"
	if g.u8 {
		sig = "func(m, n, kg int, a *byte, lda int, packed *byte, c *byte, ldc int, corr *int32, scale *float32, bias *float32, lo, hi float32, zp int32)"
	}
	TEXT(g.name, NOSPLIT, sig)
	Doc(fmt.Sprintf("%s is the int8 GEMM on %dx%d tiles; see the stub.", g.name, g.mr, g.nr))
	top, done := lbl("qcol"), lbl("qdone")
	Label(top)
	n := GP64()
	Load(Param("n"), n)
	CMPQ(n, Imm(0))
	JLE(LabelRef(done))
	ap, cp, mm := GP64(), GP64(), GP64()
	Load(Param("a"), ap)
	Load(Param("c"), cp)
	Load(Param("m"), mm)
	part, next := lbl("qpart"), lbl("qnext")
	CMPQ(n, U32(g.nr))
	JL(LabelRef(part))
	g.rows(ap, cp, mm, true, maskTbl)
	JMP(LabelRef(next))
	Label(part)
	g.rows(ap, cp, mm, false, maskTbl)
	Label(next)
	k := GP64()
	Load(Param("kg"), k)
	IMUL3Q(U32(g.nr*4), k, k)
	ADDQ(k, addr("packed"))
	ADDQ(U32(g.nr*g.cb()), addr("c"))
	for _, p := range []string{"corr", "scale"} {
		ADDQ(U32(g.nr*4), addr(p))
	}
	if !g.round {
		ADDQ(U32(g.nr*4), addr("bias"))
	}
	SUBQ(U32(g.nr), addr("n"))
	JMP(LabelRef(top))
	Label(done)
	VZEROUPPER()
	RET()
}

// rows runs full MR tiles down one column block, then the remainder as 4-, 2- and
// 1-row tiles (m < MR after the full tiles, so its binary digits cover it).
func (g qgemmCfg) rows(ap, cp, mm GPVirtual, full bool, maskTbl Mem) {
	loop, rem := lbl("qrows"), lbl("qrem")
	Label(loop)
	CMPQ(mm, U32(g.mr))
	JL(LabelRef(rem))
	g.tile(g.mr, ap, cp, full, maskTbl)
	g.advance(g.mr, ap, cp, mm)
	JMP(LabelRef(loop))
	Label(rem)
	for r := g.mr / 2; r >= 1 && (!g.pool || r >= 4); r /= 2 { // pool: m%4 == 0
		skip := lbl("qskip")
		TESTQ(U32(r), mm)
		JZ(LabelRef(skip))
		g.tile(r, ap, cp, full, maskTbl)
		g.advance(r, ap, cp, mm)
		Label(skip)
	}
}

func (g qgemmCfg) advance(r int, ap, cp, mm GPVirtual) {
	t := GP64()
	Load(Param("lda"), t)
	IMUL3Q(U32(r), t, t)
	ADDQ(t, ap)
	t2 := GP64()
	Load(Param("ldc"), t2)
	IMUL3Q(U32(g.outRows(r)*g.cb()), t2, t2)
	ADDQ(t2, cp)
	SUBQ(U32(r), mm)
}

// tile computes an r x NR tile. Integer sums are exact in any order, so short tiles
// split k over several partial sums (r*NV*parts chains hide the dot latency).
func (g qgemmCfg) tile(r int, ap, cp GPVirtual, full bool, maskTbl Mem) {
	nv := g.nv()
	parts := min(g.mr/r, 8)
	acc := make([][][]VecVirtual, parts)
	for p := range acc {
		acc[p] = make([][]VecVirtual, r)
		for i := range acc[p] {
			acc[p][i] = make([]VecVirtual, nv)
			for v := range acc[p][i] {
				x := g.vec()
				acc[p][i][v] = x
				VXORPS(x, x, x) // avo treats VXORPS x,x,x (not VPXORD) as a write-only zero idiom
			}
		}
	}
	pb := GP64()
	Load(Param("packed"), pb)
	kk := GP64()
	Load(Param("kg"), kk)
	lda := GP64()
	Load(Param("lda"), lda)
	lda3 := GP64()
	if r > 3 {
		LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
	}
	a0 := GP64()
	MOVQ(ap, a0)
	bases := []GPVirtual{a0}
	for q := 1; 4*q < r; q++ {
		b := GP64()
		LEAQ(Mem{Base: bases[q-1], Index: lda, Scale: 4}, b)
		bases = append(bases, b)
	}
	b := make([]VecVirtual, nv)
	for v := range b {
		b[v] = g.vec()
	}
	t, tmp := g.vec(), g.vec()
	step := func(p int) {
		for v := 0; v < nv; v++ {
			if g.vnni {
				VMOVDQU32(Mem{Base: pb, Disp: p*g.nr*4 + v*g.vb}, b[v])
			} else {
				VMOVDQU(Mem{Base: pb, Disp: p*g.nr*4 + v*g.vb}, b[v])
			}
		}
		for i := 0; i < r; i++ {
			VPBROADCASTD(rowAddr(i, bases, lda, lda3, 4*p), t)
			for v := 0; v < nv; v++ {
				if g.vnni || g.vex {
					VPDPBUSD(b[v], t, acc[p][i][v])
				} else {
					VPMADDWD(b[v], t, tmp)
					VPADDD(tmp, acc[p][i][v], acc[p][i][v])
				}
			}
		}
	}
	adv := func(s int) {
		ADDQ(U32(s*g.nr*4), pb)
		for _, base := range bases {
			ADDQ(U32(4*s), base)
		}
	}
	if parts > 1 {
		loopP, tail := lbl("qkp"), lbl("qkt")
		Label(loopP)
		CMPQ(kk, U32(parts))
		JL(LabelRef(tail))
		for p := 0; p < parts; p++ {
			step(p)
		}
		adv(parts)
		SUBQ(U32(parts), kk)
		JMP(LabelRef(loopP))
		Label(tail)
	}
	loop1, end := lbl("qk1"), lbl("qkend")
	TESTQ(kk, kk)
	JZ(LabelRef(end))
	Label(loop1)
	step(0)
	adv(1)
	DECQ(kk)
	JNZ(LabelRef(loop1))
	Label(end)
	for p := 1; p < parts; p++ {
		for i := 0; i < r; i++ {
			for v := 0; v < nv; v++ {
				VPADDD(acc[p][i][v], acc[0][i][v], acc[0][i][v])
			}
		}
	}
	g.output(r, acc[0], cp, full, maskTbl)
}

// outRows is the output rows of an r-row tile.
func (g qgemmCfg) outRows(r int) int {
	if g.pool {
		return r / 4
	}
	return r
}

// output turns int32 sums into float32 outputs and stores them:
// f = float(acc+corr[j])*scale[j]; requant: round(clamp(f, lo, hi)) * sy (lo/hi are the
// integer limits minus the zero point, so clamping before rounding is ORT's order);
// float: clamp(f + bias[j], lo, hi).
func (g qgemmCfg) output(r int, acc [][]VecVirtual, cp GPVirtual, full bool, maskTbl Mem) {
	nv := g.nv()
	if g.pool {
		// max before the output stage: corr is per column and scale positive, so the
		// stage is monotone and commutes with the max (clamp and rounding too)
		var out [][]VecVirtual
		for o := 0; o < r; o += 4 {
			for v := 0; v < nv; v++ {
				for i := o + 1; i < o+4; i++ {
					VPMAXSD(acc[i][v], acc[o][v], acc[o][v])
				}
			}
			out = append(out, acc[o])
		}
		acc, r = out, r/4
	}
	lo, hi, sy := g.vec(), g.vec(), g.vec()
	VBROADCASTSS(addr("lo"), lo)
	VBROADCASTSS(addr("hi"), hi)
	switch {
	case g.u8:
		zg := Load(Param("zp"), GP32())
		if g.vnni {
			VPBROADCASTD(zg, sy) // sy holds the stored zero point
		} else { // AVX2 broadcasts from an xmm only
			MOVD(zg, sy.AsX())
			VPBROADCASTD(sy.AsX(), sy)
		}
	case g.round:
		VBROADCASTSS(addr("sy"), sy)
	}
	cr, sr, br := GP64(), GP64(), GP64()
	Load(Param("corr"), cr)
	Load(Param("scale"), sr)
	if !g.round {
		Load(Param("bias"), br)
	}
	cv, sv := g.vec(), g.vec()
	for v := 0; v < nv; v++ {
		if g.vnni {
			VMOVDQU32(Mem{Base: cr, Disp: v * g.vb}, cv)
		} else {
			VMOVDQU(Mem{Base: cr, Disp: v * g.vb}, cv)
		}
		VMOVUPS(Mem{Base: sr, Disp: v * g.vb}, sv)
		var bv VecVirtual
		if !g.round {
			bv = g.vec()
			VMOVUPS(Mem{Base: br, Disp: v * g.vb}, bv)
		}
		for i := 0; i < r; i++ {
			x := acc[i][v]
			VPADDD(cv, x, x)
			VCVTDQ2PS(x, x)
			VMULPS(sv, x, x)
			if g.round {
				VMAXPS(lo, x, x)
				VMINPS(hi, x, x)
				VCVTPS2DQ(x, x)
				if g.u8 {
					VPADDD(sy, x, x) // q+zp in 0..255
				} else {
					VCVTDQ2PS(x, x)
					VMULPS(sy, x, x)
				}
			} else {
				VADDPS(bv, x, x)
				VMAXPS(lo, x, x)
				VMINPS(hi, x, x)
			}
		}
	}
	if g.u16() {
		// 16 dwords in two ymm -> 16 u16 in the first
		for i := 0; i < r; i++ {
			x := acc[i][0]
			VPACKUSDW(acc[i][1], x, x) // [a0-3 b0-3 | a4-7 b4-7]
			VPERMQ(U8(0xd8), x, x)     // a0-7 b0-7
		}
	}
	if g.u8 && !g.vnni && !g.u16() {
		// 16 dwords in two ymm -> 16 bytes in the low xmm of the first
		if qgemmPerm == nil {
			t := GLOBL("qgemmPerm", RODATA|NOPTR)
			for i, v := range []uint32{0, 4, 1, 5, 2, 6, 3, 7} {
				DATA(4*i, U32(v))
			}
			qgemmPerm = &t
		}
		perm := g.vec()
		VMOVDQU(*qgemmPerm, perm)
		for i := 0; i < r; i++ {
			x := acc[i][0]
			VPACKSSDW(acc[i][1], x, x) // [a0-3 b0-3 | a4-7 b4-7] int16
			VPACKUSWB(x, x, x)         // [a0-3 b0-3 a0-3 b0-3 | a4-7 b4-7 ...] bytes
			VPERMD(x, perm, x)         // a0-7 b0-7 in the low xmm
		}
	}
	ldc := GP64()
	Load(Param("ldc"), ldc)
	switch { // to bytes
	case g.u16():
		SHLQ(U8(1), ldc)
	case !g.u8:
		SHLQ(U8(2), ldc)
	}
	ldc3 := GP64()
	if r > 3 {
		LEAQ(Mem{Base: ldc, Index: ldc, Scale: 2}, ldc3)
	}
	cbase := groupBases(cp, ldc, r)
	if full && g.u8 && !g.vnni {
		for i := 0; i < r; i++ {
			if g.u16() {
				VMOVDQU(acc[i][0], rowAddr(i, cbase, ldc, ldc3, 0))
			} else {
				VMOVDQU(acc[i][0].AsX(), rowAddr(i, cbase, ldc, ldc3, 0))
			}
		}
		return
	}
	if full {
		for i := 0; i < r; i++ {
			for v := 0; v < nv; v++ {
				if g.u8 {
					VPMOVDB(acc[i][v], rowAddr(i, cbase, ldc, ldc3, v*g.vb/4))
					continue
				}
				VMOVUPS(acc[i][v], rowAddr(i, cbase, ldc, ldc3, v*g.vb))
			}
		}
		return
	}
	nc := GP64()
	Load(Param("n"), nc)
	if g.vnni {
		m32 := GP32()
		MOVL(U32(0xffffffff), m32)
		BZHIL(nc.As32(), m32, m32)
		KMOVW(m32, K1)
		SHRL(U8(16), m32)
		KMOVW(m32, K2)
		ks := []Register{K1, K2}
		for i := 0; i < r; i++ {
			for v := 0; v < nv; v++ {
				if g.u8 {
					VPMOVDB(acc[i][v], ks[v], rowAddr(i, cbase, ldc, ldc3, v*g.vb/4))
					continue
				}
				VMOVUPS(acc[i][v], ks[v], rowAddr(i, cbase, ldc, ldc3, v*g.vb))
			}
		}
		return
	}
	tp := GP64()
	LEAQ(maskTbl, tp)
	if g.u16() { // n%2 == 0: whole dwords of u16 pairs, n/2 of them
		SHRQ(U8(1), nc)
		NEGQ(nc)
		ADDQ(U32(g.nr), nc)
		mk := YMM()
		VMOVDQU(Mem{Base: tp, Index: nc, Scale: 4}, mk)
		for i := 0; i < r; i++ {
			VPMASKMOVD(acc[i][0], mk, rowAddr(i, cbase, ldc, ldc3, 0))
		}
		return
	}
	if g.u8 { // n%4 == 0: whole dwords of bytes, n/4 of them
		SHRQ(U8(2), nc)
		NEGQ(nc)
		ADDQ(U32(g.nr), nc)
		mk := XMM()
		VMOVDQU(Mem{Base: tp, Index: nc, Scale: 4}, mk)
		for i := 0; i < r; i++ {
			VPMASKMOVD(acc[i][0].AsX(), mk, rowAddr(i, cbase, ldc, ldc3, 0))
		}
		return
	}
	NEGQ(nc)
	ADDQ(U32(g.nr), nc)
	for v := 0; v < nv; v++ {
		VMOVUPS(Mem{Base: tp, Index: nc, Scale: 4, Disp: v * g.vb}, cv)
		for i := 0; i < r; i++ {
			VMASKMOVPS(acc[i][v], cv, rowAddr(i, cbase, ldc, ldc3, v*g.vb))
		}
	}
}

// vexVNNI rewrites the ymm VPDPBUSD lines avo wrote (EVEX, AVX512-VNNI+VL) as the VEX
// form of AVX-VNNI, which the Go assembler does not encode: C4 RXB.00010 W0.vvvv.1.01
// 50 /r. Every register must be Y0..Y15 (VEX cannot name the others).
func vexVNNI(path string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	re := regexp.MustCompile(`(?m)^(\t)VPDPBUSD\s+Y(\d+), Y(\d+), Y(\d+)$`)
	var bad error
	out := re.ReplaceAllStringFunc(string(src), func(line string) string {
		m := re.FindStringSubmatch(line)
		rm, v, d := atoi(m[2]), atoi(m[3]), atoi(m[4])
		if rm > 15 || v > 15 || d > 15 {
			bad = fmt.Errorf("vexVNNI: %q uses a register VEX cannot encode", line)
		}
		b1 := 0x02 | (^d>>3&1)<<7 | 1<<6 | (^rm>>3&1)<<5
		b2 := (^v&15)<<3 | 1<<2 | 1
		modrm := 0xC0 | (d&7)<<3 | rm&7
		return fmt.Sprintf("\tBYTE $0xc4; BYTE $0x%02x; BYTE $0x%02x; BYTE $0x50; BYTE $0x%02x // {vex} VPDPBUSD Y%d, Y%d, Y%d", b1, b2, modrm, rm, v, d)
	})
	if bad != nil {
		return bad
	}
	if !strings.Contains(out, "{vex}") || regexp.MustCompile(`\tVPDPBUSD\s`).MatchString(out) {
		return fmt.Errorf("vexVNNI: a VPDPBUSD left in EVEX form, or none rewritten")
	}
	return os.WriteFile(path, []byte(out), 0o644)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}
