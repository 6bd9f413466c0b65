package asm

import (
	"fmt"
	"math"
)

// lstmGates applies one LSTM step's gate activations and state update, for the common
// sigmoid (recurrent) / tanh (cell) pair. z holds the 4u gate pre-activations in Keras
// order i, f, c(g), o (x*W + h*U + b); c and h (u values each) are updated in place; z is
// used as scratch and left undefined. As a Go loop:
//
//	for j := 0; j < u; j++ {
//		i, f := sigmoid(z[j]), sigmoid(z[u+j])
//		g, o := tanh(z[2*u+j]), sigmoid(z[3*u+j])
//		c[j] = f*c[j] + i*g
//		h[j] = o * tanh(c[j])
//	}
//
// The activations run as vector kernels (bounds as Sigmoid and Tanh), the update in Go.
func lstmGates(isa ISA, z, c, h []float32, u int) {
	if len(z) < 4*u || len(c) < u || len(h) < u {
		panic(fmt.Sprintf("asm.lstmGates: short slices (z %d, c %d, h %d) for u=%d", len(z), len(c), len(h), u))
	}
	if u <= 0 {
		return
	}
	Sigmoid(isa, z[:2*u])
	Tanh(isa, z[2*u:3*u])
	Sigmoid(isa, z[3*u:4*u])
	zi, zf, zg, zo := z[:u], z[u:2*u], z[2*u:3*u], z[3*u:4*u]
	c, h = c[:u], h[:u]
	for j := range c {
		cj := zf[j]*c[j] + zi[j]*zg[j]
		c[j] = cj
		zg[j] = cj
	}
	Tanh(isa, zg)
	for j := range h {
		h[j] = zo[j] * zg[j]
	}
}

// GateAct is the LSTM gate (recurrent) activation LSTMStep applies to i, f and o:
// sigmoid, or when Hard is set the hard sigmoid clip(A*x+B, 0, 1) (Keras 2: A=0.2,
// Keras 3: A=1/6; B=0.5).
type GateAct struct {
	Hard bool
	A, B float32
	// Relu sets the cell activation (of g and of the output) to relu instead of tanh;
	// only LSTMSeqX takes it (the other LSTM functions panic).
	Relu bool
}

// cell is the cell activation gate.Relu selects, in float64.
func (gate GateAct) cell(v float64) float64 {
	if gate.Relu {
		if v < 0 {
			return 0
		}
		return v
	}
	return math.Tanh(v)
}

// LSTMStep applies one LSTM step for a tanh cell activation, with the gate
// pre-activations given in two parts that it adds: z (h*U) and zx (x*W + b), 4u values
// each in Keras order i, f, c(g), o. It updates c in place and writes h; z and zx are
// only read. As a Go loop:
//
//	for j := 0; j < u; j++ {
//		i, f := gate(z[j]+zx[j]), gate(z[u+j]+zx[u+j])
//		g, o := tanh(z[2*u+j]+zx[2*u+j]), gate(z[3*u+j]+zx[3*u+j])
//		c[j] = f*c[j] + i*g
//		h[j] = o * tanh(c[j])
//	}
//
// On AVX2/AVX512 it is one vector pass (activations as Sigmoid and Tanh, within 3 ULP;
// the hard sigmoid is one FMA and a clamp); Generic evaluates in float64 per element.
// NaN in gives NaN out.
func LSTMStep(isa ISA, z, zx, c, h []float32, u int, gate GateAct) {
	if gate.Relu {
		panic("asm.LSTMStep: relu cell activation (LSTMSeqX only)")
	}
	if u < 0 || len(z) < 4*u || len(zx) < 4*u || len(c) < u || len(h) < u {
		panic(fmt.Sprintf("asm.LSTMStep: short slices (z %d, zx %d, c %d, h %d) for u=%d", len(z), len(zx), len(c), len(h), u))
	}
	if u == 0 {
		return
	}
	if actAsm(isa) && isa == AVX512 {
		if gate.Hard {
			lstmStepHardSigmoidTanhAVX512(&z[0], &zx[0], &c[0], &h[0], u, gate.A, gate.B)
		} else {
			lstmStepSigmoidTanhAVX512(&z[0], &zx[0], &c[0], &h[0], u)
		}
		return
	}
	if actAsm(isa) {
		if gate.Hard {
			lstmStepHardSigmoidTanhAVX2(&z[0], &zx[0], &c[0], &h[0], u, gate.A, gate.B)
		} else {
			lstmStepSigmoidTanhAVX2(&z[0], &zx[0], &c[0], &h[0], u)
		}
		return
	}
	g := func(v float32) float64 {
		x := float64(v)
		if gate.Hard {
			return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
		}
		return sigmoid64(x)
	}
	z, zx, c, h = z[:4*u], zx[:4*u], c[:u], h[:u]
	for j := range c {
		i, f := g(z[j]+zx[j]), g(z[u+j]+zx[u+j])
		gg := math.Tanh(float64(z[2*u+j] + zx[2*u+j]))
		o := g(z[3*u+j] + zx[3*u+j])
		cj := float32(f*float64(c[j]) + i*gg)
		c[j] = cj
		h[j] = float32(o * math.Tanh(float64(cj)))
	}
}

