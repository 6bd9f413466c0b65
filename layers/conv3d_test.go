package layers

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func rand32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// as3D is w as a 3-D window of depth 1.
func as3D(w Window) Window3D {
	return Window3D{KD: 1, KH: w.KH, KW: w.KW, SD: 1, SH: w.SH, SW: w.SW, DD: 1, DH: w.DH, DW: w.DW, Pad: w.Pad,
		Pads: [6]int{0, 0, w.Pads[0], w.Pads[1], w.Pads[2], w.Pads[3]}}
}

func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("%s: out[%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}

// TestConv3DDepthOneIsConv2D: on a depth-1 volume with a depth-1 window, Conv3D,
// Pool3D and GlobalPool3D compute what the 2-D layers compute on the (H, W, C) map,
// bit for bit (the same sums in the same order), over padding modes, strides,
// dilations and groups.
func TestConv3DDepthOneIsConv2D(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 16))
	wins := []Window{
		{KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, Pad: PadSame},
		{KH: 2, KW: 3, SH: 2, SW: 1, DH: 1, DW: 2, Pad: PadSameLower},
		{KH: 3, KW: 2, SH: 1, SW: 2, DH: 2, DW: 1},
		{KH: 2, KW: 2, SH: 2, SW: 3, DH: 1, DW: 1, Pad: PadExplicit, Pads: [4]int{1, 2, 0, 3}},
	}
	for wi, w := range wins {
		for _, g := range []int{1, 2} {
			in2 := Shape{7, 6, 4}
			c2 := &Conv2D{Window: w, In: 4, Filters: 6, Groups: g, W: rand32(r, w.KH*w.KW*4/g*6), B: rand32(r, 6), Act: ActReLU}
			c3 := &Conv3D{Window3D: as3D(w), In: 4, Filters: 6, Groups: g, W: c2.W, B: c2.B, Act: ActReLU}
			cases := []struct {
				l2, l3 Layer
			}{
				{c2, c3},
				{&Pool2D{Window: w, Max: true}, &Pool3D{Window3D: as3D(w), Max: true}},
				{&Pool2D{Window: w}, &Pool3D{Window3D: as3D(w)}},
				{&Pool2D{Window: w, CountIncludePad: true}, &Pool3D{Window3D: as3D(w), CountIncludePad: true}},
				{&GlobalPool2D{Max: g == 2}, &GlobalPool3D{Max: g == 2}},
			}
			for k, c := range cases {
				name := fmt.Sprintf("win%d groups%d case%d", wi, g, k)
				out2, err := c.l2.OutputShape(in2)
				if err != nil {
					t.Fatal(err)
				}
				in3 := Shape{1, 7, 6, 4}
				out3, err := c.l3.OutputShape(in3)
				if err != nil {
					t.Fatal(err)
				}
				if out3.Size() != out2.Size() {
					t.Fatalf("%s: shapes %v and %v", name, out3, out2)
				}
				x := rand32(r, 2*in2.Size())
				x[3] = float32(math.NaN())
				y2, y3 := make([]float32, 2*out2.Size()), make([]float32, 2*out3.Size())
				c.l2.Forward(y2, x, nil, in2, 2)
				c.l3.Forward(y3, x, nil, in3, 2)
				sameBits(t, name, y3, y2)
			}
		}
	}
}

// TestConv3DShapes: output sizes per axis (valid, same, explicit, dilated) and the
// keepdims form of the global pooling.
func TestConv3DShapes(t *testing.T) {
	w := Window3D{KD: 3, KH: 2, KW: 3, SD: 2, SH: 1, SW: 3, DD: 1, DH: 2, DW: 1}
	c := &Conv3D{Window3D: w, In: 2, Filters: 5, W: make([]float32, 18*2*5)}
	for _, tc := range []struct {
		pad  Padding
		pads [6]int
		want Shape
	}{
		{PadValid, [6]int{}, Shape{3, 5, 3, 5}},                    // (7-3)/2+1, (7-3)/1+1, (9-3)/3+1
		{PadSame, [6]int{}, Shape{4, 7, 3, 5}},                     // ceil(in/stride)
		{PadExplicit, [6]int{1, 0, 2, 2, 0, 3}, Shape{3, 9, 4, 5}}, // (8-3)/2+1, (11-3)+1, (12-3)/3+1
	} {
		c.Pad, c.Pads = tc.pad, tc.pads
		got, err := c.OutputShape(Shape{7, 7, 9, 2})
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%v: got %v, %v; want %v", tc.pad, got, err, tc.want)
		}
	}
	g := &GlobalPool3D{KeepDims: true}
	if got, _ := g.OutputShape(Shape{2, 3, 4, 5}); !got.Equal(Shape{1, 1, 1, 5}) {
		t.Errorf("keepdims: %v", got)
	}
	g.KeepDims = false
	if got, _ := g.OutputShape(Shape{2, 3, 4, 5}); !got.Equal(Shape{5}) {
		t.Errorf("no keepdims: %v", got)
	}
}

