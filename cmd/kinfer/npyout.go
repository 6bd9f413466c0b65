package main

import (
	"fmt"
	"os"
	"reflect"

	"codeberg.org/sbinet/npyio"

	"github.com/kinfer/kinfer/internal/npyf"
)

// writeNpy writes data, of the given C-order shape, to path as a float32 .npy file.
//
// The CLI writes its outputs with npyio (the project's listed .npy library); it takes the
// shape from nested slices, so the flat output is viewed as one without copying values.
// Reading stays on internal/npyf: npyio's reader panics on some valid headers (see
// docs/RATIONALE.md), and only the CLI links npyio, never the library packages.
func writeNpy(path string, data []float32, shape []int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeNpyTo(f, data, shape); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func writeNpyTo(f *os.File, data []float32, shape []int) error {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) {
		return fmt.Errorf("shape %v does not match %d values", shape, len(data))
	}
	if n == 0 || len(shape) == 0 {
		// Nested slices cannot carry a zero-length axis's inner dimensions, nor a scalar.
		return npyf.WriteFloat32(f, data, shape)
	}
	return npyio.Write(f, nested(data, shape).Interface())
}

// nested views flat C-order data as a slice of slices ... of []float32 of the given shape.
func nested(data []float32, shape []int) reflect.Value {
	if len(shape) == 1 {
		return reflect.ValueOf(data)
	}
	inner := len(data) / shape[0]
	first := nested(data[:inner], shape[1:])
	v := reflect.MakeSlice(reflect.SliceOf(first.Type()), shape[0], shape[0])
	v.Index(0).Set(first)
	for i := 1; i < shape[0]; i++ {
		v.Index(i).Set(nested(data[i*inner:(i+1)*inner], shape[1:]))
	}
	return v
}
