package keras

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kinfer/kinfer/layers"
)

// withMeta returns the npz at path with its kinfer_meta replaced by edit(meta).
func withMeta(t *testing.T, path string, edit func(meta map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == "kinfer_meta.npy" {
			var meta map[string]any
			if err := json.Unmarshal(data[bytes.IndexByte(data, '\n')+1:], &meta); err != nil {
				t.Fatal(err)
			}
			edit(meta)
			js, err := json.Marshal(meta)
			if err != nil {
				t.Fatal(err)
			}
			data = metaMember(js)
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestInputLayersListed found by testdata/gen_hostile2.py: a Functional config whose
// input_layers repeats one input 100000 times made `kinfer info` run for minutes
// (one model input per entry). An input listed twice is refused, and so is a list
// longer than maxModelIO.
func TestInputLayersListed(t *testing.T) {
	for _, n := range []int{2, 100000} {
		s := withMeta(t, "../../testdata/keras_dag/se_block.npz", func(m map[string]any) {
			cfg := m["model_config"].(map[string]any)["config"].(map[string]any)
			ref := cfg["input_layers"].([]any) // ["input_layer", 0, 0] or a list of those
			if _, one := ref[0].(string); !one {
				ref = ref[0].([]any)
			}
			var l []any
			for i := 0; i < n; i++ {
				l = append(l, ref)
			}
			cfg["input_layers"] = l
		})
		t0 := time.Now()
		_, err := Read(bytes.NewReader(s), int64(len(s)), "dup.npz")
		if err == nil {
			t.Fatalf("%d inputs: no error", n)
		}
		if !errors.Is(err, layers.ErrBadFile) && !errors.Is(err, layers.ErrUnsupported) {
			t.Errorf("%d inputs: %v, want ErrBadFile or ErrUnsupported", n, err)
		}
		if !strings.Contains(err.Error(), "input_layers") {
			t.Errorf("%d inputs: %v does not name input_layers", n, err)
		}
		if d := time.Since(t0); d > 2*time.Second {
			t.Errorf("%d inputs: took %v", n, d)
		}
	}
	// The unedited model still reads (the check refuses only repeats).
	s := withMeta(t, "../../testdata/keras_dag/se_block.npz", func(map[string]any) {})
	if _, err := Read(bytes.NewReader(s), int64(len(s)), "se_block.npz"); err != nil {
		t.Fatal(err)
	}
}