// TestConv3DInvalid: bad configurations and inputs are named errors, never panics.
func TestConv3DInvalid(t *testing.T) {
	ok := Window3D{KD: 2, KH: 2, KW: 2, SD: 1, SH: 1, SW: 1, DD: 1, DH: 1, DW: 1}
	mod := func(f func(w *Window3D)) Window3D { w := ok; f(&w); return w }
	for i, tc := range []struct {
		l    Layer
		in   Shape
		kind error
	}{
		{&Conv3D{Window3D: mod(func(w *Window3D) { w.KD = 0 }), In: 1, Filters: 1, W: make([]float32, 0)}, Shape{3, 3, 3, 1}, ErrInvalid},
		{&Conv3D{Window3D: mod(func(w *Window3D) { w.SW = -1 }), In: 1, Filters: 1, W: make([]float32, 8)}, Shape{3, 3, 3, 1}, ErrInvalid},
		{&Conv3D{Window3D: mod(func(w *Window3D) { w.KH = 1 << 30 }), In: 1, Filters: 1}, Shape{3, 3, 3, 1}, ErrInvalid},
		{&Conv3D{Window3D: mod(func(w *Window3D) { w.Pad = PadExplicit; w.Pads[3] = -1 }), In: 1, Filters: 1, W: make([]float32, 8)}, Shape{3, 3, 3, 1}, ErrInvalid},
		{&Conv3D{Window3D: mod(func(w *Window3D) { w.KD, w.KH, w.KW = 1<<20, 1<<20, 1<<20 }), In: 1 << 20, Filters: 1 << 20}, Shape{3, 3, 3, 1}, ErrInvalid},
		{&Conv3D{Window3D: ok, In: 3, Filters: 4, Groups: 2, W: make([]float32, 8*3*4)}, Shape{3, 3, 3, 3}, ErrInvalid},
		{&Conv3D{Window3D: ok, In: 2, Filters: 4, W: make([]float32, 8*2*4-1)}, Shape{3, 3, 3, 2}, ErrShapeMismatch},
		{&Conv3D{Window3D: ok, In: 2, Filters: 4, W: make([]float32, 8*2*4), B: make([]float32, 3)}, Shape{3, 3, 3, 2}, ErrShapeMismatch},
		{&Conv3D{Window3D: ok, In: 2, Filters: 4, W: make([]float32, 8*2*4)}, Shape{3, 3, 2}, ErrShapeMismatch},
		{&Conv3D{Window3D: ok, In: 2, Filters: 4, W: make([]float32, 8*2*4)}, Shape{3, 3, 3, 5}, ErrShapeMismatch},
		{&Conv3D{Window3D: ok, In: 2, Filters: 4, W: make([]float32, 8*2*4)}, Shape{1, 3, 3, 2}, ErrShapeMismatch},
		{&Pool3D{Window3D: mod(func(w *Window3D) { w.DD = 0 })}, Shape{3, 3, 3, 1}, ErrInvalid},
		{&Pool3D{Window3D: ok}, Shape{3, 3, 1}, ErrShapeMismatch},
		{&Pool3D{Window3D: mod(func(w *Window3D) { w.KW = 5 })}, Shape{3, 3, 3, 1}, ErrShapeMismatch},
		{&GlobalPool3D{}, Shape{3, 3}, ErrShapeMismatch},
	} {
		_, err := tc.l.OutputShape(tc.in)
		if !errors.Is(err, tc.kind) {
			t.Errorf("case %d (%s): got %v, want %v", i, tc.l.Config(), err, tc.kind)
		}
	}
}
