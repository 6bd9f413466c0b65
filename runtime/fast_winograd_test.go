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

// TestFastWinograd: Winograd Conv2D, F(2x2,3x3) and F(4x4,3x3) each forced at every
// shape, vs the reference Forward at edge sizes (1x1 and 2x2 images, odd sizes that leave
// partial tiles, explicit asymmetric padding, several tile chunks, In/Filters from 16 to
// 128, 16-multiples for the AVX-512 transforms and 24 for AVX2 under AVX512) with linear,
// ReLU and tanh outputs, batch 3, dirty (NaN) scratch.
//
// Bound. Let X_ci be the largest |x| of channel ci in the output's (m+2)x(m+2) tile
// window, W_ci the largest |w| of its 3x3 kernel for the output channel, and
// S = |b| + 9*sum_ci X_ci*W_ci (the direct sum's magnitude scale). For F(2x2) each
// transformed input is a +-sum of 4 inputs and each transformed weight a 1/4-weighted sum
// of 9 weights, so each of the 16 position sums is at most S and carries
// <= (In+4)*2^-24*S of rounding; the output transform adds 9 of them. F(4x4)'s larger
// coefficients (up to 5 in B, 8 in A) grow these constants. Stated and tested bound, on
// top of the reference's own (k+2)*2^-24*M (M = |b| + sum|x*w|, as in checkFast):
//
//	|winograd - reference| <= 16*(In+8)*2^-24*S + 2.4*(9*In+2)*2^-24*M + 1e-6*|ref|
//
// The worst measured |err| / ((In+8)*2^-24*S) is logged: ~0.07 for F(2x2), 0.2-0.3 for
// F(4x4) on AVX-512 here (random normal data).
func TestFastWinograd(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	type cs struct {
		h, w, c, f int
		pad        layers.Padding
		pads       [4]int
	}
	cases := []cs{
		{1, 1, 16, 16, layers.PadSame, [4]int{}}, // 1x1 output: im2col
		{1, 6, 16, 16, layers.PadSame, [4]int{}}, // one output row: im2col
		{2, 2, 16, 16, layers.PadSame, [4]int{}},
		{3, 5, 16, 24, layers.PadValid, [4]int{}},
		{7, 6, 24, 16, layers.PadSame, [4]int{}},
		{13, 13, 32, 64, layers.PadValid, [4]int{}}, // mnist_cnn's second conv: 11x11, half tiles
		{20, 20, 16, 16, layers.PadSame, [4]int{}},  // 100 tiles: two chunks
		{5, 9, 16, 16, layers.PadExplicit, [4]int{2, 0, 1, 3}},
		{32, 32, 32, 32, layers.PadSame, [4]int{}},
		{8, 8, 128, 128, layers.PadSame, [4]int{}},
	}
	defer func(v int) { winogradMinTiles4 = v }(winogradMinTiles4)
	for _, tile := range []int{2, 4} {
		winogradMinTiles4 = 1 << 30 // F(2x2) everywhere
		if tile == 4 {
			winogradMinTiles4 = 0 // F(4x4) everywhere
		}
		worst := 0.0
		for _, isa := range fastISAs() {
			for ci, c := range cases {
				for _, act := range []layers.Activation{layers.ActLinear, layers.ActReLU, {Kind: layers.Tanh}} {
					win := layers.Window{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: c.pad, Pads: c.pads}
					l := &layers.Conv2D{Window: win, In: c.c, Filters: c.f, Groups: 1, W: rnd(r, 9*c.c*c.f), B: rnd(r, c.f), Act: act}
					in := layers.Shape{c.h, c.w, c.c}
					t.Run(fmt.Sprintf("F%d/%v/case%d/%v", tile, isa, ci, act), func(t *testing.T) {
						worst = max(worst, checkWinograd(t, l, in, isa, 3, tile, r))
					})
				}
			}
		}
		t.Logf("F(%dx%d,3x3): worst |err| / ((In+8)*2^-24*S) = %.3f", tile, tile, worst)
	}
}

func checkWinograd(t *testing.T, l *layers.Conv2D, in layers.Shape, isa asm.ISA, batch, tile int, r *rand.Rand) float64 {
	t.Helper()
	out, err := l.OutputShape(in)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := compileLayer(l, in, out, isa, batch)
	if err != nil {
		t.Fatal(err)
	}
	if oh, ow, _, _, _ := l.Geometry(in[0], in[1]); !asm.WinogradF2x2Vector(isa) || oh < 2 || ow < 2 {
		tile = 2 // the im2col path: the F(2x2) bound is looser than its own
	} else if want := fmt.Sprintf("winograd F(%dx%d,3x3)", tile, tile); !strings.Contains(cp.name, want) {
		t.Fatalf("%v: kernel %q, want %s", isa, cp.name, want)
	}
	bw := tile + 2 // the tile's input window
	src := rnd(r, batch*in.Size())
	want := make([]float32, batch*out.Size())
	l.Forward(want, src, nil, in, batch)
	got := make([]float32, len(want)+8)
	for i := range got {
		got[i] = -777
	}
	sc := make([]float32, cp.scratchLen)
	for i := range sc {
		sc[i] = float32(math.NaN()) // scratch arrives dirty
	}
	cp.k.run(got[:len(want)], src, sc, batch)
	for i := len(want); i < len(got); i++ {
		if got[i] != -777 {
			t.Fatalf("%s: wrote past the output", cp.name)
		}
	}
	abs := absConv(l)
	mag := make([]float32, len(want))
	abs.Forward(mag, absf(src), nil, in, batch)
	h, w, c, n := in[0], in[1], in[2], l.Filters
	oh, ow, pt, pl, _ := l.Geometry(h, w)
	wmax := make([]float64, c*n)
	for tap := 0; tap < 9; tap++ {
		for i := 0; i < c*n; i++ {
			wmax[i] = max(wmax[i], math.Abs(float64(l.W[tap*c*n+i])))
		}
	}
	worst := 0.0
	xmax := make([]float64, c)
	for b := 0; b < batch; b++ {
		x := src[b*h*w*c:]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				clear(xmax)
				y0, x0 := oy/tile*tile-pt, ox/tile*tile-pl // the tile's input window
				for iy := max(y0, 0); iy < min(y0+bw, h); iy++ {
					for ix := max(x0, 0); ix < min(x0+bw, w); ix++ {
						for ch := 0; ch < c; ch++ {
							xmax[ch] = max(xmax[ch], math.Abs(float64(x[(iy*w+ix)*c+ch])))
						}
					}
				}
				for co := 0; co < n; co++ {
					s := math.Abs(float64(l.B[co]))
					for ch := 0; ch < c; ch++ {
						s += 9 * xmax[ch] * wmax[ch*n+co]
					}
					i := ((b*oh+oy)*ow+ox)*n + co
					d := math.Abs(float64(got[i] - want[i]))
					bound := wbound[tile]*float64(c+8)*0x1p-24*s + 2.4*float64(9*c+2)*0x1p-24*float64(mag[i]) + 1e-6*math.Abs(float64(want[i]))
					if !(d <= bound) {
						t.Fatalf("%v %s: out[%d] = %v, want %v (bound %g)", isa, cp.name, i, got[i], want[i], bound)
					}
					worst = max(worst, d/(float64(c+8)*0x1p-24*s))
				}
			}
		}
	}
	return worst
}

// wbound is the constant of the stated bound per output tile (see TestFastWinograd).
var wbound = map[int]float64{2: 16, 4: 16}
