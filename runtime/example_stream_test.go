package runtime_test

import (
	"fmt"
	"math"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/runtime"
)

// ExampleModel_NewStream scores a two-channel sensor stream online: each reading is fed
// to a recurrent model as it arrives (one Step, no allocation, the LSTM's state kept in
// the Stream), and the score is how far the model's output jumps from its recent
// average. Any number of streams (one per sensor) can share the Model.
func ExampleModel_NewStream() {
	m, err := keras.Load("../testdata/seq/stateful_lstm.npz") // LSTM(8, stateful=True) -> Dense(1)
	if err != nil {
		panic(err)
	}
	model, err := runtime.Compile(m.Graph, runtime.Options{})
	if err != nil {
		panic(err)
	}
	s, err := model.NewStream(1)
	if err != nil {
		panic(err)
	}
	y := make([]float32, s.OutputLen(1))
	reading := make([]float32, 2)
	avg := 0.0
	for t := range 12 {
		reading[0], reading[1] = float32(math.Sin(float64(t)/2)), float32(math.Cos(float64(t)/2))
		if t == 8 {
			reading[0], reading[1] = -8, 8 // a spike
		}
		if err := s.Step(y, reading, 1); err != nil {
			panic(err)
		}
		score := math.Abs(float64(y[0]) - avg)
		avg = 0.7*avg + 0.3*float64(y[0])
		flag := ""
		if t > 2 && score > 0.5 {
			flag = "  <- anomaly"
		}
		fmt.Printf("t=%2d score %.2f%s\n", t, score, flag)
	}
	s.Reset() // the next sequence starts from the initial state
	// Output:
	// t= 0 score 0.03
	// t= 1 score 0.04
	// t= 2 score 0.09
	// t= 3 score 0.08
	// t= 4 score 0.02
	// t= 5 score 0.13
	// t= 6 score 0.15
	// t= 7 score 0.06
	// t= 8 score 0.60  <- anomaly
	// t= 9 score 0.08
	// t=10 score 0.01
	// t=11 score 0.14
}
