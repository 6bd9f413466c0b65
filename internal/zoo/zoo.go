// Package zoo lists the framework-made fixtures in testdata/ with the error bound each
// must meet, for tests across packages.
package zoo

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/kinfer/kinfer/internal/npyf"
)

// Bound is the tolerance |got-want| <= Atol + Rtol*|want|.
type Bound struct {
	Atol float64 `json:"atol"`
	Rtol float64 `json:"rtol"`
}

// Default is the bound against Keras/ONNX Runtime float32 outputs.
var Default = Bound{Atol: 1e-5, Rtol: 1e-5}

// Case is one fixture.
type Case struct {
	Name   string
	Path   string
	Bound  Bound
	Params int64 // from the manifest, 0 when unknown
}

// KerasDirs are the directories of testdata/ holding Keras fixtures: the zoo
// (gen_keras_zoo.py), the layer models (gen_keras_layers.py) and the Functional
// models (gen_keras_dag.py), the 3-D convolution models (gen_conv3d.py), each with its
// MANIFEST.json.
var KerasDirs = []string{"keras", "keras_layers", "keras_dag", "keras_conv3d"}

// Keras lists the npz fixtures of every KerasDirs directory with the bounds from its
// MANIFEST.json. root is the repository root relative to the test's directory.
func Keras(root string) ([]Case, error) {
	var out []Case
	for _, d := range KerasDirs {
		cs, err := kerasDir(filepath.Join(root, "testdata", d))
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

func kerasDir(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.npz"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no models in %s", dir)
	}
	var man struct {
		DefaultTolerance *Bound `json:"default_tolerance"`
		Models           []struct {
			File      string `json:"file"`
			Params    int64  `json:"params"`
			Tolerance *Bound `json:"tolerance"`
		} `json:"models"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &man); err != nil {
		return nil, fmt.Errorf("%s/MANIFEST.json: %w", dir, err)
	}
	def := Default
	if man.DefaultTolerance != nil {
		def = *man.DefaultTolerance
	}
	byFile := map[string]Case{}
	for _, m := range man.Models {
		c := Case{Bound: def, Params: m.Params}
		if m.Tolerance != nil {
			c.Bound = *m.Tolerance
		}
		byFile[m.File] = c
	}
	var out []Case
	for _, f := range files {
		base := filepath.Base(f)
		c, ok := byFile[base]
		if !ok {
			c = Case{Bound: def}
		}
		c.Name, c.Path = base[:len(base)-len(".npz")], f
		out = append(out, c)
	}
	return out, nil
}

// Check compares got with want under the bound and returns the largest abs error, the
// largest ratio of error to bound, and an error naming the first element outside it.
func (b Bound) Check(got, want []float32) (maxAbs, worst float64, err error) {
	if len(got) != len(want) {
		return 0, 0, fmt.Errorf("got %d values, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		d := math.Abs(g - w)
		if math.IsNaN(g) != math.IsNaN(w) {
			d = math.Inf(1)
		} else if math.IsNaN(g) {
			d = 0
		}
		maxAbs = math.Max(maxAbs, d)
		r := d / (b.Atol + b.Rtol*math.Abs(w))
		if r > worst {
			worst = r
		}
		if r > 1 && err == nil {
			err = fmt.Errorf("element %d: got %g, want %g (|diff| %.3g > %g + %g*|want|)", i, g, w, d, b.Atol, b.Rtol)
		}
	}
	return maxAbs, worst, err
}

// ONNX lists testdata/onnx/*.onnx; each has NAME.inputs.npy and NAME.outputs.npy made by
// ONNX Runtime. All use the Default bound.
func ONNX(root string) ([]Case, error) {
	dir := filepath.Join(root, "testdata", "onnx")
	files, err := filepath.Glob(filepath.Join(dir, "*.onnx"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no models in %s", dir)
	}
	var out []Case
	for _, f := range files {
		base := filepath.Base(f)
		out = append(out, Case{Name: base[:len(base)-len(".onnx")], Path: f, Bound: Default})
	}
	return out, nil
}

// ArraysN reads all of an ONNX case's stored inputs and outputs (float32, batch
// first; token ids as int32 bit patterns): NAME.inputs.npy and NAME.inputs.K.npy for
// input K > 0, likewise outputs.
func (c Case) ArraysN() (xs, ys [][]float32, batch int, err error) {
	stem := c.Path[:len(c.Path)-len(filepath.Ext(c.Path))]
	read := func(kind string) ([][]float32, []int, error) {
		var vals [][]float32
		var shape0 []int
		for k := 0; ; k++ {
			p := stem + "." + kind + ".npy"
			if k > 0 {
				p = fmt.Sprintf("%s.%s.%d.npy", stem, kind, k)
				if _, err := os.Stat(p); err != nil {
					return vals, shape0, nil
				}
			}
			v, s, err := readArray(p)
			if err != nil {
				return nil, nil, err
			}
			if k == 0 {
				shape0 = s
			}
			vals = append(vals, v)
		}
	}
	xs, xs0, err := read("inputs")
	if err != nil {
		return nil, nil, 0, err
	}
	if ys, _, err = read("outputs"); err != nil {
		return nil, nil, 0, err
	}
	if len(xs0) == 0 {
		return nil, nil, 0, fmt.Errorf("%s: scalar input", c.Path)
	}
	return xs, ys, xs0[0], nil
}

// Arrays reads an ONNX case's stored inputs and outputs (float32, batch first);
// integer inputs (token ids) are returned as int32 bit patterns (layers.IDBits), as an
// Int32 graph input holds them.
func (c Case) Arrays() (x, y []float32, batch int, err error) {
	stem := c.Path[:len(c.Path)-len(filepath.Ext(c.Path))]
	x, xs, err := readArray(stem + ".inputs.npy")
	if err != nil {
		return nil, nil, 0, err
	}
	y, _, err = npyf.ReadFile(stem + ".outputs.npy")
	if err != nil {
		return nil, nil, 0, err
	}
	if len(xs) == 0 {
		return nil, nil, 0, fmt.Errorf("%s: scalar input", c.Path)
	}
	return x, y, xs[0], nil
}

// readArray reads a float .npy, or an integer one as int32 bit patterns (layers.IDBits).
func readArray(p string) ([]float32, []int, error) {
	dt, err := npyf.FileDtype(p)
	if err != nil {
		return nil, nil, err
	}
	if !npyf.IsInt(dt) {
		return npyf.ReadFile(p)
	}
	ids, shape, err := npyf.ReadIDsFile(p)
	if err != nil {
		return nil, nil, err
	}
	x := make([]float32, len(ids))
	for i, id := range ids {
		x[i] = math.Float32frombits(uint32(id))
	}
	return x, shape, nil
}
