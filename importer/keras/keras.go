// Package keras imports Keras Sequential and Functional models from kinfer's npz format
// (written by keras2npz.py next to this file; see docs/npz-format.md) into a
// layers.Graph.
//
// Keras 3 and Keras 2 (tf.keras) configs are accepted, including very old ones whose
// Sequential config is a bare list of layers, nested Sequentials, and Functional graphs
// (functional.go) with several inputs and outputs, merge layers, shared layers and
// nested models. Keras class names map to layer builders through one table
// (see Supported). channels_first layers are imported onto kinfer's NHWC layout with
// Permute layers inserted where the layout changes; the graph's input and output keep
// the model's own layout, so it takes and returns the same arrays as Keras.
//
// Every failure is an error wrapping one of layers.ErrBadFile, ErrUnsupported,
// ErrShapeMismatch or ErrInvalid, naming the file and the member or layer at fault.
// Sizes declared by the file are checked against the bytes present before anything
// is allocated.
package keras

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kinfer/kinfer/layers"
)

// Model is an imported Keras model.
type Model struct {
	// Graph is the frozen, validated layer graph.
	Graph *layers.Graph
	// KerasVersion is the Keras version that saved the model ("3.6.0", "2.15.0").
	KerasVersion string
	// Source is the file the npz was exported from ("mnist_cnn.keras").
	Source string
	// Samples holds the inputs and Keras outputs stored with the model, or nil (none
	// stored, or Options.SkipSamples).
	Samples *Samples
	// StoredSamples is the number of samples the file holds, read or not.
	StoredSamples int
}

// Samples are example inputs stored in the npz with Keras's outputs for them.
type Samples struct {
	// N is the number of samples.
	N int
	// X holds N inputs, row-major, XShape = (N, input shape...). For a model with
	// several inputs it is the first input (Xs[0]). For a model whose input is token
	// ids (Graph.Inputs()[0].DType == layers.Int32) they are int32 bit patterns
	// (layers.IDBits), ready for RunInto.
	X      []float32
	XShape []int
	// Y holds Keras's N outputs, YShape = (N, output shape...); nil when absent. For a
	// model with several outputs it is the first output (Ys[0]).
	Y      []float32
	YShape []int
	// Xs and XShapes hold every input, in the model's input order; Ys and YShapes every
	// output (nil when absent). For a single-input, single-output model they hold X and Y.
	Xs      [][]float32
	XShapes [][]int
	Ys      [][]float32
	YShapes [][]int
}

// FormatVersion is the newest npz format version this package reads. Version 2 adds
// Functional (DAG) model configs and samples for several inputs and outputs.
const FormatVersion = 2

// Default bounds of Options.
const (
	// DefaultMaxWeightBytes bounds a model's weights: 2 GiB is 512M float32
	// parameters, over three times VGG19 (144M), the largest classic ImageNet CNN.
	DefaultMaxWeightBytes int64 = 2 << 30
	// DefaultMaxSampleBytes bounds samples/x plus samples/y: 256 MiB holds 64
	// 224x224x3 images six times over (keras2npz.py stores 4 samples by default).
	DefaultMaxSampleBytes int64 = 256 << 20
)

// Options bounds what Read allocates and chooses what it reads. The zero value reads
// everything within the default bounds.
type Options struct {
	// SkipSamples leaves the stored samples unread: their headers are still checked
	// against the model, Model.StoredSamples counts them and Model.Samples is nil.
	SkipSamples bool
	// MaxWeightBytes bounds the total declared size of the weights the config
	// indexes, checked before any is read (0: DefaultMaxWeightBytes).
	MaxWeightBytes int64
	// MaxSampleBytes bounds the declared size of samples/x plus samples/y, checked
	// before they are read (0: DefaultMaxSampleBytes).
	MaxSampleBytes int64
	// SeqLen is the length given to a None time axis (the first axis after the batch),
	// which is otherwise the stored samples' length: the longest sequence the model
	// runs (runtime.Model.RunSeqInto runs shorter ones). Stored samples longer than it
	// are an error; shorter ones are not kept (Model.Samples is nil).
	SeqLen int
}

func (o Options) weightLimit() int64 {
	if o.MaxWeightBytes > 0 {
		return o.MaxWeightBytes
	}
	return DefaultMaxWeightBytes
}

