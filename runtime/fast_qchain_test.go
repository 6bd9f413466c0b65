package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// TestQConvFusions checks the int8 conv kernel passes (fuseQConvPool, fuseQConvChain)
// against the reference passes of QConv2D and MaxPool2D bit for bit, on every path
// (the non-VNNI kernel forced too): conv, 2x2 max pool, conv, and a second pool or
// not, over one-channel 3x3 first layers (the vector and Go gathers), wider ones,
// odd maps (the pool drops a row and a column), same padding, a fused ReLU, and
// quantizations that do and do not match between the convs (bytes between or not).
func TestQConvFusions(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	type tc struct {
		h, w, cin, c1, c2 int
		pad               layers.Padding
		match, pool2      bool
	}
	cases := []tc{
		{28, 28, 1, 32, 64, layers.PadValid, true, true},
		{9, 11, 1, 5, 7, layers.PadValid, true, false},
		{10, 8, 1, 8, 33, layers.PadSame, true, true},
		{12, 13, 4, 16, 8, layers.PadValid, false, true},
		{11, 11, 8, 32, 16, layers.PadSame, true, false},
		{10, 12, 3, 6, 5, layers.PadValid, true, false},
	}
	qp := func(s float32, zp int32, ty layers.QType) layers.QParams {
		return layers.QParams{Scale: s, ZP: zp, Type: ty}
	}
	conv := func(win layers.Window, cin, cout int, in, out layers.QParams, relu bool) *layers.QConv2D {
		w := make([]int8, 9*cin*cout)
		for i := range w {
			w[i] = int8(rng.IntN(256) - 128)
		}
		ws, bias := make([]float32, cout), make([]int32, cout)
		for j := range ws {
			ws[j] = 0.002 + rng.Float32()*0.01
			bias[j] = int32(rng.IntN(4001) - 2000)
		}
		return &layers.QConv2D{Window: win, Cin: cin, Filters: cout,
			QLinear: layers.QLinear{W: w, WScale: ws, Bias: bias, In: in, Out: out, ReLU: relu}}
	}
	pool := &layers.Pool2D{Window: layers.Window{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1}, Max: true}
	for ci, c := range cases {
		win := layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: c.pad}
		mid := qp(0.05, 17, layers.QUint8)
		in2 := mid
		if !c.match {
			in2 = qp(0.04, 3, layers.QInt8)
		}
		ls := []layers.Layer{
			conv(win, c.cin, c.c1, qp(0.02, 131, layers.QUint8), mid, ci%2 == 0),
			pool,
			conv(win, c.c1, c.c2, in2, qp(0.08, -5, layers.QInt8), ci%3 == 0),
		}
		if c.pool2 {
			ls = append(ls, pool)
		}
		shapes := []layers.Shape{{c.h, c.w, c.cin}}
		for _, l := range ls {
			s, err := l.OutputShape(shapes[len(shapes)-1])
			if err != nil {
				t.Fatal(err)
			}
			shapes = append(shapes, s)
		}
		batch := 3
		x := make([]float32, batch*shapes[0].Size())
		for i := range x {
			x[i] = (rng.Float32()*2 - 1) * 3
			if i%17 == 0 {
				x[i] = []float32{-100, 100}[rng.IntN(2)]
			}
		}
		want := x
		for i, l := range ls {
			y := make([]float32, batch*shapes[i+1].Size())
			l.Forward(y, want, make([]float32, l.ScratchLen(shapes[i], batch)), shapes[i], batch)
			want = y
		}
		for _, isa := range asm.Paths() {
			for _, novnni := range []bool{false, true} {
				name := fmt.Sprintf("case %d %v novnni=%v", ci, isa, novnni)
				old := asm.SetNoVNNI(novnni)
				var steps []compiled
				var outs []int // floats per sample of each step
				for i, l := range ls {
					cc := selectKernel(l, []layers.Shape{shapes[i]}, shapes[i+1], isa, batch)
					if n := len(steps); n > 0 {
						if f, ok := kernelFuse(steps[n-1], cc); ok {
							steps[n-1], outs[n-1] = f, shapes[i+1].Size()
							continue
						}
					}
					steps, outs = append(steps, cc), append(outs, shapes[i+1].Size())
				}
				asm.SetNoVNNI(old)
				if k, ok := steps[0].k.(*fastQConv); ok && isa != asm.Generic {
					if !k.pool && k.q.PoolFused() {
						t.Fatalf("%s: the pool was not fused: %s", name, steps[0].name)
					}
					if fused := k.next != nil; fused != (c.match && k.q.BytesOut()) {
						t.Fatalf("%s: bytes between = %v with matching quantization %v: %s", name, fused, c.match, steps[0].name)
					}
				}
				got := x
				for i, s := range steps {
					y := make([]float32, batch*outs[i]+4)
					y[batch*outs[i]] = -777
					s.k.run(y[:batch*outs[i]], got, make([]float32, s.scratchLen), batch)
					if y[batch*outs[i]] != -777 {
						t.Fatalf("%s: step %s wrote past its output", name, s.name)
					}
					got = y[:batch*outs[i]]
				}
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%s (%s): element %d = %v, reference %v", name, steps[0].name, i, got[i], want[i])
					}
				}
			}
		}
	}
}
