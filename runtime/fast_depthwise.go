package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastDepthwise runs a depthwise Conv2D (one input channel per group, Groups = In,
// Filters = In*m) with more groups than the dense-equivalent GEMM takes
// (maxDenseGroups): MobileNet/EfficientNet blocks of 96 to 1152 channels, where the
// reference loop spends its time on per-group slicing. Per output pixel it starts
// from the bias and adds each in-bounds tap in the reference's (ky, kx) order as one
// loop over the channels, so the sums are the reference's, operation for operation;
// the activation is applied to the whole output at the end (vector kernels).
type fastDepthwise struct {
	l                       *layers.Conv2D
	isa                     asm.ISA
	h, w, c, oh, ow, pt, pl int
	m                       int // depth multiplier
}

func newFastDepthwise(l *layers.Conv2D, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if len(in) != 3 || l.Groups <= 1 || l.Groups != l.In || in[2] != l.In || l.Filters%l.In != 0 ||
		len(l.W) != l.KH*l.KW*l.Filters || l.B != nil && len(l.B) != l.Filters {
		return compiled{}, false
	}
	oh, ow, pt, pl, err := l.Geometry(in[0], in[1])
	if err != nil {
		return compiled{}, false
	}
	k := &fastDepthwise{l: l, isa: isa, h: in[0], w: in[1], c: in[2], oh: oh, ow: ow, pt: pt, pl: pl, m: l.Filters / l.In}
	return compiled{k: k, name: "depthwise conv2d go + " + l.Act.String()}, true
}

func (k *fastDepthwise) run(dst, src, _ []float32, batch int) {
	l := k.l
	f := l.Filters
	for b := 0; b < batch; b++ {
		x := src[b*k.h*k.w*k.c:]
		for oy := 0; oy < k.oh; oy++ {
			for ox := 0; ox < k.ow; ox++ {
				y := dst[((b*k.oh+oy)*k.ow+ox)*f:][:f]
				if l.B != nil {
					copy(y, l.B)
				} else {
					clear(y)
				}
				for ky := 0; ky < l.KH; ky++ {
					iy := oy*l.SH + ky*l.DH - k.pt
					if iy < 0 || iy >= k.h {
						continue
					}
					for kx := 0; kx < l.KW; kx++ {
						ix := ox*l.SW + kx*l.DW - k.pl
						if ix < 0 || ix >= k.w {
							continue
						}
						px := x[(iy*k.w+ix)*k.c:][:k.c]
						wk := l.W[(ky*l.KW+kx)*f:][:f]
						if k.m == 1 {
							mulAcc(y, px, wk)
							continue
						}
						for ci, xv := range px {
							yg, row := y[ci*k.m:][:k.m], wk[ci*k.m:][:k.m]
							for j, wv := range row {
								yg[j] += xv * wv
							}
						}
					}
				}
			}
		}
	}
	applyActivation(k.isa, l.Act, dst[:batch*k.oh*k.ow*f], f)
}

// mulAcc is y[i] += x[i]*w[i].
func mulAcc(y, x, w []float32) {
	x, w = x[:len(y)], w[:len(y)]
	for i := range y {
		y[i] += x[i] * w[i]
	}
}