// sigmoidGate and tanhCell are, element-wise, the activations LSTMSeq's vector kernels
// use (exposed for TestActivationULP; Generic is the float64 reference). They are
// shorter than Sigmoid and Tanh for the latency of the step chain: a magic-number round
// gives n and 2^n in one FMA, the degree-7 expm1 polynomial runs by Estrin's scheme, and
// 2^n is applied in one step (1+e and 2+em are formed by one FMA each, beside the
// polynomial). Measured by TestActivationULP: sigmoidGate 2.1 ULP, tanhCell 1.9 ULP
// (tanh reduces with one float32 ln2, see _gen/lstmseq.go). sigmoidGate is within 3 ULP where the result is >= 2^-126
// (x >= -87.33); below that it returns about 1.2e-38 for any x (absolute error < 2^-125),
// 0 never (a gate that small is 0 for the cell). tanhCell is within 3 ULP everywhere.
// NaN gives NaN, +-Inf the limits (sigmoidGate(-Inf) ~ 1.2e-38).
func sigmoidGate(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vsigmoidGateAVX2(&x[0], len(x))
		return
	}
	Sigmoid(Generic, x)
}

func tanhCell(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vtanhCellAVX2(&x[0], len(x))
		return
	}
	Tanh(Generic, x)
}

// tanhRational is, element-wise, the tanh LSTMSeq's vector kernels use for the cell
// input and the cell output: sign(x)*min(1, a*P(a^2)/Q(a^2)), a = min(|x|, 9.02), a
// degree 9/8 rational fitted for relative error (2.2e-8 in float64), no exp, ~10
// cycles shorter than tanhCell on the step chain. Its float32 evaluation (two Horner
// chains and a divide, each rounding ~2^-24 relative) bounds it at 6 ULP, measured by
// TestActivationULP (4.3 on its sweep; 5.3 near |x| = 6.4 over every float32 in a
// float64 emulation of the FMAs: there the result's ULP is 2^-24 but the rounding
// errors are relative to operands >= 1). NaN gives NaN, +-Inf gives +-1.
func tanhRational(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vtanhRationalAVX2(&x[0], len(x))
		return
	}
	Tanh(Generic, x)
}

// sigmoidRational is, element-wise, the sigmoid gate LSTMSeq's vector kernels use:
// 0.5 + 0.5*tanh(x/2) with tanh(x/2) from tanhRational's rational (the halving folded
// into its coefficients, exactly), no exp: on the step chain it is about as long as the
// tanh, ~15 cycles shorter than sigmoidGate. Its error is absolute, not relative: half
// the tanh's (6 ULP of a value <= 1) plus the final rounding, bounded at 4*2^-24 and
// measured by TestSigmoidRational (2.6*2^-24 on its sweep; a gate multiplies a state,
// so an absolute bound is the one that matters). NaN gives NaN, -Inf 2^-25, +Inf 1.
func sigmoidRational(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vsigmoidRationalAVX2(&x[0], len(x))
		return
	}
	Sigmoid(Generic, x)
}

