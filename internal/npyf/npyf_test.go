package npyf

import (
	"bytes"
	"errors"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

func TestRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{3}, {2, 3}, {1, 2, 2, 1}, {0, 4}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i) * 0.5
		}
		var b bytes.Buffer
		if err := WriteFloat32(&b, data, shape); err != nil {
			t.Fatal(err)
		}
		for _, avail := range []int64{int64(b.Len()), -1} {
			got, gs, err := ReadFloat32(bytes.NewReader(b.Bytes()), avail)
			if err != nil {
				t.Fatalf("%v: %v", shape, err)
			}
			if len(gs) != len(shape) || len(got) != n {
				t.Fatalf("%v: got shape %v len %d", shape, gs, len(got))
			}
			for i := range got {
				if got[i] != data[i] {
					t.Fatalf("%v: element %d = %g", shape, i, got[i])
				}
			}
		}
	}
}

func TestBad(t *testing.T) {
	var good bytes.Buffer
	WriteFloat32(&good, []float32{1, 2, 3, 4}, []int{2, 2})
	g := good.Bytes()
	huge := bytes.Replace(g, []byte("(2, 2)"), []byte("(1099511627776, 2)"), 1)
	cases := map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("XNUMPY"), g[6:]...),
		"truncated": g[:len(g)-3],
		"dtype":     bytes.Replace(g, []byte("<f4"), []byte("<i4"), 1),
		"huge":      huge,
		"negative":  bytes.Replace(g, []byte("(2, 2)"), []byte("(-2, 2)"), 1),
		"garbage":   append(append([]byte{}, g[:10]...), bytes.Repeat([]byte{'}'}, 80)...),
	}
	for name, data := range cases {
		for _, avail := range []int64{int64(len(data)), -1} {
			_, _, err := ReadFloat32(bytes.NewReader(data), avail)
			if !errors.Is(err, layers.ErrBadFile) {
				t.Errorf("%s (avail %d): err = %v, want ErrBadFile", name, avail, err)
			}
		}
	}
}

func FuzzReadFloat32(f *testing.F) {
	var good bytes.Buffer
	WriteFloat32(&good, []float32{1, 2, 3, 4}, []int{2, 2})
	f.Add(good.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadFloat32(bytes.NewReader(data), int64(len(data)))
		ReadFloat32(bytes.NewReader(data), -1)
	})
}
