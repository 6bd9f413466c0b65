package keras

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

const zooDir = "../../testdata/keras"

type zooManifest struct {
	DefaultTolerance *tolerance `json:"default_tolerance"`
	Models           []struct {
		Name      string     `json:"name"`
		File      string     `json:"file"`
		Params    int64      `json:"params"`
		Tolerance *tolerance `json:"tolerance"`
	} `json:"models"`
}

type tolerance struct {
	Atol float64 `json:"atol"`
	Rtol float64 `json:"rtol"`
}

// TestZoo imports every model of testdata/keras, runs the reference pass on its
// stored inputs and compares with Keras's outputs within the manifest's tolerance
// (default |got-want| <= 1e-5 + 1e-5*|want|).
func TestZoo(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(zooDir, "*.npz"))
	if len(files) == 0 {
		t.Skip("no models in", zooDir)
	}
	tols := map[string]tolerance{}
	params := map[string]int64{}
	def := tolerance{1e-5, 1e-5}
	if raw, err := os.ReadFile(filepath.Join(zooDir, "MANIFEST.json")); err == nil {
		var m zooManifest
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("MANIFEST.json: %v", err)
		}
		if m.DefaultTolerance != nil {
			def = *m.DefaultTolerance
		}
		for _, e := range m.Models {
			if e.Tolerance != nil {
				tols[e.File] = *e.Tolerance
			}
			params[e.File] = e.Params
		}
	}
	for _, f := range files {
		base := filepath.Base(f)
		t.Run(base, func(t *testing.T) {
			m, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			g := m.Graph
			if p, ok := params[base]; ok && p != g.Params() {
				t.Errorf("params = %d, manifest says %d", g.Params(), p)
			}
			if m.Samples == nil || m.Samples.Y == nil {
				t.Skip("no samples")
			}
			tol, ok := tols[base]
			if !ok {
				tol = def
			}
			got, err := g.Reference(m.Samples.X, m.Samples.N)
			if err != nil {
				t.Fatal(err)
			}
			want := m.Samples.Y
			if len(got) != len(want) {
				t.Fatalf("got %d outputs, want %d", len(got), len(want))
			}
			worst, worstRatio := 0.0, 0.0
			bad := 0
			for i := range got {
				d := math.Abs(float64(got[i]) - float64(want[i]))
				bound := tol.Atol + tol.Rtol*math.Abs(float64(want[i]))
				worst = max(worst, d)
				worstRatio = max(worstRatio, d/bound)
				if !(d <= bound) {
					if bad < 5 {
						t.Errorf("output %d: got %g, want %g (|diff| %.3g > %.3g)", i, got[i], want[i], d, bound)
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d outputs out of tolerance", bad, len(got))
			}
			t.Logf("%-34s layers=%-3d params=%-7d max|err|=%.3g  err/bound=%.3f  (keras %s)", base, g.Len(), g.Params(), worst, worstRatio, m.KerasVersion)
		})
	}
}
