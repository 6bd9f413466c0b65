package asm

import (
	"fmt"
	"math"
)

// LSTMGates applies one LSTM step's gate activations and state update, for the common
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
func LSTMGates(isa ISA, z, c, h []float32, u int) {
	if len(z) < 4*u || len(c) < u || len(h) < u {
		panic(fmt.Sprintf("asm.LSTMGates: short slices (z %d, c %d, h %d) for u=%d", len(z), len(c), len(h), u))
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
