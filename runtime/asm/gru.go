package asm

import (
	"fmt"
	"math"
)

// GRUSeqAsm reports whether GRUSeq runs a vector kernel for isa (AVX2 and AVX512 run
// the AVX2 form). Elsewhere it runs the Go reference, slower than a GEMM per step.
func GRUSeqAsm(isa ISA) bool { return actAsm(isa) }

// PadGRUGates copies rows of 3u gate columns (Keras order z, r, h) into rows of 3*up,
// each gate block padded with zeros to up = LSTMSeqPad(u) columns: for a kernel (rows =
// In or u), or a bias (rows = 1). dst has rows*3*up floats.
func PadGRUGates(dst, w []float32, rows, u int) {
	up := LSTMSeqPad(u)
	if len(dst) < rows*3*up || len(w) < rows*3*u {
		panic(fmt.Sprintf("asm.PadGRUGates: short slices (dst %d, w %d) for %d rows, u=%d", len(dst), len(w), rows, u))
	}
	clear(dst[:rows*3*up])
	for k := 0; k < rows; k++ {
		for g := 0; g < 3; g++ {
			copy(dst[k*3*up+g*up:k*3*up+g*up+u], w[k*3*u+g*u:k*3*u+(g+1)*u])
		}
	}
}

// GRUSeq runs a whole GRU sequence of t steps for one sample with a tanh candidate and
// sigmoid or hard-sigmoid gates, over units padded to up = LSTMSeqPad(u):
//
//   - zx: t rows of 3*up floats, x_t*W + b for each input time step (time order), gate
//     g (z, r, h) of unit j at g*up+j (a GEMM with weights padded by PadGRUGates); with
//     resetAfter the recurrent biases of z and r belong in b, that of h in rbh;
//   - uw: u rows of 3*up floats, the recurrent kernel padded by PadGRUGates;
//   - rbh: up floats, the candidate's recurrent bias (resetAfter only; nil otherwise);
//   - hs: (t+1)*up floats: row 0 holds the initial h, GRUSeq writes h after the s-th
//     processed step to row s+1 (time order, or reversed when backwards);
//   - rh: 2*up floats of scratch (reset before only; nil otherwise).
//
// As a Go loop, with ts the s-th processed time step and hp = hs row s:
//
//	for j := 0; j < up; j++ {
//		z := gate(zx[ts][j] + sum over k < u of hp[k]*uw[k][j])
//		r := gate(zx[ts][up+j] + sum over k < u of hp[k]*uw[k][up+j])
//		// resetAfter:
//		c := tanh(zx[ts][2*up+j] + r*(rbh[j] + sum over k < u of hp[k]*uw[k][2*up+j]))
//		// otherwise, with rh[k] = r_k*hp[k] formed for every k first:
//		c := tanh(zx[ts][2*up+j] + sum over k < u of rh[k]*uw[k][2*up+j])
//		hs[s+1][j] = c + z*(hp[j] - c)
//	}
//
// Lanes j >= u of the written hs rows are undefined (only lanes k < u are read). On
// AVX2/AVX512 it is one call with the step loop inside: the gate is sigmoidRational
// (within 4*2^-24 absolute) or one FMA and a clamp, the candidate tanhRational (within
// 6 ULP), each h*U sum taken in two interleaved halves (even and odd k) added at the
// end. Generic sums and evaluates in float64, rounding h (and r*h) to float32. NaN in
// gives NaN out.
func GRUSeq(isa ISA, zx, uw, rbh, hs, rh []float32, t, u int, backwards, resetAfter bool, gate GateAct) {
	up := LSTMSeqPad(u)
	if gate.Relu || t < 0 || u < 0 || (t > 0 && len(zx) < t*3*up) || len(uw) < u*3*up || len(hs) < (t+1)*up ||
		(resetAfter && len(rbh) < up) || (!resetAfter && len(rh) < 2*up) {
		panic(fmt.Sprintf("asm.GRUSeq: bad arguments (zx %d, uw %d, rbh %d, hs %d, rh %d) for t=%d u=%d relu=%v",
			len(zx), len(uw), len(rbh), len(hs), len(rh), t, u, gate.Relu))
	}
	if t == 0 || u == 0 {
		return
	}
	row := 3 * up
	first, stride := 0, row
	if backwards {
		first, stride = (t-1)*row, -row
	}
	if actAsm(isa) {
		p := &hs[0] // stands in for the operand the variant does not read
		pb, pr := p, p
		if resetAfter {
			pb = &rbh[0]
		} else {
			pr = &rh[0]
		}
		switch {
		case resetAfter && gate.Hard:
			gruSeqHardSigmoidTanhAVX2(&zx[first], stride*4, &uw[0], pb, &hs[0], pr, t, u, up, gate.A, gate.B)
		case resetAfter:
			gruSeqSigmoidTanhAVX2(&zx[first], stride*4, &uw[0], pb, &hs[0], pr, t, u, up)
		case gate.Hard:
			gruSeqResetBeforeHardSigmoidTanhAVX2(&zx[first], stride*4, &uw[0], pb, &hs[0], pr, t, u, up, gate.A, gate.B)
		default:
			gruSeqResetBeforeSigmoidTanhAVX2(&zx[first], stride*4, &uw[0], pb, &hs[0], pr, t, u, up)
		}
		return
	}
	gruSeqGo(func(s, col int) float64 { return float64(zx[first+s*stride+col]) }, uw, rbh, hs, rh, t, u, resetAfter, gate)
}

