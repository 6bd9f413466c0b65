package runtime

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// TestFastQConv checks the int8 conv kernels (im2col: short moves, memmove runs,
// padding taps at the zero point) against QConv2D's and DynQConv2D's reference
// passes, bit for bit, on every path, over channel counts that put a tap row at 1 to
// 129 bytes, strides, dilation and padding, with the uint8 limits in the input.
func TestFastQConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, isa := range asm.Paths() {
		for _, c := range []struct{ h, w, cin, cout, k, s, d int }{
			{5, 7, 1, 3, 3, 1, 1}, {6, 6, 3, 8, 3, 2, 1}, {9, 8, 6, 5, 3, 1, 1}, {7, 7, 11, 17, 3, 1, 2},
			{5, 6, 21, 33, 3, 1, 1}, {4, 5, 32, 16, 3, 1, 1}, {6, 4, 43, 9, 3, 1, 1}, {3, 3, 5, 7, 1, 1, 1},
			{8, 8, 4, 4, 5, 2, 1},
		} {
			for _, pad := range []layers.Padding{layers.PadValid, layers.PadSame} {
				win := layers.Window{KH: c.k, KW: c.k, SH: c.s, SW: c.s, DH: c.d, DW: c.d, Pad: pad}
				kk := c.k * c.k * c.cin
				w := make([]int8, kk*c.cout)
				for i := range w {
					w[i] = int8(rng.IntN(256) - 128)
				}
				ws := make([]float32, c.cout)
				bias := make([]int32, c.cout)
				fb := make([]float32, c.cout)
				for j := range ws {
					ws[j] = 0.001 + rng.Float32()*0.01
					bias[j] = int32(rng.IntN(2001) - 1000)
					fb[j] = rng.Float32() - 0.5
				}
				in := layers.Shape{c.h, c.w, c.cin}
				batch := 2
				x := make([]float32, batch*in.Size())
				for i := range x {
					x[i] = (rng.Float32()*2 - 1) * 3
					if i%13 == 0 {
						x[i] = []float32{-100, 100}[rng.IntN(2)] // past the limits
					}
				}
				ql := layers.QLinear{W: w, WScale: ws, Bias: bias, In: layers.QParams{Scale: 0.02, ZP: 131, Type: layers.QUint8},
					Out: layers.QParams{Scale: 0.05, ZP: -3, Type: layers.QInt8}, ReLU: c.cin%2 == 0}
				for _, l := range []layers.Layer{
					&layers.QConv2D{Window: win, QLinear: ql, Cin: c.cin, Filters: c.cout},
					&layers.DynQConv2D{Window: win, Cin: c.cin, Filters: c.cout, W: w, WScale: ws, Bias: fb},
				} {
					out, err := l.OutputShape(in)
					if err != nil {
						continue // a window larger than the input
					}
					want := make([]float32, batch*out.Size())
					l.Forward(want, x, make([]float32, l.ScratchLen(in, batch)), in, batch)
					old := asm.SetNoVNNI(c.cout%2 == 1) // odd filter counts take the non-VNNI kernel
					cc := selectKernel(l, []layers.Shape{in}, out, isa, batch)
					asm.SetNoVNNI(old)
					if isa != asm.Generic && !strings.Contains(cc.name, "int8") {
						t.Fatalf("%v: %T ran %q, not an int8 kernel", isa, l, cc.name)
					}
					got := make([]float32, len(want)+4)
					got[len(want)] = -777
					cc.k.run(got[:len(want)], x, make([]float32, cc.scratchLen), batch)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v %s %+v pad=%v: element %d = %v, reference %v", isa, cc.name, c, pad, i, got[i], want[i])
						}
					}
					if got[len(want)] != -777 {
						t.Fatalf("%v %+v: wrote past the output", isa, c)
					}
				}
			}
		}
	}
}

// TestFastQDense checks the int8 dense kernels (QDense, DynQDense, KerasQDense with a
// linear or ReLU activation) against their reference passes bit for bit at edge sizes
// on every path, with the non-VNNI kernel forced for half the shapes.
func TestFastQDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, isa := range asm.Paths() {
		for _, k := range []int{1, 3, 4, 5, 63, 64, 65} {
			for _, n := range []int{1, 15, 16, 17, 33} {
				for _, batch := range []int{1, 3, 9} {
					w := make([]int8, k*n)
					for i := range w {
						w[i] = int8(rng.IntN(256) - 128)
					}
					ws, fb := make([]float32, n), make([]float32, n)
					bias := make([]int32, n)
					for j := range ws {
						ws[j] = 0.001 + rng.Float32()*0.01
						fb[j] = rng.Float32() - 0.5
						bias[j] = int32(rng.IntN(2001) - 1000)
					}
					x := make([]float32, batch*k)
					for i := range x {
						x[i] = (rng.Float32()*2 - 1) * 3
					}
					act := layers.ActLinear
					if n%2 == 1 {
						act = layers.ActReLU
					}
					ql := layers.QLinear{W: w, WScale: ws, Bias: bias, In: layers.QParams{Scale: 0.03, ZP: -7, Type: layers.QInt8},
						Out: layers.QParams{Scale: 0.1, ZP: 200, Type: layers.QUint8}, ReLU: n%2 == 1}
					in := layers.Shape{k}
					for _, l := range []layers.Layer{
						&layers.QDense{QLinear: ql, K: k, Units: n},
						&layers.DynQDense{K: k, Units: n, W: w, WScale: ws, Bias: fb},
						&layers.KerasQDense{In: k, Units: n, W: w, KScale: ws, B: fb, Act: act},
					} {
						out, err := l.OutputShape(in)
						if err != nil {
							t.Fatal(err)
						}
						want := make([]float32, batch*n)
						l.Forward(want, x, make([]float32, l.ScratchLen(in, batch)), in, batch)
						old := asm.SetNoVNNI(k%2 == 1)
						cc := selectKernel(l, []layers.Shape{in}, out, isa, batch)
						asm.SetNoVNNI(old)
						if isa != asm.Generic && !strings.Contains(cc.name, "int8") {
							t.Fatalf("%v: %T ran %q", isa, l, cc.name)
						}
						got := make([]float32, len(want))
						cc.k.run(got, x, make([]float32, cc.scratchLen), batch)
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%v %s k=%d n=%d batch=%d: element %d = %v, reference %v", isa, cc.name, k, n, batch, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}
