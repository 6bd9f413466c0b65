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

func newFastConv(l *layers.Conv2D, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if max(l.Groups, 1) != 1 || isa == asm.Generic {
		return compiled{}, false
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

// im2col writes np rows (output pixels p0..p0+np-1) of the patch matrix into a.
func (k *fastConv) im2col(a, x []float32, p0, np int) {
	l, c := k.l, k.c
	kk := l.KH * l.KW * c
	for p := 0; p < np; p++ {
		oy, ox := (p0+p)/k.ow, (p0+p)%k.ow
		row := a[p*kk : (p+1)*kk]
		for ky := 0; ky < l.KH; ky++ {
			iy := oy*l.SH + ky*l.DH - k.padT
			seg := row[ky*l.KW*c : (ky+1)*l.KW*c]
			if iy < 0 || iy >= k.h {
				clear(seg)
				continue
			}
			for kx := 0; kx < l.KW; kx++ {
				ix := ox*l.SW + kx*l.DW - k.padL
				d := seg[kx*c : (kx+1)*c]
				if ix < 0 || ix >= k.w {
					clear(d)
					continue
				}
				copy(d, x[(iy*k.w+ix)*c:])
			}
		}
	}
}
