package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastConv3D runs an NDHWC Conv3D as GEMM, the 3-D form of fastConv's gather path:
// per sample the input is copied once into a zero-bordered buffer in scratch (the
// extent the windows read), then each chunk of output voxels' im2col rows (KD*KH*KW*C
// columns in the kernel's (kz, ky, kx, ci) order) are gathered as runs at precomputed
// offsets (asm.GatherRuns; KW*C floats a run when DW == 1, else C) and multiplied by
// the packed weights with bias and clamp fused. A 1x1x1 stride-1 unpadded convolution
// is a plain GEMM on the input. Grouped convolutions run as dense ones (zeros between
// the groups), as fastConv does.
type fastConv3D struct {
	gemmLayer
	l              *layers.Conv3D
	d, h, w, c     int
	od, oh, ow     int
	padF, padT     int
	padL           int
	pointwise      bool
	dp, hp, wp     int   // padded extent read
	offs           []int // padded-buffer offset of each im2col run (nil: located per voxel)
	runsPerPix     int
	runLen, padLen int
	chunk          int // output voxels per im2col chunk
}

// denseEquivalent3D returns l with its grouped weights expanded to an ungrouped kernel
// (kd, kh, kw, In, Filters) that is zero between different groups.
func denseEquivalent3D(l *layers.Conv3D) *layers.Conv3D {
	g := l.Groups
	c, f := l.In, l.Filters
	cg, fg := c/g, f/g
	taps := l.Taps()
	w := make([]float32, taps*c*f)
	for t := 0; t < taps; t++ {
		for gi := 0; gi < g; gi++ {
			for cl := 0; cl < cg; cl++ {
				copy(w[t*c*f+(gi*cg+cl)*f+gi*fg:], l.W[t*cg*f+cl*f+gi*fg:][:fg])
			}
		}
	}
	d := *l
	d.Groups, d.W = 1, w
	return &d
}

// conv3DGatherRuns bounds the offset table (ints) of the gather kernel; past it the runs
// are located per voxel (a variable so tests can reach that path).
var conv3DGatherRuns = maxGatherRuns

// maxConv3DPad bounds the zero-bordered input copy and a grouped kernel expanded to a
// dense one (floats): larger ones run the reference pass.
const maxConv3DPad = 1 << 26

func newFastConv3D(l *layers.Conv3D, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if isa == asm.Generic || len(in) != 4 || in[3] != l.In {
		return compiled{}, false
	}
	if g := max(l.Groups, 1); g != 1 {
		if g > maxDenseGroups || l.In%g != 0 || l.Filters%g != 0 || len(l.W) != l.Taps()*(l.In/g)*l.Filters || len(l.W)*g > maxConv3DPad {
			return compiled{}, false
		}
		c, ok := newFastConv3D(denseEquivalent3D(l), in, isa)
		if ok {
			c.name += " (groups=" + itoa(g) + " as dense)"
		}
		return c, ok
	}
	d, h, w, c := in[0], in[1], in[2], in[3]
	od, oh, ow, pf, pt, pl, err := l.Geometry3D(d, h, w)
	if err != nil {
		return compiled{}, false
	}
	kk := l.Taps() * c
	k := &fastConv3D{gemmLayer: newGemmLayer(isa, kk, l.Filters, l.W, l.B, l.Act), l: l,
		d: d, h: h, w: w, c: c, od: od, oh: oh, ow: ow, padF: pf, padT: pt, padL: pl}
	name := k.kernelName("conv3d")
	if l.Taps() == 1 && l.SD == 1 && l.SH == 1 && l.SW == 1 && pf == 0 && pt == 0 && pl == 0 && od == d && oh == h && ow == w {
		k.pointwise = true
		return compiled{k: k, name: name + " 1x1x1"}, true
	}
	k.dp = (od-1)*l.SD + (l.KD-1)*l.DD + 1
	k.hp = (oh-1)*l.SH + (l.KH-1)*l.DH + 1
	k.wp = (ow-1)*l.SW + (l.KW-1)*l.DW + 1
	if int64(k.dp)*int64(k.hp)*int64(k.wp)*int64(c) > maxConv3DPad {
		return compiled{}, false
	}
	k.chunk = max(1, min(od*oh*ow, im2colBudget/kk))
	k.runsPerPix, k.runLen = l.KD*l.KH, l.KW*c
	if l.DW != 1 {
		k.runsPerPix, k.runLen = l.Taps(), c
	}
	k.padLen = k.dp*k.hp*k.wp*c + asm.GatherSlack
	if n := od * oh * ow * k.runsPerPix; n <= conv3DGatherRuns {
		k.offs = make([]int, 0, n)
		for p := 0; p < od*oh*ow; p++ {
			k.offs = k.pixelRuns(k.offs, p)
		}
	}
	sc := k.chunk*kk + asm.GatherSlack + k.padLen
	return compiled{k: k, name: name + " im2col gather", scratchLen: sc}, true
}

// pixelRuns appends the padded-buffer offsets of output voxel p's im2col runs.
func (k *fastConv3D) pixelRuns(offs []int, p int) []int {
	l, c := k.l, k.c
	ox := p % k.ow
	oy := p / k.ow % k.oh
	oz := p / (k.ow * k.oh)
	for kz := 0; kz < l.KD; kz++ {
		pz := oz*l.SD + kz*l.DD
		for ky := 0; ky < l.KH; ky++ {
			row := (pz*k.hp + oy*l.SH + ky*l.DH) * k.wp
			if l.DW == 1 {
				offs = append(offs, (row+ox*l.SW)*c)
				continue
			}
			for kx := 0; kx < l.KW; kx++ {
				offs = append(offs, (row+ox*l.SW+kx*l.DW)*c)
			}
		}
	}
	return offs
}

