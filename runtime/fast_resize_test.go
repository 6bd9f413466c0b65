package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// TestFastResize: the table-driven Resize2D against the reference Forward. Nearest
// copies the same cells (bit-identical); linear differs only by float32 instead of
// float64 arithmetic over the same cells and weights: within 4*2^-24 of the largest
// |input| (three lerps, each exact to half an ULP of its operands' scale), checked with
// 8*2^-24.
func TestFastResize(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	shapes := []layers.Shape{{1, 1, 1}, {3, 4, 2}, {5, 3, 7}, {2, 9, 16}}
	modes := []layers.Resize2D{
		{ScaleH: 2, ScaleW: 2, Coord: layers.CoordAsymmetric, Nearest: layers.RoundFloor},
		{ScaleH: 3, ScaleW: 1.5, Coord: layers.CoordHalfPixel, Nearest: layers.RoundPreferCeil},
		{ScaleH: 0.5, ScaleW: 0.75, Coord: layers.CoordHalfPixel, Nearest: layers.RoundPreferFloor, OutH: 1, OutW: 2},
		{ScaleH: 2, ScaleW: 3, Linear: true, Coord: layers.CoordHalfPixel},
		{ScaleH: 1.7, ScaleW: 2.5, Linear: true, Coord: layers.CoordPytorchHalfPixel},
		{ScaleH: 2, ScaleW: 2, Linear: true, Coord: layers.CoordAlignCorners},
		{ScaleH: 0.6, ScaleW: 1, Linear: true, Coord: layers.CoordAsymmetric},
	}
	for _, isa := range fastISAs() {
		for mi, m := range modes {
			for _, in := range shapes {
				l := m
				if l.OutH != 0 {
					l.OutH, l.OutW = max(1, in[0]/2), max(1, in[1]-1)
				}
				out, err := l.OutputShape(in)
				if err != nil {
					continue // shrinks to nothing
				}
				t.Run(fmt.Sprintf("%v/mode%d/%v", isa, mi, in), func(t *testing.T) {
					c, err := compileLayer(&l, in, out, isa, 3)
					if err != nil {
						t.Fatal(err)
					}
					if _, ok := c.k.(refKernel); ok {
						t.Fatal("reference kernel chosen")
					}
					src := rnd(r, 3*in.Size())
					src[0] = float32(math.Inf(1))
					want := make([]float32, 3*out.Size())
					l.Forward(want, src, nil, in, 3)
					got := make([]float32, len(want)+4)
					c.k.run(got[:len(want)], src, nil, 3)
					var big float64
					for _, v := range src[1:] {
						big = math.Max(big, math.Abs(float64(v)))
					}
					for i, w := range want {
						g := got[i]
						if math.IsInf(float64(w), 0) || math.IsNaN(float64(w)) {
							if !(g == w || (g != g && w != w)) {
								t.Fatalf("out[%d] = %v, want %v", i, g, w)
							}
							continue
						}
						bound := 0.0
						if l.Linear {
							bound = 8 * 0x1p-24 * big
						}
						if d := math.Abs(float64(g - w)); !(d <= bound) {
							t.Fatalf("out[%d] = %v, want %v (bound %g)", i, g, w, bound)
						}
					}
					for i := len(want); i < len(got); i++ {
						if got[i] != 0 {
							t.Fatal("wrote past the output")
						}
					}
				})
			}
		}
	}
}

// BenchmarkResize: bilinear and nearest x2 of a 32x32x16 map, reference vs tables.
func BenchmarkResize(b *testing.B) {
	r := rand.New(rand.NewPCG(10, 10))
	in := layers.Shape{32, 32, 16}
	for _, l := range []*layers.Resize2D{
		{ScaleH: 2, ScaleW: 2, Linear: true, Coord: layers.CoordHalfPixel},
		{ScaleH: 2, ScaleW: 2, Coord: layers.CoordAsymmetric, Nearest: layers.RoundFloor},
	} {
		out, _ := l.OutputShape(in)
		src, dst := rnd(r, in.Size()), make([]float32, out.Size())
		for _, isa := range append([]asm.ISA{asm.Generic}, fastISAs()...) {
			c, _ := compileLayer(l, in, out, isa, 1)
			mode := "nearest"
			if l.Linear {
				mode = "linear"
			}
			b.Run(mode+"/"+isa.String(), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c.k.run(dst, src, nil, 1)
				}
			})
		}
	}
}
