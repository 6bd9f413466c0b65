package runtime

import (
	"unsafe"

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
	rows, cols      []tapRange // in-bounds taps per output row / column
	hp, wp          int        // gather path: padded input extent actually read
	offs            []int      // gather path: source offset of each im2col run
	runLen, padLen  int
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
	if c, ok := newFastWinograd(l, in, isa); ok {
		return c, true
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
	k.rows = tapRanges(oh, h, l.KH, l.SH, l.DH, pt)
	k.cols = tapRanges(ow, w, l.KW, l.SW, l.DW, pl)
	// Gather path: the input copied once into a zero-bordered buffer, then every im2col
	// run is a plain copy at a precomputed offset (asm.GatherRuns).
	k.hp, k.wp = (oh-1)*l.SH+(l.KH-1)*l.DH+1, (ow-1)*l.SW+(l.KW-1)*l.DW+1
	runsPerPix, runLen := l.KH, l.KW*c
	if l.DW != 1 {
		runsPerPix, runLen = l.KH*l.KW, c
	}
	if n := oh * ow * runsPerPix; n <= maxGatherRuns && k.hp*k.wp*c <= im2colBudget*4 {
		k.runLen = runLen
		k.offs = make([]int, 0, n)
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for ky := 0; ky < l.KH; ky++ {
					py := oy*l.SH + ky*l.DH
					if l.DW == 1 {
						k.offs = append(k.offs, (py*k.wp+ox*l.SW)*c)
						continue
					}
					for kx := 0; kx < l.KW; kx++ {
						k.offs = append(k.offs, (py*k.wp+ox*l.SW+kx*l.DW)*c)
					}
				}
			}
		}
		k.padLen = k.hp*k.wp*c + asm.GatherSlack
		sc := k.chunk*kk + asm.GatherSlack + k.padLen
		return compiled{k: k, name: name + " im2col gather", scratchLen: sc}, true
	}
	return compiled{k: k, name: name + " im2col", scratchLen: k.chunk * kk}, true
}

// maxGatherRuns bounds the gather path's offset table (ints).
const maxGatherRuns = 1 << 18

// runGather is run for the gather path: per sample, the zero-bordered input, then per
// chunk of output pixels the im2col rows by asm.GatherRuns and the GEMM.
func (k *fastConv) runGather(dst, src, res, scratch []float32, batch int, e *epilogue) {
	l, c := k.l, k.c
	kk := l.KH * l.KW * c
	npix := k.oh * k.ow
	a := scratch[:k.chunk*kk+asm.GatherSlack]
	pad := scratch[len(a) : len(a)+k.padLen]
	runsPerPix := len(k.offs) / npix
	for b := 0; b < batch; b++ {
		k.fillPad(scratch, src[b*k.h*k.w*c:(b+1)*k.h*k.w*c])
		y := dst[b*npix*k.n:]
		for p0 := 0; p0 < npix; p0 += k.chunk {
			np := min(k.chunk, npix-p0)
			asm.GatherRuns(k.gisa(), a, pad, k.offs[p0*runsPerPix:(p0+np)*runsPerPix], k.runLen)
			k.gemmOut(np, a, y[p0*k.n:], resAt(res, (b*npix+p0)*k.n), e)
		}
	}
}

// resAt is res from offset o (nil when there is no residual).
func resAt(res []float32, o int) []float32 {
	if res == nil {
		return nil
	}
	return res[o:]
}

// gisa is the ISA for the data-movement kernels (the GEMM's, which is never Generic here).
func (k *fastConv) gisa() asm.ISA { return k.isa }

func (k *fastConv) run(dst, src, scratch []float32, batch int) {
	k.runRes(dst, src, nil, scratch, batch, nil)
}

