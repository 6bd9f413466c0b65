package runtime

import (
	"math/rand/v2"
	goruntime "runtime"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// TestFastDepthwise checks the depthwise kernel against Conv2D's reference at channel
// counts around the kernels' tiles (2, 7, 8, 9, 16, 17, 31, 33, 64) and odd ones (37, 97), multipliers 1
// and 2, 3x3 and 5x5 windows, strides, dilation, same/valid/explicit padding, inputs
// smaller than the window, with and without bias, and fused activations; bit-exact
// where the operation order is the reference's (amd64, where Go does not fuse
// multiply-adds, and linear or ReLU-type activations), else within checkFast's bound.
func TestFastDepthwise(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	type tc struct {
		c, m, k, s, d, h, w int
		pad                 layers.Padding
		pads                [4]int
		bias                bool
		act                 layers.Activation
	}
	relu6 := layers.Activation{Kind: layers.ReLU, Max: 6}
	cases := []tc{
		{33, 1, 3, 1, 1, 7, 5, layers.PadSame, [4]int{}, true, relu6},
		{64, 1, 3, 2, 1, 9, 8, layers.PadSame, [4]int{}, true, relu6},
		{37, 1, 5, 2, 1, 6, 7, layers.PadExplicit, [4]int{2, 1, 0, 2}, false, layers.ActLinear},
		{97, 1, 3, 1, 2, 8, 6, layers.PadSame, [4]int{}, true, layers.Activation{Kind: layers.Swish}},
		{40, 2, 3, 1, 1, 5, 5, layers.PadValid, [4]int{}, true, layers.Activation{Kind: layers.Sigmoid}},
		{48, 1, 5, 1, 1, 2, 3, layers.PadSame, [4]int{}, true, layers.ActReLU}, // input smaller than the window
		{35, 3, 3, 2, 1, 1, 1, layers.PadSame, [4]int{}, false, layers.ActLinear},
		// narrow layers (once the dense-equivalent GEMM's), around the kernels' tiles
		{2, 1, 3, 1, 1, 4, 9, layers.PadSame, [4]int{}, true, relu6},
		{7, 1, 3, 2, 1, 9, 1, layers.PadSame, [4]int{}, true, layers.ActReLU},
		{8, 3, 3, 1, 1, 5, 6, layers.PadValid, [4]int{}, true, layers.Activation{Kind: layers.HardSwish}},
		{9, 1, 5, 1, 1, 6, 6, layers.PadSame, [4]int{}, false, relu6},
		{16, 1, 3, 2, 1, 8, 8, layers.PadSame, [4]int{}, true, layers.Activation{Kind: layers.Clip, Alpha: -1, Beta: 0.5}},
		{17, 1, 3, 1, 1, 3, 17, layers.PadSame, [4]int{}, true, layers.ActLinear},
		{31, 1, 3, 1, 1, 2, 5, layers.PadSame, [4]int{}, true, relu6},
	}
	for _, c := range cases {
		win := layers.Window{KH: c.k, KW: c.k, SH: c.s, SW: c.s, DH: c.d, DW: c.d, Pad: c.pad, Pads: c.pads}
		l := &layers.Conv2D{Info: info("dw", "Conv"), Window: win, In: c.c, Filters: c.c * c.m, Groups: c.c,
			W: rnd(r, c.k*c.k*c.c*c.m), Act: c.act}
		if c.bias {
			l.B = rnd(r, c.c*c.m)
		}
		in := layers.Shape{c.h, c.w, c.c}
		out, err := l.OutputShape(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, isa := range fastISAs() {
			cp, ok := buildDepthwise(l, in, isa)
			if !ok {
				t.Fatalf("%+v %v: no depthwise kernel", c, isa)
			}
			for _, batch := range []int{1, 3} {
				checkFast(t, l, absConv(l), c.k*c.k, in, isa, batch, r)
				if goruntime.GOARCH == "amd64" && (c.act.Kind == layers.Linear || c.act.Kind == layers.ReLU || c.act.Kind == layers.Clip) {
					checkExact(t, cp.name, l, cp, in, out, batch, r)
				}
			}
		}
	}
	// depthwise layers of any width take this kernel, ahead of the dense-equivalent GEMM
	// (measured: torchvision mobilenet_v2's 32- and 8-channel ones, 68 -> 58 us for
	// the model), other grouped convolutions stay on the GEMM path
	l := &layers.Conv2D{Window: layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1}, In: 32, Filters: 32, Groups: 32, W: rnd(r, 9*32)}
	g := &layers.Conv2D{Window: l.Window, In: 32, Filters: 32, Groups: 16, W: rnd(r, 9*2*32)}
	for _, isa := range fastISAs() {
		if cp, _ := compileLayer(l, layers.Shape{6, 6, 32}, layers.Shape{4, 4, 32}, isa, 1); !isDepthwise(cp) {
			t.Errorf("%v: 32 groups chose %q", isa, cp.name)
		}
		if cp, _ := compileLayer(g, layers.Shape{6, 6, 32}, layers.Shape{4, 4, 32}, isa, 1); cp.k == nil || isDepthwise(cp) {
			t.Errorf("%v: 16 groups of 2 chose %q", isa, cp.name)
		}
	}
	// a depth multiplier > 1 takes the dense-equivalent GEMM up to maxDenseGroups groups
	// (see newFastDepthwise), the kernel beyond; multiplier 1 the kernel at any width
	for _, c := range []struct {
		c, m int
		dw   bool
	}{{4, 2, false}, {32, 2, false}, {33, 2, true}, {4, 1, true}, {2, 1, true}} {
		l := &layers.Conv2D{Window: layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1}, In: c.c, Filters: c.c * c.m, Groups: c.c, W: rnd(r, 9*c.c*c.m)}
		in := layers.Shape{10, 10, c.c}
		out, err := l.OutputShape(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, isa := range fastISAs() {
			if cp, _ := compileLayer(l, in, out, isa, 1); cp.k == nil || isDepthwise(cp) != c.dw {
				t.Errorf("%v: %d channels x %d chose %q", isa, c.c, c.m, cp.name)
			}
		}
	}
}

func isDepthwise(c compiled) bool { _, ok := c.k.(*fastDepthwise); return ok }
