package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// Supported default-domain opsets: from 6 (the oldest of ONNX's backend test data;
// nodes below opset 11 are rewritten to their opset-11 form at import, see
// docs/onnx-opsets.md) up to the newest opset of the onnx package the fixtures were
// generated with (onnx 1.23.2).
const (
	MinOpset = 6
	MaxOpset = 28
)

// Model is an imported ONNX model.
type Model struct {
	// Graph is the frozen graph (a DAG; a chain for Sequential models). Its inputs and
	// outputs are the ONNX graph's, in file order and under the same names, each
	// without the batch axis and in the model's own layout (NCHW models stay NCHW at
	// the boundary).
	Graph *layers.Graph
	// Opset is the model's default-domain opset version.
	Opset int64
	// Producer is the producer name and version recorded in the file (e.g.
	// "pytorch 1.13.0", "tf2onnx 1.17.0").
	Producer string
	// InputName and OutputName are the ONNX graph's first input and output names.
	InputName, OutputName string
	// InputNames and OutputNames are all the graph's inputs (initializers aside) and
	// outputs, in the order of the Graph's.
	InputNames, OutputNames []string
}

// Default bounds of Options.
const (
	// DefaultMaxBatch is the batch Options assumes when MaxBatch is 0: the runtime's
	// default (runtime.DefaultMaxBatch; importers do not import the runtime).
	DefaultMaxBatch = 64
	// DefaultMaxTensorBytes bounds one tensor of MaxBatch samples when
	// Options.MaxTensorBytes is 0: the runtime's default arena limit
	// (runtime.DefaultMaxArenaBytes), which one such tensor alone must fit. At
	// batch 64 it allows 2^24 floats a sample (ResNet50's largest is 802,816).
	DefaultMaxTensorBytes int64 = 4 << 30
)

// Options bounds what the importer builds, for the batch the model will run with.
// The zero value uses the defaults.
type Options struct {
	// MaxBatch is the largest batch the model will run with (runtime.Options.MaxBatch);
	// 0 means DefaultMaxBatch.
	MaxBatch int
	// MaxTensorBytes bounds any data-path tensor of MaxBatch samples; 0 means
	// DefaultMaxTensorBytes. A model with a larger tensor is refused with
	// layers.ErrTooLarge before its layout tables are built.
	MaxTensorBytes int64
	// SeqLen is the length given to a dynamic sequence axis (input axis 1, after the
	// batch): the longest sequence the model runs (runtime.Model.RunSeqInto runs any
	// length up to it). 0: a dynamic axis other than the batch is an error.
	SeqLen int

	foldBatch bool // import with the static batch folded (static_batch.go)
}

func (o Options) batch() int {
	if o.MaxBatch > 0 {
		return o.MaxBatch
	}
	return DefaultMaxBatch
}

// sampleLimit is the per-sample element bound: MaxTensorBytes over MaxBatch samples
// of float32, and never above maxSample (the importer's own bound on its int32
// layout tables).
func (o Options) sampleLimit() int {
	t := o.MaxTensorBytes
	if t <= 0 {
		t = DefaultMaxTensorBytes
	}
	return int(min(int64(maxSample), max(1, t/4/int64(o.batch()))))
}

// Load reads and imports the ONNX model at path (Options{}).
func Load(path string) (*Model, error) { return LoadWith(path, Options{}) }

// LoadWith reads and imports the ONNX model at path within opt's bounds.
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
// never a panic. It uses Options{}.
func Read(data []byte, name string) (*Model, error) { return ReadWith(data, name, Options{}) }

// ReadWith is Read within opt's bounds.
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
		if !foldRetry(err, b.staticBatch, opt) {
			return nil, err
		}
		fopt := opt
		fopt.foldBatch = true
		if b, err = newBuilder(g, opset, fopt); err == nil {
			err = b.run()
		}
		if err != nil {
			return nil, fmt.Errorf("with the static batch folded into the data: %w", err)
		}
	}
	meta := map[string]string{
		"format":     "onnx",
		"source":     name,
		"producer":   producer,
		"opset":      strconv.FormatInt(opset, 10),
		"ir_version": strconv.FormatInt(mp.GetIrVersion(), 10),
	}
	for _, o := range g.GetOutput() {
		if o.GetType().GetTensorType().GetElemType() == int32(onnxpb.TensorProto_DOUBLE) {
			b.float64IO = append(b.float64IO, o.GetName())
		}
	}
	if len(b.float64IO) > 0 {
		meta["float64_io"] = strings.Join(b.float64IO, ",")
	}
	if b.foldB > 1 {
		meta[metaFoldedBatch] = strconv.Itoa(b.foldB)
	}
	if b.varAxes != "" {
		meta["variable_axes"] = b.varAxes
	}
	graph, err := b.build(meta)
	if err != nil {
		return nil, err
	}
	return &Model{Graph: graph, Opset: opset, Producer: producer, InputName: b.inNames[0], OutputName: b.outNames[0],
		InputNames: b.inNames, OutputNames: b.outNames}, nil
}

// errChain marks data-path patterns kinfer cannot import (a subgraph computing no
// known function, a fork a layer cannot express).
var errChain = errors.New("graph pattern not supported after folding constants")