// fillPad writes sample x into the zero-bordered buffer pad.
func (k *fastConv3D) fillPad(pad, x []float32) {
	c := k.c
	z0, z1 := 0, min(k.d, k.dp-k.padF)
	y0, y1 := 0, min(k.h, k.hp-k.padT)
	x0, x1 := 0, min(k.w, k.wp-k.padL)
	clear(pad)
	if x1 <= x0 {
		return
	}
	for iz := z0; iz < z1; iz++ {
		for iy := y0; iy < y1; iy++ {
			dst := (((iz+k.padF)*k.hp+iy+k.padT)*k.wp + x0 + k.padL) * c
			src := ((iz*k.h+iy)*k.w + x0) * c
			copy(pad[dst:], x[src:src+(x1-x0)*c])
		}
	}
}

func (k *fastConv3D) run(dst, src, scratch []float32, batch int) {
	if k.pointwise {
		k.gemm(batch*k.d*k.h*k.w, src, dst)
		return
	}
	npix := k.od * k.oh * k.ow
	in := k.d * k.h * k.w * k.c
	a, pad := k.buffers(scratch)
	for b := 0; b < batch; b++ {
		k.fillPad(pad, src[b*in:(b+1)*in])
		y := dst[b*npix*k.n:]
		for p0 := 0; p0 < npix; p0 += k.chunk {
			np := min(k.chunk, npix-p0)
			k.im2col(a, pad, p0, np)
			k.gemm(np, a, y[p0*k.n:])
		}
	}
}

// buffers splits scratch into the im2col chunk and the zero-bordered input.
func (k *fastConv3D) buffers(scratch []float32) (a, pad []float32) {
	n := k.chunk*k.l.Taps()*k.c + asm.GatherSlack
	return scratch[:n], scratch[n : n+k.padLen]
}

// im2col writes the patch rows of output voxels p0..p0+np-1 into a from the padded
// input: asm.GatherRuns over the precomputed offsets or, when that table would pass
// maxGatherRuns, the same runs located per voxel and copied in Go.
func (k *fastConv3D) im2col(a, pad []float32, p0, np int) {
	if k.offs != nil {
		asm.GatherRuns(k.isa, a, pad, k.offs[p0*k.runsPerPix:(p0+np)*k.runsPerPix], k.runLen)
		return
	}
	r := 0
	for p := p0; p < p0+np; p++ {
		r = k.copyPixel(a, pad, p, r)
	}
}

// copyPixel copies output voxel p's runs into a from run index r on and returns the
// next run index.
func (k *fastConv3D) copyPixel(a, pad []float32, p, r int) int {
	l, c := k.l, k.c
	ox := p % k.ow
	oy := p / k.ow % k.oh
	oz := p / (k.ow * k.oh)
	for kz := 0; kz < l.KD; kz++ {
		for ky := 0; ky < l.KH; ky++ {
			row := ((oz*l.SD+kz*l.DD)*k.hp + oy*l.SH + ky*l.DH) * k.wp
			nx, step := 1, 0
			if l.DW != 1 {
				nx, step = l.KW, l.DW
			}
			for kx := 0; kx < nx; kx++ {
				o := (row + ox*l.SW + kx*step) * c
				copyRun(a[r*k.runLen:(r+1)*k.runLen], pad[o:])
				r++
			}
		}
	}
	return r
}

// runPar splits a Conv3D across t as fastConv does: a 1x1x1 convolution like any GEMM;
// otherwise per sample by chunks of output voxels, after the caller fills the
// zero-bordered input, each worker gathering into its own patch buffer (forTeam).
func (k *fastConv3D) runPar(t *team, dst, src, scratch []float32, batch int) {
	if k.pointwise {
		rows := batch * k.d * k.h * k.w
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
	npix := k.od * k.oh * k.ow
	chunks := (npix + k.chunk - 1) / k.chunk
	if chunks < 2 || 2*npix*k.n*k.k < parMinFLOPs {
		k.run(dst, src, scratch, batch)
		return
	}
	in := k.d * k.h * k.w * k.c
	_, pad := k.buffers(scratch)
	for b := 0; b < batch; b++ {
		x := src[b*in : (b+1)*in]
		k.fillPad(pad, x)
		t.runTasks(k, chunks, dst[b*npix*k.n:(b+1)*npix*k.n], x, scratch, 1, 0, 0)
	}
}

// parTask: b < 0 is part i of a of the 1x1x1 GEMM over batch rows; else output voxel
// chunk i of one sample, gathered in worker w's patch buffer (the caller's is the first
// of scratch, the helpers' follow the padded input).
func (k *fastConv3D) parTask(r *region, i, w int) {
	if r.b < 0 {
		k.gemmPart(r.batch, r.src, r.dst, i, r.a)
		return
	}
	a, pad := k.buffers(r.scratch)
	if w > 0 {
		per := len(a)
		base := per + k.padLen + (w-1)*per
		a = r.scratch[base : base+per]
	}
	npix := k.od * k.oh * k.ow
	p0 := i * k.chunk
	np := min(k.chunk, npix-p0)
	k.im2col(a, pad, p0, np)
	k.gemm(np, a, r.dst[p0*k.n:])
}

// forTeam gives each helper a patch buffer and, when a sample is one or two chunks,
// smaller chunks (at least 16 voxels) so its voxels split; the chunk changes no value.
func (k *fastConv3D) forTeam(workers, _, sc int) (parKernel, int) {
	if k.pointwise {
		return k, sc
	}
	q := *k
	npix := k.od * k.oh * k.ow
	q.chunk = min(k.chunk, max(16, (npix+2*workers-1)/(2*workers)))
	per := q.chunk*q.l.Taps()*q.c + asm.GatherSlack
	return &q, sc + (workers-1)*per
}
