package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastPool runs MaxPooling2D / AveragePooling2D over NHWC input. The window's in-bounds
// tap ranges are precomputed per output row and column at compile (no per-tap bounds
// tests). Where the path has the vector kernels (asm.PoolTapsAsm), the compile also
// lists every output pixel's in-bounds tap offsets (CSR, asm.PoolTaps) and each whole
// map runs in one call, max or average, bit for bit as the reference Forward. Max
// pooling with every window inside and C % 8 == 0 keeps asm.MaxPool (a zero maximum's
// sign and a NaN's payload may differ there); elsewhere (NEON, purego) max pooling gives
// each output pixel's tap offsets to asm.MaxTaps and average pooling is one Go pass per
// tap over the channels, scaled by 1/count (the reference's order of operations).
// Across a team the output rows split into parts (fast_pool_par.go).
type fastPool struct {
	l          *layers.Pool2D
	isa        asm.ISA
	h, w, c    int
	oh, ow     int
	rows, cols []tapRange // per output row / column: in-bounds taps [lo, hi)
	// whole-map path (max pooling, every window inside the input, C % 8 == 0): each
	// output pixel's window start and the window's tap offsets, for asm.MaxPool
	bases, taps []int
	// tap-list path: every output pixel's in-bounds taps, and (average) 1/count
	tab *asm.PoolTaps
	// team split (forTeam): output row parts
	parts []poolPart
}

// maxPoolTaps bounds the tap lists built at compile (8 bytes a tap): a larger map falls
// back to the per-pixel paths. The count is the product of the row and column tap counts
// of the validated geometry, known before anything is allocated.
const maxPoolTaps = 1 << 20

// tapRange is a window's in-bounds taps along one axis: k in [lo, hi) with input index
// start + k*dil.
type tapRange struct{ lo, hi, start int }

func tapRanges(out, in, k, stride, dil, pad int) []tapRange {
	r := make([]tapRange, out)
	for o := range r {
		start := o*stride - pad
		lo, hi := k, 0
		for t := 0; t < k; t++ {
			if i := start + t*dil; i >= 0 && i < in {
				lo, hi = min(lo, t), max(hi, t+1)
			}
		}
		if hi < lo {
			lo, hi = 0, 0
		}
		r[o] = tapRange{lo, hi, start}
	}
	return r
}

func newFastPool(l *layers.Pool2D, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if len(in) != 3 {
		return compiled{}, false
	}
	h, w, c := in[0], in[1], in[2]
	oh, ow, pt, pl, err := l.Geometry(h, w)
	if err != nil {
		return compiled{}, false
	}
	k := &fastPool{l: l, isa: isa, h: h, w: w, c: c, oh: oh, ow: ow,
		rows: tapRanges(oh, h, l.KH, l.SH, l.DH, pt), cols: tapRanges(ow, w, l.KW, l.SW, l.DW, pl)}
	name := "avgpool2d go"
	if k.tapListOK() && (!l.Max || !k.interior() || c%8 != 0) {
		k.tab = k.buildTaps(0, oh)
		name = "avgpool2d csr/" + isa.String()
		if l.Max {
			name = "maxpool2d csr/" + isa.String()
		}
		return compiled{k: k, name: name}, true
	}
	if l.Max {
		name = "maxpool2d taps/" + isa.String()
		if k.interior() && c%8 == 0 {
			for _, ry := range k.rows {
				for _, rx := range k.cols {
					k.bases = append(k.bases, (ry.start*w+rx.start)*c)
				}
			}
			for ky := 0; ky < l.KH; ky++ {
				for kx := 0; kx < l.KW; kx++ {
					k.taps = append(k.taps, (ky*l.DH*w+kx*l.DW)*c)
				}
			}
			name = "maxpool2d map/" + isa.String()
		}
	}
	return compiled{k: k, name: name}, true
}

// tapListOK reports whether the tap-list kernels run this layer: the path has them and
// the lists fit maxPoolTaps.
func (k *fastPool) tapListOK() bool {
	if !asm.PoolTapsAsm(k.isa) {
		return false
	}
	ny, nx := 0, 0
	for _, r := range k.rows {
		ny += r.hi - r.lo
	}
	for _, r := range k.cols {
		nx += r.hi - r.lo
	}
	return nx == 0 || ny <= maxPoolTaps/nx
}

// buildTaps lists each output pixel's in-bounds taps in the reference's order (window
// rows, then columns) as input offsets, with 1/count (count the in-bounds taps, or the
// whole window with CountIncludePad; at least 1) for average pooling, over output rows
// [oy0, oy1).
func (k *fastPool) buildTaps(oy0, oy1 int) *asm.PoolTaps {
	l := k.l
	npix := (oy1 - oy0) * k.ow
	ptr := make([]int, 1, npix+1)
	var offs []int
	var scale []float32
	if !l.Max {
		scale = make([]float32, 0, npix)
	}
	for _, ry := range k.rows[oy0:oy1] {
		for _, rx := range k.cols {
			for ky := ry.lo; ky < ry.hi; ky++ {
				rowOff := (ry.start + ky*l.DH) * k.w
				for kx := rx.lo; kx < rx.hi; kx++ {
					offs = append(offs, (rowOff+rx.start+kx*l.DW)*k.c)
				}
			}
			ptr = append(ptr, len(offs))
			if !l.Max {
				n := (ry.hi - ry.lo) * (rx.hi - rx.lo)
				if l.CountIncludePad {
					n = l.KH * l.KW
				}
				scale = append(scale, 1/float32(max(n, 1)))
			}
		}
	}
	return asm.NewPoolTaps(offs, ptr, scale, k.c)
}

