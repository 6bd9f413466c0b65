package npyf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// TestVariants reads the files numpy wrote (or read back) in testdata/npy: big-endian
// f4 and f8, '=f4', header keys in other orders and quoting; all equal x.npy.
func TestVariants(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "npy")
	want, ws, err := ReadFile(filepath.Join(dir, "x.npy"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"x_be.npy", "x_be8.npy", "x_native.npy", "x_keys.npy", "x_keys_dq.npy"} {
		got, gs, err := ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(gs) != len(ws) || gs[0] != ws[0] || gs[1] != ws[1] {
			t.Errorf("%s: shape %v, want %v", name, gs, ws)
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: element %d = %g, want %g", name, i, got[i], want[i])
				break
			}
		}
	}
}

// TestHeaderDicts: what the dictionary parser accepts and refuses.
func TestHeaderDicts(t *testing.T) {
	ok := map[string][]int{
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }":    {2, 3},
		"{'shape': (6,), 'descr': '>f4', 'fortran_order': False}":        {6},
		`{"fortran_order": False, "descr": "=f4", "shape": (1L, 6L)}`:    {1, 6},
		"{'descr':'<f4','fortran_order':False,'shape':()}":               {},
		"{'fortran_order': False, 'shape': (0, 4), 'descr': '<f4', }   ": {0, 4},
	}
	for d, shape := range ok {
		h, err := parseDict([]byte(d))
		if err != nil {
			t.Errorf("%q: %v", d, err)
			continue
		}
		if len(h.Shape) != len(shape) {
			t.Errorf("%q: shape %v, want %v", d, h.Shape, shape)
		}
		if h.Dtype[0] != '<' && h.Dtype[0] != '>' {
			t.Errorf("%q: dtype %q not resolved to a byte order", d, h.Dtype)
		}
	}
	for _, d := range []string{
		"{'descr': '<f4', 'fortran_order': False}",                                   // no shape
		"{'descr': '<f4', 'fortran_order': False, 'shape': (6), }",                   // an int, not a tuple
		"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}",    // twice
		"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}",        // unknown key
		"{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}",                        // not a bool
		"{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}",                   // negative
		"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", // overflow
		"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}",           // structured
		"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} trailing",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)",
	} {
		if _, err := parseDict([]byte(d)); !errors.Is(err, layers.ErrBadFile) {
			t.Errorf("%q: err = %v, want ErrBadFile", d, err)
		}
	}
}

func FuzzReadFloat32(f *testing.F) {
	var good bytes.Buffer
	WriteFloat32(&good, []float32{1, 2, 3, 4}, []int{2, 2})
	f.Add(good.Bytes())
	for _, name := range []string{"x_be.npy", "x_be8.npy", "x_keys_dq.npy"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "npy", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadFloat32(bytes.NewReader(data), int64(len(data)))
		ReadFloat32(bytes.NewReader(data), -1)
	})
}

func FuzzReadIDs(f *testing.F) {
	var good bytes.Buffer
	WriteFloat32(&good, []float32{1, 2, 3, 4}, []int{2, 2})
	f.Add(good.Bytes())
	i8 := append([]byte("\x93NUMPY\x01\x00\x76\x00{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }"), bytes.Repeat([]byte(" "), 118-len("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }")-1)...)
	i8 = append(i8, '\n')
	i8 = append(i8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0)
	f.Add(i8)
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadIDs(bytes.NewReader(data), int64(len(data)))
		ReadIDs(bytes.NewReader(data), -1)
	})
}

// TestReadIDs reads int64 ids (one beyond int32 is an error naming it), int32 ids and
// whole-number floats, and rejects fractions.
func TestReadIDs(t *testing.T) {
	hdr := func(descr string, n int) []byte {
		d := "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + strconv.Itoa(n) + ",), }"
		d += strings.Repeat(" ", 118-len(d)-1) + "\n"
		return append([]byte("\x93NUMPY\x01\x00\x76\x00"), d...)
	}
	b := hdr("<i8", 2)
	b = binary.LittleEndian.AppendUint64(b, 7)
	b = binary.LittleEndian.AppendUint64(b, 1<<40)
	if _, _, err := ReadIDs(bytes.NewReader(b), int64(len(b))); err == nil || !strings.Contains(err.Error(), "index 1") {
		t.Errorf("int64 beyond int32: err = %v", err)
	}
	b = hdr("<i4", 2)
	b = binary.LittleEndian.AppendUint32(b, 7)
	b = binary.LittleEndian.AppendUint32(b, uint32(0xFFFFFFFF))
	ids, shape, err := ReadIDs(bytes.NewReader(b), int64(len(b)))
	if err != nil || len(shape) != 1 || ids[0] != 7 || ids[1] != -1 {
		t.Errorf("int32: %v %v %v", ids, shape, err)
	}
	var f bytes.Buffer
	WriteFloat32(&f, []float32{3, 4.5}, []int{2})
	if _, _, err := ReadIDs(bytes.NewReader(f.Bytes()), int64(f.Len())); err == nil || !strings.Contains(err.Error(), "not a whole number") {
		t.Errorf("fraction: err = %v", err)
	}
}
