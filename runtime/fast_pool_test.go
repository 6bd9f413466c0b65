package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// poolInput is random input with many signed zeros, infinities and NaNs, so that
// windows tie on zeros of both signs, sum Inf and -Inf, and meet NaN.
func poolInput(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(12) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(math.Copysign(0, -1))
		case 2:
			x[i] = float32(math.Inf(1 - 2*r.IntN(2)))
		case 3:
			if r.IntN(4) == 0 {
				x[i] = float32(math.NaN())
				break
			}
			fallthrough
		default:
			x[i] = float32(r.NormFloat64())
		}
	}
	return x
}

// TestFastPoolBits: every pooling layer's fast path equals the reference Forward bit for
// bit (the tap-list and global kernels: also the sign of a zero maximum and a NaN
// maximum's payload; a NaN average need only be NaN, its payload not being fixed by the
// reference), over window forms with borders, strides, dilations and explicit pads,
// channel counts around the vector width, batch 2, nothing written past the output,
// and no allocation per run.
func TestFastPoolBits(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	wins := []layers.Window{
		{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1},
		{KH: 2, KW: 2, SH: 2, SW: 2, DH: 1, DW: 1, Pad: layers.PadSame},
		{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame},
		{KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, Pad: layers.PadSame},
		{KH: 3, KW: 2, SH: 1, SW: 3, DH: 2, DW: 1, Pad: layers.PadSame},
		{KH: 2, KW: 3, SH: 2, SW: 1, DH: 1, DW: 2, Pad: layers.PadExplicit, Pads: [4]int{2, 1, 0, 3}},
		{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1},
		{KH: 5, KW: 5, SH: 1, SW: 1, DH: 1, DW: 1, Pad: layers.PadSame},
		{KH: 2, KW: 3, SH: 1, SW: 2, DH: 2, DW: 2},
		{KH: 7, KW: 6, SH: 1, SW: 1, DH: 1, DW: 1}, // one window, the whole map
	}
	const batch = 2
	for _, isa := range fastISAs() {
		for wi, win := range wins {
			for _, c := range []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33} {
				for _, kind := range []int{0, 1, 2} { // max, avg, avg count_include_pad
					l := &layers.Pool2D{Window: win, Max: kind == 0, CountIncludePad: kind == 2}
					in := layers.Shape{7, 6, c}
					out, err := l.OutputShape(in)
					if err != nil {
						t.Fatal(err)
					}
					cp, err := compileLayer(l, in, out, isa, batch)
					if err != nil {
						t.Fatal(err)
					}
					name := fmt.Sprintf("%v win%d c%d kind%d (%s)", isa, wi, c, kind, cp.name)
					if asm.PoolTapsAsm(isa) && strings.Contains(cp.name, " go") {
						t.Fatalf("%s: no vector kernel", name)
					}
					// asm.MaxPool (windows inside, C % 8 == 0) and asm.MaxTaps are
					// exact up to a zero's sign and a NaN's payload
					strict := strings.Contains(cp.name, "csr/")
					checkPoolBits(t, name, l, cp, in, out, batch, kind != 0, strict, r)
				}
			}
		}
		for _, c := range []int{1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33} {
			for _, hw := range [][2]int{{1, 1}, {3, 5}, {4, 4}, {7, 9}} {
				for _, mx := range []bool{false, true} {
					l := &layers.GlobalPool2D{Max: mx}
					in := layers.Shape{hw[0], hw[1], c}
					out, _ := l.OutputShape(in)
					cp, err := compileLayer(l, in, out, isa, batch)
					if err != nil {
						t.Fatal(err)
					}
					if _, ok := cp.k.(refKernel); ok {
						t.Fatal("reference kernel chosen for GlobalPool2D")
					}
					checkPoolBits(t, fmt.Sprintf("%v global %v c%d max=%v", isa, hw, c, mx), l, cp, in, out, batch, !mx, asm.PoolTapsAsm(asm.AVX2), r)
				}
			}
		}
	}
}

func checkPoolBits(t *testing.T, name string, l layers.Layer, cp compiled, in, out layers.Shape, batch int, avg, strict bool, r *rand.Rand) {
	t.Helper()
	src := poolInput(r, batch*in.Size())
	want := make([]float32, batch*out.Size())
	l.Forward(want, src, make([]float32, l.ScratchLen(in, batch)), in, batch)
	const guard = -777
	got := make([]float32, len(want)+16)
	for i := range got {
		got[i] = guard
	}
	scratch := make([]float32, cp.scratchLen)
	cp.k.run(got[:len(want)], src, scratch, batch)
	for i, w := range want {
		g := got[i]
		ok := math.Float32bits(g) == math.Float32bits(w) || (avg || !strict) && g != g && w != w || !strict && g == w
		if !ok {
			t.Fatalf("%s: out[%d] = %v (%#x), want %v (%#x)", name, i, g, math.Float32bits(g), w, math.Float32bits(w))
		}
	}
	for i := len(want); i < len(got); i++ {
		if got[i] != guard {
			t.Fatalf("%s: wrote past the output", name)
		}
	}
	if a := testing.AllocsPerRun(3, func() { cp.k.run(got[:len(want)], src, scratch, batch) }); a != 0 {
		t.Fatalf("%s: %v allocations per run", name, a)
	}
}
