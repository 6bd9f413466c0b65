package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastPool runs MaxPooling2D / AveragePooling2D over NHWC input. The window's in-bounds
// tap ranges are precomputed per output row and column at compile (no per-tap bounds
// tests). Max pooling gives each output pixel's in-bounds tap offsets to asm.MaxTaps
// (vector max over the C contiguous channels, NaN propagating as in the reference);
// average pooling is one Go pass per tap over the channels, scaled by 1/count. Results equal the reference Forward (same summation order), up to the sign of
// a zero maximum.
type fastPool struct {
	l          *layers.Pool2D
	isa        asm.ISA
	h, w, c    int
	oh, ow     int
	rows, cols []tapRange // per output row / column: in-bounds taps [lo, hi)
	// whole-map path (max pooling, every window inside the input, C % 8 == 0): each
	// output pixel's window start and the window's tap offsets, for asm.MaxPool
	bases, taps []int
}

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
	l, c := k.l, k.c
	ninf := float32(math.Inf(-1))
	if k.bases != nil {
		for b := 0; b < batch; b++ {
			asm.MaxPool(k.isa, dst[b*k.oh*k.ow*c:(b+1)*k.oh*k.ow*c], src[b*k.h*k.w*c:(b+1)*k.h*k.w*c], k.bases, k.taps, c)
		}
		return
	}
	if l.Max && l.KH*l.KW <= maxTapsLimit {
		var offs [maxTapsLimit]int
		for b := 0; b < batch; b++ {
			x := src[b*k.h*k.w*c : (b+1)*k.h*k.w*c]
			for oy, ry := range k.rows {
				for ox, rx := range k.cols {
					n := 0
					for ky := ry.lo; ky < ry.hi; ky++ {
						rowOff := (ry.start + ky*l.DH) * k.w
						for kx := rx.lo; kx < rx.hi; kx++ {
							offs[n] = (rowOff + rx.start + kx*l.DW) * c
							n++
						}
					}
					asm.MaxTaps(k.isa, dst[((b*k.oh+oy)*k.ow+ox)*c:], x, offs[:n], c)
				}
			}
		}
		return
	}
	for b := 0; b < batch; b++ {
		x := src[b*k.h*k.w*c : (b+1)*k.h*k.w*c]
		for oy, ry := range k.rows {
			for ox, rx := range k.cols {
				y := dst[((b*k.oh+oy)*k.ow+ox)*c:][:c]
				if l.Max {
					for i := range y {
						y[i] = ninf
					}
				} else {
					clear(y)
				}
				for ky := ry.lo; ky < ry.hi; ky++ {
					rowOff := (ry.start + ky*l.DH) * k.w
					for kx := rx.lo; kx < rx.hi; kx++ {
						px := x[(rowOff+rx.start+kx*l.DW)*c:][:c]
						if l.Max {
							maxInto(y, px)
						} else {
							addInto(y, px)
						}
					}
				}
				if !l.Max {
					n := (ry.hi - ry.lo) * (rx.hi - rx.lo)
					if l.CountIncludePad {
						n = l.KH * l.KW
					}
					scaleBy(y, 1/float32(max(n, 1)))
				}
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

// fastGlobalPool runs GlobalMax/AveragePooling2D with the same channel loops.
type fastGlobalPool struct {
	l     *layers.GlobalPool2D
	hw, c int
}

func (k *fastGlobalPool) run(dst, src, _ []float32, batch int) {
	hw, c := k.hw, k.c
	for b := 0; b < batch; b++ {
		y := dst[b*c : (b+1)*c]
		x := src[b*hw*c : (b+1)*hw*c]
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
