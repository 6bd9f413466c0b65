package main

import (
	"fmt"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
)

// loaded is a model file imported into a graph.
type loaded struct {
	path    string
	graph   *layers.Graph
	format  string
	samples *keras.Samples // stored inputs and framework outputs, if any
}

// maxLen is --max-len: the maximum length of a model's None (dynamic) sequence axis.
var maxLen int

func load(path string) (*loaded, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".npz":
		m, err := keras.LoadWith(path, keras.Options{SeqLen: maxLen})
		if err != nil {
			return nil, err
		}
		return &loaded{path: path, graph: m.Graph, format: fmt.Sprintf("Keras %s (%s)", m.KerasVersion, m.Source), samples: m.Samples}, nil
	case ".onnx":
		m, err := onnx.LoadWith(path, onnx.Options{SeqLen: maxLen})
		if err != nil {
			return nil, err
		}
		return &loaded{path: path, graph: m.Graph, format: fmt.Sprintf("ONNX opset %d (producer %s)", m.Opset, m.Producer)}, nil
	case ".keras", ".h5":
		return nil, fmt.Errorf("%s: convert Keras files first: python3 importer/keras/keras2npz.py %s model.npz", path, path)
	}
	return nil, fmt.Errorf("%s: unknown model format (want .npz from keras2npz.py or .onnx)", path)
}

func compile(l *loaded, maxBatch int) (*runtime.Model, error) {
	m, err := runtime.Compile(l.graph, runtime.Options{MaxBatch: maxBatch})
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
