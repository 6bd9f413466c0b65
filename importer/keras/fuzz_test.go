package keras

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

var sentinels = []error{layers.ErrBadFile, layers.ErrUnsupported, layers.ErrShapeMismatch, layers.ErrInvalid}

func isNamed(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// seedModels are small in-memory models used to seed the fuzzers.
func seedModels() []*tmodel {
	return []*tmodel{
		{config: denseModel(4, nil), weights: denseW(784, 4)},
		{config: conv(nil), weights: convW, store: true},
		{config: seq3("s", input3(4, 3), k3("Bidirectional", map[string]any{"name": "bi", "merge_mode": "sum",
			"layer": lstmLayer("l", 2, map[string]any{"return_sequences": true})})),
			weights: []lw{{"bi", []*array{rnd(1, 3, 8), rnd(2, 2, 8), rnd(3, 8), rnd(4, 3, 8), rnd(5, 2, 8), rnd(6, 8)}}}},
		{config: seq3("cf", append([]any{input3(2, 5, 6)}, convStack("channels_first", 1, "channels_last")...)...),
			weights: convWeights(rnd(8, 36, 4)), x: rnd(9, 1, 2, 5, 6)},
	}
}

// zooFiles lists the zoo, broken-corpus and sequence npz files (fuzz seeds).
func zooFiles(f interface{ Helper() }) []string {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "keras", "*.npz"))
	broken, _ := filepath.Glob(filepath.Join(brokenDir, "*.npz"))
	seq, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "seq", "*.npz")) // ids, masks
	return append(append(files, broken...), seq...)
}

// FuzzRead feeds arbitrary bytes to Read: it must return a model or an error wrapping
// one of the named errors, never panic or allocate beyond what the bytes justify.
func FuzzRead(f *testing.F) {
	for _, tm := range seedModels() {
		f.Add(tm.bytes())
	}
	for _, p := range zooFiles(f) {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(bytes.NewReader(data), int64(len(data)), "fuzz.npz")
		if err != nil {
			if !isNamed(err) {
				t.Fatalf("error wraps no named error: %v", err)
			}
			return
		}
		if m.Samples != nil && m.Samples.N <= 4 && m.Graph.FLOPs() < 1e7 {
			m.Graph.Reference(m.Samples.X, m.Samples.N)
		}
	})
}

// mapWeights serves weights from memory.
type mapWeights map[string][]*array

func (w mapWeights) layerWeights(p string) ([]*array, error) { return w[p], nil }
func (w mapWeights) paths() []string {
	var out []string
	for k := range w {
		out = append(out, k)
	}
	return out
}

// FuzzConfig feeds arbitrary model configs, with the weights of one of the seed
// models, to the config mapper.
func FuzzConfig(f *testing.F) {
	type seed struct {
		cfg []byte
		ws  mapWeights
	}
	var seeds []seed
	for _, tm := range seedModels() {
		ws := mapWeights{}
		for _, l := range tm.weights {
			ws[l.path] = l.ws
		}
		js, _ := json.Marshal(tm.config)
		seeds = append(seeds, seed{js, ws})
	}
	for _, p := range zooFiles(f) {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		a, err := openArchive(bytes.NewReader(b), int64(len(b)), p)
		if err != nil {
			continue
		}
		raw, err := a.bytes("kinfer_meta")
		if err != nil {
			continue
		}
		m, err := parseMeta(raw, p)
		if err != nil {
			continue
		}
		ws := mapWeights{}
		for path := range m.Weights {
			if arrs, err := (&npzWeights{a: a, index: m.Weights}).layerWeights(path); err == nil {
				ws[path] = arrs
			}
		}
		seeds = append(seeds, seed{m.ModelConfig, ws})
	}
	for i, s := range seeds {
		f.Add(s.cfg, uint8(i))
		f.Add(s.cfg, uint8(i+1)) // the config with another model's weights
	}
	f.Fuzz(func(t *testing.T, cfg []byte, which uint8) {
		s := seeds[int(which)%len(seeds)]
		for _, kv := range []string{"3.6.0", "2.15.0"} {
			m := &meta{Format: "kinfer-npz", Version: "1", KerasVersion: kv, ModelConfig: cfg}
			if len(cfg) == 0 {
				return
			}
			_, err := build(m, s.ws, nil, "fuzz.npz")
			if err != nil && !isNamed(err) {
				t.Fatalf("error wraps no named error: %v", err)
			}
		}
	})
}
