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

// PoolTaps is a whole output map of pooling given as tap lists, checked once when built:
// output pixel p (of pixels()) reduces the input pixels at float offsets
// offs[ptr[p]:ptr[p+1]] (in that order) over c contiguous channels. Max and Avg run it
// in one call, with the same results as the plain loops of layers.Pool2D, bit for bit
// (but for the payload of a NaN average, which Go's own loops do not fix: a sum of two
// NaNs keeps either operand's).
type PoolTaps struct {
	offs, ptr []int
	scale     []float32
	c         int
	srcLen    int // len(src) needed: the largest offset + c
}

// NewPoolTaps checks and copies a tap table: ptr has one entry per output pixel plus
// one, starts at 0, never decreases and ends at len(offs); every offset is >= 0; scale
// (each pixel's average-pooling factor, nil for max only) has one entry per pixel.
// c must be >= 1. It panics otherwise.
func NewPoolTaps(offs, ptr []int, scale []float32, c int) *PoolTaps {
	if c < 1 || len(ptr) < 1 || ptr[0] != 0 || ptr[len(ptr)-1] != len(offs) {
		panic(fmt.Sprintf("asm.NewPoolTaps: c %d, %d ptr entries, %d offsets", c, len(ptr), len(offs)))
	}
	for p := 1; p < len(ptr); p++ {
		if ptr[p] < ptr[p-1] {
			panic("asm.NewPoolTaps: ptr decreases")
		}
	}
	if scale != nil && len(scale) != len(ptr)-1 {
		panic(fmt.Sprintf("asm.NewPoolTaps: %d scales for %d pixels", len(scale), len(ptr)-1))
	}
	t := &PoolTaps{offs: append([]int(nil), offs...), ptr: append([]int(nil), ptr...), c: c}
	if scale != nil {
		t.scale = append(make([]float32, 0, len(scale)), scale...)
	}
	for _, o := range offs {
		if o < 0 {
			panic(fmt.Sprintf("asm.NewPoolTaps: offset %d", o))
		}
		t.srcLen = max(t.srcLen, o+c)
	}
	return t
}

// pixels is the number of output pixels.
func (t *PoolTaps) pixels() int { return len(t.ptr) - 1 }

func (t *PoolTaps) check(dst, src []float32) {
	if len(dst) < t.pixels()*t.c || len(src) < t.srcLen {
		panic(fmt.Sprintf("asm.PoolTaps: dst %d < %d x %d or src %d < %d", len(dst), t.pixels(), t.c, len(src), t.srcLen))
	}
}

// PoolTapsAsm reports whether the PoolTaps and GlobalPool kernels have a vector form on
// the path (otherwise they run plain Go loops).
func PoolTapsAsm(isa ISA) bool { return actAsm(isa) }

// Max sets dst[p*c+i] to the maximum over pixel p's taps of src[o+i], as layers.Pool2D:
// from -Inf, a tap replaces the running value if it is greater or NaN (so a pixel
// without taps gives -Inf, the first of equal zeros and the last NaN stay).
func (t *PoolTaps) Max(isa ISA, dst, src []float32) {
	t.check(dst, src)
	np, c := t.pixels(), t.c
	if np == 0 {
		return
	}
	if len(t.offs) > 0 && actAsm(isa) {
		vpoolMaxTapsAVX2(&dst[0], &src[0], &t.offs[0], &t.ptr[0], np, c)
		return
	}
	ninf := float32(math.Inf(-1))
	for p := 0; p < np; p++ {
		y := dst[p*c : (p+1)*c]
		for i := range y {
			y[i] = ninf
		}
		for _, o := range t.offs[t.ptr[p]:t.ptr[p+1]] {
			for i, v := range src[o : o+c] {
				if v > y[i] || v != v {
					y[i] = v
				}
			}
		}
	}
}

// Avg sets dst[p*c+i] = ((0 + src[o0+i]) + src[o1+i] + ...) * scale[p] over pixel p's
// taps in order, as layers.Pool2D. It panics if the table has no scales.
func (t *PoolTaps) Avg(isa ISA, dst, src []float32) {
	t.check(dst, src)
	np, c := t.pixels(), t.c
	if t.scale == nil {
		panic("asm.PoolTaps.Avg: no scales")
	}
	if np == 0 {
		return
	}
	if len(t.offs) > 0 && actAsm(isa) {
		vpoolAvgTapsAVX2(&dst[0], &src[0], &t.offs[0], &t.ptr[0], &t.scale[0], np, c)
		return
	}
	for p := 0; p < np; p++ {
		y := dst[p*c : (p+1)*c]
		clear(y)
		for _, o := range t.offs[t.ptr[p]:t.ptr[p+1]] {
			for i, v := range src[o : o+c] {
				y[i] += v
			}
		}
		s := t.scale[p]
		for i := range y {
			y[i] *= s
		}
	}
}

// GlobalPool sets dst[i], i < c, to the maximum (isMax) or the mean of src[t*c+i] over
// t < hw, as layers.GlobalPool2D: the maximum starts from the first pixel, a later one
// replacing it where greater or NaN; the mean is ((0 + x0) + x1 + ...) * (1/float32(hw)).
// hw and c must be >= 1.
func GlobalPool(isa ISA, dst, src []float32, hw, c int, isMax bool) {
	if hw < 1 || c < 1 || len(dst) < c || len(src) < hw*c {
		panic(fmt.Sprintf("asm.GlobalPool: hw %d c %d dst %d src %d", hw, c, len(dst), len(src)))
	}
	if actAsm(isa) {
		if isMax {
			vpoolMaxStrideAVX2(&dst[0], &src[0], hw, c)
		} else {
			vpoolAvgStrideAVX2(&dst[0], &src[0], hw, c, 1/float32(hw))
		}
		return
	}
	y := dst[:c]
	if isMax {
		copy(y, src[:c])
		for p := 1; p < hw; p++ {
			for i, v := range src[p*c : (p+1)*c] {
				if v > y[i] || v != v {
					y[i] = v
				}
			}
		}
		return
	}
	clear(y)
	for p := 0; p < hw; p++ {
		for i, v := range src[p*c : (p+1)*c] {
			y[i] += v
		}
	}
	inv := 1 / float32(hw)
	for i := range y {
		y[i] *= inv
	}
}
