package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/internal/npyf"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

const mnist = "../../testdata/keras/mnist_cnn.npz"

func TestRunPrints(t *testing.T) {
	code, out, errs := run(t, "run", mnist, "../../testdata/keras/mnist_cnn_input.npy")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "output shape [1 10]") || !strings.Contains(out, "top: class") {
		t.Errorf("unexpected output:\n%s", out)
	}
}

func TestRunWritesNpy(t *testing.T) {
	dir := t.TempDir()
	o := filepath.Join(dir, "y.npy")
	// flags after positional arguments, as the README shows
	code, _, errs := run(t, "run", mnist, "../../testdata/keras/mnist_cnn_input.npy", "-o", o)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	f, err := os.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	y, shape, err := npyf.ReadFloat32(f, -1)
	if err != nil || len(shape) != 2 || shape[1] != 10 || len(y) != 10 {
		t.Fatalf("output %v %v %v", y, shape, err)
	}
	var sum float64
	for _, v := range y {
		sum += float64(v)
	}
	if sum < 0.999 || sum > 1.001 {
		t.Errorf("softmax output sums to %g", sum)
	}
}

func TestInfoAndVerifyZoo(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/keras/*.npz")
	if len(files) == 0 {
		t.Fatal("no testdata models")
	}
	for _, f := range files {
		code, out, errs := run(t, "info", f)
		if code != 0 || !strings.Contains(out, "Total params") || !strings.Contains(out, "Fingerprint: highwayhash128:") {
			t.Errorf("info %s: exit %d\n%s%s", f, code, out, errs)
		}
		code, out, errs = run(t, "verify", f)
		if code != 0 || !strings.Contains(out, "OK") {
			// a model whose manifest states a wider bound is checked by the importer's
			// zoo test; here only the default bound is tried
			if !strings.Contains(errs, "outside the bound") {
				t.Errorf("verify %s: exit %d\n%s%s", f, code, out, errs)
			}
		}
	}
}

func TestONNXInfoRunVerify(t *testing.T) {
	files, _ := filepath.Glob("../../testdata/onnx/*.onnx")
	if len(files) == 0 {
		t.Fatal("no ONNX testdata")
	}
	for _, f := range files {
		stem := strings.TrimSuffix(f, ".onnx")
		if code, out, errs := run(t, "info", f); code != 0 || !strings.Contains(out, "ONNX opset") {
			t.Errorf("info %s: exit %d\n%s%s", f, code, out, errs)
		}
		code, out, errs := run(t, "verify", f, "--input", stem+".inputs.npy", "--expect", stem+".outputs.npy")
		if code != 0 || !strings.Contains(out, "OK") {
			t.Errorf("verify %s: exit %d\n%s%s", f, code, out, errs)
		}
	}
	// no stored samples and no --input: a clear error
	if code, _, errs := run(t, "verify", files[0]); code != 1 || !strings.Contains(errs, "--input") {
		t.Errorf("verify without samples: exit %d, %q", code, errs)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.npy")
	os.WriteFile(bad, []byte("not numpy"), 0o644)
	wrong := filepath.Join(dir, "wrong.npy")
	f, _ := os.Create(wrong)
	npyf.WriteFloat32(f, make([]float32, 6), []int{2, 3})
	f.Close()
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{}, 2, "Usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"run", mnist}, 2, "want at least 2 argument"},
		{[]string{"run", "nope.npz", bad}, 1, "nope.npz"},
		{[]string{"run", mnist, bad}, 1, "bad.npy"},
		{[]string{"run", mnist, wrong}, 1, "does not match the model input"},
		{[]string{"run", "model.keras", bad}, 1, "keras2npz.py"},
		{[]string{"info", "x.txt"}, 1, "unknown model format"},
		{[]string{"bench", mnist, "--batch", "0"}, 2, "--batch"},
	}
	for _, c := range cases {
		code, _, errs := run(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", c.args, code, c.code, errs, c.msg)
		}
	}
	for _, cmd := range []string{"run", "info", "verify", "bench"} {
		if code, out, _ := run(t, cmd, "--help"); code != 0 || !strings.Contains(out, "Usage: kinfer "+cmd) {
			t.Errorf("%s --help: exit %d, %q", cmd, code, out)
		}
	}
}

func TestBenchInput(t *testing.T) {
	in := "../../testdata/keras/mnist_cnn_input.npy"
	code, out, errs := run(t, "bench", mnist, "--input", in, "--iters", "3", "--warmup", "1ms", "--json")
	if code != 0 || !strings.Contains(out, `"batch":1`) {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	if code, _, errs := run(t, "bench", mnist, "--input", in, "--batch", "4"); code != 2 || !strings.Contains(errs, "holds 1 samples") {
		t.Errorf("--batch disagreeing with --input: exit %d %q", code, errs)
	}
}

func TestBenchJSON(t *testing.T) {
	code, out, errs := run(t, "bench", mnist, "--iters", "5", "--warmup", "1ms", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, k := range []string{"p50_us", "p90_us", "p99_us", "throughput_per_s", "allocs_per_run", "arena_bytes", "isa", "batch", "threads"} {
		if !strings.Contains(out, `"`+k+`"`) {
			t.Errorf("bench --json lacks %q: %s", k, out)
		}
	}
}

// TestMultiInputOutput runs, verifies and describes Functional models with several
// inputs and outputs (testdata/keras_dag).
func TestMultiInputOutput(t *testing.T) {
	const wd = "../../testdata/keras_dag/wide_deep.npz"
	const two = "../../testdata/keras_dag/two_outputs.npz"
	dir := t.TempDir()
	wide, deep := filepath.Join(dir, "wide.npy"), filepath.Join(dir, "deep.npy")
	for _, p := range []struct {
		path string
		n    int
	}{{wide, 6}, {deep, 10}} {
		f, _ := os.Create(p.path)
		npyf.WriteFloat32(f, make([]float32, 3*p.n), []int{3, p.n})
		f.Close()
	}
	code, out, errs := run(t, "run", wd, wide, deep)
	if code != 0 || !strings.Contains(out, "output shape [3 1]") {
		t.Errorf("run wide_deep: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run(t, "run", wd, wide); code != 2 || !strings.Contains(errs, "2 input(s) (wide (None, 6), deep (None, 10))") {
		t.Errorf("run with one of two inputs: exit %d %q", code, errs)
	}
	if code, _, errs := run(t, "run", wd, deep, wide); code != 1 || !strings.Contains(errs, "does not match the model input") {
		t.Errorf("run with inputs swapped: exit %d %q", code, errs)
	}
	o := filepath.Join(dir, "y.npy")
	if code, _, errs := run(t, "run", two, filepath.Join(dir, "deep.npy"), "-o", o); code != 1 || !strings.Contains(errs, "does not match") {
		t.Errorf("two_outputs on a (3, 10) array: exit %d %q", code, errs)
	}
	x7 := filepath.Join(dir, "x7.npy")
	f, _ := os.Create(x7)
	npyf.WriteFloat32(f, make([]float32, 2*7), []int{2, 7})
	f.Close()
	code, out, errs = run(t, "run", two, x7)
	if code != 0 || !strings.Contains(out, `output 0 "cls" shape [2 4]`) || !strings.Contains(out, `output 1 "reg" shape [2 2]`) || !strings.Contains(out, "top: class") {
		t.Errorf("run two_outputs: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := run(t, "run", two, x7, "-o", o); code != 0 {
		t.Fatalf("run -o: exit %d %s", code, errs)
	}
	for k, n := range []int{4, 2} {
		f, err := os.Open(filepath.Join(dir, fmt.Sprintf("y_%d.npy", k)))
		if err != nil {
			t.Fatal(err)
		}
		_, shape, err := npyf.ReadFloat32(f, -1)
		f.Close()
		if err != nil || len(shape) != 2 || shape[0] != 2 || shape[1] != n {
			t.Errorf("y_%d.npy: shape %v, %v", k, shape, err)
		}
	}
	code, out, errs = run(t, "verify", two)
	if code != 0 || !strings.Contains(out, `output 0 "cls"`) || !strings.Contains(out, `output 1 "reg"`) || !strings.Contains(out, "OK") {
		t.Errorf("verify two_outputs: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = run(t, "info", wd)
	if code != 0 || !strings.Contains(out, `Input "deep": (None, 10)`) || !strings.Contains(out, "input:wide, #1 dense_1") {
		t.Errorf("info wide_deep: exit %d\n%s%s", code, out, errs)
	}
	if code, out, errs := run(t, "bench", wd, "--iters", "3", "--warmup", "1ms", "--json"); code != 0 || !strings.Contains(out, `"allocs_per_run":0`) {
		t.Errorf("bench wide_deep: exit %d\n%s%s", code, out, errs)
	}
}
