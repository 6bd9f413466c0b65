package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/kinfer/kinfer/internal/npyf"
)

// TestWriteNpy checks that what the CLI writes through npyio reads back, shape and
// values, through the validating reader, at the ranks and edge shapes outputs take.
func TestWriteNpy(t *testing.T) {
	dir := t.TempDir()
	for i, shape := range [][]int{{1}, {7}, {2, 3}, {1, 1}, {2, 3, 4}, {2, 1, 3, 5}, {2, 0, 3}, {}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for j := range data {
			data[j] = float32(j)*0.5 - 3
		}
		p := filepath.Join(dir, "out"+string(rune('a'+i))+".npy")
		if err := writeNpy(p, data, shape); err != nil {
			t.Fatalf("shape %v: %v", shape, err)
		}
		got, gshape, err := npyf.ReadFile(p)
		if err != nil {
			t.Fatalf("shape %v: read back: %v", shape, err)
		}
		if !slices.Equal(gshape, shape) || !slices.Equal(got, data) {
			t.Errorf("shape %v: read back shape %v values %v, want %v", shape, gshape, got, data)
		}
	}
	if err := writeNpy(filepath.Join(dir, "bad.npy"), make([]float32, 5), []int{2, 3}); err == nil {
		t.Error("5 values for shape (2, 3): no error")
	}
}
