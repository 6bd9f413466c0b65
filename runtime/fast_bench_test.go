package runtime

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// BenchmarkFastLayer times single layers through compileLayer on every path (generic is
// the reference Forward), batch 1 and 32.
func BenchmarkFastLayer(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	type lc struct {
		name string
		l    layers.Layer
		in   layers.Shape
	}
	cases := []lc{
		{"dense512x512relu", &layers.Dense{In: 512, Units: 512, W: rnd(r, 512*512), B: rnd(r, 512), Act: layers.ActReLU}, layers.Shape{512}},
		{"conv3x3x32x32_32x32", &layers.Conv2D{Window: layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame},
			In: 32, Filters: 32, Groups: 1, W: rnd(r, 9*32*32), B: rnd(r, 32), Act: layers.ActReLU}, layers.Shape{32, 32, 32}},
		{"lstm20x32u64", &layers.LSTM{In: 32, Units: 64, W: rnd(r, 32*256), U: rnd(r, 64*256), B: rnd(r, 256),
			Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}}, layers.Shape{20, 32}},
	}
	for _, c := range cases {
		out, err := c.l.OutputShape(c.in)
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range []int{1, 32} {
			for _, isa := range append([]asm.ISA{asm.Generic}, fastISAs()...) {
				k, err := compileLayer(c.l, c.in, out, isa, batch)
				if err != nil {
					b.Fatal(err)
				}
				src := rnd(r, batch*c.in.Size())
				dst := make([]float32, batch*out.Size())
				scratch := make([]float32, k.scratchLen)
				b.Run(fmt.Sprintf("%s/b%d/%v", c.name, batch, isa), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						k.k.run(dst, src, scratch, batch)
					}
					b.ReportMetric(float64(c.l.FLOPs(c.in))*float64(batch)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
