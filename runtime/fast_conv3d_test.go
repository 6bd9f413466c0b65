package runtime

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

func absConv3D(l *layers.Conv3D) layers.Layer {
	return &layers.Conv3D{Window3D: l.Window3D, In: l.In, Filters: l.Filters, Groups: l.Groups, W: absf(l.W), B: absf(l.B)}
}

func win3(k, s, d [3]int, pad layers.Padding, pads [6]int) layers.Window3D {
	return layers.Window3D{KD: k[0], KH: k[1], KW: k[2], SD: s[0], SH: s[1], SW: s[2], DD: d[0], DH: d[1], DW: d[2], Pad: pad, Pads: pads}
}

// TestFastConv3D: the im2col-gather / 1x1x1 GEMM Conv3D against the reference Forward
// (checkFast's bound) over edge shapes: a single voxel, runs of 1 to >8 floats, filter
// counts around the GEMM tiles (1, 7, 8, 16, 17, 33), same / explicit padding wider than
// the kernel, strides and dilations on each axis (dilated W gathers tap by tap),
// several im2col chunks, groups run as dense, the per-voxel path (offset table over
// its limit), batch 1 and 3, and no allocation per run.
func TestFastConv3D(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 3))
	one := [3]int{1, 1, 1}
	type cs struct {
		d, h, w, c, f, g int
		win              layers.Window3D
	}
	cases := []cs{
		{1, 1, 1, 1, 1, 1, win3(one, one, one, layers.PadValid, [6]int{})},                          // 1x1x1 on one voxel
		{3, 4, 5, 3, 8, 1, win3(one, one, one, layers.PadValid, [6]int{})},                          // pointwise
		{4, 5, 6, 4, 7, 1, win3(one, [3]int{2, 1, 2}, one, layers.PadValid, [6]int{})},              // strided 1x1x1: gathered
		{5, 6, 7, 3, 16, 1, win3([3]int{3, 3, 3}, one, one, layers.PadSame, [6]int{})},              // same
		{4, 7, 6, 1, 17, 1, win3([3]int{2, 3, 3}, [3]int{2, 2, 1}, one, layers.PadSame, [6]int{})},  // 1 channel, short runs
		{5, 5, 5, 2, 33, 1, win3([3]int{3, 2, 2}, one, [3]int{2, 1, 2}, layers.PadValid, [6]int{})}, // dilated W
		{3, 4, 4, 5, 4, 1, win3([3]int{2, 2, 3}, [3]int{1, 2, 3}, one, layers.PadExplicit, [6]int{3, 2, 0, 4, 5, 1})},
		{2, 3, 2, 3, 1, 1, win3([3]int{3, 3, 3}, one, one, layers.PadSame, [6]int{})},              // window wider than the input
		{6, 12, 12, 8, 24, 1, win3([3]int{3, 3, 3}, one, one, layers.PadSame, [6]int{})},           // several chunks
		{4, 6, 5, 6, 4, 2, win3([3]int{3, 3, 3}, one, one, layers.PadSame, [6]int{})},              // groups 2
		{3, 5, 5, 4, 8, 4, win3([3]int{1, 3, 3}, [3]int{1, 2, 2}, one, layers.PadValid, [6]int{})}, // depthwise x2
		{5, 4, 6, 3, 5, 1, win3([3]int{2, 3, 2}, one, [3]int{2, 1, 1}, layers.PadSameLower, [6]int{})},
		{5, 7, 5, 3, 8, 1, win3([3]int{2, 3, 2}, one, [3]int{1, 2, 1}, layers.PadSame, [6]int{})},  // dilated H
		{6, 8, 7, 2, 9, 1, win3([3]int{2, 2, 3}, one, [3]int{2, 3, 2}, layers.PadValid, [6]int{})}, // dilated on every axis
	}
	acts := []layers.Activation{layers.ActReLU, {Kind: layers.Tanh}, {Kind: layers.Softmax}}
	for _, isa := range fastISAs() {
		for ci, c := range cases {
			for _, perVoxel := range []bool{false, true} {
				act := acts[ci%len(acts)]
				l := &layers.Conv3D{Window3D: c.win, In: c.c, Filters: c.f, Groups: c.g,
					W: rnd(r, c.win.Taps()*c.c/c.g*c.f), Act: act}
				if ci%2 == 0 {
					l.B = rnd(r, c.f)
				}
				in := layers.Shape{c.d, c.h, c.w, c.c}
				t.Run(fmt.Sprintf("%v/case%d/perVoxel=%v", isa, ci, perVoxel), func(t *testing.T) {
					if perVoxel {
						defer func(n int) { conv3DGatherRuns = n }(conv3DGatherRuns)
						conv3DGatherRuns = 0
					}
					for _, batch := range []int{1, 3} {
						checkFast(t, l, absConv3D(l), c.win.Taps()*c.c/c.g, in, isa, batch, r)
					}
					out, _ := l.OutputShape(in)
					cp, _ := compileLayer(l, in, out, isa, 3)
					if perVoxel && cp.k.(*fastConv3D).offs != nil {
						t.Fatalf("%s: offset table built past its limit", cp.name)
					}
					src, dst := rnd(r, 3*in.Size()), make([]float32, 3*out.Size())
					scratch := make([]float32, cp.scratchLen)
					if a := testing.AllocsPerRun(3, func() { cp.k.run(dst, src, scratch, 3) }); a != 0 {
						t.Fatalf("%s: %v allocations per run", cp.name, a)
					}
				})
			}
		}
	}
}

