package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/kinfer/kinfer/internal/npyf"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

const fixtures = "../../testdata/onnx"

// readNpy reads a little-endian float32 C-order .npy file.
func readNpy(t testing.TB, path string) ([]float32, []int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 10 || string(data[1:6]) != "NUMPY" {
		t.Fatalf("%s: not an npy file", path)
	}
	var hlen, off int
	if data[6] == 1 {
		hlen, off = int(binary.LittleEndian.Uint16(data[8:])), 10
	} else {
		hlen, off = int(binary.LittleEndian.Uint32(data[8:])), 12
	}
	header := string(data[off : off+hlen])
	if strings.Contains(header, "'<i8'") { // token ids: as an Int32 input holds them
		ids, shape, err := npyf.ReadIDsFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, len(ids))
		for k, id := range ids {
			out[k] = layers.IDBits(id)
		}
		return out, shape
	}
	if !strings.Contains(header, "'<f4'") || strings.Contains(header, "'fortran_order': True") {
		t.Fatalf("%s: want little-endian float32 C order, header %s", path, header)
	}
	m := regexp.MustCompile(`'shape': \(([^)]*)\)`).FindStringSubmatch(header)
	var shape []int
	for _, s := range strings.Split(m[1], ",") {
		if s = strings.TrimSpace(s); s != "" {
			v, _ := strconv.Atoi(s)
			shape = append(shape, v)
		}
	}
	body := data[off+hlen:]
	out := make([]float32, len(body)/4)
	for k := range out {
		out[k] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*k:]))
	}
	return out, shape
}

func fixtureNames(t testing.TB) []string {
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.onnx"))
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".onnx"))
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Skip("no fixtures; run testdata/gen_onnx.py")
	}
	return names
}

// maxErr returns the largest |got-want| and the largest ratio of it to the bound
// atol + rtol*|want|.
func maxErr(got, want []float32, atol, rtol float64) (worst, ratio float64) {
	for k := range want {
		e := math.Abs(float64(got[k]) - float64(want[k]))
		if math.IsNaN(e) {
			return math.Inf(1), math.Inf(1)
		}
		worst = math.Max(worst, e)
		ratio = math.Max(ratio, e/(atol+rtol*math.Abs(float64(want[k]))))
	}
	return
}

// TestFixtures imports every fixture and compares the reference pass with ONNX
// Runtime's outputs within |got-want| <= 1e-5 + 1e-5*|want|.
func TestFixtures(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			m, err := Load(filepath.Join(fixtures, name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			x, xs := readNpy(t, filepath.Join(fixtures, name+".inputs.npy"))
			want, ys := readNpy(t, filepath.Join(fixtures, name+".outputs.npy"))
			g := m.Graph
			if !g.Input().Equal(layers.Shape(xs[1:])) {
				t.Fatalf("graph input %v, fixture input %v", g.Input(), xs)
			}
			if !g.Output().Equal(layers.Shape(ys[1:])) {
				t.Fatalf("graph output %v, ORT output %v", g.Output(), ys)
			}
			got, err := g.Reference(x, xs[0])
			if err != nil {
				t.Fatal(err)
			}
			worst, ratio := maxErr(got, want, 1e-5, 1e-5)
			t.Logf("%s (opset %d, %s): %d layers, max |err| %.3g (%.2f of bound)", name, m.Opset, m.Producer, g.Len(), worst, ratio)
			if ratio > 1 {
				for i := 0; i < g.Len(); i++ {
					t.Logf("  %s %s %v", g.Layer(i).LayerInfo().Name, g.Layer(i).Config(), g.OutShape(i))
				}
				t.Errorf("max |got-want| %.3g exceeds 1e-5 + 1e-5*|want|", worst)
			}
		})
	}
}

// TestDynamicBatch runs each fixture at batch 1 and at a batch larger than the
// fixture's (samples repeated), and checks each sample matches ORT's output for it.
func TestDynamicBatch(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			m, err := Load(filepath.Join(fixtures, name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			x, xs := readNpy(t, filepath.Join(fixtures, name+".inputs.npy"))
			want, ys := readNpy(t, filepath.Join(fixtures, name+".outputs.npy"))
			in, out := len(x)/xs[0], len(want)/ys[0]
			for _, batch := range []int{1, xs[0] + 2} {
				var bx, bw []float32
				for k := 0; k < batch; k++ {
					s := (k * 5) % xs[0]
					bx = append(bx, x[s*in:(s+1)*in]...)
					bw = append(bw, want[s*out:(s+1)*out]...)
				}
				got, err := m.Graph.Reference(bx, batch)
				if err != nil {
					t.Fatal(err)
				}
				if worst, ratio := maxErr(got, bw, 1e-5, 1e-5); ratio > 1 {
					t.Errorf("batch %d: max |err| %.3g", batch, worst)
				}
			}
		})
	}
}

func TestErrorsAreNamed(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		kind error
	}{
		{[]byte("not a protobuf at all \xff\xff\xff"), layers.ErrBadFile},
		{nil, layers.ErrBadFile},
	} {
		_, err := Read(tc.data, "x.onnx")
		if !errors.Is(err, tc.kind) {
			t.Errorf("Read(%q) = %v, want %v", tc.data, err, tc.kind)
		}
	}
	_ = fmt.Sprint
}