// tanhFrac is, element-wise, num[i] = tanh(num[i]/den[i]) the way LSTMSeq's vector
// kernels take tanh of the cell state: from the fraction Nc/Dc the step forms (the
// divide that stores c stays off the step chain), as tanhRational's rational multiplied
// through by den^9, with |x| <= 9.02 as |num| <= 9.02*den. For den in [1, 8) (sigmoid
// gates) and [1, 422] (hard-sigmoid gates, Dc = the cell rational's denominator) it is
// within 8 ULP of tanh(num/den): TestTanhFrac sees 5.0 on its sweep, and 6.3 was the
// worst over 49M random pairs (the homogeneous polynomials take a few more roundings
// than tanhRational's 6 ULP form; near |x| ~ 3-6 the result's ULP is 2^-24 while the
// roundings are relative to operands >= 1). len(num) must be a multiple of 8 on
// the vector path; elsewhere it evaluates in float64.
func tanhFrac(isa ISA, num, den []float32) {
	if len(num)%8 == 0 && len(num) > 0 && actAsm(isa) {
		vtanhFracAVX2(&num[0], &den[0], len(num))
		return
	}
	for i := range num {
		num[i] = float32(math.Tanh(float64(num[i]) / float64(den[i])))
	}
}

// LSTMSeqPad is the padded unit count the LSTMSeq layouts use: u rounded up to a
// multiple of 8.
func LSTMSeqPad(u int) int { return (u + 7) &^ 7 }

// LSTMSeqAsm reports whether LSTMSeq runs a vector kernel for isa (AVX2 and AVX512 run
// the AVX2 form). Elsewhere it runs the Go reference, which is slower than a GEMM for
// h*U followed by LSTMStep; callers choose between the two with this.
func LSTMSeqAsm(isa ISA) bool { return actAsm(isa) }

// PackLSTMSeqU lays out a Keras recurrent kernel U (u rows of 4u, gate order i, f, c,
// o) for LSTMSeq: u rows of 4*up floats (up = LSTMSeqPad(u)), U[k][g*u+j] at
// dst[k*4*up + g*up + j], the padding zero. dst has u*4*up floats.
func PackLSTMSeqU(dst, w []float32, u int) {
	PadLSTMGates(dst, w, u, u)
}

// PadLSTMGates copies rows of 4u gate columns (Keras order) into rows of 4*up, each gate
// block padded with zeros to up = LSTMSeqPad(u) columns: for a kernel (rows = In or
// u), or a bias (rows = 1). dst has rows*4*up floats.
func PadLSTMGates(dst, w []float32, rows, u int) {
	up := LSTMSeqPad(u)
	if len(dst) < rows*4*up || len(w) < rows*4*u {
		panic(fmt.Sprintf("asm.PadLSTMGates: short slices (dst %d, w %d) for %d rows, u=%d", len(dst), len(w), rows, u))
	}
	clear(dst[:rows*4*up])
	for k := 0; k < rows; k++ {
		for g := 0; g < 4; g++ {
			copy(dst[k*4*up+g*up:k*4*up+g*up+u], w[k*4*u+g*u:k*4*u+(g+1)*u])
		}
	}
}

// LSTMSeq runs a whole LSTM sequence of t steps for one sample with a tanh cell
// activation and sigmoid or hard-sigmoid gates, over units padded to up = LSTMSeqPad(u):
//
//   - zx: t rows of 4*up floats, x_t*W + b for each input time step t (time order),
//     gate g of unit j at g*up+j (a GEMM with weights padded by PadLSTMGates);
//   - uw: the recurrent kernel packed by PackLSTMSeqU;
//   - c: up floats, the initial cell state, updated in place to the final one;
//   - hs: (t+1)*up floats: row 0 holds the initial h, LSTMSeq writes h after the s-th
//     processed step to row s+1 (processing order: time order, or reversed when
//     backwards).
//
// As a Go loop, with ts the s-th processed time step:
//
//	for s := 0; s < t; s++ {
//		for j := 0; j < up; j++ {
//			zg := zx[ts*4*up+g*up+j] + sum over k < u of hs[s*up+k]*uw[k*4*up+g*up+j]  // each gate g
//			i, f, gg, o := gate(z0), gate(z1), tanh(z2), gate(z3)
//			c[j] = f*c[j] + i*gg
//			hs[(s+1)*up+j] = o * tanh(c[j])
//		}
//	}
//
// Lanes j >= u of c and of the written hs rows are left undefined (they never reach
// units < u: only hs lanes k < u are read). On AVX2/AVX512 it is one call with the step
// loop inside (gate sigmoidRational, within 4*2^-24 absolute, and tanh tanhRational,
// within 6 ULP, for the cell input, tanhFrac of the cell state's fraction for the
// output, see there; the h*U sum is taken in two interleaved halves, even and odd k,
// added at the end, except on AVX512 with up == 8, where it is a tree: every product at
// once, added pairwise level by level; LSTMSeqX and LSTMSeqMulti sum in the same order
// on each path and give the same bits as LSTMSeq there); Generic sums in float64 and
// evaluates the gates in float64, rounding c and h to float32 each step. NaN in gives
// NaN out.
func LSTMSeq(isa ISA, zx, uw, c, hs []float32, t, u int, backwards bool, gate GateAct) {
	lstmSeqRows(isa, zx, 0, uw, c, hs, t, u, backwards, gate)
}