// TestFastPool3DBits: the tap-list Pool3D and the global 3-D pooling equal the
// reference Forward bit for bit (a NaN average need only be NaN) on inputs full of
// signed zeros, infinities and NaNs, over borders, strides, dilations and explicit pads,
// channel counts around the vector width, batch 2, with no allocation per run.
func TestFastPool3DBits(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 4))
	one := [3]int{1, 1, 1}
	wins := []layers.Window3D{
		win3([3]int{2, 2, 2}, [3]int{2, 2, 2}, one, layers.PadValid, [6]int{}),
		win3([3]int{3, 3, 3}, [3]int{2, 2, 2}, one, layers.PadSame, [6]int{}),
		win3([3]int{1, 2, 2}, [3]int{1, 2, 2}, one, layers.PadSame, [6]int{}),
		win3([3]int{3, 2, 3}, [3]int{1, 3, 1}, [3]int{1, 2, 1}, layers.PadSameLower, [6]int{}),
		win3([3]int{2, 3, 2}, [3]int{2, 1, 1}, [3]int{2, 1, 2}, layers.PadExplicit, [6]int{1, 2, 2, 0, 1, 3}),
		win3(one, one, one, layers.PadValid, [6]int{}),
		win3([3]int{4, 5, 6}, one, one, layers.PadValid, [6]int{}), // one window, the whole volume
	}
	const batch = 2
	for _, isa := range fastISAs() {
		for wi, win := range wins {
			for _, c := range []int{1, 3, 8, 9, 17} {
				for _, kind := range []int{0, 1, 2} { // max, avg, avg count_include_pad
					l := &layers.Pool3D{Window3D: win, Max: kind == 0, CountIncludePad: kind == 2}
					in := layers.Shape{4, 5, 6, c}
					out, err := l.OutputShape(in)
					if err != nil {
						t.Fatal(err)
					}
					cp, err := compileLayer(l, in, out, isa, batch)
					if err != nil {
						t.Fatal(err)
					}
					if !strings.Contains(cp.name, "csr/") {
						t.Fatalf("%v win%d: kernel %q", isa, wi, cp.name)
					}
					checkPoolBits(t, fmt.Sprintf("%v win%d c%d kind%d", isa, wi, c, kind), l, cp, in, out, batch, kind != 0, true, r)
				}
			}
		}
		for _, c := range []int{1, 5, 8, 17} {
			for _, mx := range []bool{false, true} {
				for _, keep := range []bool{false, true} {
					l := &layers.GlobalPool3D{Max: mx, KeepDims: keep}
					in := layers.Shape{3, 2, 5, c}
					out, _ := l.OutputShape(in)
					cp, err := compileLayer(l, in, out, isa, batch)
					if err != nil {
						t.Fatal(err)
					}
					if _, ok := cp.k.(refKernel); ok {
						t.Fatal("reference kernel chosen for GlobalPool3D")
					}
					checkPoolBits(t, fmt.Sprintf("%v global3d c%d max=%v", isa, c, mx), l, cp, in, out, batch, !mx, asm.PoolTapsAsm(asm.AVX2), r)
				}
			}
		}
	}
}

// BenchmarkConv3D times a video-sized Conv3D (8x16x16x16, 3x3x3 same, 32 filters, ReLU),
// a 1x1x1 one and 3-D max / average pooling through compileLayer on every path
// (generic is the reference Forward), batch 1.
func BenchmarkConv3D(b *testing.B) {
	r := rand.New(rand.NewPCG(16, 5))
	one := [3]int{1, 1, 1}
	in := layers.Shape{8, 16, 16, 16}
	cases := []struct {
		name string
		l    layers.Layer
	}{
		{"conv3x3x3_16to32", &layers.Conv3D{Window3D: win3([3]int{3, 3, 3}, one, one, layers.PadSame, [6]int{}), In: 16, Filters: 32,
			W: rnd(r, 27*16*32), B: rnd(r, 32), Act: layers.ActReLU}},
		{"conv1x1x1_16to32", &layers.Conv3D{Window3D: win3(one, one, one, layers.PadValid, [6]int{}), In: 16, Filters: 32,
			W: rnd(r, 16*32), B: rnd(r, 32)}},
		{"maxpool2x2x2", &layers.Pool3D{Window3D: win3([3]int{2, 2, 2}, [3]int{2, 2, 2}, one, layers.PadValid, [6]int{}), Max: true}},
		{"avgpool3x3x3same", &layers.Pool3D{Window3D: win3([3]int{3, 3, 3}, one, one, layers.PadSame, [6]int{})}},
	}
	for _, c := range cases {
		out, err := c.l.OutputShape(in)
		if err != nil {
			b.Fatal(err)
		}
		for _, isa := range append([]asm.ISA{asm.Generic}, fastISAs()...) {
			k, _ := compileLayer(c.l, in, out, isa, 1)
			src, dst := rnd(r, in.Size()), make([]float32, out.Size())
			scratch := make([]float32, k.scratchLen)
			b.Run(c.name+"/"+isa.String(), func(b *testing.B) {
				for b.Loop() {
					k.k.run(dst, src, scratch, 1)
				}
			})
		}
	}
}
