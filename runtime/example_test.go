package runtime_test

import (
	"fmt"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime"
)

// A graph normally comes from importer/keras or importer/onnx; this one is built by hand:
// a 2-feature Dense layer with ReLU followed by a softmax.
func ExampleCompile() {
	g, err := layers.NewGraph(layers.Shape{2}, []layers.Layer{
		&layers.Dense{Info: layers.Info{Name: "dense", Class: "Dense"}, In: 2, Units: 3,
			W: []float32{1, 0, -1, 0, 1, 1}, B: []float32{0, 0, 0}, Act: layers.ActReLU},
		&layers.ActivationLayer{Info: layers.Info{Name: "softmax", Class: "Softmax"}, Act: layers.Activation{Kind: layers.Softmax}},
	}, nil)
	if err != nil {
		panic(err)
	}
	model, err := runtime.Compile(g, runtime.Options{MaxBatch: 8})
	if err != nil {
		panic(err)
	}
	in := []float32{1, 2, 3, 0} // a batch of two samples
	out := make([]float32, 2*model.OutputShape().Size())
	if err := model.RunInto(out, in, 2); err != nil { // no allocations, goroutine-safe
		panic(err)
	}
	fmt.Printf("%.3f\n", out)
	// Output: [0.212 0.576 0.212 0.909 0.045 0.045]
}
