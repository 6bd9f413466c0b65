// Package kinfer is the one-import entry point: it loads a Keras (.npz written by
// importer/keras/keras2npz.py) or ONNX model, telling the format from the content, and
// returns it compiled for this CPU.
//
//	m, err := kinfer.Load("model.onnx", kinfer.Options{})
//	out, err := m.Run(input, 1)
//
// The returned *runtime.Model is immutable and safe for concurrent use; RunInto and
// RunMultiInto allocate nothing per call. Use the importer and runtime packages
// directly for what this package does not expose (stored samples, streams).
package kinfer

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/importer/onnx"
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
)

// Model is a compiled model (see runtime.Model).
type Model = runtime.Model

// Options tunes loading and compiling. The zero value uses every default.
type Options struct {
	// MaxBatch is the largest batch run in one pass (runtime.Options.MaxBatch; 0:
	// runtime.DefaultMaxBatch). Larger batches run in chunks.
	MaxBatch int
	// Threads is how many goroutines one call may use (runtime.Options.Threads).
	Threads int
	// ISA forces a kernel path (runtime.Options.ISA).
	ISA string
	// MaxArenaBytes bounds one call's working memory (runtime.Options.MaxArenaBytes;
	// 0: the default, negative: no limit). ONNX tensors of MaxBatch samples are held
	// to the same bound at import.
	MaxArenaBytes int64
	// SeqLen is the length given to a dynamic sequence axis (the longest sequence
	// the model runs); 0 keeps the length the file implies.
	SeqLen int
}

// Format is a model file format Load recognises.
type Format string

// Formats DetectFormat reports.
const (
	FormatKerasNPZ Format = "keras-npz" // a zip archive written by keras2npz.py
	FormatONNX     Format = "onnx"      // an ONNX ModelProto
	FormatKeras    Format = "keras"     // a Keras 3 .keras archive (convert it first)
	FormatHDF5     Format = "hdf5"      // a Keras .h5 file (convert it first)
)

// ErrFormat marks content that is no model format kinfer reads.
var ErrFormat = errors.New("unknown model format")

var hdf5Magic = []byte("\x89HDF\r\n\x1a\n")

// detect tells a model's format from its first bytes and, for a zip archive, its
// member names (members is called only then). ONNX has no magic number: whatever is
// neither zip nor HDF5 is tried as ONNX, and the importer's error says what is wrong.
func detect(head []byte, members func() ([]string, error)) (Format, error) {
	switch {
	case len(head) == 0:
		return "", ErrFormat
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		names, err := members()
		if err != nil {
			return "", err
		}
		for _, n := range names {
			if n == "config.json" || n == "model.weights.h5" {
				return FormatKeras, nil
			}
		}
		return FormatKerasNPZ, nil
	case bytes.HasPrefix(head, hdf5Magic):
		return FormatHDF5, nil
	}
	return FormatONNX, nil
}

// zipNames lists a zip archive's members (zip.NewReader reads only the central
// directory, bounded by size).
func zipNames(r io.ReaderAt, size int64, name string) ([]string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: not a zip (npz) file: %v: %w", name, err, layers.ErrBadFile)
	}
	names := make([]string, len(zr.File))
	for i, f := range zr.File {
		names[i] = f.Name
	}
	return names, nil
}

// DetectFormat tells the format of a model of size bytes read from r.
func DetectFormat(r io.ReaderAt, size int64) (Format, error) {
	head, err := readHead(r, size)
	if err != nil {
		return "", err
	}
	return detect(head, func() ([]string, error) { return zipNames(r, size, "model") })
}

func readHead(r io.ReaderAt, size int64) ([]byte, error) {
	head := make([]byte, min(size, 8))
	n, err := r.ReadAt(head, 0)
	if n < len(head) && err != nil {
		return nil, err
	}
	return head[:n], nil
}

// Load loads and compiles the model file at path.
func Load(path string, opt Options) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return LoadReaderAt(f, st.Size(), filepath.Base(path), opt)
}

// LoadBytes loads and compiles a model held in memory; name is used in errors.
func LoadBytes(data []byte, name string, opt Options) (*Model, error) {
	return LoadReaderAt(bytes.NewReader(data), int64(len(data)), name, opt)
}

// LoadFS loads and compiles the model file name from fsys (an embed.FS, os.DirFS...).
func LoadFS(fsys fs.FS, name string, opt Options) (*Model, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	return LoadBytes(data, name, opt)
}

// LoadReaderAt loads and compiles a model of size bytes read from r; name is used
// in errors.
func LoadReaderAt(r io.ReaderAt, size int64, name string, opt Options) (*Model, error) {
	g, err := Import(r, size, name, opt)
	if err != nil {
		return nil, err
	}
	m, err := runtime.Compile(g, runtime.Options{MaxBatch: opt.MaxBatch, Threads: opt.Threads, ISA: opt.ISA,
		MaxArenaBytes: opt.MaxArenaBytes, MaxSeqLen: opt.SeqLen})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return m, nil
}

// Import reads a model of size bytes from r into a graph without compiling it.
func Import(r io.ReaderAt, size int64, name string, opt Options) (*layers.Graph, error) {
	if size < 0 {
		return nil, fmt.Errorf("%s: %w: size %d", name, layers.ErrInvalid, size)
	}
	head, err := readHead(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f, err := detect(head, func() ([]string, error) { return zipNames(r, size, name) })
	switch {
	case errors.Is(err, ErrFormat):
		return nil, fmt.Errorf("%s: %w (empty; want an .npz from keras2npz.py or an .onnx file): %w", name, ErrFormat, layers.ErrBadFile)
	case err != nil:
		return nil, err
	}
	switch f {
	case FormatKerasNPZ:
		m, err := keras.ReadWith(r, size, name, keras.Options{SkipSamples: true, SeqLen: opt.SeqLen})
		if err != nil {
			return nil, err
		}
		return m.Graph, nil
	case FormatONNX:
		// Read what is there, not size bytes up front: size is the caller's word.
		data, err := io.ReadAll(io.NewSectionReader(r, 0, size))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		tb := opt.MaxArenaBytes
		if tb < 0 {
			tb = math.MaxInt64
		}
		m, err := onnx.ReadWith(data, name, onnx.Options{MaxBatch: opt.MaxBatch, MaxTensorBytes: tb, SeqLen: opt.SeqLen})
		if err != nil {
			return nil, err
		}
		return m.Graph, nil
	}
	return nil, fmt.Errorf("%s: a %s file: convert it first with python3 importer/keras/keras2npz.py MODEL model.npz: %w", name, f, layers.ErrUnsupported)
}
