package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastConvTranspose is the fallback fast path of a ConvTranspose2D that the sub-pixel
// path (fast_convtranspose_phase.go) does not take (dilated kernels, crops at the start
// past the taps): per group, one packed GEMM of the input pixels (rows of In/Groups
// channels, read in place with lda = In) by the (In/Groups, KH*KW*F/Groups) kernel, then
// a col2im pass that adds each pixel's KH*KW rows of F/Groups into its output window.
//
// When the windows cannot overlap (KH <= SH and KW <= SW, dilation 1, one group) each
// output cell receives at most one tap, so the GEMM also adds the bias (repeated per
// tap) and any clamp activation, and col2im only copies; cells no tap reaches get the
// bias (through the activation).
type fastConvTranspose struct {
	l         *layers.ConvTranspose2D
	isa       asm.ISA
	h, w, c   int
	oh, ow    int
	cg, fg, n int // per group: GEMM k, filters, GEMM columns (taps*fg)
	packed    [][]float32
	lo, hi    float32
	post      layers.Activation // applied after col2im (Linear when fused)
	disjoint  bool
	chunk     int       // input pixels per GEMM call
	fill      []float32 // disjoint: act(bias) per filter, for cells no tap reaches
	oyOf      []int32   // per (iy, ky): output row or -1
	oxOf      []int32   // per (ix, kx): output column or -1
}

// convTBudget bounds the column buffer (floats) of one GEMM chunk.
const convTBudget = 1 << 16

func newFastConvTranspose(l *layers.ConvTranspose2D, in layers.Shape, isa asm.ISA) (compiled, bool) {
	if isa == asm.Generic || len(in) != 3 || in[2] != l.In {
		return compiled{}, false
	}
	if c, ok := newFastConvTPhases(l, in, isa); ok {
		return c, true
	}
	g := max(l.Groups, 1)
	h, w, c := in[0], in[1], in[2]
	oh, ow := l.OutSize(h, w)
	k := &fastConvTranspose{l: l, h: h, w: w, c: c, oh: oh, ow: ow, cg: c / g, fg: l.Filters / g}
	taps := l.KH * l.KW
	k.n = taps * k.fg
	k.isa = gemmISA(isa, k.n)
	k.disjoint = g == 1 && l.KH <= l.SH && l.KW <= l.SW && l.DH == 1 && l.DW == 1
	lo, hi, fusable := fusedClamp(l.Act)
	inf := float32(math.Inf(1))
	k.lo, k.hi, k.post = -inf, inf, l.Act
	var bias []float32
	if k.disjoint {
		if fusable {
			k.lo, k.hi, k.post = lo, hi, layers.ActLinear
		}
		if l.B != nil {
			bias = make([]float32, k.n)
			for t := 0; t < taps; t++ {
				copy(bias[t*k.fg:], l.B)
			}
		}
	}
	for gi := 0; gi < g; gi++ {
		p := make([]float32, asm.PackedLen(k.isa, k.cg, k.n))
		asm.PackB(k.isa, p, k.cg, k.n, l.W[gi*k.cg*k.n:(gi+1)*k.cg*k.n], bias)
		k.packed = append(k.packed, p)
	}
	if k.disjoint {
		// cells no tap reaches: the bias, with the activation when it is fused (else
		// the activation pass after col2im covers them)
		k.fill = make([]float32, l.Filters)
		copy(k.fill, l.B)
		if k.post.Kind == layers.Linear {
			l.Act.Apply(k.fill, l.Filters)
		}
	}
	k.oyOf = make([]int32, h*l.KH)
	for iy := 0; iy < h; iy++ {
		for ky := 0; ky < l.KH; ky++ {
			oy := iy*l.SH + ky*l.DH - l.Pads[0]
			if oy < 0 || oy >= oh {
				oy = -1
			}
			k.oyOf[iy*l.KH+ky] = int32(oy)
		}
	}
	k.oxOf = make([]int32, w*l.KW)
	for ix := 0; ix < w; ix++ {
		for kx := 0; kx < l.KW; kx++ {
			ox := ix*l.SW + kx*l.DW - l.Pads[2]
			if ox < 0 || ox >= ow {
				ox = -1
			}
			k.oxOf[ix*l.KW+kx] = int32(ox)
		}
	}
	k.chunk = max(1, min(h*w, convTBudget/k.n))
	name := "convtranspose gemm/" + k.isa.String() + " + col2im add"
	if k.disjoint {
		name = "convtranspose gemm/" + k.isa.String() + " + col2im copy"
	}
	if k.post.Kind == layers.Linear && !l.Act.IsLinear() {
		name += " (bias+clamp fused)"
	} else if !l.Act.IsLinear() {
		name += " + " + l.Act.String()
	}
	return compiled{k: k, name: name, scratchLen: k.chunk * k.n}, true
}

func (k *fastConvTranspose) run(dst, src, scratch []float32, batch int) {
	l := k.l
	f := l.Filters
	npix := k.h * k.w
	osz := k.oh * k.ow * f
	for b := 0; b < batch; b++ {
		x := src[b*npix*k.c : (b+1)*npix*k.c]
		y := dst[b*osz : (b+1)*osz]
		switch {
		case k.disjoint:
			for p := 0; p < osz; p += f {
				copy(y[p:p+f], k.fill)
			}
		case l.B != nil:
			for p := 0; p < osz; p += f {
				copy(y[p:p+f], l.B)
			}
		default:
			clear(y)
		}
		for gi, packed := range k.packed {
			for p0 := 0; p0 < npix; p0 += k.chunk {
				np := min(k.chunk, npix-p0)
				cols := scratch[:np*k.n]
				asm.Gemm(k.isa, np, k.n, k.cg, x[p0*k.c+gi*k.cg:], k.c, packed, cols, k.n, k.lo, k.hi)
				k.col2im(y[gi*k.fg:], cols, p0, np)
			}
		}
		if k.post.Kind != layers.Linear {
			applyActivation(k.isa, k.post, y, f)
		}
	}
}

// col2im adds (or, for disjoint windows, copies) the GEMM rows of input pixels
// p0..p0+np-1 into the output; y starts at the group's first filter.
func (k *fastConvTranspose) col2im(y, cols []float32, p0, np int) {
	l := k.l
	f, fg := l.Filters, k.fg
	for p := 0; p < np; p++ {
		iy, ix := (p0+p)/k.w, (p0+p)%k.w
		row := cols[p*k.n : (p+1)*k.n]
		for ky := 0; ky < l.KH; ky++ {
			oy := k.oyOf[iy*l.KH+ky]
			if oy < 0 {
				continue
			}
			base := int(oy) * k.ow
			for kx := 0; kx < l.KW; kx++ {
				ox := k.oxOf[ix*l.KW+kx]
				if ox < 0 {
					continue
				}
				d := y[(base+int(ox))*f:][:fg]
				s := row[(ky*l.KW+kx)*fg:][:fg]
				if k.disjoint {
					copy(d, s)
				} else {
					addTo(d, s)
				}
			}
		}
	}
}

// addTo adds s into d (len(s) == len(d)), eight at a time.
func addTo(d, s []float32) {
	s = s[:len(d)]
	i := 0
	for ; i+8 <= len(d); i += 8 {
		dd, ss := d[i:i+8:i+8], s[i:i+8:i+8]
		dd[0] += ss[0]
		dd[1] += ss[1]
		dd[2] += ss[2]
		dd[3] += ss[3]
		dd[4] += ss[4]
		dd[5] += ss[5]
		dd[6] += ss[6]
		dd[7] += ss[7]
	}
	for ; i < len(d); i++ {
		d[i] += s[i]
	}
}
