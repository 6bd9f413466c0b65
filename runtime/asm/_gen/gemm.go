package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

type gemmCfg struct {
	name   string
	mr, nr int
	vb     int // vector bytes: 32 (ymm) or 64 (zmm)
	avx512 bool
	// gemv emits the m == 1 path over four column blocks at a time (useless for the
	// narrow kernel, which Gemm runs only on a single column block).
	gemv4 bool
	// kparts > 1 splits every element's k sum over that many partial sums (a power of
	// two), product p going to partial p mod kparts: partial 0 starts at the bias, the
	// others at zero, and they are added as a pairwise tree ((s0+s1)+(s2+s3) for 4) before
	// the clamp. Every tile height does the same, so a row's bits never depend on the tile
	// that computes it. 0 or 1: one chain per element (bias, then k in order).
	kparts int
}

func (g gemmCfg) nv() int { return g.nr * 4 / g.vb } // vectors per tile row

func (g gemmCfg) vec() VecVirtual {
	if g.avx512 {
		return ZMM()
	}
	return YMM()
}

var labelN int

func lbl(s string) string { labelN++; return fmt.Sprintf("%s_%d", s, labelN) }

// rowAddr addresses row r of a tile from the bases of its 4-row groups (bases[g] is
// row 4g): base, base+ld, base+2ld, base+3ld.
func rowAddr(r int, bases []GPVirtual, ld, ld3 GPVirtual, disp int) Mem {
	base := bases[r/4]
	switch r % 4 {
	case 0:
		return Mem{Base: base, Disp: disp}
	case 1:
		return Mem{Base: base, Index: ld, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: base, Index: ld, Scale: 2, Disp: disp}
	}
	return Mem{Base: base, Index: ld3, Scale: 1, Disp: disp}
}

// gemmMasks holds the column mask tables by NR (one per generated file and width).
var gemmMasks = map[int]Mem{}

func gemm(g gemmCfg) {
	var maskTbl Mem
	if m, ok := gemmMasks[g.nr]; ok && !g.avx512 {
		maskTbl = m
	} else if !g.avx512 {
		// NR ones then NR zeros: NR values from offset NR-n are n ones.
		maskTbl = GLOBL(fmt.Sprintf("gemmMask%d", g.nr), RODATA|NOPTR)
		for i := 0; i < g.nr; i++ {
			DATA(4*i, U32(0xffffffff))
		}
		for i := g.nr; i < 2*g.nr; i++ {
			DATA(4*i, U32(0))
		}
		gemmMasks[g.nr] = maskTbl
	}
	TEXT(g.name, NOSPLIT, "func(m, n, k int, a *float32, lda int, packed *float32, c *float32, ldc int, lo, hi float32)")
	Doc(fmt.Sprintf("%s computes C = clamp(A*B + bias, lo, hi) on a %dx%d register tile; see the stub.", g.name, g.mr, g.nr))

	if g.kparts > 1 {
		narrowSpill = AllocLocal(g.mr * g.nv() * g.vb)
	}
	if g.gemv4 {
		g.gemv()
	}
	Label("colloop")
	n := GP64()
	Load(Param("n"), n)
	CMPQ(n, Imm(0))
	JLE(LabelRef("done"))
	ap := GP64()
	Load(Param("a"), ap)
	cp := GP64()
	Load(Param("c"), cp)
	mm := GP64()
	Load(Param("m"), mm)
	CMPQ(n, U32(g.nr))
	JL(LabelRef("partial"))
	g.rows(ap, cp, mm, true, maskTbl)
	JMP(LabelRef("colnext"))
	Label("partial")
	g.rows(ap, cp, mm, false, maskTbl)

	Label("colnext")
	k := GP64()
	Load(Param("k"), k)
	INCQ(k)
	IMUL3Q(U32(g.nr*4), k, k)
	ADDQ(k, addr("packed"))
	ADDQ(U32(g.nr*4), addr("c"))
	SUBQ(U32(g.nr), addr("n"))
	JMP(LabelRef("colloop"))

	Label("done")
	VZEROUPPER()
	RET()
}

