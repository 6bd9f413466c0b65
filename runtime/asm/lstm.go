package asm

import "fmt"

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
