package main

import (
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/internal/bytesize"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
)

// loaded is a model file imported into a graph.
type loaded struct {
	path    string
	graph   *layers.Graph
	format  string
	samples *keras.Samples // stored inputs and framework outputs, if read
	stored  int            // number of samples the file holds
}

// maxLen is --max-len: the maximum length of a model's None (dynamic) sequence axis.
var maxLen int

// load imports a model file; the samples stored in an npz are read only when
// samples is set (verify), otherwise only counted. batch (0: the default) and
// maxArena bound the tensors an ONNX import may build.
func load(path string, samples bool, batch int, maxArena *byteSize) (*loaded, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npz":
		m, err := keras.LoadWith(path, keras.Options{SkipSamples: !samples, SeqLen: maxLen})
		if err != nil {
			return nil, err
		}
		return &loaded{path: path, graph: m.Graph, format: fmt.Sprintf("Keras %s (%s)", m.KerasVersion, m.Source),
			samples: m.Samples, stored: m.StoredSamples}, nil
	case ".onnx":
		tb := int64(*maxArena)
		if tb < 0 {
			tb = math.MaxInt64 // no limit
		}
		m, err := onnx.LoadWith(path, onnx.Options{MaxBatch: batch, MaxTensorBytes: tb, SeqLen: maxLen})
		if err != nil {
			return nil, err
		}
		return &loaded{path: path, graph: m.Graph, format: fmt.Sprintf("ONNX opset %d (producer %s)", m.Opset, m.Producer)}, nil
	case ".keras", ".h5":
		return nil, fmt.Errorf("%s: convert Keras files first: python3 importer/keras/keras2npz.py %s model.npz", path, path)
	}
	return nil, fmt.Errorf("%s: unknown model format (want .npz from keras2npz.py or .onnx)", path)
}

func compile(l *loaded, maxBatch int, maxArena *byteSize) (*runtime.Model, error) {
	m, err := runtime.Compile(l.graph, runtime.Options{MaxBatch: maxBatch, MaxArenaBytes: int64(*maxArena)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.path, err)
	}
	return m, nil
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// byteSize is a --max-arena value: bytes, with an optional KiB/MiB/GiB (or K/M/G)
// suffix; 0 is runtime.DefaultMaxArenaBytes and -1 no limit.
type byteSize int64

func (b *byteSize) String() string {
	switch {
	case *b == 0:
		return "0"
	case *b < 0:
		return "-1"
	}
	return bytesize.String(int64(*b))
}

func (b *byteSize) Set(s string) error {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if v, ok := strings.CutSuffix(t, u.suf); ok {
			t, mult = strings.TrimSpace(v), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < -1 || (n > 0 && n > math.MaxInt64/mult) {
		return fmt.Errorf("%q is not a size (bytes, or with a KiB/MiB/GiB suffix; 0 default, -1 none)", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// arenaFlag adds --max-arena to a command.
func arenaFlag(fs *flag.FlagSet) *byteSize {
	b := new(byteSize)
	fs.Var(b, "max-arena", fmt.Sprintf("refuse a model whose arena plan is over this size (e.g. 512MiB; 0 = default %s, -1 = no limit)",
		bytesize.String(runtime.DefaultMaxArenaBytes)))
	return b
}