// rows runs the row tiles of one column block: full MR tiles, then one remainder tile.
func (g gemmCfg) rows(ap, cp, mm GPVirtual, full bool, maskTbl Mem) {
	loop, rem, end := lbl("rows"), lbl("rem"), lbl("rowsend")
	Label(loop)
	CMPQ(mm, U32(g.mr))
	JL(LabelRef(rem))
	g.tile(g.mr, ap, cp, full, maskTbl)
	t := GP64()
	Load(Param("lda"), t)
	IMUL3Q(U32(g.mr*4), t, t)
	ADDQ(t, ap)
	t2 := GP64()
	Load(Param("ldc"), t2)
	IMUL3Q(U32(g.mr*4), t2, t2)
	ADDQ(t2, cp)
	SUBQ(U32(g.mr), mm)
	JMP(LabelRef(loop))
	Label(rem)
	var labels []string
	for r := 1; r < g.mr; r++ {
		l := lbl(fmt.Sprintf("rem%d", r))
		labels = append(labels, l)
		CMPQ(mm, U32(r))
		JE(LabelRef(l))
	}
	JMP(LabelRef(end))
	for r := 1; r < g.mr; r++ {
		Label(labels[r-1])
		g.tile(r, ap, cp, full, maskTbl)
		JMP(LabelRef(end))
	}
	Label(end)
}

// tile computes an mr x NR tile of C at cp from rows of A at ap and the current packed block.
func (g gemmCfg) tile(mr int, ap, cp GPVirtual, full bool, maskTbl Mem) {
	if g.kparts > 1 {
		g.tileParts(mr, ap, cp, full, maskTbl)
		return
	}
	nv := g.nv()
	// One accumulator per output, summed in k order from the bias: every row gets the
	// same rounding whatever tile it lands in, so results do not depend on batch size or
	// on how rows are split between threads.
	u := 1
	acc := make([][][]VecVirtual, u)
	for s := range acc {
		acc[s] = make([][]VecVirtual, mr)
		for r := range acc[s] {
			acc[s][r] = make([]VecVirtual, nv)
			for v := range acc[s][r] {
				acc[s][r][v] = g.vec()
			}
		}
	}
	pb := GP64()
	Load(Param("packed"), pb)
	for v := 0; v < nv; v++ {
		VMOVUPS(Mem{Base: pb, Disp: v * g.vb}, acc[0][0][v])
	}
	for r := 1; r < mr; r++ {
		for v := 0; v < nv; v++ {
			VMOVAPS(acc[0][0][v], acc[0][r][v])
		}
	}
	for s := 1; s < u; s++ {
		for r := 0; r < mr; r++ {
			for v := 0; v < nv; v++ {
				VXORPS(acc[s][r][v], acc[s][r][v], acc[s][r][v])
			}
		}
	}
	ADDQ(U32(g.nr*4), pb)
	kk := GP64()
	Load(Param("k"), kk)
	lda := GP64()
	Load(Param("lda"), lda)
	SHLQ(U8(2), lda)
	lda3 := GP64()
	if mr > 3 {
		LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
	}
	a0 := GP64()
	MOVQ(ap, a0)
	abase := groupBases(a0, lda, mr)
	b := make([]VecVirtual, nv)
	for v := range b {
		b[v] = g.vec()
	}
	t := g.vec()
	step := func(s int) {
		for v := 0; v < nv; v++ {
			VMOVUPS(Mem{Base: pb, Disp: s*g.nr*4 + v*g.vb}, b[v])
		}
		for r := 0; r < mr; r++ {
			VBROADCASTSS(rowAddr(r, abase, lda, lda3, 4*s), t)
			for v := 0; v < nv; v++ {
				VFMADD231PS(b[v], t, acc[s][r][v])
			}
		}
	}
	advance := func(s int) {
		ADDQ(U32(s*g.nr*4), pb)
		for _, base := range abase {
			ADDQ(U32(4*s), base)
		}
	}
	store := lbl("store")
	{
		loop1 := lbl("k1")
		TESTQ(kk, kk)
		JZ(LabelRef(store))
		Label(loop1)
		step(0)
		advance(1)
		DECQ(kk)
		JNZ(LabelRef(loop1))
		Label(store)
	}
	acc0 := acc[0]
	g.clampStore(mr, acc0, b[0], t, b, cp, full, maskTbl)
}

