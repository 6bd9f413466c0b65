package asm

//go:generate go run -C _gen . -kernel dwconv_neon -out ../dwconv_minmax_up16_neon_arm64.s

import "fmt"

// DWGeom is a depthwise convolution's geometry over one NHWC sample: input H x W x C,
// window KH x KW with strides SH, SW, dilations DH, DW, top and left padding PadT,
// PadL, output OH x OW x C (output channel ch reads input channel ch: a depth
// multiplier is the caller's, by repeating input channels).
type DWGeom struct {
	H, W, C, KH, KW, SH, SW, DH, DW, PadT, PadL, OH, OW int
}

// DWConv is a depthwise convolution compiled once: weights packed per block of 16
// channels (16 bias values, then each of the KH*KW taps' 16 weights, zero-padded past
// C), the clamp, and each output row's and column's in-bounds tap range. Rows runs it.
// Every output is, as in layers.Conv2D, the bias (or +0) plus each in-bounds tap's
// product x*w in window order (rows, then columns), one float32 multiply and one add
// each (never fused), then min(max(s, lo), hi) with a NaN s kept: the assembly and the
// Go loop give the same bits.
type DWConv struct {
	g      DWGeom
	packed []float32
	lo, hi float32
	rows   []dwRange // per output row: taps [lo, hi) and the window's first input row
	segs   []dwSeg   // runs of output columns with the same in-bounds taps
}

type dwRange struct{ lo, hi, start int }

// dwSeg is n output columns from ox0 whose windows take taps [lo, hi) along x.
type dwSeg struct{ ox0, n, lo, hi int }

func dwTaps(out, in, k, stride, dil, pad int) []dwRange {
	r := make([]dwRange, out)
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
		r[o] = dwRange{lo, hi, start}
	}
	return r
}

// dwBlock is the packed weights' channel block.
const dwBlock = 16

// NewDWConv packs w (KH*KW taps of C weights, w[t*C+ch]) and bias (C values, or nil
// for none) for g, with the output clamp [lo, hi] (-Inf, +Inf for none). It panics on
// a geometry that is not positive or weights of the wrong length (the runtime validates
// layers before compiling them).
func NewDWConv(g DWGeom, w, bias []float32, lo, hi float32) *DWConv {
	if g.H < 1 || g.W < 1 || g.C < 0 || g.KH < 1 || g.KW < 1 || g.SH < 1 || g.SW < 1 || g.DH < 1 || g.DW < 1 ||
		g.OH < 1 || g.OW < 1 || len(w) != g.KH*g.KW*g.C || bias != nil && len(bias) != g.C {
		panic(fmt.Sprintf("asm.NewDWConv: geometry %+v, %d weights, %d biases", g, len(w), len(bias)))
	}
	taps := g.KH * g.KW
	nb := (g.C + dwBlock - 1) / dwBlock
	d := &DWConv{g: g, lo: lo, hi: hi, packed: make([]float32, nb*(1+taps)*dwBlock),
		rows: dwTaps(g.OH, g.H, g.KH, g.SH, g.DH, g.PadT)}
	for b := 0; b < nb; b++ {
		blk := d.packed[b*(1+taps)*dwBlock:]
		for j := 0; j < dwBlock && b*dwBlock+j < g.C; j++ {
			ch := b*dwBlock + j
			if bias != nil {
				blk[j] = bias[ch]
			}
			for t := 0; t < taps; t++ {
				blk[(1+t)*dwBlock+j] = w[t*g.C+ch]
			}
		}
	}
	for ox, r := range dwTaps(g.OW, g.W, g.KW, g.SW, g.DW, g.PadL) {
		if n := len(d.segs); n > 0 && d.segs[n-1].lo == r.lo && d.segs[n-1].hi == r.hi {
			d.segs[n-1].n++
			continue
		}
		d.segs = append(d.segs, dwSeg{ox0: ox, n: 1, lo: r.lo, hi: r.hi})
	}
	return d
}

