// Package keras imports Keras Sequential models from kinfer's npz format (written by
// keras2npz.py next to this file; see docs/npz-format.md) into a layers.Graph.
//
// Keras 3 and Keras 2 (tf.keras) configs are accepted, including very old ones whose
// Sequential config is a bare list of layers, nested Sequentials, and Functional models
// that are a single chain. Keras class names map to layer builders through one table
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
	// Samples holds the inputs and Keras outputs stored with the model, or nil.
	Samples *Samples
}

// Samples are example inputs stored in the npz with Keras's outputs for them.
type Samples struct {
	// N is the number of samples.
	N int
	// X holds N inputs, row-major, XShape = (N, input shape...). For a model whose
	// input is token ids (Graph.Inputs()[0].DType == layers.Int32) they are int32 bit
	// patterns (layers.IDBits), ready for RunInto.
	X      []float32
	XShape []int
	// Y holds Keras's N outputs, YShape = (N, output shape...); nil when absent.
	Y      []float32
	YShape []int
}

// FormatVersion is the newest npz format version this package reads.
const FormatVersion = 1

// Load imports the npz model at path.
func Load(path string) (*Model, error) { return LoadWith(path, Options{}) }

// Options tunes the import.
type Options struct {
	// SeqLen is the length given to a None time axis (the first axis after the batch),
	// which is otherwise the stored samples' length: the longest sequence the model
	// runs (runtime.Model.RunSeqInto runs shorter ones). Stored samples longer than it
	// are an error; shorter ones are not kept (Model.Samples is nil).
	SeqLen int
}

// LoadWith imports the npz model at path with options.
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

// Read imports an npz model of size bytes from r; name is used in error messages.
func Read(r io.ReaderAt, size int64, name string) (*Model, error) {
	return ReadWith(r, size, name, Options{})
}

// ReadWith is Read with options.
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
	var smp *Samples
	if a.has("samples/x") {
		x, err := a.float32s("samples/x")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(x.Shape) == 0 || x.Shape[0] == 0 {
			return nil, fmt.Errorf("%s: member samples/x.npy has shape %v, want (N, input...) with N > 0: %w", name, x.Shape, layers.ErrBadFile)
		}
		smp = &Samples{N: x.Shape[0], X: x.Data, XShape: x.Shape}
		if a.has("samples/y") {
			y, err := a.float32s("samples/y")
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if len(y.Shape) == 0 || y.Shape[0] != smp.N {
				return nil, fmt.Errorf("%s: member samples/y.npy has shape %v, want (%d, output...): %w", name, y.Shape, smp.N, layers.ErrBadFile)
			}
			smp.Y, smp.YShape = y.Data, y.Shape
		}
	}
	ws := &npzWeights{a: a, index: meta.Weights}
	return build(meta, ws, smp, name, opt)
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
		arr, err := w.a.float32s(n)
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
	for i := range mi.Specs {
		s := &mi.Specs[i]
		b.cur = s
		if err := checkSpec(b, s); err != nil {
			return nil, err
		}
		f, ok := builders[s.Class]
		if !ok {
			why := unsupportedReasons[s.Class]
			if why != "" {
				why = " (" + why + ")"
			}
			return nil, b.errf(layers.ErrUnsupported, "layer class %s is not supported%s", s.Class, why)
		}
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
		if b.inType == layers.Int32 {
			if err := idSamples(smp, file); err != nil {
				return nil, err
			}
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
			if cls, _ := d["class_name"].(string); strings.Contains(cls, "Quantized") {
				return b.errf(layers.ErrUnsupported, "quantized dtype policy %s", jsonText(v))
			}
		}
		for _, q := range []string{"int8", "int4", "float8", "gptq"} {
			if strings.Contains(name, q) {
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
	in, out := g.Input(), g.Output()
	if !layers.Shape(smp.XShape[1:]).Equal(in) {
		return fmt.Errorf("%s: samples/x has shape %v, model input is %v: %w", file, smp.XShape, in, layers.ErrShapeMismatch)
	}
	if smp.Y != nil && !layers.Shape(smp.YShape[1:]).Equal(out) {
		return fmt.Errorf("%s: samples/y has shape %v, model output is %v: %w", file, smp.YShape, out, layers.ErrShapeMismatch)
	}
	return nil
}

// Supported lists the Keras layer classes the importer maps, sorted.
func Supported() []string {
	out := make([]string, 0, len(builders))
	for k := range builders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