// clampStore clamps the mr x NV accumulators acc to [lo, hi] (lo and hi are free vector
// registers, masks nv free ones after the clamp) and stores them to the tile of C at cp.
func (g gemmCfg) clampStore(mr int, acc [][]VecVirtual, lo, hi VecVirtual, masks []VecVirtual, cp GPVirtual, full bool, maskTbl Mem) {
	nv := g.nv()
	// clamp: operand order keeps a NaN accumulator NaN (max/min return the last operand on NaN)
	VBROADCASTSS(addr("lo"), lo)
	VBROADCASTSS(addr("hi"), hi)
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			VMAXPS(acc[r][v], lo, acc[r][v])
			VMINPS(acc[r][v], hi, acc[r][v])
		}
	}
	ldc := GP64()
	Load(Param("ldc"), ldc)
	SHLQ(U8(2), ldc)
	ldc3 := GP64()
	if mr > 3 {
		LEAQ(Mem{Base: ldc, Index: ldc, Scale: 2}, ldc3)
	}
	cbase := groupBases(cp, ldc, mr)
	if full {
		for r := 0; r < mr; r++ {
			for v := 0; v < nv; v++ {
				VMOVUPS(acc[r][v], rowAddr(r, cbase, ldc, ldc3, v*g.vb))
			}
		}
		return
	}
	nc := GP64()
	Load(Param("n"), nc) // 0 < n < NR here
	if g.avx512 {
		m32 := GP32()
		MOVL(U32(0xffffffff), m32)
		BZHIL(nc.As32(), m32, m32)
		KMOVW(m32, K1)
		SHRL(U8(16), m32)
		KMOVW(m32, K2)
		ks := []Register{K1, K2}
		for r := 0; r < mr; r++ {
			for v := 0; v < nv; v++ {
				VMOVUPS(acc[r][v], ks[v], rowAddr(r, cbase, ldc, ldc3, v*g.vb))
			}
		}
		return
	}
	// AVX2: masks from a table of 16 ones then 16 zeros, offset by NR-n.
	tp := GP64()
	LEAQ(maskTbl, tp)
	NEGQ(nc)
	ADDQ(U32(g.nr), nc)
	for v := 0; v < nv; v++ {
		VMOVUPS(Mem{Base: tp, Index: nc, Scale: 4, Disp: v * g.vb}, masks[v])
	}
	for r := 0; r < mr; r++ {
		for v := 0; v < nv; v++ {
			VMASKMOVPS(acc[r][v], masks[v], rowAddr(r, cbase, ldc, ldc3, v*g.vb))
		}
	}
}

// groupBases returns the base registers of the 4-row groups of an mr-row tile: base0
// itself, then base0 + 4g*ld (ld in bytes) for g >= 1.
func groupBases(base0, ld GPVirtual, mr int) []GPVirtual {
	bases := []GPVirtual{base0}
	for g := 1; 4*g < mr; g++ {
		b := GP64()
		LEAQ(Mem{Base: bases[g-1], Index: ld, Scale: 4}, b)
		bases = append(bases, b)
	}
	return bases
}

