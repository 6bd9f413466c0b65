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

// readArrays reads a fixture's stored arrays of one kind ("inputs" or "outputs"):
// NAME.KIND.npy for the first, NAME.KIND.<k>.npy for the k-th.
func readArrays(t testing.TB, name, kind string) (vals [][]float32, shapes [][]int) {
	t.Helper()
	for k := 0; ; k++ {
		p := filepath.Join(fixtures, name+"."+kind+".npy")
		if k > 0 {
			p = filepath.Join(fixtures, fmt.Sprintf("%s.%s.%d.npy", name, kind, k))
			if _, err := os.Stat(p); err != nil {
				return vals, shapes
			}
		}
		v, s := readNpy(t, p)
		vals, shapes = append(vals, v), append(shapes, s)
	}
}

// TestFixtures imports every fixture and compares the reference pass with ONNX
// Runtime's outputs (every output) within |got-want| <= 1e-5 + 1e-5*|want|.
func TestFixtures(t *testing.T) {
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			m, err := Load(filepath.Join(fixtures, name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			xs, xshapes := readArrays(t, name, "inputs")
			want, yshapes := readArrays(t, name, "outputs")
			g := m.Graph
			if len(g.Inputs()) != len(xs) || len(g.Outputs()) != len(want) {
				t.Fatalf("graph has %d inputs and %d outputs, fixture %d and %d", len(g.Inputs()), len(g.Outputs()), len(xs), len(want))
			}
			for k, in := range g.Inputs() {
				if !in.Shape.Equal(layers.Shape(xshapes[k][1:])) || in.Name != m.InputNames[k] {
					t.Fatalf("graph input %d %q %v, fixture input %v", k, in.Name, in.Shape, xshapes[k])
				}
			}
			for k, out := range g.Outputs() {
				if !out.Shape.Equal(layers.Shape(yshapes[k][1:])) || out.Name != m.OutputNames[k] {
					t.Fatalf("graph output %d %q %v, ORT output %v", k, out.Name, out.Shape, yshapes[k])
				}
			}
			got, err := g.ReferenceN(xs, xshapes[0][0])
			if err != nil {
				t.Fatal(err)
			}
			for k := range want {
				worst, ratio := maxErr(got[k], want[k], 1e-5, 1e-5)
				t.Logf("%s output %d (opset %d, %s): %d layers, chain %v, max |err| %.3g (%.2f of bound)", name, k, m.Opset, m.Producer, g.Len(), g.IsChain(), worst, ratio)
				if ratio > 1 {
					for i := 0; i < g.Len(); i++ {
						t.Logf("  %s %s %v <- %v", g.Layer(i).LayerInfo().Name, g.Layer(i).Config(), g.OutShape(i), g.NodeInputs(i))
					}
					t.Errorf("output %d: max |got-want| %.3g exceeds 1e-5 + 1e-5*|want|", k, worst)
				}
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
			xs, xshapes := readArrays(t, name, "inputs")
			want, _ := readArrays(t, name, "outputs")
			n := xshapes[0][0]
			for _, batch := range []int{1, n + 2} {
				pick := func(a []float32) []float32 {
					per := len(a) / n
					var out []float32
					for k := 0; k < batch; k++ {
						s := (k * 5) % n
						out = append(out, a[s*per:(s+1)*per]...)
					}
					return out
				}
				bx := make([][]float32, len(xs))
				for k := range xs {
					bx[k] = pick(xs[k])
				}
				got, err := m.Graph.ReferenceN(bx, batch)
				if err != nil {
					t.Fatal(err)
				}
				for k := range want {
					if worst, ratio := maxErr(got[k], pick(want[k]), 1e-5, 1e-5); ratio > 1 {
						t.Errorf("batch %d output %d: max |err| %.3g", batch, k, worst)
					}
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
