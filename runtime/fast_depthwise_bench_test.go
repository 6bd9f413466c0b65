package runtime

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// BenchmarkDepthwiseCrossover times a depthwise Conv2D on the depthwise kernel and on
// the dense-equivalent GEMM (batch 1), the measurement behind newFastDepthwise's choice.
func BenchmarkDepthwiseCrossover(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	isa := asm.Best()
	for _, c := range []int{4, 8, 16, 32} {
		for _, m := range []int{1, 2} {
			for _, hw := range []int{4, 10, 16, 32} {
				for _, s := range []int{1, 2} {
					win := layers.Window{KH: 3, KW: 3, SH: s, SW: s, DH: 1, DW: 1, Pad: layers.PadSame}
					l := &layers.Conv2D{Info: info("dw", "Conv"), Window: win, In: c, Filters: c * m, Groups: c, W: rnd(r, 9*c*m), B: rnd(r, c*m), Act: layers.ActReLU}
					in := layers.Shape{hw, hw, c}
					out, _ := l.OutputShape(in)
					dw, ok1 := buildDepthwise(l, in, isa)
					gm, ok2 := newFastConv(l, in, isa)
					if !ok1 || !ok2 {
						continue
					}
					x := rnd(r, in.Size())
					y := make([]float32, out.Size())
					for _, k := range []struct {
						name string
						c    compiled
					}{{"dw", dw}, {"gemm", gm}} {
						sc := make([]float32, k.c.scratchLen+1)
						b.Run(fmt.Sprintf("c%d_m%d_%dx%d_s%d/%s", c, m, hw, hw, s, k.name), func(b *testing.B) {
							for b.Loop() {
								k.c.k.run(y, x, sc, 1)
							}
						})
					}
				}
			}
		}
	}
}
