package keras

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kinfer/kinfer/layers"
)

var sentinels = []error{layers.ErrBadFile, layers.ErrUnsupported, layers.ErrShapeMismatch, layers.ErrInvalid, layers.ErrTooLarge}

func isNamed(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// seedModels are small in-memory models used to seed the fuzzers. They are kept to a
// few hundred bytes of weights: the fuzzing engine minimizes every input that finds
// new coverage (for up to -fuzzminimizetime, 60 s by default), and minimizing a 14 KB
// zoo file one chunk at a time is what stalled FuzzRead at 0 execs/s.
func seedModels() []*tmodel {
	dense := seq3("s", input3(6), k3("Dense", map[string]any{"name": "dense_1", "units": 4, "activation": "relu", "use_bias": true}))
	return []*tmodel{
		{config: dense, weights: []lw{{"dense_1", []*array{rnd(10, 6, 4), rnd(11, 4)}}}, x: rnd(12, 2, 6), y: rnd(13, 2, 4)},
		{config: conv(nil), weights: convW, store: true},
		{config: seq3("s", input3(4, 3), k3("Bidirectional", map[string]any{"name": "bi", "merge_mode": "sum",
			"layer": lstmLayer("l", 2, map[string]any{"return_sequences": true})})),
			weights: []lw{{"bi", []*array{rnd(1, 3, 8), rnd(2, 2, 8), rnd(3, 8), rnd(4, 3, 8), rnd(5, 2, 8), rnd(6, 8)}}}},
		{config: seq3("cf", append([]any{input3(2, 5, 6)}, convStack("channels_first", 1, "channels_last")...)...),
			weights: convWeights(rnd(8, 36, 4)), x: rnd(9, 1, 2, 5, 6)},
	}
}

// zooFiles lists the zoo, layer-model, DAG, sequence, 3-D and broken-corpus npz files (fuzz seeds).
func zooFiles(f interface{ Helper() }) []string {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "keras", "*.npz"))
	layerModels, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "keras_layers", "*.npz"))
	dags, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "keras_dag", "*.npz"))
	broken, _ := filepath.Glob(filepath.Join(brokenDir, "*.npz"))
	seq, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "seq", "*.npz")) // ids, masks
	vol, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "keras_conv3d", "*.npz"))
	ein, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "keras_einsum", "*.npz")) // float and int8
	vol = append(vol, ein...)
	return append(append(append(append(append(files, layerModels...), dags...), seq...), vol...), broken...)
}

// FuzzRead feeds arbitrary bytes to Read: it must return a model or an error wrapping
// one of the named errors, never panic or allocate beyond what the bytes justify.
func FuzzRead(f *testing.F) {
	// Only small seeds (see seedModels): the zoo and broken-corpus files are read by
	// TestBroken and the zoo tests instead.
	for _, tm := range seedModels() {
		f.Add(tm.bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tm := time.AfterFunc(2*time.Second, func() { panic("Read takes over 2 s") })
		defer tm.Stop()
		m, err := Read(bytes.NewReader(data), int64(len(data)), "fuzz.npz")
		if err != nil {
			if !isNamed(err) {
				t.Fatalf("error wraps no named error: %v", err)
			}
			return
		}
		if m.Samples != nil && m.Samples.N <= 4 && m.Graph.FLOPs() < 1e7 {
			m.Graph.ReferenceN(m.Samples.Xs, m.Samples.N)
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
		if err != nil || len(b) > 8<<10 { // small seeds only (see seedModels)
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
