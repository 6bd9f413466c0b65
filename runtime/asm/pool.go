package asm

import (
	"fmt"
	"math"
)

// MaxTaps sets dst[i] to the maximum over the taps t of src[offs[t]+i], for i < c: one
// output pixel of NHWC max pooling, offs holding the in-bounds window pixels' offsets
// (in floats). Any NaN among a channel's taps gives NaN (its payload may differ); no
// taps give -Inf. Exact on every path (a maximum does not round). As a Go loop:
//
//	for i := 0; i < c; i++ {
//		m := float32(math.Inf(-1))
//		for _, o := range offs { m = max(m, src[o+i]) }
//		dst[i] = m
//	}
func MaxTaps(isa ISA, dst, src []float32, offs []int, c int) {
	if c <= 0 {
		return
	}
	if len(dst) < c {
		panic(fmt.Sprintf("asm.MaxTaps: dst %d < c %d", len(dst), c))
	}
	for _, o := range offs {
		if o < 0 || o+c > len(src) {
			panic(fmt.Sprintf("asm.MaxTaps: offset %d + c %d outside src (%d)", o, c, len(src)))
		}
	}
	if len(offs) > 0 && actAsm(isa) {
		vmaxTapsAVX2(&dst[0], &src[0], &offs[0], len(offs), c)
		return
	}
	y := dst[:c]
	for i := range y {
		y[i] = float32(math.Inf(-1))
	}
	for _, o := range offs {
		for i, v := range src[o : o+c] {
			y[i] = max(y[i], v)
		}
	}
}