// lstmSeqRows is LSTMSeq with the zx rows row floats apart (0: 4*up, packed).
func lstmSeqRows(isa ISA, zx []float32, row int, uw, c, hs []float32, t, u int, backwards bool, gate GateAct) {
	if gate.Relu {
		panic("asm.LSTMSeq: relu cell activation (LSTMSeqX only)")
	}
	up := LSTMSeqPad(u)
	row, ok := seqRow(zx, row, uw, c, hs, t, u)
	if !ok {
		panic(fmt.Sprintf("asm.LSTMSeq: short slices (zx %d, uw %d, c %d, hs %d) for t=%d u=%d (zx rows %d apart)", len(zx), len(uw), len(c), len(hs), t, u, row))
	}
	if t == 0 || u == 0 {
		return
	}
	first, stride := 0, row
	if backwards {
		first, stride = (t-1)*row, -row
	}
	if actAsm(isa) {
		switch {
		case isa == AVX512 && up == 8 && gate.Hard:
			lstmSeq8HardSigmoidTanhAVX512(&zx[first], stride*4, &uw[0], &c[0], &hs[0], t, u, up, gate.A, gate.B)
		case isa == AVX512 && up == 8:
			lstmSeq8SigmoidTanhAVX512(&zx[first], stride*4, &uw[0], &c[0], &hs[0], t, u, up)
		case gate.Hard:
			lstmSeqHardSigmoidTanhAVX2(&zx[first], stride*4, &uw[0], &c[0], &hs[0], t, u, up, gate.A, gate.B)
		default:
			lstmSeqSigmoidTanhAVX2(&zx[first], stride*4, &uw[0], &c[0], &hs[0], t, u, up)
		}
		return
	}
	g := func(x float64) float64 {
		if gate.Hard {
			return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
		}
		return sigmoid64(x)
	}
	for s := 0; s < t; s++ {
		z := zx[first+s*stride : first+s*stride+4*up]
		hp, hn := hs[s*up:(s+1)*up], hs[(s+1)*up:(s+2)*up]
		for j := 0; j < up; j++ {
			var a [4]float64
			for q := range a {
				v := float64(z[q*up+j])
				for k := 0; k < u; k++ {
					v += float64(hp[k]) * float64(uw[k*4*up+q*up+j])
				}
				a[q] = v
			}
			cj := float32(g(a[1])*float64(c[j]) + g(a[0])*math.Tanh(a[2]))
			c[j] = cj
			hn[j] = float32(g(a[3]) * math.Tanh(float64(cj)))
		}
	}
}

// seqRow resolves a zx row distance (0: packed rows, 4*up floats) and reports whether zx,
// uw, c and hs hold t steps of u units with that distance.
func seqRow(zx []float32, row int, uw, c, hs []float32, t, u int) (int, bool) {
	up := LSTMSeqPad(u)
	if row == 0 {
		row = 4 * up
	}
	ok := t >= 0 && u >= 0 && row >= 4*up && (t == 0 || len(zx) >= (t-1)*row+4*up) &&
		len(uw) >= u*4*up && len(c) >= up && len(hs) >= (t+1)*up
	return row, ok
}

// LSTMChain is one sequence for LSTMSeqMulti: the LSTMSeq arguments zx, uw, c, hs and
// backwards of one sample and direction.
type LSTMChain struct {
	ZX, UW, C, HS []float32
	Backwards     bool
	// ZXRow is the distance in floats between consecutive zx rows (>= 4*up); 0 means
	// 4*up (packed rows). It lets chains read their rows out of one GEMM's wider output
	// (a Bidirectional layer's two directions projected together).
	ZXRow int
}

// lstmSeqDesc is the kernel's view of an LSTMChain (see _gen/lstmseq.go): the first
// processed step's zx, the byte stride to the next one, uw, c and hs.
type lstmSeqDesc struct {
	zx       *float32
	zxStride int
	uw, c    *float32
	hs       *float32
}