// gruSeqGo is GRUSeq's Generic loop with the input projection of the s-th processed
// step's column col given by zv.
func gruSeqGo(zv func(s, col int) float64, uw, rbh, hs, rh []float32, t, u int, resetAfter bool, gate GateAct) {
	g := func(x float64) float64 {
		if gate.Hard {
			return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
		}
		return sigmoid64(x)
	}
	gruSeqGoF(zv, uw, rbh, hs, rh, t, u, resetAfter, g, math.Tanh)
}

// gruSeqGoF is gruSeqGo with the gate activation g and the candidate's act.
func gruSeqGoF(zv func(s, col int) float64, uw, rbh, hs, rh []float32, t, u int, resetAfter bool, g, act func(float64) float64) {
	up := LSTMSeqPad(u)
	row := 3 * up
	sum := func(v float64, h []float32, col int) float64 {
		for k := 0; k < u; k++ {
			v += float64(h[k]) * float64(uw[k*row+col])
		}
		return v
	}
	for s := 0; s < t; s++ {
		hp, hn := hs[s*up:(s+1)*up], hs[(s+1)*up:(s+2)*up]
		if resetAfter {
			for j := 0; j < up; j++ {
				zg := g(sum(zv(s, j), hp, j))
				rg := g(sum(zv(s, up+j), hp, up+j))
				c := act(zv(s, 2*up+j) + rg*sum(float64(rbh[j]), hp, 2*up+j))
				hn[j] = float32(c + zg*(float64(hp[j])-c))
			}
			continue
		}
		zs, rs := rh[:up], rh[up:2*up]
		for j := 0; j < up; j++ {
			zs[j] = float32(g(sum(zv(s, j), hp, j)))
			rs[j] = float32(g(sum(zv(s, up+j), hp, up+j)) * float64(hp[j]))
		}
		for j := 0; j < up; j++ {
			c := act(sum(zv(s, 2*up+j), rs, 2*up+j))
			hn[j] = float32(c + float64(zs[j])*(float64(hp[j])-c))
		}
	}
}

// GRUSeqXAsm reports whether GRUSeqX runs a vector kernel for isa.
func GRUSeqXAsm(isa ISA) bool { return actAsm(isa) }

// GRUSeqX is GRUSeq projecting each step's input inside the step loop instead of
// reading a precomputed zx: x holds t rows of in floats (time order), wx in rows of
// 3*up floats (the input kernel padded by PadGRUGates), bias 3*up floats (the input
// bias, with resetAfter plus the z and r recurrent biases). The projection
// bias + x_ts*wx stands where GRUSeq reads zx; the x sums do not depend on h, so they
// run beside the step chain. The other arguments, the bounds and the Generic form are
// GRUSeq's.
func GRUSeqX(isa ISA, x []float32, in int, wx, bias, uw, rbh, hs, rh []float32, t, u int, backwards, resetAfter bool, gate GateAct) {
	up := LSTMSeqPad(u)
	if gate.Relu || t < 0 || u < 0 || in <= 0 || (t > 0 && len(x) < t*in) || len(wx) < in*3*up || len(bias) < 3*up ||
		len(uw) < u*3*up || len(hs) < (t+1)*up || (resetAfter && len(rbh) < up) || (!resetAfter && len(rh) < 2*up) {
		panic(fmt.Sprintf("asm.GRUSeqX: bad arguments (x %d, wx %d, bias %d, uw %d, rbh %d, hs %d, rh %d) for t=%d u=%d in=%d",
			len(x), len(wx), len(bias), len(uw), len(rbh), len(hs), len(rh), t, u, in))
	}
	if t == 0 || u == 0 {
		return
	}
	first, stride := 0, in
	if backwards {
		first, stride = (t-1)*in, -in
	}
	if actAsm(isa) {
		p := &hs[0]
		pb, pr := p, p
		if resetAfter {
			pb = &rbh[0]
		} else {
			pr = &rh[0]
		}
		switch {
		case resetAfter && gate.Hard:
			gruSeqXHardSigmoidTanhAVX2(&x[first], stride*4, &wx[0], &bias[0], &uw[0], pb, &hs[0], pr, t, u, up, in, gate.A, gate.B)
		case resetAfter:
			gruSeqXSigmoidTanhAVX2(&x[first], stride*4, &wx[0], &bias[0], &uw[0], pb, &hs[0], pr, t, u, up, in)
		case gate.Hard:
			gruSeqXResetBeforeHardSigmoidTanhAVX2(&x[first], stride*4, &wx[0], &bias[0], &uw[0], pb, &hs[0], pr, t, u, up, in, gate.A, gate.B)
		default:
			gruSeqXResetBeforeSigmoidTanhAVX2(&x[first], stride*4, &wx[0], &bias[0], &uw[0], pb, &hs[0], pr, t, u, up, in)
		}
		return
	}
	row := 3 * up
	gruSeqGo(func(s, col int) float64 {
		v := float64(bias[col])
		xs := x[first+s*stride : first+s*stride+in]
		for i, xv := range xs {
			v += float64(xv) * float64(wx[i*row+col])
		}
		return v
	}, uw, rbh, hs, rh, t, u, resetAfter, gate)
}

