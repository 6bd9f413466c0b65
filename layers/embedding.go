package layers

import (
	"fmt"
	"math"
)

// IDReader is implemented by layers whose first input is a tensor of int32 token ids
// (an Int32 graph input, stored as int32 bit patterns in float32 storage). Every reader
// of an Int32 input must be one, and an IDReader's first input must be an Int32 input.
type IDReader interface {
	Layer
	// Vocabulary is the number of valid ids (0..Vocabulary()-1), or 0 when any id is
	// accepted.
	Vocabulary() int
}

// ID returns the token id held in a float32 slot of an Int32 tensor.
func ID(v float32) int32 { return int32(math.Float32bits(v)) }

// IDBits returns the float32 slot holding token id id (the inverse of ID).
func IDBits(id int32) float32 { return math.Float32frombits(uint32(id)) }

// Embedding maps token ids to rows of W (InputDim, OutputDim): input (T) ids, output
// (T, OutputDim). Keras Embedding and ONNX Gather(initializer, ids, axis=0).
type Embedding struct {
	Info
	InputDim, OutputDim int
	W                   []float32
}

// Vocabulary implements IDReader.
func (l *Embedding) Vocabulary() int { return l.InputDim }

// OutputShape implements Layer. Any input shape is accepted: each id becomes a row
// (ONNX Gather), so (T) gives (T, OutputDim).
func (l *Embedding) OutputShape(in Shape) (Shape, error) {
	if l.InputDim <= 0 || l.OutputDim <= 0 {
		return nil, errf(ErrInvalid, "input_dim %d, output_dim %d", l.InputDim, l.OutputDim)
	}
	if err := checkLen("embeddings", l.W, l.InputDim*l.OutputDim); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, errf(ErrShapeMismatch, "Embedding needs ids of rank >= 1, got a scalar")
	}
	return append(in.Clone(), l.OutputDim), nil
}

// ScratchLen implements Layer.
func (l *Embedding) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer. An id outside the vocabulary (which the runtime rejects
// before running) gives a zero row here, never an out-of-bounds read.
func (l *Embedding) Forward(dst, src, _ []float32, in Shape, batch int) {
	d := l.OutputDim
	for i, v := range src[:batch*in.Size()] {
		row := dst[i*d : (i+1)*d]
		id := ID(v)
		if id < 0 || int(id) >= l.InputDim {
			clear(row)
			continue
		}
		copy(row, l.W[int(id)*d:int(id+1)*d])
	}
}

// Weights implements Layer.
func (l *Embedding) Weights() [][]float32 { return [][]float32{l.W} }

// Config implements Layer.
func (l *Embedding) Config() string {
	return fmt.Sprintf("input_dim=%d output_dim=%d", l.InputDim, l.OutputDim)
}

// FLOPs implements Layer.
func (l *Embedding) FLOPs(Shape) int64 { return 0 }

// MaskIDs computes the Keras mask_zero mask from token ids: input (T) ids, output (T)
// with 1 where the id is not 0 and 0 where it is (a padded step).
type MaskIDs struct {
	Info
}

// Vocabulary implements IDReader: any id is accepted.
func (l *MaskIDs) Vocabulary() int { return 0 }

// OutputShape implements Layer.
func (l *MaskIDs) OutputShape(in Shape) (Shape, error) {
	if len(in) != 1 {
		return nil, errf(ErrShapeMismatch, "mask_zero needs ids of shape (timesteps), got %v", in)
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *MaskIDs) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *MaskIDs) Forward(dst, src, _ []float32, in Shape, batch int) {
	for i, v := range src[:batch*in.Size()] {
		dst[i] = 0
		if ID(v) != 0 {
			dst[i] = 1
		}
	}
}

// Weights implements Layer.
func (l *MaskIDs) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *MaskIDs) Config() string { return "mask = ids != 0" }

// FLOPs implements Layer.
func (l *MaskIDs) FLOPs(Shape) int64 { return 0 }

// CheckIDs returns an error wrapping ErrIDOutOfRange for the first id of ids (batch
// samples of t positions) outside 0..vocab-1; vocab 0 accepts every id.
func CheckIDs(ids []int32, t, vocab int) error {
	if vocab <= 0 {
		return nil
	}
	for i, id := range ids {
		if uint32(id) >= uint32(vocab) {
			return idErr(i, t, id, vocab)
		}
	}
	return nil
}

// CheckIDBits is CheckIDs over ids stored as float32 bit patterns.
func CheckIDBits(ids []float32, t, vocab int) error {
	if vocab <= 0 {
		return nil
	}
	for i, v := range ids {
		if id := ID(v); uint32(id) >= uint32(vocab) {
			return idErr(i, t, id, vocab)
		}
	}
	return nil
}

func idErr(i, t int, id int32, vocab int) error {
	return fmt.Errorf("%w: sample %d, position %d: id %d is outside the vocabulary of %d (valid ids 0..%d)",
		ErrIDOutOfRange, i/max(t, 1), i%max(t, 1), id, vocab, vocab-1)
}
