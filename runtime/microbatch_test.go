package runtime

import (
	"math/rand/v2"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// TestMicroBatchMatchesWhole: with the convolution prefix run 1 or 3 samples at a time,
// every model gives the same bits as layer-at-a-time execution of the whole batch, on
// every path, at batch sizes that leave a partial last micro-batch, in one call and
// split across threads.
func TestMicroBatchMatchesWhole(t *testing.T) {
	defer func(v int) { microBudget = v }(microBudget)
	r := rand.New(rand.NewPCG(21, 22))
	for name, g := range testGraphs(t) {
		for _, isa := range isas() {
			microBudget = 1 << 40 // off
			whole, err := Compile(g, Options{MaxBatch: 16, ISA: isa.String()})
			if err != nil {
				t.Fatal(err)
			}
			if whole.microEnd >= 0 {
				t.Fatalf("%s: micro-batching with an unbounded budget", name)
			}
			for _, per := range []int{1, 3} {
				microBudget = 1 // one sample at a time
				if per == 3 {
					microBudget = 3 * whole0(t, g, isa.String()).microPer
				}
				for _, threads := range []int{1, 2} {
					mm, err := Compile(g, Options{MaxBatch: 16, ISA: isa.String(), Threads: threads})
					if err != nil {
						t.Fatal(err)
					}
					if (name == "cnn" || name == "cnn_gap") && (mm.microEnd < 0 || mm.microN != per) {
						t.Fatalf("%s %v: micro-batching not planned (end %d, n %d)", name, isa, mm.microEnd, mm.microN)
					}
					for _, batch := range []int{1, 2, 7, 16, 37} {
						x := randSlice(r, batch*g.Input().Size(), 1)
						a, _ := whole.Run(x, batch)
						b, _ := mm.Run(x, batch)
						if err := closeTo(b, a, 0, 0); err != nil {
							t.Errorf("%s %v per %d threads %d batch %d: %v", name, isa, per, threads, batch, err)
						}
					}
				}
			}
		}
	}
}

// whole0 compiles g with a budget of one float: micro-batches of one sample.
func whole0(t *testing.T, g *layers.Graph, isa string) *Model {
	defer func(v int) { microBudget = v }(microBudget)
	microBudget = 1
	m, err := Compile(g, Options{MaxBatch: 16, ISA: isa})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