// RNNSeq runs a whole SimpleRNN (ONNX RNN) sequence of t steps for one sample with a
// tanh or (relu) relu activation, over units padded to up = LSTMSeqPad(u):
//
//   - zx: t rows of up floats, x_t*W + b for each input time step (time order);
//   - uw: u rows of up floats, U with each row zero padded;
//   - hs: (t+1)*up floats: row 0 holds the initial h, RNNSeq writes h after the s-th
//     processed step to row s+1 (time order, or reversed when backwards).
//
// As a Go loop, with ts the s-th processed time step:
//
//	for j := 0; j < up; j++ {
//		hs[s+1][j] = act(zx[ts][j] + sum over k < u of hs[s][k]*uw[k][j])
//	}
//
// Lanes j >= u of the written rows are undefined. On AVX2/AVX512 one call with the step
// loop inside: tanhRational (within 6 ULP) or max(0, x), the sum in two interleaved
// halves (even and odd k) added at the end. Generic sums and evaluates in float64. NaN
// in gives NaN out.
func RNNSeq(isa ISA, zx, uw, hs []float32, t, u int, backwards, relu bool) {
	up := LSTMSeqPad(u)
	if t < 0 || u < 0 || (t > 0 && len(zx) < t*up) || len(uw) < u*up || len(hs) < (t+1)*up {
		panic(fmt.Sprintf("asm.RNNSeq: short slices (zx %d, uw %d, hs %d) for t=%d u=%d", len(zx), len(uw), len(hs), t, u))
	}
	if t == 0 || u == 0 {
		return
	}
	first, stride := 0, up
	if backwards {
		first, stride = (t-1)*up, -up
	}
	if actAsm(isa) {
		if relu {
			rnnSeqReluAVX2(&zx[first], stride*4, &uw[0], &hs[0], t, u, up)
		} else {
			rnnSeqTanhAVX2(&zx[first], stride*4, &uw[0], &hs[0], t, u, up)
		}
		return
	}
	for s := 0; s < t; s++ {
		z := zx[first+s*stride : first+s*stride+up]
		hp, hn := hs[s*up:(s+1)*up], hs[(s+1)*up:(s+2)*up]
		for j := 0; j < up; j++ {
			v := float64(z[j])
			for k := 0; k < u; k++ {
				v += float64(hp[k]) * float64(uw[k*up+j])
			}
			if relu {
				if v < 0 {
					v = 0
				}
			} else {
				v = math.Tanh(v)
			}
			hn[j] = float32(v)
		}
	}
}

// RNNSeqX is RNNSeq projecting each step's input inside the step loop: x holds t rows
// of in floats (time order), wx in rows of up floats (W with each row zero padded),
// bias up floats; bias + x_ts*wx stands where RNNSeq reads zx. The other arguments,
// the bounds and the Generic form are RNNSeq's.
func RNNSeqX(isa ISA, x []float32, in int, wx, bias, uw, hs []float32, t, u int, backwards, relu bool) {
	up := LSTMSeqPad(u)
	if t < 0 || u < 0 || in <= 0 || (t > 0 && len(x) < t*in) || len(wx) < in*up || len(bias) < up || len(uw) < u*up || len(hs) < (t+1)*up {
		panic(fmt.Sprintf("asm.RNNSeqX: short slices (x %d, wx %d, bias %d, uw %d, hs %d) for t=%d u=%d in=%d", len(x), len(wx), len(bias), len(uw), len(hs), t, u, in))
	}
	if t == 0 || u == 0 {
		return
	}
	first, stride := 0, in
	if backwards {
		first, stride = (t-1)*in, -in
	}
	if actAsm(isa) {
		if relu {
			rnnSeqXReluAVX2(&x[first], stride*4, &wx[0], &bias[0], &uw[0], &hs[0], t, u, up, in)
		} else {
			rnnSeqXTanhAVX2(&x[first], stride*4, &wx[0], &bias[0], &uw[0], &hs[0], t, u, up, in)
		}
		return
	}
	for s := 0; s < t; s++ {
		xs := x[first+s*stride : first+s*stride+in]
		hp, hn := hs[s*up:(s+1)*up], hs[(s+1)*up:(s+2)*up]
		for j := 0; j < up; j++ {
			v := float64(bias[j])
			for i, xv := range xs {
				v += float64(xv) * float64(wx[i*up+j])
			}
			for k := 0; k < u; k++ {
				v += float64(hp[k]) * float64(uw[k*up+j])
			}
			if relu {
				if v < 0 {
					v = 0
				}
			} else {
				v = math.Tanh(v)
			}
			hn[j] = float32(v)
		}
	}
}
