package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Offsets in asm.recStackDesc (8-byte fields; a and b are float32s at the end).
const (
	rsX, rsXStride, rsWX, rsBias, rsUW, rsRBH, rsRH, rsHS = 0, 8, 16, 24, 32, 40, 48, 56
	rsNin, rsU, rsUS, rsLag, rsKind, rsA, rsB             = 64, 72, 80, 88, 96, 104, 108
	rsGAct, rsCAct, rsCA, rsCB, rsSize                    = 112, 120, 128, 132, 136
)

// Stage kinds of asm.recStackDesc, in asm's order.
var rsKinds = []struct {
	name                  string
	gru, relu, hard, acts bool
	after                 bool
}{
	{name: "rnntanh"},
	{name: "rnnrelu", relu: true},
	{name: "gruafter", gru: true, after: true},
	{name: "gruafterhard", gru: true, after: true, hard: true},
	{name: "grubefore", gru: true},
	{name: "grubeforehard", gru: true, hard: true},
	{name: "gruafteracts", gru: true, after: true, acts: true},
	{name: "grubeforeacts", gru: true, acts: true},
	{name: "rnnacts", acts: true},
}

// rsActNames are asm.RecAct's kinds in order.
var rsActNames = []string{"sigmoid", "hard", "tanh", "relu", "linear", "softsign", "softplus", "selu", "softmax"}

// rsAct emits the activation whose kind is the descriptor field code (the hard
// sigmoid's a and b at aOff and bOff) applied to x: a branch per kind, each the form
// the other kernels use (the same bits as a stage of the fixed kinds).
func rsAct(lbl string, dp Register, code, aOff, bOff int, x VecVirtual) VecVirtual {
	out := YMM()
	c := GP64()
	MOVQ(dm(dp, code), c)
	for i := 1; i < len(rsActNames); i++ {
		CMPQ(c, U8(i))
		JE(LabelRef(lbl + "_" + rsActNames[i]))
	}
	for i, nm := range rsActNames {
		if i > 0 {
			Label(lbl + "_" + nm)
		}
		var r VecVirtual
		switch nm {
		case "sigmoid":
			r = sigmoidRational(x)
		case "hard":
			r = rsHard(dp, aOff, bOff)(x)
		case "tanh":
			r = tanhRational(x)
		case "relu":
			zero := YMM()
			VXORPS(zero, zero, zero)
			r = YMM()
			VMAXPS(x, zero, r) // Intel order max(0, x): x's NaN is kept
		case "linear":
			r = x
		case "softsign":
			r = softsignv(x)
		case "softplus":
			r = softplusv(x)
		case "selu":
			r = seluv(x)
		case "softmax":
			r = rsSoftmax(dp, x)
		}
		VMOVAPS(r, out)
		JMP(LabelRef(lbl + "_actdone"))
	}
	Label(lbl + "_actdone")
	return out
}

// rsHard is seqGate's hard gate clip(a*x+b, 0, 1) with a and b from the descriptor.
func rsHard(dp Register, aOff, bOff int) func(VecVirtual) VecVirtual {
	ha, hb := YMM(), YMM()
	VBROADCASTSS(dm(dp, aOff), ha)
	VBROADCASTSS(dm(dp, bOff), hb)
	return func(x VecVirtual) VecVirtual {
		r := YMM()
		VMOVAPS(hb, r)
		VFMADD231PS(ha, x, r) // a*x + b
		lim := YMM()
		VXORPS(lim, lim, lim)
		VMAXPS(r, lim, r) // Intel order max(lim, r): r's NaN is kept
		VMOVUPS(consts["one"], lim)
		VMINPS(r, lim, r)
		return r
	}
}

