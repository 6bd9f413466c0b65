package layers

import (
	"errors"
	"math"
	"testing"
)

func fwd(t *testing.T, l Layer, in Shape, x []float32, batch int) ([]float32, Shape) {
	t.Helper()
	out, err := l.OutputShape(in)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, batch*out.Size())
	l.Forward(y, x, make([]float32, l.ScratchLen(in, batch)), in, batch)
	return y, out
}

func TestConvTranspose2D(t *testing.T) {
	// 1-D along W: x = [1, 10], kernel [1, 2, 3], stride 2: full = [1, 2, 3+10, 20, 30].
	l := &ConvTranspose2D{KH: 1, KW: 3, SH: 1, SW: 2, DH: 1, DW: 1, In: 1, Filters: 1, W: []float32{1, 2, 3}, B: []float32{0.5}}
	y, out := fwd(t, l, Shape{1, 2, 1}, []float32{1, 10}, 1)
	if !out.Equal(Shape{1, 5, 1}) {
		t.Fatalf("shape %v", out)
	}
	near(t, "full", y, []float32{1.5, 2.5, 13.5, 20.5, 30.5}, 0)
	// crop one cell at the start, add two at the end (bias only past the scatter)
	l.Pads, l.OutPad = [4]int{0, 0, 1, 0}, [2]int{0, 2}
	y, _ = fwd(t, l, Shape{1, 2, 1}, []float32{1, 10}, 1)
	near(t, "crop+outpad", y, []float32{2.5, 13.5, 20.5, 30.5, 0.5, 0.5}, 0)
	// dilation 2: taps at 0, 2, 4 from each input (stride 1)
	l = &ConvTranspose2D{KH: 1, KW: 3, SH: 1, SW: 1, DH: 1, DW: 2, In: 1, Filters: 1, W: []float32{1, 2, 3}}
	y, _ = fwd(t, l, Shape{1, 2, 1}, []float32{1, 10}, 1)
	near(t, "dilated", y, []float32{1, 10, 2, 20, 3, 30}, 0)
	// groups: two channels, each its own filter (W is (G, In/G, taps, F/G))
	l = &ConvTranspose2D{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, In: 2, Filters: 2, Groups: 2, W: []float32{2, 3}, Act: ActReLU}
	y, _ = fwd(t, l, Shape{1, 1, 2}, []float32{1, -1}, 1)
	near(t, "groups", y, []float32{2, 0}, 0)
	for _, bad := range []*ConvTranspose2D{
		{KH: 0, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, In: 1, Filters: 1, W: []float32{1}},
		{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, In: 2, Filters: 1, Groups: 2, W: []float32{1}},
		{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, In: 1, Filters: 1, W: []float32{1, 2}},
		{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, In: 1, Filters: 1, W: []float32{1}, Pads: [4]int{-1, 0, 0, 0}},
		{KH: 1, KW: 1, SH: 1, SW: 1, DH: 1, DW: 1, In: 1, Filters: 1, W: []float32{1}, Pads: [4]int{1, 1, 0, 0}}, // empty output
	} {
		if _, err := bad.OutputShape(Shape{1, 1, 1}); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestResize2D(t *testing.T) {
	x := []float32{0, 10, 20} // one row of three cells
	cases := []struct {
		l    Resize2D
		want []float32
	}{
		{Resize2D{ScaleH: 1, ScaleW: 2, Coord: CoordAsymmetric, Nearest: RoundFloor}, []float32{0, 0, 10, 10, 20, 20}},
		// half_pixel, x2: sources -0.25, 0.25, 0.75, 1.25, 1.75, 2.25 (clamped at the edges)
		{Resize2D{ScaleH: 1, ScaleW: 2, Linear: true, Coord: CoordHalfPixel}, []float32{0, 2.5, 7.5, 12.5, 17.5, 20}},
		// align_corners, 3 -> 5: sources 0, 0.5, 1, 1.5, 2
		{Resize2D{ScaleH: 1, ScaleW: 5.0 / 3, OutH: 1, OutW: 5, Linear: true, Coord: CoordAlignCorners}, []float32{0, 5, 10, 15, 20}},
		// half_pixel nearest, 3 -> 2 (scale 2/3): sources 0.25, 1.75
		{Resize2D{ScaleH: 1, ScaleW: 2.0 / 3, OutH: 1, OutW: 2, Coord: CoordHalfPixel, Nearest: RoundPreferFloor}, []float32{0, 20}},
		// asymmetric x1.5 -> 4 cells: sources 0, 0.667, 1.333, 2
		{Resize2D{ScaleH: 1, ScaleW: 1.5, Coord: CoordAsymmetric, Nearest: RoundPreferCeil}, []float32{0, 10, 10, 20}},
		{Resize2D{ScaleH: 1, ScaleW: 1.5, Coord: CoordAsymmetric, Nearest: RoundCeil}, []float32{0, 10, 20, 20}},
		// pytorch_half_pixel with one output cell maps to 0
		{Resize2D{ScaleH: 1, ScaleW: 1.0 / 3, OutH: 1, OutW: 1, Linear: true, Coord: CoordPytorchHalfPixel}, []float32{0}},
		{Resize2D{ScaleH: 1, ScaleW: 1.0 / 3, OutH: 1, OutW: 1, Linear: true, Coord: CoordHalfPixel}, []float32{10}},
	}
	for _, c := range cases {
		y, _ := fwd(t, &c.l, Shape{1, 3, 1}, x, 1)
		near(t, c.l.Config(), y, c.want, 1e-6)
	}
	// bilinear in both axes, 2x2 -> 4x4 half_pixel, two channels, batch 2
	l := &Resize2D{ScaleH: 2, ScaleW: 2, Linear: true}
	y, out := fwd(t, l, Shape{2, 2, 2}, []float32{0, 1, 4, 1, 8, 1, 12, 1, 0, 0, 0, 0, 0, 0, 0, 0}, 2)
	if !out.Equal(Shape{4, 4, 2}) {
		t.Fatalf("shape %v", out)
	}
	// row 1 (source y 0.25), column 1 (source x 0.25): 0.75*(0.75*0+0.25*4) + 0.25*(0.75*8+0.25*12)
	if got, want := y[(1*4+1)*2], float32(0.75*1+0.25*9); math.Abs(float64(got-want)) > 1e-6 {
		t.Errorf("bilinear (1,1) = %v, want %v", got, want)
	}
	if y[1] != 1 || y[32] != 0 {
		t.Errorf("channels or batch mixed: %v", y[:4])
	}
	for _, bad := range []*Resize2D{{ScaleH: 0, ScaleW: 1}, {ScaleH: 1, ScaleW: math.NaN()}, {ScaleH: 1, ScaleW: 1e9}, {ScaleH: 1, ScaleW: 1, Coord: 9}} {
		if _, err := bad.OutputShape(Shape{2, 2, 1}); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if _, err := (&Resize2D{ScaleH: 0.1, ScaleW: 1}).OutputShape(Shape{2, 2, 1}); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("resize to zero rows: %v", err)
	}
}

func TestCrop(t *testing.T) {
	x := make([]float32, 2*4*3*1)
	for i := range x {
		x[i] = float32(i)
	}
	y, out := fwd(t, &Crop{Crops: [4]int{1, 2, 0, 1}}, Shape{4, 3, 1}, x, 2)
	if !out.Equal(Shape{1, 2, 1}) {
		t.Fatalf("shape %v", out)
	}
	near(t, "crop2d", y, []float32{3, 4, 15, 16}, 0)
	y, out = fwd(t, &Crop{Crops: [4]int{1, 1, 0, 0}}, Shape{4, 3}, x, 2)
	if !out.Equal(Shape{2, 3}) {
		t.Fatalf("shape %v", out)
	}
	near(t, "crop1d", y, []float32{3, 4, 5, 6, 7, 8, 15, 16, 17, 18, 19, 20}, 0)
	for _, c := range []struct {
		l  Crop
		in Shape
	}{{Crop{Crops: [4]int{2, 2, 0, 0}}, Shape{4, 3, 1}}, {Crop{Crops: [4]int{0, 0, 1, 0}}, Shape{4, 3}}, {Crop{Crops: [4]int{-1, 0, 0, 0}}, Shape{4, 3, 1}}} {
		if _, err := c.l.OutputShape(c.in); err == nil {
			t.Errorf("%v on %v: no error", c.l.Crops, c.in)
		}
	}
}

func TestLayerNorm(t *testing.T) {
	// rows [1, 2, 3]: mean 2, var 2/3
	l := &LayerNorm{Axes: 1, Eps: 1e-3, Gamma: []float32{1, 2, 3}, Beta: []float32{0, 0, 1}}
	y, _ := fwd(t, l, Shape{2, 3}, []float32{1, 2, 3, 5, 5, 5}, 1)
	s := float32(1 / math.Sqrt(2.0/3+1e-3))
	near(t, "layernorm", y[:3], []float32{-s, 0, 3*s + 1}, 1e-6)
	near(t, "constant row", y[3:], []float32{0, 0, 1}, 0)
	for _, v := range y {
		if v != v {
			t.Fatalf("NaN in %v", y)
		}
	}
	if _, err := (&LayerNorm{Axes: 2, Gamma: []float32{1, 2}}).OutputShape(Shape{2, 3}); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("gamma for the wrong block: %v", err)
	}
	if _, err := (&LayerNorm{Axes: 3}).OutputShape(Shape{2, 3}); err == nil {
		t.Error("more axes than the input has: no error")
	}
}

func TestReduce(t *testing.T) {
	// (2, 3, 2): values 0..11
	x := make([]float32, 12)
	for i := range x {
		x[i] = float32(i)
	}
	cases := []struct {
		l     Reduce
		shape Shape
		want  []float32
	}{
		{Reduce{Op: ReduceSum, Axes: []int{1}, KeepDims: true}, Shape{2, 1, 2}, []float32{6, 9, 24, 27}},
		{Reduce{Op: ReduceMean, Axes: []int{0, 2}}, Shape{3}, []float32{3.5, 5.5, 7.5}},
		{Reduce{Op: ReduceMax, Axes: []int{0, 1, 2}}, Shape{}, []float32{11}},
		{Reduce{Op: ReduceMax, Axes: []int{2}}, Shape{2, 3}, []float32{1, 3, 5, 7, 9, 11}},
	}
	for _, c := range cases {
		y, out := fwd(t, &c.l, Shape{2, 3, 2}, x, 1)
		if !out.Equal(c.shape) {
			t.Errorf("%v: shape %v, want %v", c.l.Config(), out, c.shape)
		}
		near(t, c.l.Config(), y, c.want, 1e-7)
	}
	for _, axes := range [][]int{nil, {3}, {1, 1}, {2, 1}, {-1}} {
		if _, err := (&Reduce{Axes: axes}).OutputShape(Shape{2, 3, 2}); err == nil {
			t.Errorf("axes %v: no error", axes)
		}
	}
}

func TestPReLU(t *testing.T) {
	l := &PReLU{Alpha: []float32{0.5, -1}}
	y, _ := fwd(t, l, Shape{2, 2}, []float32{-2, -2, 3, -4}, 1)
	near(t, "prelu", y, []float32{-1, 2, 3, 4}, 0)
	if _, err := l.OutputShape(Shape{3}); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("2 slopes on 3 values: %v", err)
	}
}
