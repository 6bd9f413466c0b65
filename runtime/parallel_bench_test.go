package runtime

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
)

// BenchmarkThreads times a model named by KINFER_BENCH_MODEL (an .npz) at batch 1, 8 and
// 64 on 1 and 2 threads (and 2 with intra-op splits only); it is skipped without it.
func BenchmarkThreads(b *testing.B) {
	path := os.Getenv("KINFER_BENCH_MODEL")
	if path == "" {
		b.Skip("KINFER_BENCH_MODEL not set")
	}
	km, err := keras.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 8, 64} {
		for _, th := range []int{1, 2, -2} {
			m, err := Compile(km.Graph, Options{MaxBatch: batch, Threads: max(th, -th)})
			if err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("b%d/t%d", batch, th)
			if th < 0 {
				m.batchSplit = false // intra-op splits only
				name = fmt.Sprintf("b%d/t%dintra", batch, -th)
			}
			r := rand.New(rand.NewPCG(1, 2))
			x := randSlice(r, batch*m.InputShape().Size(), 1)
			y := make([]float32, batch*m.OutputShape().Size())
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = m.RunInto(y, x, batch)
				}
			})
		}
	}
}

// BenchmarkTeamRegion is the cost of posting and joining one region of empty tasks (the
// fixed cost every split step pays), on a team of 2 and on the caller alone.
func BenchmarkTeamRegion(b *testing.B) {
	for _, threads := range []int{1, 2} {
		for _, tasks := range []int{2, 4} {
			b.Run(fmt.Sprintf("threads%d/tasks%d", threads, tasks), func(b *testing.B) {
				tm := newTeam(threads)
				defer tm.stop()
				c := &counter{ran: make([]int, tasks)}
				for b.Loop() {
					tm.runTasks(c, tasks, nil, nil, nil, 0, 0, 0)
				}
			})
		}
	}
}
