package kinfer_test

import (
	"embed"
	"fmt"

	"github.com/kinfer/kinfer"
)

// Load a model, whatever its format, and run one sample.
func Example() {
	m, err := kinfer.Load("testdata/onnx/keras_mlp_op13.onnx", kinfer.Options{})
	if err != nil {
		panic(err)
	}
	x := make([]float32, m.InputShape().Size()) // one sample of zeros
	y, err := m.Run(x, 1)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.InputShape(), "->", m.OutputShape(), len(y), "values")
	// Output: (None, 10) -> (None, 4) 4 values
}

//go:embed testdata/keras/mnist_cnn.npz
var models embed.FS

// Load a model compiled into the binary with go:embed.
func ExampleLoadFS() {
	m, err := kinfer.LoadFS(models, "testdata/keras/mnist_cnn.npz", kinfer.Options{MaxBatch: 16})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.InputShape(), "->", m.OutputShape())
	// Output: (None, 28, 28, 1) -> (None, 10)
}
