package onnx

import (
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kinfer/kinfer/layers"
)

// TestMutatedFixtures imports random byte-level mutations (overwrites, deletions,
// insertions) of every fixture: each must import or fail with a named error, quickly.
func TestMutatedFixtures(t *testing.T) {
	defer func(a, b int) { maxSample, maxFolded = a, b }(maxSample, maxFolded)
	maxSample, maxFolded = 1<<16, 1<<16
	files, _ := filepath.Glob(filepath.Join(fixtures, "*.onnx"))
	if len(files) == 0 {
		t.Skip("no fixtures")
	}
	seed := time.Now().UnixNano()
	r := rand.New(rand.NewSource(seed))
	iters := 4000
	if testing.Short() {
		iters = 400
	}
	for it := 0; it < iters; it++ {
		data, err := os.ReadFile(files[it%len(files)])
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 1+r.Intn(4); k++ {
			p := r.Intn(len(data))
			switch r.Intn(3) {
			case 0:
				data[p] = byte(r.Intn(256))
			case 1:
				q := min(len(data), p+1+r.Intn(8))
				data = append(data[:p], data[q:]...)
			default:
				ins := make([]byte, 1+r.Intn(10))
				r.Read(ins)
				data = append(data[:p:p], append(ins, data[p:]...)...)
			}
		}
		st := time.Now()
		_, err = read(data, "mutated.onnx", Options{})
		if d := time.Since(st); d > time.Second {
			t.Fatalf("seed %d iteration %d: import took %v", seed, it, d)
		}
		if err != nil && !errors.Is(err, layers.ErrBadFile) && !errors.Is(err, layers.ErrUnsupported) &&
			!errors.Is(err, layers.ErrInvalid) && !errors.Is(err, layers.ErrShapeMismatch) {
			t.Fatalf("seed %d iteration %d: error without a named kind: %v", seed, it, err)
		}
	}
}
