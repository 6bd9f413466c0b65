package runtime

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// BenchmarkResidualEpilogue times resnet18's residual convolutions (128x128 input) as
// the convolution alone ("conv", the floor an epilogue inside the GEMM store could
// reach), with the per-block epilogue ("fused"), and as the convolution followed by
// the sum and the activation over the whole map ("after").
func BenchmarkResidualEpilogue(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	isa := asm.Best()
	for _, c := range []struct {
		hw, cin, cout, k, s int
	}{{32, 64, 64, 3, 1}, {16, 128, 128, 3, 1}, {8, 256, 256, 3, 1}, {4, 512, 512, 3, 1}, {32, 64, 128, 1, 2}, {16, 128, 256, 1, 2}, {32, 24, 24, 1, 1}, {16, 32, 32, 1, 1}} {
		l := &layers.Conv2D{Info: info("p", "Conv2D"), Window: layers.Window{KH: c.k, KW: c.k, SH: c.s, SW: c.s, DH: 1, DW: 1, Pad: layers.PadSame},
			In: c.cin, Filters: c.cout, Groups: 1, W: randSlice(r, c.k*c.k*c.cin*c.cout, 0.1), B: randSlice(r, c.cout, 0.1), Act: layers.ActLinear}
		in := layers.Shape{c.hw, c.hw, c.cin}
		out, _ := l.OutputShape(in)
		act := layers.ActReLU
		if c.k == 1 && c.s == 1 {
			act = layers.ActLinear // mobilenet_v2's projections
		}
		conv := selectKernel(l, []layers.Shape{in}, out, isa, 1)
		res, _ := newFastResidual(&residual{base: l, act: act}, []layers.Shape{in, out}, out, isa, 1)
		x, skip, y := randSlice(r, in.Size(), 1), randSlice(r, out.Size(), 1), make([]float32, out.Size())
		sc := make([]float32, conv.scratchLen+1)
		e := newEpilogue(isa, act)
		name := fmt.Sprintf("%dx%dx%d_k%ds%d_%d", c.hw, c.hw, c.cin, c.k, c.s, c.cout)
		b.Run(name+"/conv", func(b *testing.B) {
			for b.Loop() {
				conv.k.run(y, x, sc, 1)
			}
		})
		b.Run(name+"/fused", func(b *testing.B) {
			for b.Loop() {
				res.kn.runN(y, [][]float32{x, skip}, sc, 1)
			}
		})
		b.Run(name+"/after", func(b *testing.B) {
			for b.Loop() {
				conv.k.run(y, x, sc, 1)
				e.apply(y, y, skip)
			}
		})
	}
}

// BenchmarkReLUPass: a standalone ReLU pass over a 32x32x64 map of random-sign values,
// the branchy reluInPlace against the vector clamp applyActivation now runs.
func BenchmarkReLUPass(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x := randSlice(r, 32*32*64, 1)
	y := make([]float32, len(x))
	b.Run("reluInPlace", func(b *testing.B) {
		for b.Loop() {
			copy(y, x)
			reluInPlace(y, layers.ActReLU)
		}
	})
	b.Run("clamp", func(b *testing.B) {
		for b.Loop() {
			copy(y, x)
			applyActivation(asm.Best(), layers.ActReLU, y, 64)
		}
	})
}
