package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastDepthwise runs a depthwise Conv2D (one input channel per group, Groups = In,
// Filters = In*m) on asm.DWConv: per output pixel the bias plus each in-bounds tap's
// product in the reference's (ky, kx) order, one multiply and one add each, so the sums
// are the reference's operation for operation (on amd64, where Go does not fuse
// multiply-adds); a ReLU-type clamp is applied in the kernel's store, any other
// activation to each part of the output after it. A depth multiplier m > 1 first
// repeats each input channel m times into scratch (output channel ci*m+j reads input
// channel ci), so the kernel always maps output channel to input channel one to one.
// Across a team the output rows (of all samples, for m == 1) split into tasks.
type fastDepthwise struct {
	l           *layers.Conv2D
	isa         asm.ISA
	d           *asm.DWConv
	post        layers.Activation // the activation not fused into the stores
	h, w, c     int
	oh, ow, f   int
	m           int // depth multiplier
	flopsPerRow int
}

// depthwiseOK reports whether l is a depthwise convolution of input in.
func depthwiseOK(l *layers.Conv2D, in layers.Shape) bool {
	return len(in) == 3 && l.Groups > 1 && l.Groups == l.In && in[2] == l.In && l.Filters%l.In == 0 &&
		len(l.W) == l.KH*l.KW*l.Filters && (l.B == nil || len(l.B) == l.Filters)
}

// newFastDepthwise selects the depthwise kernel for l unless the dense-equivalent GEMM
// is faster: with a depth multiplier m > 1 and few enough groups for the GEMM path
// (maxDenseGroups), which it is because the kernel first copies the input m times in Go.
// Measured at batch 1, 3x3 ReLU (BenchmarkDepthwiseCrossover, AVX-512), kernel / GEMM
// time: m = 1 0.1-0.9 at every width and map (4..32 channels, 4x4..32x32); m = 2 1.2-3x
// at 4 and 16 channels, 0.9-1.1 at 32, 0.65 only at 8 channels stride 1. The toy
// depthwise_cnn fixture (4 channels, m = 2, 10x10) went 1.43 -> 1.56 us on the kernel.
func newFastDepthwise(l *layers.Conv2D, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if l.Groups > 0 && l.Filters/l.Groups > 1 && l.Groups <= maxDenseGroups {
		return compiled{}, false
	}
	return buildDepthwise(l, in, isa)
}

// buildDepthwise compiles l on the depthwise kernel.
func buildDepthwise(l *layers.Conv2D, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if isa == asm.Generic || !depthwiseOK(l, in) || l.KH < 1 || l.KW < 1 || l.SH < 1 || l.SW < 1 || l.DH < 1 || l.DW < 1 {
		return compiled{}, false
	}
	oh, ow, pt, pl, err := l.Geometry(in[0], in[1])
	if err != nil || oh < 1 || ow < 1 {
		return compiled{}, false
	}
	k := &fastDepthwise{l: l, isa: isa, h: in[0], w: in[1], c: in[2], oh: oh, ow: ow, f: l.Filters, m: l.Filters / l.In, post: l.Act}
	lo, hi, fused := fusedClamp(l.Act)
	if fused {
		k.post = layers.ActLinear
	} else {
		lo, hi, _ = fusedClamp(layers.ActLinear)
	}
	g := asm.DWGeom{H: k.h, W: k.w, C: k.f, KH: l.KH, KW: l.KW, SH: l.SH, SW: l.SW, DH: l.DH, DW: l.DW,
		PadT: pt, PadL: pl, OH: oh, OW: ow}
	k.d = asm.NewDWConv(g, l.W, l.B, lo, hi)
	k.flopsPerRow = 2 * ow * k.f * l.KH * l.KW
	c := compiled{k: k, name: "depthwise conv2d " + isa.String() + " + " + l.Act.String()}
	if k.m > 1 {
		c.scratchLen = k.h * k.w * k.f
	}
	return c, true
}

// expand repeats each input channel of sample x m times into sc.
func (k *fastDepthwise) expand(sc, x []float32) []float32 {
	if k.m == 1 {
		return x
	}
	e := sc[:k.h*k.w*k.f]
	for p := 0; p < k.h*k.w; p++ {
		xp, ep := x[p*k.c:(p+1)*k.c], e[p*k.f:(p+1)*k.f]
		for ci, v := range xp {
			for j := range k.m {
				ep[ci*k.m+j] = v
			}
		}
	}
	return e
}

func (k *fastDepthwise) run(dst, src, scratch []float32, batch int) {
	in, out := k.h*k.w*k.c, k.oh*k.ow*k.f
	for b := 0; b < batch; b++ {
		k.d.Rows(k.isa, dst[b*out:(b+1)*out], k.expand(scratch, src[b*in:(b+1)*in]), 0, k.oh)
	}
	if k.post.Kind != layers.Linear {
		applyActivation(k.isa, k.post, dst[:batch*out], k.f)
	}
}

// runPar splits the output rows into tasks: of every sample in one region for m == 1,
// else per sample after the caller expands it. Small steps run on the caller.
func (k *fastDepthwise) runPar(t *team, dst, src, scratch []float32, batch int) {
	rows := k.oh
	if k.m == 1 {
		rows *= batch
	}
	n := min(rows, 2*t.workers())
	if n < 2 || rows*k.flopsPerRow < parMinFLOPs {
		k.run(dst, src, scratch, batch)
		return
	}
	if k.m == 1 {
		t.runTasks(k, n, dst, src, nil, batch, n, 0)
		return
	}
	in, out := k.h*k.w*k.c, k.oh*k.ow*k.f
	for b := 0; b < batch; b++ {
		x := k.expand(scratch, src[b*in:(b+1)*in])
		t.runTasks(k, n, dst[b*out:(b+1)*out], x, nil, 1, n, 0)
	}
}

// parTask computes part i of r.a of the output rows of r.batch samples (flattened as
// sample*oh + row), then the unfused activation over them.
func (k *fastDepthwise) parTask(r *region, i, _ int) {
	lo, hi := span(r.batch*k.oh, r.a, i, 1)
	in, out, row := k.h*k.w*k.f, k.oh*k.ow*k.f, k.ow*k.f
	for q := lo; q < hi; {
		b, oy := q/k.oh, q%k.oh
		end := min(hi, (b+1)*k.oh)
		k.d.Rows(k.isa, r.dst[b*out:(b+1)*out], r.src[b*in:(b+1)*in], oy, oy+end-q)
		q = end
	}
	if k.post.Kind != layers.Linear && hi > lo {
		applyActivation(k.isa, k.post, r.dst[lo*row:hi*row], k.f)
	}
}

func (k *fastDepthwise) forTeam(_, _, sc int) (parKernel, int) { return k, sc }
