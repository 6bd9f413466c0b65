package main

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/internal/npyf"
)

const seqDir = "../../testdata/seq/"

// TestSeqCommands runs token-id models from int64 .npy files, verifies every sequence
// fixture, runs a variable-length model at a shorter length against Keras's output and
// streams a sequence.
func TestSeqCommands(t *testing.T) {
	files, _ := filepath.Glob(seqDir + "*.npz")
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/seq")
	}
	for _, f := range files {
		if code, out, errs := run(t, "verify", f); code != 0 || !strings.Contains(out, "OK") {
			t.Errorf("verify %s: exit %d: %s %s", f, code, out, errs)
		}
	}
	if code, out, errs := run(t, "run", seqDir+"embed_lstm.npz", seqDir+"embed_lstm.ids.npy"); code != 0 || !strings.Contains(out, "output shape [5 3]") {
		t.Errorf("run int64 ids: exit %d: %s %s", code, out, errs)
	}
	o := filepath.Join(t.TempDir(), "y.npy")
	if code, _, errs := run(t, "run", seqDir+"varlen_lstm.npz", seqDir+"varlen_lstm.L3.x.npy", "-o", o); code != 0 {
		t.Fatalf("run variable length: exit %d: %s", code, errs)
	}
	got, _, err := npyf.ReadFile(o)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := npyf.ReadFile(seqDir + "varlen_lstm.L3.y.npy")
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
			t.Errorf("variable length output %d: %g, Keras %g", i, got[i], want[i])
		}
	}
	if code, out, errs := run(t, "stream", "--chunk", "3", seqDir+"varlen_lstm.npz", seqDir+"varlen_lstm.L6.x.npy"); code != 1 || !strings.Contains(errs, "not one sequence") {
		t.Errorf("stream of a batch: exit %d: %s %s", code, out, errs)
	}
}

// TestRunBadIDs checks a token id outside the vocabulary is reported with its sample
// and position.
func TestRunBadIDs(t *testing.T) {
	ids, shape, err := npyf.ReadIDsFile(seqDir + "embed_lstm.ids.npy")
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, len(ids))
	for i, v := range ids {
		x[i] = float32(v)
	}
	x[2*shape[1]+5] = 77
	p := filepath.Join(t.TempDir(), "bad.npy")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := npyf.WriteFloat32(f, x, shape); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, _, errs := run(t, "run", seqDir+"embed_lstm.npz", p)
	if code != 1 || !strings.Contains(errs, "sample 2, position 5: id 77 is outside the vocabulary of 50") {
		t.Errorf("exit %d: %s", code, errs)
	}
	x[0] = 1.5
	f, _ = os.Create(p)
	npyf.WriteFloat32(f, x, shape)
	f.Close()
	if code, _, errs := run(t, "run", seqDir+"embed_lstm.npz", p); code != 1 || !strings.Contains(errs, "not a whole number") {
		t.Errorf("fractional id: exit %d: %s", code, errs)
	}
}

// TestRunIntInputs: `kinfer run` of a two-input model whose inputs are both integers
// (token ids and sequence lengths, int64 .npy) gives torch's outputs.
func TestRunIntInputs(t *testing.T) {
	const base = "../../testdata/seq/onnx/torch_packed_gru_op13"
	o := filepath.Join(t.TempDir(), "y.npy")
	code, _, errs := run(t, "run", base+".onnx", base+".ids.npy", base+".lens.npy", "-o", o)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got, gs, err := npyf.ReadFile(o)
	if err != nil {
		t.Fatal(err)
	}
	want, ws, err := npyf.ReadFile(base + ".y.npy")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gs, ws) {
		t.Fatalf("output shape %v, want %v", gs, ws)
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-5+1e-5*math.Abs(float64(want[i])) {
			t.Fatalf("y[%d] = %v, torch %v", i, got[i], want[i])
		}
	}
}
