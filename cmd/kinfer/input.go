package main

import (
	"fmt"

	"github.com/kinfer/kinfer/internal/npyf"
	"github.com/kinfer/kinfer/layers"
)

// readInput reads a model input .npy: float32/float64 for float models; for a model
// whose input is token ids, int32 or int64 (range-checked) or whole-number floats,
// returned as the int32 bit patterns an Int32 input holds (runtime checks each id
// against the vocabulary and names the sample and position of a bad one).
func readInput(path string, g *layers.Graph) ([]float32, []int, error) {
	return readInputAt(path, g, 0)
}

// readInputAt reads the .npy for model input k: floats, or for an id input (token ids,
// sequence lengths) integers carried bit for bit as layers.IDBits.
func readInputAt(path string, g *layers.Graph, k int) ([]float32, []int, error) {
	if g.Inputs()[k].DType != layers.Int32 {
		return npyf.ReadFile(path)
	}
	ids, shape, err := npyf.ReadIDsFile(path)
	if err != nil {
		return nil, nil, err
	}
	x := make([]float32, len(ids))
	for i, id := range ids {
		x[i] = layers.IDBits(id)
	}
	return x, shape, nil
}

// seqBatchOf matches an input of a variable-length model (its time axis, axis 0 of a
// sample, declared None): (L, ...) or (N, L, ...) with L up to the model's maximum.
// It returns the batch and L.
func seqBatchOf(shape []int, in layers.Shape, path string) (int, int, error) {
	rest := in[1:]
	switch {
	case len(shape) == len(in) && layers.Shape(shape[1:]).Equal(rest):
		return 1, shape[0], checkLen(shape[0], in[0], path)
	case len(shape) == len(in)+1 && layers.Shape(shape[2:]).Equal(rest) && shape[0] >= 1:
		return shape[0], shape[1], checkLen(shape[1], in[0], path)
	}
	return 0, 0, fmt.Errorf("%s: %w: array shape %v does not match the model input (None, %v) or (N, None, %v)", path, layers.ErrShapeMismatch, shape, rest, rest)
}

func checkLen(l, maxLen int, path string) error {
	if l < 1 || l > maxLen {
		return fmt.Errorf("%s: %w: sequence of %d steps; the model takes 1..%d (--max-len)", path, layers.ErrTooLong, l, maxLen)
	}
	return nil
}
