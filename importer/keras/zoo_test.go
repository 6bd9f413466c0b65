package keras

import (
	"testing"

	"github.com/kinfer/kinfer/internal/zoo"
)

// TestZoo imports every model of testdata/keras and testdata/keras_dag, runs the reference pass on its
// stored inputs and compares every output with Keras's within the manifest's tolerance
// (default |got-want| <= 1e-5 + 1e-5*|want|).
func TestZoo(t *testing.T) {
	cases, err := zoo.Keras("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			m, err := Load(c.Path)
			if err != nil {
				t.Fatal(err)
			}
			g := m.Graph
			if c.Params != 0 && c.Params != g.Params() {
				t.Errorf("params = %d, manifest says %d", g.Params(), c.Params)
			}
			if m.Samples == nil || m.Samples.Y == nil {
				t.Fatal("no stored samples")
			}
			if len(m.Samples.Xs) != g.NumInputs() || len(m.Samples.Ys) != len(g.Outputs()) {
				t.Fatalf("%d sample inputs and %d outputs for a model of %d and %d", len(m.Samples.Xs), len(m.Samples.Ys), g.NumInputs(), len(g.Outputs()))
			}
			gots, err := g.ReferenceN(m.Samples.Xs, m.Samples.N)
			if err != nil {
				t.Fatal(err)
			}
			var worst, ratio float64
			for k, got := range gots {
				w, r, err := c.Bound.Check(got, m.Samples.Ys[k])
				if err != nil {
					t.Errorf("output %d %q: %v", k, g.Outputs()[k].Name, err)
				}
				worst, ratio = max(worst, w), max(ratio, r)
			}
			t.Logf("%-34s layers=%-3d params=%-7d max|err|=%.3g  err/bound=%.3f  (keras %s)", c.Name, g.Len(), g.Params(), worst, ratio, m.KerasVersion)
		})
	}
}