func (o Options) sampleLimit() int64 {
	if o.MaxSampleBytes > 0 {
		return o.MaxSampleBytes
	}
	return DefaultMaxSampleBytes
}

// Load imports the npz model at path, with its samples (Options{}).
func Load(path string) (*Model, error) { return LoadWith(path, Options{}) }

// LoadWith imports the npz model at path within opt's bounds.
func LoadWith(path string, opt Options) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return ReadWith(f, st.Size(), filepath.Base(path), opt)
}

// Read imports an npz model of size bytes from r (Options{}); name is used in error
// messages.
func Read(r io.ReaderAt, size int64, name string) (*Model, error) {
	return ReadWith(r, size, name, Options{})
}

// ReadWith imports an npz model of size bytes from r within opt's bounds. Members are
// read only when needed, each after its declared size has been checked: weights
// against the shape the config gives them, samples against the model's input and
// output and opt.MaxSampleBytes.
func ReadWith(r io.ReaderAt, size int64, name string, opt Options) (*Model, error) {
	if opt.SeqLen < 0 || opt.SeqLen > layers.MaxElements {
		return nil, fmt.Errorf("%s: %w: Options.SeqLen %d", name, layers.ErrInvalid, opt.SeqLen)
	}
	if name == "" {
		name = "model.npz"
	}
	a, err := openArchive(r, size, name)
	if err != nil {
		return nil, err
	}
	if !a.has("kinfer_meta") {
		return nil, fmt.Errorf("%s: no kinfer_meta.npy member; not a kinfer npz (export it with keras2npz.py): %w", name, layers.ErrBadFile)
	}
	raw, err := a.bytes("kinfer_meta")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	meta, err := parseMeta(raw, name)
	if err != nil {
		return nil, err
	}
	if err := checkWeightBytes(a, meta, opt.weightLimit()); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Sample headers only: the shapes may fix the model's input, and are checked
	// against it before any payload is read.
	ss, err := readSamples(a, name)
	if err != nil {
		return nil, err
	}
	var smp *Samples
	if ss != nil {
		smp = ss.smp
	}
	ws := &npzWeights{a: a, index: meta.Weights}
	m, err := build(meta, ws, smp, name, opt)
	if err != nil {
		return nil, err
	}
	if smp == nil {
		return m, nil
	}
	m.StoredSamples = smp.N
	if need := ss.bytes(a); need > opt.sampleLimit() {
		if opt.SkipSamples {
			m.Samples = nil
			return m, nil
		}
		return nil, fmt.Errorf("%s: the stored samples hold %d bytes, over the %d allowed (keras.Options.MaxSampleBytes): %w",
			name, need, opt.sampleLimit(), layers.ErrTooLarge)
	}
	if opt.SkipSamples || m.Samples == nil { // skipped, or dropped by build (another length)
		m.Samples = nil
		return m, nil
	}
	if err := ss.fetch(name); err != nil {
		return nil, err
	}
	if err := idSamplesAll(m, name); err != nil {
		return nil, err
	}
	return m, nil
}

// checkWeightBytes bounds the total declared size of the members the weight index
// names, from the zip directory alone.
func checkWeightBytes(a *archive, m *meta, limit int64) error {
	var total int64
	seen := map[string]bool{}
	for _, names := range m.Weights {
		for _, n := range names {
			if seen[n] {
				continue
			}
			seen[n] = true
			total += a.memberBytes(n) // each below 2^62: no overflow over a zip's entries
			if total > limit {
				return fmt.Errorf("the weights hold more than %d bytes (keras.Options.MaxWeightBytes): %w", limit, layers.ErrTooLarge)
			}
		}
	}
	return nil
}

// meta is the kinfer_meta JSON object.
type meta struct {
	Format        string              `json:"format"`
	Version       json.Number         `json:"version"`
	KerasVersion  string              `json:"keras_version"`
	Source        string              `json:"source"`
	SourceFormat  string              `json:"source_format"`
	ConvertedFrom string              `json:"converted_from"`
	ModelConfig   json.RawMessage     `json:"model_config"`
	Weights       map[string][]string `json:"weights"`
}

