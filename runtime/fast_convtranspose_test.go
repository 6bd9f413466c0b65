package runtime

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

func absConvT(l *layers.ConvTranspose2D) layers.Layer {
	a := *l
	a.W, a.B, a.Act = absf(l.W), absf(l.B), layers.ActLinear
	return &a
}

// TestFastConvTranspose checks the sub-pixel, GEMM + col2im add and GEMM + copy paths
// against the reference Forward at
// edge shapes: 1x1 input and kernel, overlapping and disjoint windows (stride below,
// equal to and above the kernel), dilation, groups, crops, output padding, wide
// channel counts around the GEMM tiles (8, 16, 32 columns), chunked column buffers,
// fused and unfused activations. Bound as checkFast (k = In/Groups per output tap,
// at most ceil(K/S) taps per axis overlap: k*taps products).
func TestFastConvTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	type cs struct {
		h, w, c, f, g          int
		kh, kw, sh, sw, dh, dw int
		pads                   [4]int
		op                     [2]int
	}
	cases := []cs{
		{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, [4]int{}, [2]int{}},
		{3, 4, 2, 3, 1, 3, 3, 2, 2, 1, 1, [4]int{}, [2]int{}},
		{5, 4, 3, 4, 1, 3, 3, 2, 2, 1, 1, [4]int{1, 0, 1, 0}, [2]int{1, 1}},
		{4, 4, 8, 8, 1, 2, 2, 2, 2, 1, 1, [4]int{}, [2]int{}},               // disjoint, U-Net
		{3, 5, 3, 5, 1, 2, 1, 3, 2, 1, 1, [4]int{}, [2]int{2, 1}},           // disjoint with gaps
		{6, 5, 4, 6, 2, 3, 3, 2, 2, 1, 1, [4]int{1, 1, 1, 1}, [2]int{1, 1}}, // groups
		{5, 5, 6, 9, 3, 3, 2, 1, 2, 2, 1, [4]int{2, 1, 0, 1}, [2]int{}},     // groups, dilation
		{4, 3, 7, 16, 1, 4, 4, 2, 2, 1, 1, [4]int{1, 2, 1, 2}, [2]int{}},
		{4, 4, 16, 17, 1, 3, 3, 1, 1, 1, 1, [4]int{1, 1, 1, 1}, [2]int{}},
		{3, 3, 5, 33, 1, 2, 3, 2, 3, 1, 1, [4]int{}, [2]int{}},
		{2, 2, 3, 7, 1, 5, 5, 1, 1, 2, 2, [4]int{}, [2]int{}},
		{40, 40, 8, 16, 1, 3, 3, 2, 2, 1, 1, [4]int{1, 0, 1, 0}, [2]int{}},  // several GEMM chunks
		{1, 7, 4, 4, 1, 1, 3, 1, 2, 1, 1, [4]int{}, [2]int{}},               // 1-D
		{6, 5, 3, 5, 1, 3, 3, 2, 2, 1, 1, [4]int{3, 0, 4, 1}, [2]int{}},     // crop past the taps: scatter path
		{5, 6, 4, 6, 1, 3, 1, 2, 2, 1, 1, [4]int{0, 1, 0, 0}, [2]int{0, 1}}, // phases without taps along W
		{4, 5, 16, 16, 1, 3, 3, 1, 1, 1, 1, [4]int{0, 0, 0, 0}, [2]int{}},   // stride 1: one phase, Winograd-sized
		{3, 4, 5, 6, 1, 5, 4, 3, 2, 1, 1, [4]int{2, 2, 1, 1}, [2]int{2, 1}},
		{4, 4, 3, 4, 1, 2, 2, 2, 2, 1, 1, [4]int{1, 1, 1, 0}, [2]int{}}, // disjoint, cropped: copy path
	}
	acts := []layers.Activation{layers.ActLinear, layers.ActReLU6, {Kind: layers.Sigmoid}, {Kind: layers.Softmax}}
	paths := map[string]int{}
	defer func() {
		for _, p := range []string{"sub-pixel", "col2im add", "col2im copy"} {
			if len(fastISAs()) > 0 && paths[p] == 0 {
				t.Errorf("no case ran the %s path", p)
			}
		}
	}()
	for _, isa := range fastISAs() {
		for ci, c := range cases {
			for ai, act := range acts {
				l := &layers.ConvTranspose2D{KH: c.kh, KW: c.kw, SH: c.sh, SW: c.sw, DH: c.dh, DW: c.dw, Pads: c.pads, OutPad: c.op,
					In: c.c, Filters: c.f, Groups: c.g, W: rnd(r, c.kh*c.kw*c.c*(c.f/c.g)), Act: act}
				if ai != 1 {
					l.B = rnd(r, c.f)
				}
				if out, err := l.OutputShape(layers.Shape{c.h, c.w, c.c}); err == nil {
					k, _ := compileLayer(l, layers.Shape{c.h, c.w, c.c}, out, isa, 2)
					for _, p := range []string{"sub-pixel", "col2im add", "col2im copy"} {
						if strings.Contains(k.name, p) {
							paths[p]++
						}
					}
				}
				t.Run(fmt.Sprintf("%v/case%d/%v", isa, ci, act), func(t *testing.T) {
					taps := ((c.kh+c.sh-1)/c.sh)*((c.kw+c.sw-1)/c.sw) + 1
					checkFast(t, l, absConvT(l), c.c/c.g*taps, layers.Shape{c.h, c.w, c.c}, isa, 2, r)
				})
			}
		}
	}
}