// lstmSeqMultiMax is how many chains one kernel call steps together.
const lstmSeqMultiMax = 4

// LSTMSeqMulti runs LSTMSeq(isa, ch.ZX, ch.UW, ch.C, ch.HS, t, u, ch.Backwards, gate)
// for every chain, with the same results bit for bit. On AVX2/AVX512 the chains (up to
// 4 per kernel call) are stepped together, step s of each chain before step s+1 of any,
// so the latency of one chain's step (its activations) overlaps the others' work: the
// two directions of a Bidirectional layer, or the samples of a batch, cost about as much
// as one chain's recurrence until the core's execution units fill. Generic runs
// LSTMSeq per chain.
func LSTMSeqMulti(isa ISA, chains []LSTMChain, t, u int, gate GateAct) {
	if gate.Relu {
		panic("asm.LSTMSeqMulti: relu cell activation (LSTMSeqX only)")
	}
	up := LSTMSeqPad(u)
	for i := range chains {
		ch := &chains[i]
		if row, ok := seqRow(ch.ZX, ch.ZXRow, ch.UW, ch.C, ch.HS, t, u); !ok {
			panic(fmt.Sprintf("asm.LSTMSeqMulti: chain %d: short slices (zx %d, uw %d, c %d, hs %d) for t=%d u=%d (zx rows %d apart)", i, len(ch.ZX), len(ch.UW), len(ch.C), len(ch.HS), t, u, row))
		}
	}
	if t == 0 || u == 0 {
		return
	}
	if !actAsm(isa) {
		for i := range chains {
			ch := &chains[i]
			lstmSeqRows(isa, ch.ZX, ch.ZXRow, ch.UW, ch.C, ch.HS, t, u, ch.Backwards, gate)
		}
		return
	}
	for len(chains) > 0 {
		n := min(len(chains), lstmSeqMultiMax)
		var d [lstmSeqMultiMax]lstmSeqDesc
		for i, ch := range chains[:n] {
			row, _ := seqRow(ch.ZX, ch.ZXRow, ch.UW, ch.C, ch.HS, t, u)
			first, stride := 0, row
			if ch.Backwards {
				first, stride = (t-1)*row, -row
			}
			d[i] = lstmSeqDesc{zx: &ch.ZX[first], zxStride: stride * 4, uw: &ch.UW[0], c: &ch.C[0], hs: &ch.HS[0]}
		}
		switch {
		case isa == AVX512 && up == 8 && gate.Hard:
			lstmSeqMulti8HardSigmoidTanhAVX512(&d[0], n, t, u, up, gate.A, gate.B)
		case isa == AVX512 && up == 8:
			lstmSeqMulti8SigmoidTanhAVX512(&d[0], n, t, u, up)
		case gate.Hard:
			lstmSeqMultiHardSigmoidTanhAVX2(&d[0], n, t, u, up, gate.A, gate.B)
		default:
			lstmSeqMultiSigmoidTanhAVX2(&d[0], n, t, u, up)
		}
		chains = chains[n:]
	}
}

// LSTMStage is one layer of a stack for LSTMSeqStack, over units padded to
// up = LSTMSeqPad(U):
//
//   - ZX: for the first stage, LSTMSeq's zx (t rows of 4*up, time order, x*W + b); for
//     a later stage its bias, 4*up floats padded by PadLSTMGates (zeros for none);
//   - W: later stages only: the input kernel, the previous stage's U rows of 4*up
//     (PadLSTMGates with rows = previous U);
//   - UW, C, HS: as LSTMSeq's uw, c, hs;
//   - Backwards: first stage only (a later stage follows its input's order).
type LSTMStage struct {
	ZX, W, UW, C, HS []float32
	U                int
	Backwards        bool
}

// lstmStackDesc is the kernel's view of an LSTMStage (see _gen/lstmseq.go).
type lstmStackDesc struct {
	zx       *float32
	zxStride int
	uw, c    *float32
	hs       *float32
	xh       *float32 // previous stage's hs row 1 (nil for the first stage)
	xRow     int      // bytes between the previous stage's hs rows
	wx       *float32
	nin      int // previous stage's units (0 for the first stage)
	u, us    int // units, padded units * 4
	lag      int
}