func parseMeta(raw []byte, file string) (*meta, error) {
	if !utf8.Valid(raw) {
		return nil, fmt.Errorf("%s: kinfer_meta is not UTF-8 text: %w", file, layers.ErrBadFile)
	}
	var m meta
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: kinfer_meta is not the expected JSON object: %v: %w", file, err, layers.ErrBadFile)
	}
	if m.Format != "kinfer-npz" {
		return nil, fmt.Errorf("%s: kinfer_meta format is %q, want \"kinfer-npz\": %w", file, m.Format, layers.ErrBadFile)
	}
	v, err := strconv.Atoi(string(m.Version))
	if err != nil || v < 1 {
		return nil, fmt.Errorf("%s: kinfer_meta version %q is not a positive integer: %w", file, m.Version, layers.ErrBadFile)
	}
	if v > FormatVersion {
		return nil, fmt.Errorf("%s: npz format version %d is newer than this reader (%d); update kinfer: %w", file, v, FormatVersion, layers.ErrUnsupported)
	}
	if len(m.ModelConfig) == 0 || string(m.ModelConfig) == "null" {
		return nil, fmt.Errorf("%s: kinfer_meta has no model_config: %w", file, layers.ErrBadFile)
	}
	return &m, nil
}

// kerasMajor is the major version of a Keras version string (3 when unknown).
func kerasMajor(v string) int {
	maj, _, _ := strings.Cut(strings.TrimSpace(v), ".")
	n, err := strconv.Atoi(maj)
	if err != nil || n <= 0 {
		return 3
	}
	return n
}

// npzWeights serves weights from the npz by the meta's index.
type npzWeights struct {
	a     *archive
	index map[string][]string
}

func (w *npzWeights) layerWeights(path string) ([]*array, error) {
	names := w.index[path]
	out := make([]*array, 0, len(names))
	for _, n := range names {
		arr, err := w.a.lazy(n)
		if err != nil {
			return nil, err
		}
		out = append(out, arr)
	}
	return out, nil
}

func (w *npzWeights) paths() []string {
	p := make([]string, 0, len(w.index))
	for k := range w.index {
		p = append(p, k)
	}
	sort.Strings(p)
	return p
}

