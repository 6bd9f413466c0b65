package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// dwNaive is the depthwise convolution straight from its definition, in layers.Conv2D's
// order: the bias, then every in-bounds tap's product in window order, then the clamp.
func dwNaive(g DWGeom, dst, src, w, bias []float32, lo, hi float32) {
	for oy := 0; oy < g.OH; oy++ {
		for ox := 0; ox < g.OW; ox++ {
			for ch := 0; ch < g.C; ch++ {
				var acc float32
				if bias != nil {
					acc = bias[ch]
				}
				for ky := 0; ky < g.KH; ky++ {
					iy := oy*g.SH + ky*g.DH - g.PadT
					if iy < 0 || iy >= g.H {
						continue
					}
					for kx := 0; kx < g.KW; kx++ {
						ix := ox*g.SW + kx*g.DW - g.PadL
						if ix < 0 || ix >= g.W {
							continue
						}
						acc += float32(src[(iy*g.W+ix)*g.C+ch] * w[(ky*g.KW+kx)*g.C+ch])
					}
				}
				if lo > acc {
					acc = lo
				}
				if hi < acc {
					acc = hi
				}
				dst[(oy*g.OW+ox)*g.C+ch] = acc
			}
		}
	}
}

func dwOut(in, k, s, d, pb, pa int) int { return (in+pb+pa-(k-1)*d-1)/s + 1 }

// TestDWConv checks every path against dwNaive bit for bit (NaN for NaN) at channel
// counts around the tiles (0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 97),
// widths 1.., 3x3 and other windows, strides 1 and 2, dilation, padding wider than the
// window (pixels with no input), clamps, NaN and Inf inputs and weights, an unaligned
// src and guard bands around dst, and row ranges (the split the runtime uses).
func TestDWConv(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	inf := float32(math.Inf(1))
	type cs struct{ h, w, kh, kw, s, d, pt, pb, pl, pr int }
	geoms := []cs{
		{1, 1, 3, 3, 1, 1, 1, 1, 1, 1},
		{5, 7, 3, 3, 1, 1, 1, 1, 1, 1},
		{6, 9, 3, 3, 2, 1, 0, 1, 0, 1},
		{7, 4, 3, 3, 2, 1, 1, 1, 1, 1},
		{8, 8, 5, 5, 1, 1, 2, 2, 2, 2},
		{9, 6, 5, 5, 2, 1, 1, 2, 1, 2},
		{8, 7, 3, 3, 1, 2, 2, 2, 2, 2},
		{5, 5, 3, 3, 1, 1, 0, 0, 0, 0},
		{3, 2, 1, 1, 1, 1, 0, 0, 0, 0},
		{4, 5, 2, 3, 1, 1, 3, 3, 4, 4}, // padding wider than the window
		{2, 13, 1, 7, 3, 1, 0, 0, 3, 3},
		{3, 1, 3, 3, 1, 1, 1, 1, 1, 1}, // width 1
		{4, 2, 3, 3, 2, 1, 1, 1, 1, 1}, // width 2, stride 2
		{5, 3, 3, 3, 2, 2, 2, 2, 2, 2}, // width 3, stride 2, dilation 2
		{2, 17, 3, 3, 1, 1, 1, 1, 1, 1},
	}
	for _, c := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 97} {
		for gi, q := range geoms {
			g := DWGeom{H: q.h, W: q.w, C: c, KH: q.kh, KW: q.kw, SH: q.s, SW: q.s, DH: q.d, DW: q.d, PadT: q.pt, PadL: q.pl,
				OH: dwOut(q.h, q.kh, q.s, q.d, q.pt, q.pb), OW: dwOut(q.w, q.kw, q.s, q.d, q.pl, q.pr)}
			w := randVec(r, g.KH*g.KW*c)
			var bias []float32
			if gi%3 != 1 {
				bias = randVec(r, c)
			}
			src := make([]float32, 1+g.H*g.W*c)[1:] // unaligned
			copy(src, randVec(r, len(src)))
			if len(src) > 3 {
				src[r.IntN(len(src))] = float32(math.NaN())
				src[r.IntN(len(src))] = inf
				src[r.IntN(len(src))] = -inf
			}
			if len(w) > 0 && gi%4 == 0 {
				w[r.IntN(len(w))] = inf
			}
			for _, cl := range [][2]float32{{-inf, inf}, {0, inf}, {0, 6}, {-0.5, 0.25}} {
				n := g.OH * g.OW * c
				want := make([]float32, n)
				dwNaive(g, want, src, w, bias, cl[0], cl[1])
				d := NewDWConv(g, w, bias, cl[0], cl[1])
				for _, isa := range Paths() {
					const guard = 16
					got := make([]float32, n+2*guard)
					for i := range got {
						got[i] = -777
					}
					y := got[guard : guard+n]
					// whole map, then again as row ranges over a fresh buffer
					for pass := 0; pass < 2; pass++ {
						if pass == 0 {
							d.Rows(isa, y, src, 0, g.OH)
						} else {
							for i := range y {
								y[i] = -777
							}
							for oy := 0; oy < g.OH; oy += 2 {
								d.Rows(isa, y, src, oy, min(oy+2, g.OH))
							}
						}
						name := fmt.Sprintf("%v c%d geom%d clamp%v pass%d", isa, c, gi, cl, pass)
						for i, wv := range want {
							if gv := y[i]; gv != wv && !(gv != gv && wv != wv) || math.Signbit(float64(gv)) != math.Signbit(float64(wv)) && gv == gv {
								t.Fatalf("%s: out[%d] = %v, want %v", name, i, gv, wv)
							}
						}
						for i := 0; i < guard; i++ {
							if got[i] != -777 || got[guard+n+i] != -777 {
								t.Fatalf("%s: wrote outside dst", name)
							}
						}
					}
				}
			}
		}
	}
}

func randVec(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func BenchmarkDWConv(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, q := range []struct{ h, c, s int }{{64, 16, 1}, {32, 96, 2}, {16, 144, 1}, {8, 192, 1}, {4, 336, 1}} {
		g := DWGeom{H: q.h, W: q.h, C: q.c, KH: 3, KW: 3, SH: q.s, SW: q.s, DH: 1, DW: 1, PadT: 1, PadL: 1,
			OH: dwOut(q.h, 3, q.s, 1, 1, 1), OW: dwOut(q.h, 3, q.s, 1, 1, 1)}
		d := NewDWConv(g, randVec(r, 9*q.c), randVec(r, q.c), 0, 6)
		src, dst := randVec(r, g.H*g.W*g.C), make([]float32, g.OH*g.OW*g.C)
		for _, isa := range Paths() {
			b.Run(fmt.Sprintf("%dx%dx%d_s%d/%v", q.h, q.h, q.c, q.s, isa), func(b *testing.B) {
				for b.Loop() {
					d.Rows(isa, dst, src, 0, g.OH)
				}
				b.SetBytes(int64(4 * (len(src) + len(dst))))
			})
		}
	}
}
