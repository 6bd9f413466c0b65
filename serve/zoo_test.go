package serve

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/importer/keras"
	"github.com/kinfer/kinfer/internal/zoo"
	"github.com/kinfer/kinfer/serve/oippb"
)

// zooCase is one fixture with its stored inputs.
type zooCase struct {
	name, path string
	xs         [][]float32 // per input, batch samples (ids as int32 bits)
	batch      int
}

func zooCases(t *testing.T) []zooCase {
	t.Helper()
	var out []zooCase
	oc, err := zoo.ONNX("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range oc {
		xs, _, n, err := c.ArraysN()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, zooCase{"onnx_" + c.Name, c.Path, xs, n})
	}
	kc, err := zoo.Keras("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range kc {
		m, err := keras.Load(c.Path)
		if err != nil {
			t.Fatal(err)
		}
		if m.Samples == nil {
			continue
		}
		name := "keras_" + filepath.Base(filepath.Dir(c.Path)) + "_" + strings.TrimSuffix(filepath.Base(c.Path), ".npz")
		out = append(out, zooCase{name, c.Path, m.Samples.Xs, m.Samples.N})
	}
	return out
}

// TestZoo serves every zoo model and checks that REST (JSON tensors) and gRPC (raw
// contents) answer with the very bits a direct run gives: one request alone runs
// in its own buffers at its own batch, and JSON floats are printed in the shortest
// form that parses back to the same float32.
func TestZoo(t *testing.T) {
	if testing.Short() {
		t.Skip("loads every zoo model")
	}
	cases := zooCases(t)
	var specs []ModelSpec
	for _, c := range cases {
		specs = append(specs, ModelSpec{Name: c.name, Version: "1", Path: c.path})
	}
	ts := start(t, Config{Models: specs, Workers: 1})
	values := 0
	for _, c := range cases {
		e, err := ts.lookup(c.name, "")
		if err != nil {
			t.Fatal(err)
		}
		want, err := e.m.RunMulti(c.xs, c.batch)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, w := range want {
			values += len(w)
		}
		// gRPC, raw contents.
		r := &oippb.ModelInferRequest{ModelName: c.name}
		js := map[string]any{}
		var jins []map[string]any
		for k, in := range e.ins {
			dt := datatype(in)
			r.Inputs = append(r.Inputs, &oippb.ModelInferRequest_InferInputTensor{Name: in.Name, Datatype: dt, Shape: oipShape(in.Shape, int64(c.batch))})
			r.RawInputContents = append(r.RawInputContents, appendRaw(nil, c.xs[k]))
			var data any = c.xs[k]
			if dt == "INT32" {
				ids := make([]int32, len(c.xs[k]))
				for i, v := range c.xs[k] {
					ids[i] = int32(math.Float32bits(v))
				}
				data = ids
			}
			jins = append(jins, map[string]any{"name": in.Name, "datatype": dt, "shape": oipShape(in.Shape, int64(c.batch)), "data": data})
		}
		js["inputs"] = jins
		got, err := ts.grpc.ModelInfer(context.Background(), r)
		if err != nil {
			t.Errorf("%s: gRPC: %v", c.name, err)
			continue
		}
		for k := range want {
			if g := rawFloats(got.RawOutputContents[k]); !same(g, want[k]) {
				t.Errorf("%s: gRPC output %d differs from a direct run", c.name, k)
			}
		}
		// REST, JSON.
		body, _ := json.Marshal(js)
		resp, b := post(t, ts.url+"/v2/models/"+c.name+"/infer", body, nil)
		var jr inferResp
		if err := json.Unmarshal(b, &jr); err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: REST: %d %.300s", c.name, resp.StatusCode, b)
			continue
		}
		for k := range want {
			if !same(jr.Outputs[k].Data, want[k]) {
				t.Errorf("%s: REST output %d differs from a direct run", c.name, k)
			}
		}
	}
	t.Logf("%d zoo models, %d output values, served over REST and gRPC", len(cases), values)
}

func same(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