// build maps the model config onto a graph and checks the samples against it.
func build(m *meta, ws weightSource, smp *Samples, file string, opts ...Options) (*Model, error) {
	var opt Options
	if len(opts) > 0 {
		opt = opts[0]
	}
	var cfg any
	if err := json.Unmarshal(m.ModelConfig, &cfg); err != nil {
		return nil, fmt.Errorf("%s: model_config: %v: %w", file, err, layers.ErrBadFile)
	}
	if top, ok := cfg.(map[string]any); ok && hasFunctional(top, 0) {
		if opt.SkipSamples && opt.SeqLen > 0 {
			smp = nil // the None axis is SeqLen, whatever the samples' length
		}
		return buildGraph(m, top, ws, smp, file, opt.SeqLen)
	}
	mi, err := parseModel(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(mi.Specs) == 0 {
		return nil, fmt.Errorf("%s: model has no layers: %w", file, layers.ErrInvalid)
	}
	in, err := inputShape(mi, smp, opt.SeqLen)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	b := &builder{file: file, kerasMajor: kerasMajor(m.KerasVersion), ws: ws, used: map[string]bool{},
		phys: in.Clone(), perm: identityPerm(len(in)), main: -1, mask: noMask}
	// Every layer's class and common options are checked before any weight is read,
	// so that a file is not refused only after its (possibly large) weights are loaded.
	for i := range mi.Specs {
		s := &mi.Specs[i]
		b.cur = s
		if err := checkSpec(b, s); err != nil {
			return nil, err
		}
		if _, ok := builders[s.Class]; !ok {
			why := unsupportedReasons[s.Class]
			if why != "" {
				why = " (" + why + ")"
			}
			return nil, b.errf(layers.ErrUnsupported, "layer class %s is not supported%s", s.Class, why)
		}
	}
	for i := range mi.Specs {
		s := &mi.Specs[i]
		b.cur = s
		f := builders[s.Class]
		if s.Class == "InputLayer" && i > 0 {
			if err := checkInnerInput(b, s); err != nil {
				return nil, err
			}
		}
		if err := f(b, s); err != nil {
			return nil, err
		}
	}
	b.cur = &spec{Name: "output", Class: "Permute"}
	if err := b.kerasLayout(); err != nil {
		return nil, err
	}
	for _, p := range ws.paths() {
		if !b.used[p] {
			return nil, fmt.Errorf("%s: weights stored for layer %q, which the model config does not use: %w", file, p, layers.ErrBadFile)
		}
	}
	if len(b.out) == 0 {
		// A model of only InputLayer / no-op layers is the identity.
		b.out = append(b.out, bnode{l: &layers.Identity{Info: layers.Info{Name: mi.Specs[0].Name, Class: mi.Specs[0].Class}}, ins: []int{-1}})
		b.main = 0
	}
	gm := map[string]string{
		"importer":      "keras",
		"file":          file,
		"source":        m.Source,
		"source_format": m.SourceFormat,
		"keras_version": m.KerasVersion,
		"model_name":    mi.Name,
	}
	if m.ConvertedFrom != "" {
		gm["converted_from"] = m.ConvertedFrom
	} else if mi.ConvertedFrom != "" {
		gm["converted_from"] = mi.ConvertedFrom
	}
	if b.stateful {
		gm["stateful"] = "true"
	}
	if vl := variableAxes(mi); vl != "" {
		gm["variable_axes"] = vl
	}
	g, err := b.graph(in, gm)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if smp != nil && smp.N == 0 {
		smp = nil
	}
	if smp != nil {
		if err := checkSamples(g, smp, file); err != nil {
			return nil, err
		}
	}
	return &Model{Graph: g, KerasVersion: m.KerasVersion, Source: m.Source, Samples: smp}, nil
}

// checkSpec rejects custom layers and options that change inference for every class.
func checkSpec(b *builder, s *spec) error {
	for _, k := range []string{"output_dim", "nb_filter", "border_mode", "dim_ordering", "subsample"} {
		if _, ok := s.Conf.m[k]; ok && !(k == "output_dim" && s.Class == "Embedding") {
			return b.errf(layers.ErrUnsupported, "Keras 1 layer config (field %q); re-save the model with Keras 2 or 3", k)
		}
	}
	if rn, ok := s.Raw["registered_name"].(string); ok && strings.Contains(rn, ">") {
		return b.errf(layers.ErrUnsupported, "custom layer %q is not supported", rn)
	}
	if mod, ok := s.Raw["module"].(string); ok && mod != "" && !strings.HasPrefix(mod, "keras") && !strings.HasPrefix(mod, "tf_keras") && !strings.HasPrefix(mod, "tensorflow") {
		return b.errf(layers.ErrUnsupported, "layer from module %q is not a built-in Keras layer", mod)
	}
	if v, ok := s.Conf.get("dtype"); ok {
		name := ""
		switch d := v.(type) {
		case string:
			name = d
		case map[string]any:
			if c, ok := d["config"].(map[string]any); ok {
				name, _ = c["name"].(string)
			}
			if cls, _ := d["class_name"].(string); strings.Contains(cls, "Quantized") && !kerasInt8(s) {
				return b.errf(layers.ErrUnsupported, "quantized dtype policy %s", jsonText(v))
			}
		}
		for _, q := range []string{"int8", "int4", "float8", "gptq"} {
			if strings.Contains(name, q) && !kerasInt8(s) {
				return b.errf(layers.ErrUnsupported, "quantized dtype policy %q", name)
			}
		}
	}
	return nil
}

// checkInnerInput checks a later InputLayer (of a nested Sequential) against the
// current shape.
func checkInnerInput(b *builder, s *spec) error {
	d, err := declaredShape(s)
	if err != nil || d == nil {
		return nil
	}
	cur := b.logical()
	ok := len(d) == len(cur)
	for i := 0; ok && i < len(d); i++ {
		ok = d[i] == -1 || d[i] == cur[i]
	}
	if !ok {
		return b.errf(layers.ErrShapeMismatch, "declares input %v, previous layers give %v", layers.Shape(d), cur)
	}
	return nil
}

// declaredShape is the input shape a layer entry declares (InputLayer batch_shape,
// batch_input_shape on any layer), or nil.
func declaredShape(s *spec) ([]int, error) {
	for _, k := range []string{"batch_shape", "batch_input_shape"} {
		if v, ok := s.Conf.get(k); ok {
			return batchShape(v)
		}
	}
	if s.Class == "InputLayer" {
		if v, ok := s.Conf.get("shape"); ok { // shape without the batch axis
			l, _ := v.([]any)
			return batchShape(append([]any{nil}, l...))
		}
	}
	return nil, nil
}

// inputShape finds the model's input shape: the first layer's declaration, then the
// model's build_config, then the first layer's build_config; unknown dimensions are
// taken from the stored samples.
func inputShape(mi *modelInfo, smp *Samples, seqLen int) (layers.Shape, error) {
	first := &mi.Specs[0]
	d, err := declaredShape(first)
	if err != nil {
		return nil, fmt.Errorf("layer %q (%s): %w", first.Name, first.Class, err)
	}
	if d == nil {
		d = mi.InputShape
	}
	if d == nil {
		if bc, ok := first.Raw["build_config"].(map[string]any); ok && bc["input_shape"] != nil {
			if d, err = batchShape(bc["input_shape"]); err != nil {
				return nil, fmt.Errorf("layer %q (%s) build_config: %w", first.Name, first.Class, err)
			}
		}
	}
	if d == nil {
		if smp == nil {
			return nil, fmt.Errorf("the model declares no input shape (add an InputLayer, or export with --samples): %w", layers.ErrUnsupported)
		}
		d = make([]int, len(smp.XShape)-1)
		for i := range d {
			d[i] = -1
		}
	}
	shape := make(layers.Shape, len(d))
	for i, x := range d {
		if x > 0 {
			shape[i] = x
			continue
		}
		if i == 0 && seqLen > 0 { // a None time axis at its maximum length
			if smp != nil && len(smp.XShape) > 1 && smp.XShape[1] > seqLen {
				return nil, fmt.Errorf("stored samples have %d steps, more than Options.SeqLen %d: %w", smp.XShape[1], seqLen, layers.ErrTooLong)
			}
			shape[i] = seqLen
			if smp != nil && len(smp.XShape) > 1 && smp.XShape[1] != seqLen {
				*smp = Samples{} // another length: dropped by build
			}
			continue
		}
		if smp == nil || len(smp.XShape) != len(d)+1 {
			return nil, fmt.Errorf("input shape %v has unknown dimensions and no samples fix them (a None time axis: import with keras.Options{SeqLen: max length}): %w", shapeText(d), layers.ErrUnsupported)
		}
		shape[i] = smp.XShape[i+1]
	}
	if err := shape.Check(); err != nil {
		return nil, err
	}
	return shape, nil
}

func shapeText(d []int) string {
	p := []string{"None"}
	for _, x := range d {
		if x < 0 {
			p = append(p, "None")
		} else {
			p = append(p, strconv.Itoa(x))
		}
	}
	return "(" + strings.Join(p, ", ") + ")"
}

func checkSamples(g *layers.Graph, smp *Samples, file string) error {
	ins, outs := g.Inputs(), g.Outputs()
	if len(smp.XShapes) != len(ins) {
		return fmt.Errorf("%s: %d sample inputs stored, the model has %d inputs: %w", file, len(smp.XShapes), len(ins), layers.ErrShapeMismatch)
	}
	for i, t := range ins {
		if !layers.Shape(smp.XShapes[i][1:]).Equal(t.Shape) {
			return fmt.Errorf("%s: %s has shape %v, model input %q is %v: %w", file, sampleName("x", i, len(ins)), smp.XShapes[i], t.Name, t.Shape, layers.ErrShapeMismatch)
		}
	}
	if smp.YShapes == nil {
		return nil
	}
	if len(smp.YShapes) != len(outs) {
		return fmt.Errorf("%s: %d sample outputs stored, the model has %d outputs: %w", file, len(smp.YShapes), len(outs), layers.ErrShapeMismatch)
	}
	for i, t := range outs {
		if !layers.Shape(smp.YShapes[i][1:]).Equal(t.Shape) {
			return fmt.Errorf("%s: %s has shape %v, model output %q is %v: %w", file, sampleName("y", i, len(outs)), smp.YShapes[i], t.Name, t.Shape, layers.ErrShapeMismatch)
		}
	}
	return nil
}

// Supported lists the Keras layer classes the importer maps, sorted.
func Supported() []string {
	out := make([]string, 0, len(builders)+len(mergeBuilders))
	for k := range builders {
		out = append(out, k)
	}
	for k := range mergeBuilders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