// maxTapsLimit bounds the window size whose tap offsets run passes to asm.MaxTaps on
// the stack.
const maxTapsLimit = 64

// interior reports whether every window lies wholly inside the input.
func (k *fastPool) interior() bool {
	for _, r := range k.rows {
		if r.lo != 0 || r.hi != k.l.KH {
			return false
		}
	}
	for _, r := range k.cols {
		if r.lo != 0 || r.hi != k.l.KW {
			return false
		}
	}
	return true
}

func (k *fastPool) run(dst, src, _ []float32, batch int) {
	in, out := k.h*k.w*k.c, k.oh*k.ow*k.c
	for b := 0; b < batch; b++ {
		k.rowsOf(dst[b*out:(b+1)*out], src[b*in:(b+1)*in], 0, k.oh, k.tab)
	}
}

// rowsOf computes output rows [oy0, oy1) of one sample (y its whole output, x its
// input); tab, on the tap-list path, lists exactly those rows' pixels.
func (k *fastPool) rowsOf(y, x []float32, oy0, oy1 int, tab *asm.PoolTaps) {
	l, c := k.l, k.c
	ninf := float32(math.Inf(-1))
	ys := y[oy0*k.ow*c : oy1*k.ow*c]
	if tab != nil {
		if l.Max {
			tab.Max(k.isa, ys, x)
		} else {
			tab.Avg(k.isa, ys, x)
		}
		return
	}
	if k.bases != nil {
		asm.MaxPool(k.isa, ys, x, k.bases[oy0*k.ow:oy1*k.ow], k.taps, c)
		return
	}
	if l.Max && l.KH*l.KW <= maxTapsLimit {
		var offs [maxTapsLimit]int
		for oy := oy0; oy < oy1; oy++ {
			ry := k.rows[oy]
			for ox, rx := range k.cols {
				n := 0
				for ky := ry.lo; ky < ry.hi; ky++ {
					rowOff := (ry.start + ky*l.DH) * k.w
					for kx := rx.lo; kx < rx.hi; kx++ {
						offs[n] = (rowOff + rx.start + kx*l.DW) * c
						n++
					}
				}
				asm.MaxTaps(k.isa, y[(oy*k.ow+ox)*c:], x, offs[:n], c)
			}
		}
		return
	}
	for oy := oy0; oy < oy1; oy++ {
		ry := k.rows[oy]
		for ox, rx := range k.cols {
			yp := y[(oy*k.ow+ox)*c:][:c]
			if l.Max {
				for i := range yp {
					yp[i] = ninf
				}
			} else {
				clear(yp)
			}
			for ky := ry.lo; ky < ry.hi; ky++ {
				rowOff := (ry.start + ky*l.DH) * k.w
				for kx := rx.lo; kx < rx.hi; kx++ {
					px := x[(rowOff+rx.start+kx*l.DW)*c:][:c]
					if l.Max {
						maxInto(yp, px)
					} else {
						addInto(yp, px)
					}
				}
			}
			if !l.Max {
				n := (ry.hi - ry.lo) * (rx.hi - rx.lo)
				if l.CountIncludePad {
					n = l.KH * l.KW
				}
				scaleBy(yp, 1/float32(max(n, 1)))
			}
		}
	}
}

// maxInto sets y[i] = max(y[i], x[i]); a NaN in either gives NaN.
func maxInto(y, x []float32) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		y[i] = max(y[i], x[i])
		y[i+1] = max(y[i+1], x[i+1])
		y[i+2] = max(y[i+2], x[i+2])
		y[i+3] = max(y[i+3], x[i+3])
	}
	for ; i < len(y); i++ {
		y[i] = max(y[i], x[i])
	}
}

// addInto sets y[i] += x[i].
func addInto(y, x []float32) {
	x = x[:len(y)]
	i := 0
	for ; i+4 <= len(y); i += 4 {
		y[i] += x[i]
		y[i+1] += x[i+1]
		y[i+2] += x[i+2]
		y[i+3] += x[i+3]
	}
	for ; i < len(y); i++ {
		y[i] += x[i]
	}
}

func scaleBy(y []float32, s float32) {
	for i := range y {
		y[i] *= s
	}
}

// fastGlobalPool runs GlobalMax/AveragePooling2D: asm.GlobalPool's vector kernels where
// the build and CPU have them (compileLayer builds this kernel only for a vector path, and
// every amd64 path that passes pickISA runs AVX2), otherwise the same channel loops in Go.
type fastGlobalPool struct {
	l     *layers.GlobalPool2D
	hw, c int
}

func (k *fastGlobalPool) run(dst, src, _ []float32, batch int) {
	hw, c := k.hw, k.c
	vec := hw > 0 && c > 0 && asm.PoolTapsAsm(asm.AVX2)
	for b := 0; b < batch; b++ {
		y := dst[b*c : (b+1)*c]
		x := src[b*hw*c : (b+1)*hw*c]
		if vec {
			asm.GlobalPool(asm.AVX2, y, x, hw, c, k.l.Max)
			continue
		}
		if k.l.Max {
			copy(y, x[:c])
			for p := 1; p < hw; p++ {
				maxInto(y, x[p*c:(p+1)*c])
			}
			continue
		}
		clear(y)
		for p := 0; p < hw; p++ {
			addInto(y, x[p*c:(p+1)*c])
		}
		scaleBy(y, 1/float32(hw))
	}
}
