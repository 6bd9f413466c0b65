package kinfer_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"math"
	"os"
	"testing"
	"testing/fstest"

	"github.com/kinfer/kinfer"
	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/layers"
)

func near(t *testing.T, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d values, want %d", len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5+1e-5*math.Abs(float64(want[i])) {
			t.Fatalf("[%d] = %v, framework %v", i, got[i], want[i])
		}
	}
}

// TestLoadONNX loads by path, bytes and fs.FS and matches ONNX Runtime's outputs.
func TestLoadONNX(t *testing.T) {
	const path = "testdata/onnx/keras_mlp_op13.onnx"
	x, xs, err := npyf.ReadFile("testdata/onnx/keras_mlp_op13.inputs.npy")
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := npyf.ReadFile("testdata/onnx/keras_mlp_op13.outputs.npy")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	loads := map[string]func() (*kinfer.Model, error){
		"path":  func() (*kinfer.Model, error) { return kinfer.Load(path, kinfer.Options{}) },
		"bytes": func() (*kinfer.Model, error) { return kinfer.LoadBytes(data, "m.onnx", kinfer.Options{}) },
		"fs": func() (*kinfer.Model, error) {
			return kinfer.LoadFS(fstest.MapFS{"m/x.onnx": {Data: data}}, "m/x.onnx", kinfer.Options{})
		},
	}
	for name, load := range loads {
		m, err := load()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := m.Run(x, xs[0])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		near(t, got, y)
	}
	if f, err := kinfer.DetectFormat(bytes.NewReader(data), int64(len(data))); err != nil || f != kinfer.FormatONNX {
		t.Errorf("DetectFormat = %q, %v", f, err)
	}
}

// TestLoadKeras loads an npz and matches the Keras outputs stored in it.
func TestLoadKeras(t *testing.T) {
	const path = "testdata/keras/mnist_cnn.npz"
	m, err := kinfer.Load(path, kinfer.Options{MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	km, err := keras.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s := km.Samples
	got, err := m.Run(s.X, s.XShape[0])
	if err != nil {
		t.Fatal(err)
	}
	near(t, got, s.Y)
}

func TestLoadBad(t *testing.T) {
	var kerasZip bytes.Buffer
	zw := zip.NewWriter(&kerasZip)
	for _, n := range []string{"metadata.json", "config.json", "model.weights.h5"} {
		if _, err := zw.Create(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if f, err := kinfer.DetectFormat(bytes.NewReader(kerasZip.Bytes()), int64(kerasZip.Len())); err != nil || f != kinfer.FormatKeras {
		t.Errorf("DetectFormat(.keras) = %q, %v", f, err)
	}
	cases := map[string]struct {
		data []byte
		want error
	}{
		"empty":   {nil, kinfer.ErrFormat},
		"hdf5":    {[]byte("\x89HDF\r\n\x1a\n rest"), layers.ErrUnsupported},
		"keras":   {kerasZip.Bytes(), layers.ErrUnsupported},
		"zip":     {[]byte("PK\x03\x04 truncated"), layers.ErrBadFile},
		"garbage": {[]byte("\xff\xff\xff\xff not protobuf"), layers.ErrBadFile},
	}
	for name, c := range cases {
		_, err := kinfer.LoadBytes(c.data, name+".bin", kinfer.Options{})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", name, err, c.want)
		} else if !bytes.Contains([]byte(err.Error()), []byte(name+".bin")) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
	}
}

// TestLoadZoo: kinfer.Load takes every zoo model, whatever its format, and the
// compiled model matches the framework's stored outputs within the zoo's bounds.
func TestLoadZoo(t *testing.T) {
	type fixture struct {
		c      zoo.Case
		xs, ys [][]float32
		n      int
	}
	var all []fixture
	oc, err := zoo.ONNX(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range oc {
		xs, ys, n, err := c.ArraysN()
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, fixture{c, xs, ys, n})
	}
	kc, err := zoo.Keras(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kc {
		km, err := keras.Load(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		if s := km.Samples; s != nil && s.Ys != nil {
			all = append(all, fixture{c, s.Xs, s.Ys, s.N})
		}
	}
	for _, f := range all {
		m, err := kinfer.Load(f.c.Path, kinfer.Options{})
		if err != nil {
			t.Errorf("%s: %v", f.c.Path, err)
			continue
		}
		got, err := m.RunMulti(f.xs, f.n)
		if err != nil {
			t.Errorf("%s: %v", f.c.Path, err)
			continue
		}
		for k := range f.ys {
			if _, _, err := f.c.Bound.Check(got[k], f.ys[k]); err != nil {
				t.Errorf("%s output %d: %v", f.c.Path, k, err)
			}
		}
	}
	t.Logf("%d zoo models", len(all))
}
