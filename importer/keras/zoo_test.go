package keras

import (
	"testing"

	"github.com/kinfer/kinfer/internal/zoo"
)

// TestZoo imports every model of testdata/keras, runs the reference pass on its
// stored inputs and compares with Keras's outputs within the manifest's tolerance
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
			got, err := g.Reference(m.Samples.X, m.Samples.N)
			if err != nil {
				t.Fatal(err)
			}
			worst, ratio, err := c.Bound.Check(got, m.Samples.Y)
			if err != nil {
				t.Error(err)
			}
			t.Logf("%-34s layers=%-3d params=%-7d max|err|=%.3g  err/bound=%.3f  (keras %s)", c.Name, g.Len(), g.Params(), worst, ratio, m.KerasVersion)
		})
	}
}
