// Package layers is kinfer's graph form: a frozen Sequential graph of layers, each with
// its configuration, weights, shape inference, validation and a plain-Go reference
// forward pass. The reference pass is the numerical truth every fast kernel in
// runtime/ is tested against.
//
// Tensors are float32, row-major, with the batch axis first and channels last (NHWC for
// images, (T, features) for sequences). Shapes in this package never include the batch
// axis.
package layers

import (
	"errors"
	"fmt"
)

// Named errors. Every error returned by kinfer's importers and runtime wraps one of
// these, so callers can test with errors.Is and still read a message that names the
// file, layer or node at fault.
var (
	// ErrUnsupported: the model is valid but uses a layer, op or option kinfer does not
	// implement.
	ErrUnsupported = errors.New("unsupported")
	// ErrShapeMismatch: weights disagree with the configuration, or a layer's input
	// shape does not fit it.
	ErrShapeMismatch = errors.New("shape mismatch")
	// ErrBadFile: the file is truncated, corrupt or not of the expected kind.
	ErrBadFile = errors.New("bad file")
	// ErrInvalid: a configuration value is out of range (negative sizes, zero strides,
	// unknown padding names, ...).
	ErrInvalid = errors.New("invalid configuration")
	// ErrTooLarge: the file or model needs more memory than a stated limit allows (an
	// arena over runtime.Options.MaxArenaBytes, weights or samples over an importer's
	// bound). The message names the limit and the option that raises it.
	ErrTooLarge = errors.New("too large")
	// ErrIDOutOfRange: a token id given to a model is outside its Embedding's
	// vocabulary (the message names the sample, position, id and vocabulary size).
	ErrIDOutOfRange = errors.New("token id out of range")
	// ErrTooLong: a sequence is longer than the maximum length the model was compiled
	// or imported for.
	ErrTooLong = errors.New("sequence too long")
)

// MaxElements bounds the element count of any one tensor or weight a file may declare
// (1<<31 float32s = 8 GiB). Sizes are checked against it before anything is allocated.
const MaxElements = 1 << 31

func errf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}

// layerErr wraps err with the layer's name and class.
func layerErr(l Layer, err error) error {
	in := l.LayerInfo()
	return fmt.Errorf("layer %q (%s): %w", in.Name, in.Class, err)
}