// runRes is run with the residual epilogue e (nil: none) applied to each GEMM panel.
func (k *fastConv) runRes(dst, src, res, scratch []float32, batch int, e *epilogue) {
	if k.pointwise {
		k.gemmOut(batch*k.h*k.w, src, dst, res, e)
		return
	}
	if k.offs != nil {
		k.runGather(dst, src, res, scratch, batch, e)
		return
	}
	npix := k.oh * k.ow
	for b := 0; b < batch; b++ {
		x := src[b*k.h*k.w*k.c:]
		y := dst[b*npix*k.n:]
		for p0 := 0; p0 < npix; p0 += k.chunk {
			np := min(k.chunk, npix-p0)
			k.im2col(scratch, x, p0, np)
			k.gemmOut(np, scratch, y[p0*k.n:], resAt(res, (b*npix+p0)*k.n), e)
		}
	}
}

// im2col writes np rows (output pixels p0..p0+np-1) of the patch matrix into a. The
// in-bounds taps of every output row and column are precomputed (tapRanges). A pixel
// whose window lies inside the input with DW == 1 is KH contiguous runs of KW*C floats,
// copied by copyRun (fixed-size moves for short runs: a 1-channel 3x3 conv is 3 floats a
// run); a window at an edge zeroes the row and copies its in-bounds taps.
func (k *fastConv) im2col(a, x []float32, p0, np int) {
	l, c := k.l, k.c
	rowLen := l.KW * c
	kk := l.KH * rowLen
	oy, ox := p0/k.ow, p0%k.ow
	a = a[:np*kk]
	for p := 0; p < np; p++ {
		row := a[p*kk : (p+1)*kk]
		ry, rx := k.rows[oy], k.cols[ox]
		if ry.lo == 0 && ry.hi == l.KH && rx.lo == 0 && rx.hi == l.KW && l.DW == 1 {
			base := (ry.start*k.w + rx.start) * c
			step := l.DH * k.w * c
			for ky := 0; ky < l.KH; ky++ {
				copyRun(row[ky*rowLen:(ky+1)*rowLen], x[base+ky*step:])
			}
		} else {
			clear(row)
			if rx.lo == rx.hi {
				ry.hi = ry.lo // no tap in bounds along W
			}
			for ky := ry.lo; ky < ry.hi; ky++ {
				// xr starts at the first in-bounds tap (the window start may be < 0)
				xr := x[((ry.start+ky*l.DH)*k.w+rx.start+rx.lo*l.DW)*c:]
				seg := row[ky*rowLen : (ky+1)*rowLen]
				if l.DW == 1 {
					copyRun(seg[rx.lo*c:rx.hi*c], xr)
					continue
				}
				for kx := rx.lo; kx < rx.hi; kx++ {
					copyRun(seg[kx*c:(kx+1)*c], xr[(kx-rx.lo)*l.DW*c:])
				}
			}
		}
		if ox++; ox == k.ow {
			ox, oy = 0, oy+1
		}
	}
}

