package keras

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/internal/npyf"
)

// tmodel describes an npz to build in memory.
type tmodel struct {
	kerasVersion string
	config       any
	weights      []lw              // in order
	x, y         *array            // samples (optional)
	raw          map[string][]byte // extra members written as is (name with .npy)
	metaEdit     func(m map[string]any)
	store        bool // zip.Store instead of Deflate
}

// lw is one layer's weights.
type lw struct {
	path string
	ws   []*array
}

func arr(shape []int, data ...float32) *array {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if data == nil {
		data = make([]float32, n)
	}
	if len(data) != n {
		panic(fmt.Sprintf("arr: shape %v needs %d values, got %d", shape, n, len(data)))
	}
	return &array{Shape: shape, Data: data}
}

// rnd returns an array of the shape with values from a fixed-seed generator.
func rnd(seed uint64, shape ...int) *array {
	a := arr(shape)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range a.Data {
		a.Data[i] = float32(r.NormFloat64() * 0.5)
	}
	return a
}

// k3 is a Keras 3 layer entry.
func k3(class string, cfg map[string]any) map[string]any {
	if cfg == nil {
		cfg = map[string]any{}
	}
	if _, ok := cfg["name"]; !ok {
		cfg["name"] = strings.ToLower(class)
	}
	if _, ok := cfg["dtype"]; !ok {
		cfg["dtype"] = map[string]any{"module": "keras", "class_name": "DTypePolicy", "config": map[string]any{"name": "float32"}, "registered_name": nil}
	}
	cfg["trainable"] = true
	return map[string]any{"module": "keras.layers", "class_name": class, "config": cfg, "registered_name": nil}
}

// k2 is a Keras 2 layer entry.
func k2(class string, cfg map[string]any) map[string]any {
	if _, ok := cfg["name"]; !ok {
		cfg["name"] = strings.ToLower(class)
	}
	cfg["dtype"] = "float32"
	return map[string]any{"class_name": class, "config": cfg}
}

// input3 is a Keras 3 InputLayer.
func input3(shape ...int) map[string]any {
	bs := []any{nil}
	for _, d := range shape {
		bs = append(bs, d)
	}
	return k3("InputLayer", map[string]any{"batch_shape": bs, "sparse": false, "name": "input_layer"})
}

// seq3 is a Keras 3 Sequential config.
func seq3(name string, ls ...any) map[string]any {
	return map[string]any{"module": "keras", "class_name": "Sequential",
		"config": map[string]any{"name": name, "trainable": true, "layers": ls}, "registered_name": nil}
}

func npyBytes(a *array) []byte {
	var b bytes.Buffer
	if err := npyf.WriteFloat32(&b, a.Data, a.Shape); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// npyRaw writes a .npy with an arbitrary header dictionary and payload.
func npyRaw(dict string, payload []byte) []byte {
	pad := 64 - (10+len(dict)+1)%64
	dict += strings.Repeat(" ", pad%64) + "\n"
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(dict)))
	b.WriteString(dict)
	b.Write(payload)
	return b.Bytes()
}

func metaMember(js []byte) []byte {
	return npyRaw(fmt.Sprintf("{'descr': '|u1', 'fortran_order': False, 'shape': (%d,), }", len(js)), js)
}

func (tm *tmodel) metaJSON() []byte {
	index := map[string]any{}
	for _, l := range tm.weights {
		var keys []string
		for i := range l.ws {
			keys = append(keys, fmt.Sprintf("w/%s/%d", l.path, i))
		}
		index[l.path] = keys
	}
	kv := tm.kerasVersion
	if kv == "" {
		kv = "3.6.0"
	}
	m := map[string]any{"format": "kinfer-npz", "version": 1, "keras_version": kv,
		"source": "test.keras", "source_format": "keras", "model_config": tm.config, "weights": index}
	if tm.metaEdit != nil {
		tm.metaEdit(m)
	}
	js, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return js
}

// bytes writes the npz.
func (tm *tmodel) bytes() []byte {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		if tm.store {
			h.Method = zip.Store
		}
		w, err := z.CreateHeader(h)
		if err != nil {
			panic(err)
		}
		w.Write(data)
	}
	add("kinfer_meta.npy", metaMember(tm.metaJSON()))
	for _, l := range tm.weights {
		for i, a := range l.ws {
			add(fmt.Sprintf("w/%s/%d.npy", l.path, i), npyBytes(a))
		}
	}
	if tm.x != nil {
		add("samples/x.npy", npyBytes(tm.x))
	}
	if tm.y != nil {
		add("samples/y.npy", npyBytes(tm.y))
	}
	for name, data := range tm.raw {
		add(name, data)
	}
	if err := z.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func (tm *tmodel) load() (*Model, error) {
	b := tm.bytes()
	return Read(bytes.NewReader(b), int64(len(b)), "test.npz")
}

func (tm *tmodel) mustLoad(t *testing.T) *Model {
	t.Helper()
	m, err := tm.load()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// run runs the reference pass on one sample.
func run(t *testing.T, m *Model, x []float32) []float32 {
	t.Helper()
	y, err := m.Graph.Reference(x, 1)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func near(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		d := float64(got[i]) - float64(want[i])
		if d < 0 {
			d = -d
		}
		w := float64(want[i])
		if w < 0 {
			w = -w
		}
		if !(d <= tol+tol*w) {
			t.Fatalf("%s: value %d = %g, want %g", what, i, got[i], want[i])
		}
	}
}

// transpose returns src (of shape) with axes reordered: out axis i = in axis perm[i].
func transpose(src []float32, shape []int, perm []int) []float32 {
	r := len(shape)
	out := make([]float32, len(src))
	oshape := make([]int, r)
	for i, p := range perm {
		oshape[i] = shape[p]
	}
	stride := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		stride[i] = s
		s *= shape[i]
	}
	idx := make([]int, r)
	for o := range out {
		off := 0
		for i := 0; i < r; i++ {
			off += idx[i] * stride[perm[i]]
		}
		out[o] = src[off]
		for i := r - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < oshape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// zipOf writes members into a zip (deflated).
func zipOf(members map[string][]byte) []byte {
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for name, data := range members {
		w, err := z.Create(name)
		if err != nil {
			panic(err)
		}
		w.Write(data)
	}
	if err := z.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