// BenchmarkConvTranspose times ConvTranspose2D on the reference path (generic) and the
// GEMM + col2im path: a U-Net 2x2 stride-2 up-convolution (disjoint windows), a 3x3
// stride-2 one (overlapping windows) and a grouped 4x4 stride-2 one, batch 1.
func BenchmarkConvTranspose(b *testing.B) {
	r := rand.New(rand.NewPCG(8, 8))
	cases := []struct {
		name string
		l    *layers.ConvTranspose2D
		in   layers.Shape
	}{
		{"2x2s2_64to32_16x16", &layers.ConvTranspose2D{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, In: 64, Filters: 32, Groups: 1,
			W: rnd(r, 4*64*32), B: rnd(r, 32), Act: layers.ActReLU}, layers.Shape{16, 16, 64}},
		{"3x3s2_32to16_16x16", &layers.ConvTranspose2D{KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, Pads: [4]int{1, 1, 1, 1}, OutPad: [2]int{1, 1},
			In: 32, Filters: 16, Groups: 1, W: rnd(r, 9*32*16), B: rnd(r, 16), Act: layers.ActReLU}, layers.Shape{16, 16, 32}},
		{"4x4s2_g4_32to32_8x8", &layers.ConvTranspose2D{KH: 4, KW: 4, SH: 2, SW: 2, DH: 1, DW: 1, Pads: [4]int{1, 1, 1, 1},
			In: 32, Filters: 32, Groups: 4, W: rnd(r, 16*32*8), B: rnd(r, 32)}, layers.Shape{8, 8, 32}},
	}
	for _, c := range cases {
		out, err := c.l.OutputShape(c.in)
		if err != nil {
			b.Fatal(err)
		}
		for _, isa := range append([]asm.ISA{asm.Generic}, fastISAs()...) {
			k, err := compileLayer(c.l, c.in, out, isa, 1)
			if err != nil {
				b.Fatal(err)
			}
			src := rnd(r, c.in.Size())
			dst := make([]float32, out.Size())
			scratch := make([]float32, k.scratchLen)
			b.Run(c.name+"/"+isa.String(), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					k.k.run(dst, src, scratch, 1)
				}
				b.ReportMetric(float64(c.l.FLOPs(c.in))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
