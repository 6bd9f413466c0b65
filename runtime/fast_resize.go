package runtime

import (
	"github.com/kinfer/kinfer/layers"
)

// fastResize runs a Resize2D from tables built at compile: per output row and column
// the source cells (and, for linear, the weight of the second one), found with the
// reference's own float64 coordinate mapping, so only the interpolation arithmetic
// (float32 here, float64 in the reference) differs.
type fastResize struct {
	linear       bool
	h, w, c      int
	oh, ow       int
	y0, y1       []int // source rows per output row
	x0, x1       []int // source columns per output column (times c: element offsets)
	wy, wx       []float32
	nearY, nearX []int
}

func newFastResize(l *layers.Resize2D, in layers.Shape) (compiled, bool) {
	if len(in) != 3 {
		return compiled{}, false
	}
	out, err := l.OutputShape(in)
	if err != nil {
		return compiled{}, false
	}
	h, w, c := in[0], in[1], in[2]
	k := &fastResize{linear: l.Linear, h: h, w: w, c: c, oh: out[0], ow: out[1]}
	if !l.Linear {
		k.nearY, k.nearX = make([]int, k.oh), make([]int, k.ow)
		for o := range k.nearY {
			k.nearY[o] = l.NearestCell(o, h, k.oh, l.ScaleH)
		}
		for o := range k.nearX {
			k.nearX[o] = l.NearestCell(o, w, k.ow, l.ScaleW) * c
		}
		return compiled{k: k, name: "resize nearest go (tables)"}, true
	}
	k.y0, k.y1, k.wy = make([]int, k.oh), make([]int, k.oh), make([]float32, k.oh)
	for o := range k.y0 {
		a, b, f := l.LinearCells(o, h, k.oh, l.ScaleH)
		k.y0[o], k.y1[o], k.wy[o] = a, b, float32(f)
	}
	k.x0, k.x1, k.wx = make([]int, k.ow), make([]int, k.ow), make([]float32, k.ow)
	for o := range k.x0 {
		a, b, f := l.LinearCells(o, w, k.ow, l.ScaleW)
		k.x0[o], k.x1[o], k.wx[o] = a*c, b*c, float32(f)
	}
	return compiled{k: k, name: "resize linear go (tables)"}, true
}

func (k *fastResize) run(dst, src, _ []float32, batch int) {
	c := k.c
	rs := k.w * c
	for b := 0; b < batch; b++ {
		x := src[b*k.h*rs : (b+1)*k.h*rs]
		y := dst[b*k.oh*k.ow*c : (b+1)*k.oh*k.ow*c]
		for oy := 0; oy < k.oh; oy++ {
			row := y[oy*k.ow*c : (oy+1)*k.ow*c]
			if !k.linear {
				sr := x[k.nearY[oy]*rs:]
				for ox, sx := range k.nearX {
					copy(row[ox*c:(ox+1)*c], sr[sx:sx+c])
				}
				continue
			}
			r0, r1, wy := x[k.y0[oy]*rs:], x[k.y1[oy]*rs:], k.wy[oy]
			for ox := range k.ow {
				a, bb, wx := k.x0[ox], k.x1[ox], k.wx[ox]
				d := row[ox*c : (ox+1)*c]
				p00, p01 := r0[a:a+c], r0[bb:bb+c]
				p10, p11 := r1[a:a+c], r1[bb:bb+c]
				for i := range d {
					top := p00[i] + wx*(p01[i]-p00[i])
					bot := p10[i] + wx*(p11[i]-p10[i])
					d[i] = top + wy*(bot-top)
				}
			}
		}
	}
}
