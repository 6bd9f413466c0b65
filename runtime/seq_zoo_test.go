package runtime_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/runtime"
	"github.com/kinfer/kinfer/runtime/asm"
)

// seqCases lists testdata/seq/*.npz (made by testdata/gen_seq.py).
func seqCases(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "seq", "*.npz"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no models in testdata/seq: %v", err)
	}
	return files
}

// TestSeqZoo runs every sequence fixture (token ids, masks, variable length, stateful)
// through the reference pass and every kernel path against Keras's outputs, bound
// 1e-5 + 1e-5*|want|.
func TestSeqZoo(t *testing.T) {
	for _, f := range seqCases(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".npz")
		m, err := keras.Load(f)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		s := m.Samples
		ref, err := m.Graph.Reference(s.X, s.N)
		if err != nil {
			t.Fatalf("%s: reference: %v", name, err)
		}
		maxAbs, worst, err := zoo.Default.Check(ref, s.Y)
		if err != nil {
			t.Errorf("%s reference: %v", name, err)
		}
		if testing.Verbose() {
			t.Logf("%-28s reference max abs err %.2e (%.2f of bound)", name, maxAbs, worst)
		}
		for _, isa := range asm.Paths() {
			for _, mb := range []int{1, s.N} {
				cm, err := runtime.Compile(m.Graph, runtime.Options{ISA: isa.String(), MaxBatch: mb})
				if err != nil {
					t.Fatalf("%s/%v: %v", name, isa, err)
				}
				got, err := cm.Run(s.X, s.N)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := zoo.Default.Check(got, s.Y); err != nil {
					t.Errorf("%s isa=%v maxbatch=%d: %v", name, isa, mb, err)
				}
			}
		}
	}
}

var _ = json.Marshal
var _ = os.ReadFile
