package runtime_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
)

// fuzzSeed is a small zoo model: its npz members and its model_config.
type fuzzSeed struct {
	name    string
	members map[string][]byte // every member but kinfer_meta
	meta    map[string]any
	config  []byte
}

// smallZooSeeds reads the zoo models of at most maxBytes (a few hundred weights):
// small seeds keep the fuzzing engine's minimization of new inputs fast.
func smallZooSeeds(tb testing.TB, maxBytes int64) []fuzzSeed {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "keras", "*.npz"))
	var out []fuzzSeed
	for _, p := range files {
		if st, err := os.Stat(p); err != nil || st.Size() > maxBytes {
			continue
		}
		zr, err := zip.OpenReader(p)
		if err != nil {
			tb.Fatal(err)
		}
		s := fuzzSeed{name: filepath.Base(p), members: map[string][]byte{}}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				tb.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				tb.Fatal(err)
			}
			if f.Name != "kinfer_meta.npy" {
				s.members[f.Name] = b
				continue
			}
			h, err := npyf.ReadHeader(bytes.NewReader(b))
			if err != nil {
				tb.Fatal(err)
			}
			if err := json.Unmarshal(b[h.Len:], &s.meta); err != nil {
				tb.Fatal(err)
			}
			if s.config, err = json.Marshal(s.meta["model_config"]); err != nil {
				tb.Fatal(err)
			}
		}
		zr.Close()
		out = append(out, s)
	}
	if len(out) == 0 {
		tb.Skip("no zoo models")
	}
	return out
}

// npz writes the seed's members with model_config replaced by cfg.
func (s *fuzzSeed) npz(cfg []byte) []byte {
	meta := map[string]any{}
	for k, v := range s.meta {
		meta[k] = v
	}
	meta["model_config"] = json.RawMessage(cfg)
	js, err := json.Marshal(meta)
	if err != nil {
		return nil // cfg is not JSON: json.RawMessage refuses it
	}
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	w, _ := z.CreateHeader(&zip.FileHeader{Name: "kinfer_meta.npy", Method: zip.Store})
	hdr := "{'descr': '|u1', 'fortran_order': False, 'shape': (" + strconv.Itoa(len(js)) + ",), }"
	w.Write(npyRaw(hdr, js))
	for name, b := range s.members {
		w, _ := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		w.Write(b)
	}
	z.Close()
	return buf.Bytes()
}

// npyRaw is a version 1.0 .npy with the given header dictionary.
func npyRaw(dict string, payload []byte) []byte {
	for (10+len(dict)+1)%64 != 0 {
		dict += " "
	}
	dict += "\n"
	b := []byte("\x93NUMPY\x01\x00")
	b = append(b, byte(len(dict)), byte(len(dict)>>8))
	b = append(b, dict...)
	return append(b, payload...)
}

var named = []error{layers.ErrBadFile, layers.ErrUnsupported, layers.ErrShapeMismatch, layers.ErrInvalid, layers.ErrTooLarge}

func isNamed(err error) bool {
	for _, s := range named {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// FuzzCompileConfig fuzzes the config JSON of small valid models (with one of the
// zoo models' weights and samples), imports it, compiles it under a 16 MiB arena
// limit and runs it once: every step either works or returns a named error, never
// panics, hangs or allocates what a config merely claims.
//
//	go test -run='^$' -fuzz=FuzzCompileConfig -fuzztime=10m ./runtime/
func FuzzCompileConfig(f *testing.F) {
	seeds := smallZooSeeds(f, 8<<10)
	for i, s := range seeds {
		f.Add(s.config, uint8(i))
	}
	f.Fuzz(func(t *testing.T, cfg []byte, which uint8) {
		tm := time.AfterFunc(5*time.Second, func() { panic("import, compile and run take over 5 s") })
		defer tm.Stop()
		s := &seeds[int(which)%len(seeds)]
		data := s.npz(cfg)
		if data == nil {
			return
		}
		m, err := keras.ReadWith(bytes.NewReader(data), int64(len(data)), s.name,
			keras.Options{MaxWeightBytes: 1 << 20, MaxSampleBytes: 1 << 20})
		if err != nil {
			if !isNamed(err) {
				t.Fatalf("import: error wraps no named error: %v", err)
			}
			return
		}
		cm, err := runtime.Compile(m.Graph, runtime.Options{MaxBatch: 2, MaxArenaBytes: 16 << 20})
		if err != nil {
			if !isNamed(err) {
				t.Fatalf("compile: error wraps no named error: %v", err)
			}
			return
		}
		if m.Graph.FLOPs() > 1e7 {
			return
		}
		x := make([]float32, 2*cm.InputShape().Size())
		if m.Samples != nil && len(m.Samples.X) >= len(x) {
			copy(x, m.Samples.X)
		}
		if _, err := cm.Run(x, 2); err != nil {
			t.Fatalf("run: %v", err)
		}
	})
}

// FuzzCompileONNX fuzzes the bytes of the small ONNX fixtures (up to 4 KB), imports
// them for batch 2 within 16 MiB tensors, compiles under a 16 MiB arena limit and
// runs once.
//
//	go test -run='^$' -fuzz=FuzzCompileONNX -fuzztime=10m -fuzzminimizetime=200x ./runtime/
func FuzzCompileONNX(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "onnx", "*.onnx"))
	quant, _ := filepath.Glob(filepath.Join("..", "testdata", "quant", "*.onnx")) // int8
	for _, p := range append(files, quant...) {
		if b, err := os.ReadFile(p); err == nil && len(b) <= 4<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tm := time.AfterFunc(5*time.Second, func() { panic("import, compile and run take over 5 s") })
		defer tm.Stop()
		m, err := onnx.ReadWith(data, "fuzz.onnx", onnx.Options{MaxBatch: 2, MaxTensorBytes: 16 << 20})
		if err != nil {
			if !isNamed(err) {
				t.Fatalf("import: error wraps no named error: %v", err)
			}
			return
		}
		cm, err := runtime.Compile(m.Graph, runtime.Options{MaxBatch: 2, MaxArenaBytes: 16 << 20})
		if err != nil {
			if !isNamed(err) {
				t.Fatalf("compile: error wraps no named error: %v", err)
			}
			return
		}
		if m.Graph.FLOPs() > 1e7 {
			return
		}
		var xs [][]float32
		for _, in := range cm.Inputs() {
			xs = append(xs, make([]float32, 2*in.Shape.Size()))
		}
		if _, err := cm.RunMulti(xs, 2); err != nil {
			t.Fatalf("run: %v", err)
		}
	})
}