// recStackKernel emits RecSeqStack's kernel: up to n GRU and SimpleRNN stages stepped
// together, iteration it running each stage's step it-lag (skipped outside [0, t)).
// A stage reads its step's input row at x + s*xStride (the sample's rows, or a
// previous stage's hs rows), so stages with lag 0 and their own input are independent
// chains (the two directions of a Bidirectional) and a stage with the lag of its
// input's stage plus one is the next layer of a stack (a wavefront): the chains'
// latencies overlap. Each stage's step is the in-loop projection kernels' step
// (gruSeqKernel, rnnSeqKernel with inK) with the same operations in the same order,
// so the same bits; their arguments come from the stage's descriptor.
func recStackKernel(name string) {
	TEXT(name, NOSPLIT, "func(d *int, n, t, iters int)")
	Doc(name + ": GRU and SimpleRNN stages stepped together (see RecSeqStack).")
	it := AllocLocal(8)   // iteration
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
	IMUL3Q(U8(rsSize), nn, nn)
	ADDQ(dp, nn)
	MOVQ(nn, dend)
	XORQ(nn, nn)
	MOVQ(nn, it)
	Label(name + "_iter")
	Load(Param("d"), dp)
	Label(name + "_stage")
	sr := GP64()
	MOVQ(it, sr)
	SUBQ(Mem{Base: dp, Disp: rsLag}, sr)
	tt := GP64()
	Load(Param("t"), tt)
	CMPQ(sr, tt)
	JAE(LabelRef(name + "_next")) // s < 0 or s >= t (unsigned)
	px, ph := GP64(), GP64()
	MOVQ(sr, px)
	IMULQ(Mem{Base: dp, Disp: rsXStride}, px)
	ADDQ(Mem{Base: dp, Disp: rsX}, px)
	MOVQ(sr, ph)
	IMULQ(Mem{Base: dp, Disp: rsUS}, ph)
	ADDQ(Mem{Base: dp, Disp: rsHS}, ph)
	kind := GP64()
	MOVQ(Mem{Base: dp, Disp: rsKind}, kind)
	for i := 1; i < len(rsKinds); i++ {
		CMPQ(kind, U8(i))
		JE(LabelRef(name + "_" + rsKinds[i].name))
	}
	for i, kd := range rsKinds {
		if i > 0 {
			Label(name + "_" + kd.name)
		}
		lbl := name + "_" + kd.name
		if kd.gru {
			rsGRUStep(lbl, kd.hard, kd.after, kd.acts, dp, px, ph)
		} else {
			rsRNNStep(lbl, kd.relu, kd.acts, dp, px, ph)
		}
		JMP(LabelRef(name + "_next"))
	}
	Label(name + "_next")
	ADDQ(U8(rsSize), dp)
	CMPQ(dp, dend)
	JB(LabelRef(name + "_stage"))
	MOVQ(it, t)
	INCQ(t)
	MOVQ(t, it)
	CMPQ(t, addr("iters"))
	JL(LabelRef(name + "_iter"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// dm is a descriptor field.
func dm(dp Register, off int) Mem { return Mem{Base: dp, Disp: off} }

// rsRNNStep is rnnSeqKernel's step (inK) for the stage at dp: input row at px, h row
// at ph, the new h row at ph + us.
func rsRNNStep(lbl string, relu, acts bool, dp, px, ph Register) {
	us := GP64()
	MOVQ(dm(dp, rsUS), us)
	j := GP64()
	XORQ(j, j)
	Label(lbl + "_chunk")
	acc, acc2 := YMM(), YMM()
	wp, hp, k := GP64(), GP64(), GP64()
	VXORPS(acc2, acc2, acc2)
	MOVQ(dm(dp, rsBias), wp)
	VMOVUPS(Mem{Base: wp, Index: j, Scale: 1}, acc)
	MOVQ(dm(dp, rsWX), wp)
	ADDQ(j, wp)
	MOVQ(px, hp)
	MOVQ(dm(dp, rsNin), k)
	Label(lbl + "_x")
	bx := YMM()
	VBROADCASTSS(Mem{Base: hp}, bx)
	VFMADD231PS(Mem{Base: wp}, bx, acc2)
	ADDQ(us, wp)
	ADDQ(U8(4), hp)
	DECQ(k)
	JNZ(LabelRef(lbl + "_x"))
	MOVQ(dm(dp, rsUW), wp)
	ADDQ(j, wp)
	MOVQ(ph, hp)
	MOVQ(dm(dp, rsU), k)
	Label(lbl + "_k2")
	CMPQ(k, U8(2))
	JL(LabelRef(lbl + "_k1"))
	b0, b1 := YMM(), YMM()
	VBROADCASTSS(Mem{Base: hp}, b0)
	VBROADCASTSS(Mem{Base: hp, Disp: 4}, b1)
	VFMADD231PS(Mem{Base: wp}, b0, acc)
	VFMADD231PS(Mem{Base: wp, Index: us, Scale: 1}, b1, acc2)
	LEAQ(Mem{Base: wp, Index: us, Scale: 2}, wp)
	ADDQ(U8(8), hp)
	SUBQ(U8(2), k)
	JMP(LabelRef(lbl + "_k2"))
	Label(lbl + "_k1")
	TESTQ(k, k)
	JZ(LabelRef(lbl + "_act"))
	b2 := YMM()
	VBROADCASTSS(Mem{Base: hp}, b2)
	VFMADD231PS(Mem{Base: wp}, b2, acc)
	Label(lbl + "_act")
	VADDPS(acc2, acc, acc)
	var h VecVirtual
	if acts {
		h = rsAct(lbl+"_a", dp, rsCAct, rsCA, rsCB, acc)
	} else if relu {
		zero := YMM()
		VXORPS(zero, zero, zero)
		h = YMM()
		VMAXPS(acc, zero, h) // Intel order max(0, acc): acc's NaN is kept
	} else {
		h = tanhRational(acc)
	}
	hn := GP64()
	LEAQ(Mem{Base: ph, Index: us, Scale: 1}, hn)
	VMOVUPS(h, Mem{Base: hn, Index: j, Scale: 1})
	ADDQ(U8(32), j)
	CMPQ(j, us)
	JL(LabelRef(lbl + "_chunk"))
}

// rsGRUStep is gruSeqKernel's step (inK) for the stage at dp: input row at px, h row at
// ph, the new h row at ph + us; the hard gate's a and b from the descriptor.
func rsGRUStep(lbl string, hard, after, acts bool, dp, px, ph Register) {
	us, rowb := GP64(), GP64()
	MOVQ(dm(dp, rsUS), us)
	LEAQ(Mem{Base: us, Index: us, Scale: 2}, rowb)
	gate, cand := sigmoidRational, tanhRational
	if hard {
		gate = rsHard(dp, rsA, rsB)
	}
	if acts {
		na := 0
		gate = func(x VecVirtual) VecVirtual {
			na++
			return rsAct(fmt.Sprintf("%s_g%d", lbl, na), dp, rsGAct, rsA, rsB, x)
		}
		cand = func(x VecVirtual) VecVirtual {
			na++
			return rsAct(fmt.Sprintf("%s_c%d", lbl, na), dp, rsCAct, rsCA, rsCB, x)
		}
	}
	gm := func(base Register, g int) Mem {
		switch g {
		case 1:
			return Mem{Base: base, Index: us, Scale: 1}
		case 2:
			return Mem{Base: base, Index: us, Scale: 2}
		}
		return Mem{Base: base}
	}
	// sums: gruSeqKernel's, the count from the descriptor field n
	sums := func(lbl string, acc, acc2 []VecVirtual, gs []int, wp, vp Register, n int) {
		k := GP64()
		MOVQ(dm(dp, n), k)
		if acc2 != nil {
			Label(lbl + "_k2")
			CMPQ(k, U8(2))
			JL(LabelRef(lbl + "_k1"))
			b0, b1 := YMM(), YMM()
			VBROADCASTSS(Mem{Base: vp}, b0)
			VBROADCASTSS(Mem{Base: vp, Disp: 4}, b1)
			for i, g := range gs {
				VFMADD231PS(gm(wp, g), b0, acc[i])
			}
			ADDQ(rowb, wp)
			for i, g := range gs {
				VFMADD231PS(gm(wp, g), b1, acc2[i])
			}
			ADDQ(rowb, wp)
			ADDQ(U8(8), vp)
			SUBQ(U8(2), k)
			JMP(LabelRef(lbl + "_k2"))
		}
		Label(lbl + "_k1")
		TESTQ(k, k)
		JZ(LabelRef(lbl + "_end"))
		b2 := YMM()
		VBROADCASTSS(Mem{Base: vp}, b2)
		for i, g := range gs {
			VFMADD231PS(gm(wp, g), b2, acc[i])
		}
		if acc2 == nil {
			ADDQ(rowb, wp)
			ADDQ(U8(4), vp)
			DECQ(k)
			JMP(LabelRef(lbl + "_k1"))
		}
		Label(lbl + "_end")
	}
	zeros := func(n int) []VecVirtual {
		v := make([]VecVirtual, n)
		for i := range v {
			v[i] = YMM()
			VXORPS(v[i], v[i], v[i])
		}
		return v
	}
	zb, wp, hp, hn := GP64(), GP64(), GP64(), GP64()
	j := GP64()
	// start: the bias of gates gs into acc, the x sums into the returned second set
	start := func(lbl string, gs []int) (acc, acc2 []VecVirtual) {
		acc = make([]VecVirtual, len(gs))
		MOVQ(dm(dp, rsBias), zb)
		ADDQ(j, zb)
		for i, g := range gs {
			acc[i] = YMM()
			VMOVUPS(gm(zb, g), acc[i])
		}
		acc2 = zeros(len(gs))
		MOVQ(dm(dp, rsWX), wp)
		ADDQ(j, wp)
		MOVQ(px, hp)
		sums(lbl+"_x", acc2, nil, gs, wp, hp, rsNin)
		return acc, acc2
	}
	XORQ(j, j)
	if after {
		Label(lbl + "_chunk")
		acc, acc2 := start(lbl+"_zr", []int{0, 1})
		// start2: the candidate's bias plus x sums
		xh := []VecVirtual{YMM()}
		MOVQ(dm(dp, rsBias), zb)
		ADDQ(j, zb)
		VMOVUPS(gm(zb, 2), xh[0])
		MOVQ(dm(dp, rsWX), wp)
		ADDQ(j, wp)
		MOVQ(px, hp)
		sums(lbl+"_hx", xh, nil, []int{2}, wp, hp, rsNin)
		ah := []VecVirtual{YMM()}
		MOVQ(dm(dp, rsRBH), zb)
		VMOVUPS(Mem{Base: zb, Index: j, Scale: 1}, ah[0])
		acc, acc2 = append(acc, ah[0]), append(acc2, zeros(1)...)
		MOVQ(dm(dp, rsUW), wp)
		ADDQ(j, wp)
		MOVQ(ph, hp)
		sums(lbl, acc, acc2, []int{0, 1, 2}, wp, hp, rsU)
		for i := range acc {
			VADDPS(acc2[i], acc[i], acc[i])
		}
		r := gate(acc[1])             // r first: it is on the step chain, z only at the update, and
		z := gate(acc[0])             // their divides share the divider
		VFMADD213PS(xh[0], r, acc[2]) // xh + r*(h U_h + rbh)
		c := cand(acc[2])
		gruUpdate(z, c, Mem{Base: ph, Index: j, Scale: 1}, hn, ph, us, j)
		ADDQ(U8(32), j)
		CMPQ(j, us)
		JL(LabelRef(lbl + "_chunk"))
		return
	}
	prh, prr := GP64(), GP64()
	Label(lbl + "_zr")
	acc, acc2 := start(lbl+"_zrx", []int{0, 1})
	MOVQ(dm(dp, rsUW), wp)
	ADDQ(j, wp)
	MOVQ(ph, hp)
	sums(lbl+"_zr", acc, acc2, []int{0, 1}, wp, hp, rsU)
	for i := range acc {
		VADDPS(acc2[i], acc[i], acc[i])
	}
	r := gate(acc[1]) // r first: it is on the step chain, z only at the update, and
	z := gate(acc[0]) // their divides share the divider
	MOVQ(dm(dp, rsRH), prh)
	VMOVUPS(z, Mem{Base: prh, Index: j, Scale: 1})
	VMULPS(Mem{Base: ph, Index: j, Scale: 1}, r, r)
	ADDQ(us, prh)
	VMOVUPS(r, Mem{Base: prh, Index: j, Scale: 1})
	ADDQ(U8(32), j)
	CMPQ(j, us)
	JL(LabelRef(lbl + "_zr"))
	XORQ(j, j)
	Label(lbl + "_cand")
	ch, ch2 := start(lbl+"_candx", []int{2})
	MOVQ(dm(dp, rsUW), wp)
	ADDQ(j, wp)
	MOVQ(dm(dp, rsRH), prr)
	ADDQ(us, prr)
	MOVQ(prr, hp)
	sums(lbl+"_cand", ch, ch2, []int{2}, wp, hp, rsU)
	VADDPS(ch2[0], ch[0], ch[0])
	c := cand(ch[0])
	z = YMM()
	MOVQ(dm(dp, rsRH), prh)
	VMOVUPS(Mem{Base: prh, Index: j, Scale: 1}, z)
	gruUpdate(z, c, Mem{Base: ph, Index: j, Scale: 1}, hn, ph, us, j)
	ADDQ(U8(32), j)
	CMPQ(j, us)
	JL(LabelRef(lbl + "_cand"))
}

// rsSoftmax is the softmax over the u <= 8 units of one chunk (up == 8): lanes >= u
// masked to -Inf, exp(x - max) by expv, the lanes' sum in float32 (a butterfly, so
// every lane holds it), one divide; the masked lanes come out 0.
func rsSoftmax(dp Register, x VecVirtual) VecVirtual {
	ub, mk := YMM(), YMM()
	VPBROADCASTD(dm(dp, rsU), ub)
	VPCMPGTD(rsLaneIdx(), ub, mk) // lane < u
	ninf, v := YMM(), YMM()
	VMOVUPS(cst("neginf", float32(math.Inf(-1))), ninf)
	VBLENDVPS(mk, x, ninf, v) // lane < u ? x : -Inf
	m := rsButterfly(v, VMAXPS)
	d := YMM()
	VSUBPS(m, v, d) // v - max
	e := expv(d)
	VANDPS(mk, e, e)
	sum := rsButterfly(e, VADDPS)
	out := YMM()
	VDIVPS(sum, e, out)
	return out
}

// rsButterfly reduces v's 8 lanes with op into every lane.
func rsButterfly(v VecVirtual, op func(ops ...Op)) VecVirtual {
	t, r := YMM(), YMM()
	VPERM2F128(U8(1), v, v, t)
	op(t, v, r)
	t2 := YMM()
	VPERMILPS(U8(0x4e), r, t2)
	op(t2, r, r)
	t3 := YMM()
	VPERMILPS(U8(0xb1), r, t3)
	op(t3, r, r)
	return r
}

var rsLaneTable Mem
var rsLaneDone bool

// rsLaneIdx is the table of lane numbers 0..7 (int32).
func rsLaneIdx() Mem {
	if !rsLaneDone {
		rsLaneTable = GLOBL("rs_laneidx", RODATA|NOPTR)
		for i := 0; i < 8; i++ {
			DATA(4*i, U32(i))
		}
		rsLaneDone = true
	}
	return rsLaneTable
}
