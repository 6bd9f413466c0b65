//go:build noasm || purego || !gc || !amd64

package asm

func vlayerNormAVX2(y, x, gamma, beta *float32, n, rows int, eps float32) {
	panic("asm: vlayerNormAVX2 without amd64 assembly")
}

func vsoftmaxAVX2(x *float32, n, rows int) { panic("asm: vsoftmaxAVX2 without amd64 assembly") }

const normAsm = false
