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

// GatherSlack is how many floats past its data GatherRuns may read in src and write in
// dst: callers leave that much room after both.
const GatherSlack = 8

// GatherRuns copies runs of runLen floats: dst[r*runLen+j] = src[offs[r]+j] for
// r < len(offs), j < runLen (im2col over a padded input). The vector path moves whole
// 8-float blocks, so src must hold GatherSlack floats past every run's end and dst
// GatherSlack floats past len(offs)*runLen; the floats written there are garbage.
// Exact on every path.
func GatherRuns(isa ISA, dst, src []float32, offs []int, runLen int) {
	if runLen <= 0 || len(offs) == 0 {
		return
	}
	if len(dst) < len(offs)*runLen+GatherSlack {
		panic(fmt.Sprintf("asm.GatherRuns: dst %d < %d runs of %d + slack", len(dst), len(offs), runLen))
	}
	// every run must lie in src: 0 <= o <= len(src)-runLen-GatherSlack, one unsigned
	// compare per run (a negative o wraps to a huge value)
	lim := len(src) - runLen - GatherSlack
	for _, o := range offs {
		if lim < 0 || uint(o) > uint(lim) {
			panic(fmt.Sprintf("asm.GatherRuns: run at %d (+%d + slack) outside src (%d)", o, runLen, len(src)))
		}
	}
	if actAsm(isa) && runLen <= 8 {
		gatherShortAVX2(&dst[0], &src[0], &offs[0], len(offs), runLen)
		return
	}
	if actAsm(isa) {
		gatherRunsAVX2(&dst[0], &src[0], &offs[0], len(offs), runLen)
		return
	}
	for r, o := range offs {
		copy(dst[r*runLen:(r+1)*runLen], src[o:o+runLen])
	}
}

// MaxPool sets, for every output pixel p and channel i < c,
// dst[p*c+i] = max over t of src[bases[p]+taps[t]+i]: a whole map of max pooling whose
// windows all lie inside the input (bases[p] the window's first pixel, taps the window's
// pixel offsets, in floats), in one call. NaN and Inf as in MaxTaps; exact on every path.
// As a Go loop:
//
//	for p, b := range bases {
//		for i := 0; i < c; i++ {
//			m := float32(math.Inf(-1))
//			for _, o := range taps { m = max(m, src[b+o+i]) }
//			dst[p*c+i] = m
//		}
//	}
func MaxPool(isa ISA, dst, src []float32, bases, taps []int, c int) {
	if c <= 0 || len(bases) == 0 {
		return
	}
	if len(dst) < len(bases)*c {
		panic(fmt.Sprintf("asm.MaxPool: dst %d < %d pixels x %d", len(dst), len(bases), c))
	}
	tlo, thi := 0, 0
	for i, o := range taps {
		if i == 0 || o < tlo {
			tlo = o
		}
		if i == 0 || o > thi {
			thi = o
		}
	}
	for _, b := range bases {
		if b+tlo < 0 || b+thi+c > len(src) {
			panic(fmt.Sprintf("asm.MaxPool: window at %d (taps %d..%d, c %d) outside src (%d)", b, tlo, thi, c, len(src)))
		}
	}
	if len(taps) > 0 && c%8 == 0 && actAsm(isa) {
		vmaxPoolAVX2(&dst[0], &src[0], &bases[0], len(bases), &taps[0], len(taps), c)
		return
	}
	for p, b := range bases {
		y := dst[p*c : (p+1)*c]
		for i := range y {
			y[i] = float32(math.Inf(-1))
		}
		for _, o := range taps {
			for i, v := range src[b+o : b+o+c] {
				y[i] = max(y[i], v)
			}
		}
	}
}
