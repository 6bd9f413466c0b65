package runtime

import (
	"errors"
	"runtime"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// TestArenaLimitHugePad: a ZeroPadding2D that turns a 4x4 map into a 6.4 GB one is
// refused at Compile, from the graph's shapes, before any table or arena exists.
func TestArenaLimitHugePad(t *testing.T) {
	g, err := layers.NewGraph(layers.Shape{4, 4, 1}, []layers.Layer{
		&layers.ZeroPad2D{Info: layers.Info{Name: "pad", Class: "ZeroPadding2D"}, Pads: [4]int{20000, 20000, 20000, 20000}},
		&layers.Permute{Info: layers.Info{Name: "perm", Class: "Permute"}, Perm: []int{1, 0, 2}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range []int{1, 0} {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		_, err := Compile(g, Options{MaxBatch: mb})
		runtime.ReadMemStats(&b)
		if !errors.Is(err, layers.ErrTooLarge) {
			t.Fatalf("MaxBatch %d: err = %v, want ErrTooLarge", mb, err)
		}
		if got := b.TotalAlloc - a.TotalAlloc; got > 1<<20 {
			t.Errorf("MaxBatch %d: refusing allocated %d bytes", mb, got)
		}
		t.Log(err)
	}
	if _, err := Compile(g, Options{MaxBatch: 1, MaxArenaBytes: -1, ISA: "generic"}); err != nil {
		t.Errorf("no limit: %v", err) // the generic path builds no tables: nothing is allocated yet
	}
}

// TestArenaLimitExact: the limit applies to the planned arena (times Threads) at the
// byte: a model compiles at exactly its arena size and not one byte below.
func TestArenaLimitExact(t *testing.T) {
	g := testGraphs(t)["cnn"]
	m, err := Compile(g, Options{MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	need := m.ArenaBytes()
	if m.ArenaLimit() != DefaultMaxArenaBytes {
		t.Errorf("ArenaLimit = %d, want the default %d", m.ArenaLimit(), DefaultMaxArenaBytes)
	}
	if _, err := Compile(g, Options{MaxBatch: 8, MaxArenaBytes: need}); err != nil {
		t.Errorf("limit = arena (%d): %v", need, err)
	}
	if _, err := Compile(g, Options{MaxBatch: 8, MaxArenaBytes: need - 1}); !errors.Is(err, layers.ErrTooLarge) {
		t.Errorf("limit = arena-1: err = %v, want ErrTooLarge", err)
	}
	// with threads the plan holds the helpers' split scratch too: a larger arena
	m2, err := Compile(g, Options{MaxBatch: 8, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	need = m2.ArenaBytes()
	if _, err := Compile(g, Options{MaxBatch: 8, Threads: 2, MaxArenaBytes: 2*need - 1}); !errors.Is(err, layers.ErrTooLarge) {
		t.Errorf("2 threads, limit = 2*arena-1: err = %v, want ErrTooLarge", err)
	}
	if _, err := Compile(g, Options{MaxBatch: 8, Threads: 2, MaxArenaBytes: 2 * need}); err != nil {
		t.Errorf("2 threads, limit = 2*arena: %v", err)
	}
}