// lstmSeqStackMax is how many stages LSTMSeqStack runs in one kernel call.
const lstmSeqStackMax = 4

// LSTMSeqStack runs stacked LSTM layers over the same t steps, stage i consuming the h
// sequence of stage i-1 in its processing order (row s+1 of its HS at step s): as Go,
// LSTMSeq for the first stage, then per later stage and step s
//
//	zx[g*up+j] = ZX[g*up+j] + sum over k < U_prev of HS_prev[(s+1)*up_prev+k]*W[k*4*up+g*up+j]
//
// followed by LSTMSeq's step on that zx. On AVX2/AVX512 (up to 4 stages per call) the
// stages run as a wavefront, stage i's step s in the same pass as stage i-1's step s+1,
// so their step latencies overlap (a 2-layer stack costs about one layer's recurrence
// plus a step); the gates and bounds are LSTMSeq's, the input sum is taken in the same
// even/odd accumulators before h*U. Generic evaluates in float64 per step like LSTMSeq.
// NaN in gives NaN out.
func LSTMSeqStack(isa ISA, stages []LSTMStage, t int, gate GateAct) {
	if gate.Relu {
		panic("asm.LSTMSeqStack: relu cell activation (LSTMSeqX only)")
	}
	for i := range stages {
		st := &stages[i]
		up := LSTMSeqPad(st.U)
		nz := 4 * up
		if i == 0 {
			nz = t * 4 * up
		}
		short := t < 0 || st.U < 0 || len(st.ZX) < nz || len(st.UW) < st.U*4*up || len(st.C) < up || len(st.HS) < (t+1)*up
		if i > 0 {
			short = short || len(st.W) < stages[i-1].U*4*up || st.Backwards
		}
		if short {
			panic(fmt.Sprintf("asm.LSTMSeqStack: stage %d: short slices (zx %d, w %d, uw %d, c %d, hs %d) or backwards for t=%d u=%d", i, len(st.ZX), len(st.W), len(st.UW), len(st.C), len(st.HS), t, st.U))
		}
	}
	if t == 0 || len(stages) == 0 {
		return
	}
	if !actAsm(isa) || len(stages) > lstmSeqStackMax {
		lstmSeqStackGo(stages, t, gate)
		return
	}
	for _, st := range stages {
		if st.U == 0 {
			lstmSeqStackGo(stages, t, gate)
			return
		}
	}
	var d [lstmSeqStackMax]lstmStackDesc
	for i := range stages {
		st := &stages[i]
		up := LSTMSeqPad(st.U)
		x := &d[i]
		*x = lstmStackDesc{zx: &st.ZX[0], uw: &st.UW[0], c: &st.C[0], hs: &st.HS[0], u: st.U, us: 4 * up, lag: i}
		if i == 0 {
			x.zxStride = 4 * 4 * up
			if st.Backwards {
				x.zx, x.zxStride = &st.ZX[(t-1)*4*up], -4*4*up
			}
		} else {
			pv := &stages[i-1]
			pup := LSTMSeqPad(pv.U)
			x.xh, x.xRow, x.nin = &pv.HS[pup], 4*pup, pv.U
			x.wx = &st.W[0]
			if pv.U == 0 {
				x.xh = &pv.HS[0]
			}
		}
		if x.wx == nil {
			x.wx = x.uw
		}
		if x.xh == nil {
			x.xh = x.hs
		}
	}
	if gate.Hard {
		lstmSeqStackHardSigmoidTanhAVX2(&d[0], len(stages), t, gate.A, gate.B)
	} else {
		lstmSeqStackSigmoidTanhAVX2(&d[0], len(stages), t)
	}
}