// Rows computes output rows [oy0, oy1) of one sample: dst holds the sample's OH*OW*C
// outputs, src its H*W*C inputs.
func (d *DWConv) Rows(isa ISA, dst, src []float32, oy0, oy1 int) {
	g := d.g
	if oy0 < 0 || oy1 > g.OH || len(dst) < g.OH*g.OW*g.C || len(src) < g.H*g.W*g.C {
		panic(fmt.Sprintf("asm.DWConv.Rows: rows [%d, %d) of %d, dst %d, src %d for %+v", oy0, oy1, g.OH, len(dst), len(src), g))
	}
	c := g.C
	if c == 0 {
		return
	}
	for oy := oy0; oy < oy1; oy++ {
		ry := d.rows[oy]
		for _, s := range d.segs {
			y := dst[(oy*g.OW+s.ox0)*c : (oy*g.OW+s.ox0+s.n)*c]
			if ry.lo >= ry.hi || s.lo >= s.hi {
				d.biasOnly(y)
				continue
			}
			iy := ry.start + ry.lo*g.DH
			ix := s.ox0*g.SW - g.PadL + s.lo*g.DW
			x := src[(iy*g.W+ix)*c:]
			nky, nkx := ry.hi-ry.lo, s.hi-s.lo
			if dwKernel(isa, d, y, x, s.n, nky, nkx, ry.lo*g.KW+s.lo) {
				continue
			}
			d.segGo(y, x, s.n, nky, nkx, ry.lo*g.KW+s.lo)
		}
	}
}

// segGo is the kernels' segment in Go: per pixel, per block of 16 channels, the
// accumulators from the bias through the taps in window order.
func (d *DWConv) segGo(y, x []float32, npix, nky, nkx, t0 int) {
	g := d.g
	c, bl := g.C, (1+g.KH*g.KW)*dwBlock
	var acc [dwBlock]float32
	for p := 0; p < npix; p++ {
		xp := x[p*g.SW*c:]
		for c0 := 0; c0 < c; c0 += dwBlock {
			n := min(dwBlock, c-c0)
			blk := d.packed[c0/dwBlock*bl:][:bl]
			a := acc[:n]
			copy(a, blk[:n])
			for ky := 0; ky < nky; ky++ {
				for kx := 0; kx < nkx; kx++ {
					xs := xp[(ky*g.DH*g.W+kx*g.DW)*c+c0:][:n]
					ws := blk[(1+t0+ky*g.KW+kx)*dwBlock:][:n]
					for j := range a {
						a[j] += float32(xs[j] * ws[j])
					}
				}
			}
			out := y[p*c+c0:][:n]
			for j, v := range a {
				out[j] = d.clamp(v)
			}
		}
	}
}

// clamp is min(max(v, lo), hi), keeping a NaN v (VMAXPS/VMINPS with v second).
func (d *DWConv) clamp(v float32) float32 {
	if d.lo > v {
		v = d.lo
	}
	if d.hi < v {
		v = d.hi
	}
	return v
}

// biasOnly writes the outputs of pixels whose windows hold no input.
func (d *DWConv) biasOnly(y []float32) {
	taps := d.g.KH * d.g.KW
	for i := range y {
		ch := i % d.g.C
		y[i] = d.clamp(d.packed[ch/dwBlock*(1+taps)*dwBlock+ch%dwBlock])
	}
}

// dwArgs are a segment's byte strides for the assembly kernels.
func (d *DWConv) dwArgs(nkx, t0 int) (pixStride, rowStep, colStride, tapOff, wRowStep, bs int) {
	g := d.g
	c := g.C
	return 4 * g.SW * c, 4 * (g.DH*g.W*c - nkx*g.DW*c), 4 * g.DW * c, 4 * dwBlock * (1 + t0), 4 * dwBlock * (g.KW - nkx), 4 * dwBlock * (1 + g.KH*g.KW)
}
