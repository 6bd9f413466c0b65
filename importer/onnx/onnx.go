package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// Supported default-domain opsets: from 11 (the oldest with today's Slice, Clip,
// Pad, Squeeze semantics the importer is tested on) up to the newest opset of the
// onnx package the fixtures were generated with (onnx 1.23.2).
const (
	MinOpset = 11
	MaxOpset = 28
)

// Model is an imported ONNX model.
type Model struct {
	// Graph is the frozen Sequential graph. Its input shape is the ONNX input's shape
	// without the batch axis, in the model's own layout (NCHW models stay NCHW at the
	// boundary); its output likewise matches the ONNX output.
	Graph *layers.Graph
	// Opset is the model's default-domain opset version.
	Opset int64
	// Producer is the producer name and version recorded in the file (e.g.
	// "pytorch 1.13.0", "tf2onnx 1.17.0").
	Producer string
	// InputName and OutputName are the ONNX graph's input and output names.
	InputName, OutputName string
}

// Load reads and imports the ONNX model at path.
func Load(path string) (*Model, error) { return LoadWith(path, Options{}) }

// Options tunes the import.
type Options struct {
	// SeqLen is the length given to a dynamic sequence axis (input axis 1, after the
	// batch): the longest sequence the model runs (runtime.Model.RunSeqInto runs any
	// length up to it). 0: a dynamic axis other than the batch is an error.
	SeqLen int
}

// LoadWith imports the ONNX model at path with options.
func LoadWith(path string, opt Options) (*Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ReadWith(data, filepath.Base(path), opt)
}

// Read imports an ONNX model from its serialized bytes; name labels errors and the
// graph's provenance (usually the file name). Every failure is an error wrapping one
// of layers' named errors (ErrUnsupported for valid models using ops, attributes or
// patterns kinfer does not implement; ErrBadFile for corrupt or inconsistent files),
// never a panic.
func Read(data []byte, name string) (*Model, error) { return ReadWith(data, name, Options{}) }

// ReadWith is Read with options.
func ReadWith(data []byte, name string, opt Options) (m *Model, err error) {
	defer func() {
		if r := recover(); r != nil { // a safety net: read is fuzzed without it
			m, err = nil, fmt.Errorf("%s: %w: importer failure on this file: %v", name, layers.ErrBadFile, r)
		}
	}()
	m, err = read(data, name, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

func read(data []byte, name string, opt Options) (*Model, error) {
	mp := &onnxpb.ModelProto{}
	if err := (proto.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("%w: not an ONNX model: %v", layers.ErrBadFile, err)
	}
	g := mp.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("%w: not an ONNX model: no graph", layers.ErrBadFile)
	}
	opset := int64(-1)
	for _, o := range mp.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			opset = o.GetVersion()
		}
	}
	if opset < 0 {
		return nil, fmt.Errorf("%w: model imports no default-domain opset", layers.ErrBadFile)
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, fmt.Errorf("%w: opset %d (kinfer imports opsets %d to %d; convert with onnx.version_converter.convert_version)", layers.ErrUnsupported, opset, MinOpset, MaxOpset)
	}
	producer := mp.GetProducerName()
	if v := mp.GetProducerVersion(); v != "" {
		producer += " " + v
	}
	b, err := newBuilder(g, opset, opt)
	if err != nil {
		return nil, err
	}
	if err := b.run(); err != nil {
		return nil, err
	}
	meta := map[string]string{
		"format":     "onnx",
		"source":     name,
		"producer":   producer,
		"opset":      strconv.FormatInt(opset, 10),
		"ir_version": strconv.FormatInt(mp.GetIrVersion(), 10),
	}
	if b.varAxes != "" {
		meta["variable_axes"] = b.varAxes
	}
	gb := layers.NewBuilder()
	v := gb.Input(b.inName, b.input, b.inType)
	for _, l := range b.ls {
		v = gb.Node(l, v)
	}
	graph, err := gb.Build([]layers.Value{v}, nil, meta)
	if err != nil {
		return nil, err
	}
	return &Model{Graph: graph, Opset: opset, Producer: producer, InputName: b.inName, OutputName: b.outName}, nil
}

// errChain marks graphs that are not a single chain after folding.
var errChain = errors.New("graph is not a single chain after folding constants (kinfer imports Sequential models)")
