package keras

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

const brokenDir = "../../testdata/broken"

// acceptedIfCorrect lists broken files a reader may also import, as long as what it
// imports reproduces the stored Keras outputs: kinfer transposes Fortran-order arrays
// and converts single-chain Functional configs.
var acceptedIfCorrect = map[string]bool{"fortran_order.npz": true, "functional_config.npz": true}

// TestBroken reads every file of testdata/broken and checks the error class listed in
// its EXPECTED.json with errors.Is.
func TestBroken(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(brokenDir, "EXPECTED.json"))
	if err != nil {
		t.Skip("no", brokenDir)
	}
	var exp struct {
		NPZ map[string]struct {
			Error string `json:"error"`
			Why   string `json:"why"`
		} `json:"npz"`
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]error{"ErrBadFile": layers.ErrBadFile, "ErrUnsupported": layers.ErrUnsupported,
		"ErrShapeMismatch": layers.ErrShapeMismatch, "ErrInvalid": layers.ErrInvalid, "ErrTooLarge": layers.ErrTooLarge}
	files, _ := filepath.Glob(filepath.Join(brokenDir, "*.npz"))
	if len(files) != len(exp.NPZ) {
		t.Errorf("%d npz files, EXPECTED.json lists %d", len(files), len(exp.NPZ))
	}
	for name, e := range exp.NPZ {
		t.Run(name, func(t *testing.T) {
			kind, ok := kinds[e.Error]
			if !ok {
				t.Fatalf("unknown error name %q", e.Error)
			}
			m, err := Load(filepath.Join(brokenDir, name))
			if err == nil && acceptedIfCorrect[name] {
				matchSamples(t, m)
				t.Logf("imported (allowed): %s", e.Why)
				return
			}
			if !errors.Is(err, kind) {
				// huge_units: ErrShapeMismatch is also acceptable per the README.
				if !(name == "huge_units.npz" && errors.Is(err, layers.ErrShapeMismatch)) {
					t.Fatalf("err = %v, want %s (%s)", err, e.Error, e.Why)
				}
			}
			t.Logf("%v", err)
		})
	}
}

func matchSamples(t *testing.T, m *Model) {
	t.Helper()
	if m.Samples == nil || m.Samples.Y == nil {
		t.Fatal("imported a broken file that has no samples to check it against")
	}
	got, err := m.Graph.Reference(m.Samples.X, m.Samples.N)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range m.Samples.Y {
		if d := math.Abs(float64(got[i] - w)); !(d <= 1e-5+1e-5*math.Abs(float64(w))) {
			t.Fatalf("output %d = %g, Keras %g", i, got[i], w)
		}
	}
}
