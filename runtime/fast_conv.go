package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastConv runs an ungrouped NHWC Conv2D as GEMM: A is the im2col matrix (one row per
// output pixel, KH*KW*In columns in the kernel's (ky, kx, ci) order, zeros for padding
// taps), built chunk by chunk in scratch; a 1x1 stride-1 unpadded convolution is a plain
// GEMM on the input with no copy.
type fastConv struct {
	gemmLayer
	l               *layers.Conv2D
	h, w, c, oh, ow int
	padT, padL      int
	pointwise       bool
	chunk           int // output pixels per im2col chunk
}

// im2colBudget bounds the im2col chunk (floats) so scratch stays cache-sized.
const im2colBudget = 1 << 16

// maxDenseGroups is the largest group count a grouped (or depthwise) Conv2D is run as a
// dense one for: its weights are expanded with zeros between the groups, so the GEMM
// does Groups times the useful work, which at this size still beats a scalar loop by far
// (the vector GEMM is 30-100x the plain-Go reference).
const maxDenseGroups = 32

// denseEquivalent returns l with its grouped weights expanded to an ungrouped kernel
// (kh, kw, In, Filters) that is zero between different groups.
func denseEquivalent(l *layers.Conv2D) *layers.Conv2D {
	g := l.Groups
	c, f := l.In, l.Filters
	cg, fg := c/g, f/g
	taps := l.KH * l.KW
	w := make([]float32, taps*c*f)
	for t := 0; t < taps; t++ {
		for gi := 0; gi < g; gi++ {
			for cl := 0; cl < cg; cl++ {
				src := l.W[t*cg*f+cl*f+gi*fg:][:fg]
				copy(w[t*c*f+(gi*cg+cl)*f+gi*fg:], src)
			}
		}
	}
	d := *l
	d.Groups, d.W = 1, w
	return &d
}

func newFastConv(l *layers.Conv2D, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if isa == asm.Generic || len(in) != 3 {
		return compiled{}, false
	}
	if g := max(l.Groups, 1); g != 1 {
		if g > maxDenseGroups || in[2] != l.In || l.In%g != 0 || l.Filters%g != 0 || len(l.W) != l.KH*l.KW*(l.In/g)*l.Filters {
			return compiled{}, false
		}
		c, ok := newFastConv(denseEquivalent(l), in, isa)
		if ok {
			c.name += " (groups=" + itoa(g) + " as dense)"
		}
		return c, ok
	}
	h, w, c := in[0], in[1], in[2]
	oh, ow, pt, pl, err := l.Geometry(h, w)
	if err != nil {
		return compiled{}, false
	}
	kk := l.KH * l.KW * c
	k := &fastConv{gemmLayer: newGemmLayer(isa, kk, l.Filters, l.W, l.B, l.Act), l: l,
		h: h, w: w, c: c, oh: oh, ow: ow, padT: pt, padL: pl}
	k.pointwise = l.KH == 1 && l.KW == 1 && l.SH == 1 && l.SW == 1 && pt == 0 && pl == 0 && oh == h && ow == w
	name := k.kernelName("conv2d")
	if k.pointwise {
		return compiled{k: k, name: name + " 1x1"}, true
	}
	k.chunk = max(1, min(oh*ow, im2colBudget/kk))
	return compiled{k: k, name: name + " im2col", scratchLen: k.chunk * kk}, true
}

func (k *fastConv) run(dst, src, scratch []float32, batch int) {
	if k.pointwise {
		k.gemm(batch*k.h*k.w, src, dst)
		return
	}
	npix := k.oh * k.ow
	for b := 0; b < batch; b++ {
		x := src[b*k.h*k.w*k.c:]
		y := dst[b*npix*k.n:]
		for p0 := 0; p0 < npix; p0 += k.chunk {
			np := min(k.chunk, npix-p0)
			k.im2col(scratch, x, p0, np)
			k.gemm(np, scratch, y[p0*k.n:])
		}
	}
}

// im2col writes np rows (output pixels p0..p0+np-1) of the patch matrix into a. Per
// kernel row it zeroes the out-of-bounds taps and copies the in-bounds ones as one
// contiguous run when DW == 1 (KW*C floats at most), tap by tap otherwise; runs of up to
// 16 floats are assigned inline (a 1-channel 3x3 conv would otherwise be one memmove
// call per tap).
func (k *fastConv) im2col(a, x []float32, p0, np int) {
	l, c := k.l, k.c
	kw := l.KW
	rowLen := kw * c
	kk := l.KH * rowLen
	oy, ox := p0/k.ow, p0%k.ow
	for p := 0; p < np; p++ {
		row := a[p*kk : (p+1)*kk]
		ix0 := ox*l.SW - k.padL
		// in-bounds taps kx in [lo, hi): 0 <= ix0+kx*DW < w
		lo, hi := 0, kw
		if ix0 < 0 {
			lo = min(kw, (-ix0+l.DW-1)/l.DW)
		}
		if last := ix0 + (kw-1)*l.DW; last >= k.w {
			hi = max(0, (k.w-1-ix0)/l.DW+1)
			if k.w-1-ix0 < 0 {
				hi = 0
			}
		}
		hi = max(hi, lo)
		for ky := 0; ky < l.KH; ky++ {
			iy := oy*l.SH + ky*l.DH - k.padT
			seg := row[ky*rowLen : (ky+1)*rowLen]
			if iy < 0 || iy >= k.h || lo == hi {
				clear(seg)
				continue
			}
			if lo > 0 {
				clear(seg[:lo*c])
			}
			if hi < kw {
				clear(seg[hi*c:])
			}
			xr := x[(iy*k.w+ix0+lo*l.DW)*c:]
			if l.DW == 1 {
				copyRun(seg[lo*c:hi*c], xr)
				continue
			}
			for kx := lo; kx < hi; kx++ {
				copyRun(seg[kx*c:(kx+1)*c], xr[(kx-lo)*l.DW*c:])
			}
		}
		if ox++; ox == k.ow {
			ox, oy = 0, oy+1
		}
	}
}

// copyRun copies len(d) floats from s: short runs inline, long ones through copy.
func copyRun(d, s []float32) {
	if len(d) > 16 {
		copy(d, s)
		return
	}
	s = s[:len(d)]
	for i := range d {
		d[i] = s[i]
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