// addr is the stack address of a scalar parameter.
func addr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// gemv handles m == 1 four column blocks at a time: 4*NV independent accumulator chains
// (each still the bias plus the k products in order) keep the FMA pipes busy while the
// four packed blocks stream in. It leaves the remaining (< 4) blocks to the tile loops.
func (g gemmCfg) gemv() {
	nv := g.nv()
	m := GP64()
	Load(Param("m"), m)
	CMPQ(m, Imm(1))
	JNE(LabelRef("colloop"))
	Label("gemv4")
	n := GP64()
	Load(Param("n"), n)
	CMPQ(n, U32(4*g.nr))
	JL(LabelRef("colloop"))
	blk := GP64()
	Load(Param("k"), blk)
	INCQ(blk)
	IMUL3Q(U32(g.nr*4), blk, blk)
	blk3 := GP64()
	LEAQ(Mem{Base: blk, Index: blk, Scale: 2}, blk3)
	pb := GP64()
	Load(Param("packed"), pb)
	blkAddr := func(q, disp int) Mem {
		switch q {
		case 0:
			return Mem{Base: pb, Disp: disp}
		case 1:
			return Mem{Base: pb, Index: blk, Scale: 1, Disp: disp}
		case 2:
			return Mem{Base: pb, Index: blk, Scale: 2, Disp: disp}
		}
		return Mem{Base: pb, Index: blk3, Scale: 1, Disp: disp}
	}
	acc := make([][]VecVirtual, 4)
	for q := range acc {
		acc[q] = make([]VecVirtual, nv)
		for v := range acc[q] {
			acc[q][v] = g.vec()
			VMOVUPS(blkAddr(q, v*g.vb), acc[q][v])
		}
	}
	ADDQ(U32(g.nr*4), pb)
	a0 := GP64()
	Load(Param("a"), a0)
	kk := GP64()
	Load(Param("k"), kk)
	t := g.vec()
	TESTQ(kk, kk)
	JZ(LabelRef("gemvstore"))
	Label("gemvk")
	VBROADCASTSS(Mem{Base: a0}, t)
	for q := 0; q < 4; q++ {
		for v := 0; v < nv; v++ {
			VFMADD231PS(blkAddr(q, v*g.vb), t, acc[q][v])
		}
	}
	ADDQ(U32(g.nr*4), pb)
	ADDQ(U32(4), a0)
	DECQ(kk)
	JNZ(LabelRef("gemvk"))
	Label("gemvstore")
	lo, hi := t, g.vec()
	VBROADCASTSS(addr("lo"), lo)
	VBROADCASTSS(addr("hi"), hi)
	cp := GP64()
	Load(Param("c"), cp)
	for q := 0; q < 4; q++ {
		for v := 0; v < nv; v++ {
			VMAXPS(acc[q][v], lo, acc[q][v])
			VMINPS(acc[q][v], hi, acc[q][v])
			VMOVUPS(acc[q][v], Mem{Base: cp, Disp: (q*nv + v) * g.vb})
		}
	}
	SHLQ(U8(2), blk)
	ADDQ(blk, addr("packed"))
	ADDQ(U32(4*g.nr*4), addr("c"))
	SUBQ(U32(4*g.nr), addr("n"))
	JMP(LabelRef("gemv4"))
}

// narrowSpill is the stack area (g.mr vectors) where tileParts keeps the first pass's
// partial sums while the second pass runs.
var narrowSpill Mem

// maxPartAcc is how many accumulators tileParts keeps live: with B's vector and the A
// broadcast that is 14 of the 16 ymm registers.
const maxPartAcc = 12

