//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel norm_avx2 -out ../norm_avx2_amd64.s

// vlayerNormAVX2: for each of rows rows of n values, y = (x-mean)/sqrt(var+eps)*g + b
// (population variance, two passes in float32; g and b hold n values). As a Go loop:
// layerNormGo.
//
//go:noescape
func vlayerNormAVX2(y, x, gamma, beta *float32, n, rows int, eps float32)

// vsoftmaxAVX2: each of rows rows of n values becomes exp(x - max) / sum(exp(x - max)),
// the sum and the division in float64 (a row holding NaN becomes NaN).
//
//go:noescape
func vsoftmaxAVX2(x *float32, n, rows int)

const normAsm = true
