package layers

import (
	"errors"
	"testing"
)

func TestCropPad(t *testing.T) {
	l := &Crop{Info: Info{Name: "c", Class: "Pad"}, Crops: [4]int{1, 0, 0, 2}}
	in := Shape{3, 4, 2}
	out, err := l.OutputShape(in)
	if err != nil || !out.Equal(Shape{2, 2, 2}) {
		t.Fatalf("OutputShape = %v, %v; want (2, 2, 2)", out, err)
	}
	src := make([]float32, 2*in.Size())
	for i := range src {
		src[i] = float32(i)
	}
	dst := make([]float32, 2*out.Size())
	l.Forward(dst, src, nil, in, 2)
	// sample b, row y+1, columns 0..1, both channels: ((b*3+y+1)*4+x)*2+c
	for b := 0; b < 2; b++ {
		for y := 0; y < 2; y++ {
			for x := 0; x < 2; x++ {
				for c := 0; c < 2; c++ {
					want := float32(((b*3+y+1)*4+x)*2 + c)
					if got := dst[((b*2+y)*2+x)*2+c]; got != want {
						t.Fatalf("dst[%d,%d,%d,%d] = %g, want %g", b, y, x, c, got, want)
					}
				}
			}
		}
	}
	for _, crops := range [][4]int{{3, 0, 0, 0}, {1, 2, 0, 0}, {0, 0, 2, 2}, {0, 0, 0, 4}, {-1, 0, 0, 0}, {1 << 62, 1 << 62, 0, 0}} {
		if _, err := (&Crop{Crops: crops}).OutputShape(in); !errors.Is(err, ErrShapeMismatch) && !errors.Is(err, ErrInvalid) {
			t.Errorf("crops %v on %v: err = %v, want ErrShapeMismatch or ErrInvalid", crops, in, err)
		}
	}
}