// tileParts is tile with each element's k sum split into u = g.kparts partials (see
// gemmCfg). A tile of mr rows keeps L partials per element live (the largest power of two
// <= u with mr*L*NV <= maxPartAcc) and runs u/L passes over k, pass q taking partials
// qL..qL+L-1. Within a pass the L partials are added as a pairwise tree, each pair as
// (upper + lower); the first pass's sum waits on the stack and the second pass's sum is
// added to it the same way, so every tile height gives the same (s3+s2)+(s1+s0) bits.
// At most 2 passes.
func (g gemmCfg) tileParts(mr int, ap, cp GPVirtual, full bool, maskTbl Mem) {
	nv, u := g.nv(), g.kparts
	L := u
	for L > 1 && mr*L*nv > maxPartAcc {
		L /= 2
	}
	passes := u / L
	if passes > 2 {
		panic(fmt.Sprintf("tileParts: %d rows need %d passes", mr, passes))
	}
	acc := make([][][]VecVirtual, L)
	for s := range acc {
		acc[s] = make([][]VecVirtual, mr)
		for r := range acc[s] {
			acc[s][r] = make([]VecVirtual, nv)
			for v := range acc[s][r] {
				acc[s][r][v] = g.vec()
			}
		}
	}
	b := make([]VecVirtual, nv)
	for v := range b {
		b[v] = g.vec()
	}
	t := g.vec()
	for q := 0; q < passes; q++ {
		pb := GP64()
		Load(Param("packed"), pb)
		for s := 0; s < L; s++ {
			for r := 0; r < mr; r++ {
				for v := 0; v < nv; v++ {
					if q == 0 && s == 0 {
						if r == 0 {
							VMOVUPS(Mem{Base: pb, Disp: v * g.vb}, acc[0][0][v])
						} else {
							VMOVAPS(acc[0][0][v], acc[0][r][v])
						}
						continue
					}
					VXORPS(acc[s][r][v], acc[s][r][v], acc[s][r][v])
				}
			}
		}
		// pass q starts at product qL: skip the bias row and qL weight rows
		ADDQ(U32((1+q*L)*g.nr*4), pb)
		kk := GP64()
		Load(Param("k"), kk)
		lda := GP64()
		Load(Param("lda"), lda)
		SHLQ(U8(2), lda)
		lda3 := GP64()
		if mr > 3 {
			LEAQ(Mem{Base: lda, Index: lda, Scale: 2}, lda3)
		}
		a0 := GP64()
		if q == 0 {
			MOVQ(ap, a0)
		} else {
			LEAQ(Mem{Base: ap, Disp: 4 * q * L}, a0)
		}
		abase := groupBases(a0, lda, mr)
		step := func(s int) {
			for v := 0; v < nv; v++ {
				VMOVUPS(Mem{Base: pb, Disp: s*g.nr*4 + v*g.vb}, b[v])
			}
			for r := 0; r < mr; r++ {
				VBROADCASTSS(rowAddr(r, abase, lda, lda3, 4*s), t)
				for v := 0; v < nv; v++ {
					VFMADD231PS(b[v], t, acc[s][r][v])
				}
			}
		}
		loopU, tail, end := lbl("ku"), lbl("ktail"), lbl("kend")
		CMPQ(kk, U32(u))
		JL(LabelRef(tail))
		Label(loopU)
		for s := 0; s < L; s++ {
			step(s)
		}
		ADDQ(U32(u*g.nr*4), pb)
		for _, base := range abase {
			ADDQ(U32(4*u), base)
		}
		SUBQ(U32(u), kk)
		CMPQ(kk, U32(u))
		JGE(LabelRef(loopU))
		Label(tail)
		// kk = k mod u products remain, product p to partial p mod u: this pass's partial
		// qL+s takes one if kk > qL+s
		for s := 0; s < L; s++ {
			if q*L+s >= u-1 {
				break // kk <= u-1
			}
			CMPQ(kk, U32(q*L+s))
			JLE(LabelRef(end))
			step(s)
		}
		Label(end)
		for w := 1; w < L; w *= 2 {
			for s := 0; s+w < L; s += 2 * w {
				for r := 0; r < mr; r++ {
					for v := 0; v < nv; v++ {
						VADDPS(acc[s][r][v], acc[s+w][r][v], acc[s][r][v]) // upper + lower
					}
				}
			}
		}
		for r := 0; r < mr; r++ {
			for v := 0; v < nv; v++ {
				m := narrowSpill.Offset((r*nv + v) * g.vb)
				if q == 0 && passes > 1 {
					VMOVUPS(acc[0][r][v], m)
				} else if q > 0 {
					VADDPS(m, acc[0][r][v], acc[0][r][v]) // second pass's sum + first's
				}
			}
		}
	}
	g.clampStore(mr, acc[0], b[0], t, b, cp, full, maskTbl)
}