// lstmSeqStackGo is LSTMSeqStack's reference: float64 sums and gates per step, c and h
// rounded to float32 each step, stage by stage.
func lstmSeqStackGo(stages []LSTMStage, t int, gate GateAct) {
	g := func(x float64) float64 {
		if gate.Hard {
			return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
		}
		return sigmoid64(x)
	}
	for i := range stages {
		st := &stages[i]
		u, up := st.U, LSTMSeqPad(st.U)
		if i == 0 {
			LSTMSeq(Generic, st.ZX, st.UW, st.C, st.HS, t, u, st.Backwards, gate)
			continue
		}
		pv := &stages[i-1]
		pu, pup := pv.U, LSTMSeqPad(pv.U)
		for s := 0; s < t; s++ {
			x := pv.HS[(s+1)*pup : (s+2)*pup]
			hp, hn := st.HS[s*up:(s+1)*up], st.HS[(s+1)*up:(s+2)*up]
			for j := 0; j < up; j++ {
				var a [4]float64
				for q := range a {
					v := float64(st.ZX[q*up+j])
					for k := 0; k < pu; k++ {
						v += float64(x[k]) * float64(st.W[k*4*up+q*up+j])
					}
					for k := 0; k < u; k++ {
						v += float64(hp[k]) * float64(st.UW[k*4*up+q*up+j])
					}
					a[q] = v
				}
				cj := float32(g(a[1])*float64(st.C[j]) + g(a[0])*math.Tanh(a[2]))
				st.C[j] = cj
				hn[j] = float32(g(a[3]) * math.Tanh(float64(cj)))
			}
		}
	}
}

// LSTMSeqXAsm reports whether LSTMSeqX runs a vector kernel for isa and u units (up to
// 8 on AVX2/AVX512); elsewhere it runs a float64 Go loop.
func LSTMSeqXAsm(isa ISA, u int) bool { return actAsm(isa) && u > 0 && u <= 8 }

// LSTMSeqX is LSTMSeq with the input projection inside the step loop: instead of zx it
// takes the sample's input rows x (t rows of in floats, time order), the input kernel w
// (in rows of 4*up, PadLSTMGates with rows = in) and the bias b (4*up floats, PadLSTMGates
// with rows = 1, zeros for none), and forms each step's zx as b + x_t*W. Where
// LSTMSeqXAsm it sums each zx element as the bias followed by the in products in order,
// one FMA each (the GEMM's order), so it gives LSTMSeq's results on a GEMM's zx bit for
// bit, without the GEMM call and the projections' trip through memory; the projection of
// the next step runs beside the current step's gates. Elsewhere it evaluates in float64
// per step (as LSTMSeq's Generic loop, the projection included). With gate.Relu the cell
// activation is relu (Keras activation="relu"): the same loop with max(., 0) for the
// two tanh and sigmoidRational gates, each with its own divide.
func LSTMSeqX(isa ISA, x []float32, in int, w, b, uw, c, hs []float32, t, u int, backwards bool, gate GateAct) {
	LSTMSeqXRows(isa, x, in, in, w, b, uw, c, hs, t, u, backwards, gate)
}

// LSTMSeqXRows is LSTMSeqX with the input rows xRow floats apart (xRow >= in): it reads
// another LSTMSeq call's hs rows (xRow = that layer's padded units) where they were
// written, without a copy.
func LSTMSeqXRows(isa ISA, x []float32, xRow, in int, w, b, uw, c, hs []float32, t, u int, backwards bool, gate GateAct) {
	up := LSTMSeqPad(u)
	if !seqXOK(x, xRow, in, w, b, uw, c, hs, t, u) {
		panic(fmt.Sprintf("asm.LSTMSeqX: short slices (x %d, w %d, b %d, uw %d, c %d, hs %d) for t=%d in=%d u=%d", len(x), len(w), len(b), len(uw), len(c), len(hs), t, in, u))
	}
	if t == 0 || u == 0 {
		return
	}
	first, stride := 0, xRow
	if backwards {
		first, stride = (t-1)*xRow, -xRow
	}
	if LSTMSeqXAsm(isa, u) {
		if gate.Relu {
			if gate.Hard {
				lstmSeqX8HardSigmoidReluAVX2(&x[first], stride*4, &w[0], &b[0], &uw[0], &c[0], &hs[0], t, u, in, gate.A, gate.B)
			} else {
				lstmSeqX8SigmoidReluAVX2(&x[first], stride*4, &w[0], &b[0], &uw[0], &c[0], &hs[0], t, u, in)
			}
			return
		}
		if isa == AVX512 {
			if gate.Hard {
				lstmSeqX8HardSigmoidTanhAVX512(&x[first], stride*4, &w[0], &b[0], &uw[0], &c[0], &hs[0], t, u, in, gate.A, gate.B)
			} else {
				lstmSeqX8SigmoidTanhAVX512(&x[first], stride*4, &w[0], &b[0], &uw[0], &c[0], &hs[0], t, u, in)
			}
			return
		}
		if gate.Hard {
			lstmSeqX8HardSigmoidTanhAVX2(&x[first], stride*4, &w[0], &b[0], &uw[0], &c[0], &hs[0], t, u, in, gate.A, gate.B)
		} else {
			lstmSeqX8SigmoidTanhAVX2(&x[first], stride*4, &w[0], &b[0], &uw[0], &c[0], &hs[0], t, u, in)
		}
		return
	}
	g := func(v float64) float64 {
		if gate.Hard {
			return math.Min(1, math.Max(0, float64(gate.A)*v+float64(gate.B)))
		}
		return sigmoid64(v)
	}
	for s := 0; s < t; s++ {
		xr := x[first+s*stride : first+s*stride+in]
		hp, hn := hs[s*up:(s+1)*up], hs[(s+1)*up:(s+2)*up]
		for j := 0; j < up; j++ {
			var a [4]float64
			for q := range a {
				v := float64(b[q*up+j])
				for k := 0; k < in; k++ {
					v += float64(xr[k]) * float64(w[k*4*up+q*up+j])
				}
				for k := 0; k < u; k++ {
					v += float64(hp[k]) * float64(uw[k*4*up+q*up+j])
				}
				a[q] = v
			}
			cj := float32(g(a[1])*float64(c[j]) + g(a[0])*gate.cell(a[2]))
			c[j] = cj
			hn[j] = float32(g(a[3]) * gate.cell(float64(cj)))
		}
	}
}

