package main

import (
	"strings"
	"testing"
)

// TestArenaLimitFlag: info shows the limit, --max-arena changes it, and a model over
// it is refused with a message naming the flag.
func TestArenaLimitFlag(t *testing.T) {
	code, out, errs := run(t, "info", mnist)
	if code != 0 || !strings.Contains(out, "limit 4.00 GiB (--max-arena)") {
		t.Fatalf("exit %d, stderr %q; info lacks the default limit:\n%s", code, errs, out)
	}
	code, out, _ = run(t, "info", mnist, "--max-arena", "1MiB")
	if code != 0 || !strings.Contains(out, "limit 1.00 MiB") {
		t.Errorf("--max-arena 1MiB: exit %d:\n%s", code, out)
	}
	code, out, _ = run(t, "info", mnist, "--max-arena", "-1")
	if code != 0 || !strings.Contains(out, "limit none") {
		t.Errorf("--max-arena -1: exit %d:\n%s", code, out)
	}
	code, _, errs = run(t, "info", mnist, "--batch", "64", "--max-arena", "1MiB")
	if code != 1 || !strings.Contains(errs, "too large") || !strings.Contains(errs, "--max-arena") {
		t.Errorf("over the limit: exit %d, stderr %q", code, errs)
	}
	code, _, errs = run(t, "info", mnist, "--max-arena", "lots")
	if code != 2 {
		t.Errorf("--max-arena lots: exit %d, stderr %q, want usage error", code, errs)
	}
}

// TestInfoSkipsSamples: info counts the stored samples without reading them.
func TestInfoSkipsSamples(t *testing.T) {
	code, out, errs := run(t, "info", mnist)
	if code != 0 || !strings.Contains(out, "Stored samples: 4") {
		t.Fatalf("exit %d, stderr %q:\n%s", code, errs, out)
	}
}

// TestRunBigEndianInput: a big-endian float64 input written by numpy runs.
func TestRunBigEndianInput(t *testing.T) {
	code, out, errs := run(t, "run", "../../testdata/keras/mlp_regressor.npz", "../../testdata/npy/x_be8.npy")
	if code != 0 || !strings.Contains(out, "output shape [3 1]") {
		t.Fatalf("exit %d, stderr %q:\n%s", code, errs, out)
	}
}