// copyRun copies len(d) floats from s: runs of up to 8 as fixed-size moves, longer
// ones through copy.
func copyRun(d, s []float32) {
	n := len(d)
	if n > 8 {
		copy(d, s)
		return
	}
	if len(s) < n {
		panic("copyRun: short source")
	}
	dp, sp := unsafe.Pointer(unsafe.SliceData(d)), unsafe.Pointer(unsafe.SliceData(s))
	switch n {
	case 1:
		*(*float32)(dp) = *(*float32)(sp)
	case 2:
		*(*[2]float32)(dp) = *(*[2]float32)(sp)
	case 3:
		*(*[3]float32)(dp) = *(*[3]float32)(sp)
	case 4:
		*(*[4]float32)(dp) = *(*[4]float32)(sp)
	case 5:
		*(*[5]float32)(dp) = *(*[5]float32)(sp)
	case 6:
		*(*[6]float32)(dp) = *(*[6]float32)(sp)
	case 7:
		*(*[7]float32)(dp) = *(*[7]float32)(sp)
	case 8:
		*(*[8]float32)(dp) = *(*[8]float32)(sp)
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// runPar splits a convolution across t: a 1x1 convolution like any GEMM; an im2col one
// per sample by chunks of output pixels, each worker building its own patch rows
// (forTeam gives it a buffer), after the caller fills the gather path's zero-bordered
// input.
func (k *fastConv) runPar(t *team, dst, src, scratch []float32, batch int) {
	if k.pointwise {
		rows := batch * k.h * k.w
		n := gemmTasks(t.workers(), rows, k.n, k.k)
		if n == 1 {
			k.run(dst, src, scratch, batch)
			return
		}
		t.runTasks(k, n, dst, src, nil, rows, n, -1)
		if k.post.Kind != layers.Linear {
			applyActivation(k.isa, k.post, dst[:rows*k.n], k.n)
		}
		return
	}
	npix := k.oh * k.ow
	chunks := (npix + k.chunk - 1) / k.chunk
	if chunks < 2 || 2*npix*k.n*k.k < parMinFLOPs {
		k.run(dst, src, scratch, batch)
		return
	}
	for b := 0; b < batch; b++ {
		x := src[b*k.h*k.w*k.c : (b+1)*k.h*k.w*k.c]
		if k.offs != nil {
			k.fillPad(scratch, x)
		}
		t.runTasks(k, chunks, dst[b*npix*k.n:(b+1)*npix*k.n], x, scratch, 1, 0, 0)
	}
}

// parTask: b < 0 is part i of a of the 1x1 GEMM over batch rows; else output pixel
// chunk i of one sample, built in worker w's patch buffer.
func (k *fastConv) parTask(r *region, i, w int) {
	if r.b < 0 {
		k.gemmPart(r.batch, r.src, r.dst, i, r.a)
		return
	}
	per := k.patchLen()
	base := per
	if k.offs != nil {
		base += k.padLen
	}
	a := r.scratch[:per]
	if w > 0 {
		a = r.scratch[base+(w-1)*per : base+w*per]
	}
	npix := k.oh * k.ow
	p0 := i * k.chunk
	np := min(k.chunk, npix-p0)
	if k.offs != nil {
		runsPerPix := len(k.offs) / npix
		pad := r.scratch[per : per+k.padLen]
		asm.GatherRuns(k.gisa(), a, pad, k.offs[p0*runsPerPix:(p0+np)*runsPerPix], k.runLen)
	} else {
		k.im2col(a, r.src, p0, np)
	}
	k.gemm(np, a, r.dst[p0*k.n:])
}

// forTeam gives each helper a patch buffer and, when a sample is one or two chunks,
// smaller chunks (at least 16 pixels) so its pixels split; the chunk changes no value
// (each GEMM row is one pixel's sum).
func (k *fastConv) forTeam(workers, _, sc int) (parKernel, int) {
	if k.pointwise {
		return k, sc
	}
	q := *k
	npix := k.oh * k.ow
	q.chunk = min(k.chunk, max(16, (npix+2*workers-1)/(2*workers)))
	return &q, sc + (workers-1)*q.patchLen()
}

// patchLen is one worker's patch buffer (floats): a chunk of im2col rows, with the
// gather kernel's slack on the gather path.
func (k *fastConv) patchLen() int {
	n := k.chunk * k.l.KH * k.l.KW * k.c
	if k.offs != nil {
		n += asm.GatherSlack
	}
	return n
}

// fillPad writes sample x into the gather path's zero-bordered input buffer.
func (k *fastConv) fillPad(scratch, x []float32) {
	c := k.c
	pad := scratch[k.patchLen() : k.patchLen()+k.padLen]
	y0, y1 := max(0, -k.padT), min(k.h, k.hp-k.padT)
	x0, x1 := max(0, -k.padL), min(k.w, k.wp-k.padL)
	clear(pad)
	if x1 > x0 {
		for iy := y0; iy < y1; iy++ {
			copy(pad[((iy+k.padT)*k.wp+x0+k.padL)*c:], x[(iy*k.w+x0)*c:(iy*k.w+x1)*c])
		}
	}
}