// seqXOK reports whether LSTMSeqX's slices hold t steps of u units: x rows of in floats
// xRow apart, the padded input kernel and bias, uw, c and hs.
func seqXOK(x []float32, xRow, in int, w, b, uw, c, hs []float32, t, u int) bool {
	up := LSTMSeqPad(u)
	return t >= 0 && u >= 0 && in > 0 && xRow >= in && (t == 0 || len(x) >= (t-1)*xRow+in) &&
		len(w) >= in*4*up && len(b) >= 4*up && len(uw) >= u*4*up && len(c) >= up && len(hs) >= (t+1)*up
}

// LSTMXDir is one direction of LSTMSeqXPair: LSTMSeqX's w, b, uw, c and hs.
type LSTMXDir struct {
	W, B, UW, C, HS []float32
}

// lstmPairDesc is the pair kernel's view of the two directions (see _gen/lstmseq512.go).
type lstmPairDesc struct {
	w, b, uw, c, hs *float32
}

// LSTMSeqXPair runs a Bidirectional layer's two directions over the same input rows x:
// LSTMSeqX(isa, x, in, f..., backwards=false) and LSTMSeqX(isa, x, in, b...,
// backwards=true), with the same results bit for bit. On AVX512 (up to 8 units, not
// gate.Relu) one kernel steps the two chains together, each projecting its input in
// the step loop and keeping its h in a register, so their step latencies overlap and no
// GEMM or zx buffer is needed; elsewhere it makes the two calls.
func LSTMSeqXPair(isa ISA, x []float32, in int, f, b LSTMXDir, t, u int, gate GateAct) {
	if isa != AVX512 || !LSTMSeqXAsm(isa, u) || gate.Relu || t == 0 {
		LSTMSeqX(isa, x, in, f.W, f.B, f.UW, f.C, f.HS, t, u, false, gate)
		LSTMSeqX(isa, x, in, b.W, b.B, b.UW, b.C, b.HS, t, u, true, gate)
		return
	}
	for i, d := range [2]LSTMXDir{f, b} {
		if !seqXOK(x, in, in, d.W, d.B, d.UW, d.C, d.HS, t, u) {
			panic(fmt.Sprintf("asm.LSTMSeqXPair: direction %d: short slices (x %d, w %d, b %d, uw %d, c %d, hs %d) for t=%d in=%d u=%d", i, len(x), len(d.W), len(d.B), len(d.UW), len(d.C), len(d.HS), t, in, u))
		}
	}
	d := [2]lstmPairDesc{
		{&f.W[0], &f.B[0], &f.UW[0], &f.C[0], &f.HS[0]},
		{&b.W[0], &b.B[0], &b.UW[0], &b.C[0], &b.HS[0]},
	}
	if gate.Hard {
		lstmSeqPair8HardSigmoidTanhAVX512(&x[0], in, &d[0], t, u, gate.A, gate.B)
	} else {
		lstmSeqPair8SigmoidTanhAVX512(&x[0], in, &d[0], t, u)
	}
}
