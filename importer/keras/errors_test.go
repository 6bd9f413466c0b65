package keras

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

func denseModel(units int, extra map[string]any) map[string]any {
	cfg := map[string]any{"name": "dense_1", "units": units, "activation": "relu", "use_bias": true}
	for k, v := range extra {
		cfg[k] = v
	}
	return seq3("s", input3(784), k3("Dense", cfg))
}

func denseW(in, units int) []lw {
	return []lw{{"dense_1", []*array{arr([]int{in, units}), arr([]int{units})}}}
}

func conv(extra map[string]any) map[string]any {
	cfg := map[string]any{"name": "conv", "filters": 2, "kernel_size": []any{3, 3}, "strides": []any{1, 1},
		"padding": "valid", "data_format": "channels_last", "dilation_rate": []any{1, 1}, "activation": "relu", "use_bias": true}
	for k, v := range extra {
		cfg[k] = v
	}
	return seq3("s", input3(8, 8, 1), k3("Conv2D", cfg))
}

var convW = []lw{{"conv", []*array{arr([]int{3, 3, 1, 2}), arr([]int{2})}}}

func TestErrors(t *testing.T) {
	good := &tmodel{config: denseModel(64, nil), weights: denseW(784, 64)}
	if _, err := good.load(); err != nil {
		t.Fatalf("good model: %v", err)
	}
	withMeta := func(edit func(map[string]any)) *tmodel {
		return &tmodel{config: denseModel(64, nil), weights: denseW(784, 64), metaEdit: edit}
	}
	cases := []struct {
		name string
		tm   *tmodel
		raw  []byte
		kind error
		msg  []string // substrings the message must contain
	}{
		// ---- bad files
		{name: "not a zip", raw: []byte("hello, world"), kind: layers.ErrBadFile, msg: []string{"test.npz", "zip"}},
		{name: "empty", raw: []byte{}, kind: layers.ErrBadFile},
		{name: "no meta", raw: zipOf(map[string][]byte{"x.npy": npyBytes(arr([]int{1}))}), kind: layers.ErrBadFile, msg: []string{"kinfer_meta"}},
		{name: "no weights for layer", tm: &tmodel{config: denseModel(64, nil)}, kind: layers.ErrBadFile, msg: []string{`"dense_1"`, "no weights"}},
		{name: "wrong format", tm: withMeta(func(m map[string]any) { m["format"] = "other" }), kind: layers.ErrBadFile, msg: []string{"format"}},
		{name: "newer version", tm: withMeta(func(m map[string]any) { m["version"] = 3 }), kind: layers.ErrUnsupported, msg: []string{"version 3"}},
		{name: "no model config", tm: withMeta(func(m map[string]any) { delete(m, "model_config") }), kind: layers.ErrBadFile},
		{name: "weights index wrong type", tm: withMeta(func(m map[string]any) { m["weights"] = 7 }), kind: layers.ErrBadFile},
		{name: "missing member", tm: withMeta(func(m map[string]any) { m["weights"] = map[string]any{"dense_1": []any{"w/nope/0", "w/nope/1"}} }),
			kind: layers.ErrBadFile, msg: []string{"w/nope/0.npy"}},
		{name: "unused weights", tm: &tmodel{config: denseModel(64, nil), weights: append(denseW(784, 64), lw{"ghost", []*array{arr([]int{1})}})},
			kind: layers.ErrBadFile, msg: []string{"ghost"}},
		{name: "float64 weight", tm: &tmodel{config: denseModel(1, nil), weights: denseW(784, 1)[:0],
			raw: map[string][]byte{
				"w/dense_1/0.npy": npyRaw("{'descr': '<f8', 'fortran_order': False, 'shape': (784, 1), }", make([]byte, 784*8)),
				"w/dense_1/1.npy": npyBytes(arr([]int{1}))},
			metaEdit: func(m map[string]any) { m["weights"] = map[string]any{"dense_1": []any{"w/dense_1/0", "w/dense_1/1"}} }},
			kind: layers.ErrBadFile, msg: []string{"<f8", "w/dense_1/0.npy"}},
		{name: "payload short", tm: &tmodel{config: denseModel(1, nil),
			raw: map[string][]byte{
				"w/dense_1/0.npy": npyRaw("{'descr': '<f4', 'fortran_order': False, 'shape': (784, 1), }", make([]byte, 784*4-4)),
				"w/dense_1/1.npy": npyBytes(arr([]int{1}))},
			metaEdit: func(m map[string]any) { m["weights"] = map[string]any{"dense_1": []any{"w/dense_1/0", "w/dense_1/1"}} }},
			kind: layers.ErrBadFile, msg: []string{"bytes"}},
		{name: "huge header", tm: &tmodel{config: denseModel(1, nil),
			raw: map[string][]byte{
				"w/dense_1/0.npy": npyRaw("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1), }", make([]byte, 16)),
				"w/dense_1/1.npy": npyBytes(arr([]int{1}))},
			metaEdit: func(m map[string]any) { m["weights"] = map[string]any{"dense_1": []any{"w/dense_1/0", "w/dense_1/1"}} }},
			kind: layers.ErrBadFile},
		{name: "meta not uint8", raw: zipOf(map[string][]byte{"kinfer_meta.npy": npyBytes(arr([]int{3}, 1, 2, 3))}),
			kind: layers.ErrBadFile, msg: []string{"kinfer_meta", "uint8"}},
		{name: "meta not JSON", raw: zipOf(map[string][]byte{"kinfer_meta.npy": metaMember([]byte("{nope"))}),
			kind: layers.ErrBadFile, msg: []string{"kinfer_meta"}},
		{name: "bad npy magic", raw: zipOf(map[string][]byte{"kinfer_meta.npy": []byte("NOTNUMPY and more bytes")}),
			kind: layers.ErrBadFile, msg: []string{"kinfer_meta.npy"}},
		// ---- unsupported
		{name: "unknown class", tm: &tmodel{config: seq3("s", input3(4, 3), k3("ConvLSTM1D", map[string]any{"name": "clstm_1", "filters": 2}))},
			kind: layers.ErrUnsupported, msg: []string{`"clstm_1"`, "ConvLSTM1D"}},
		{name: "custom layer", tm: &tmodel{config: seq3("s", input3(3), map[string]any{"module": "mylib", "class_name": "Dense",
			"config": map[string]any{"name": "mine", "units": 2}, "registered_name": "Custom>Dense"})}, kind: layers.ErrUnsupported, msg: []string{"Custom>Dense"}},
		{name: "mish", tm: &tmodel{config: denseModel(64, map[string]any{"activation": "mish"}), weights: denseW(784, 64)},
			kind: layers.ErrUnsupported, msg: []string{`"dense_1"`, "mish"}},
		{name: "subclassed model", tm: &tmodel{config: map[string]any{"class_name": "MyModel", "config": map[string]any{}}}, kind: layers.ErrUnsupported},
		{name: "no input shape", tm: &tmodel{config: seq3("s", k3("Dense", map[string]any{"name": "d", "units": 2}))}, kind: layers.ErrUnsupported, msg: []string{"input shape"}},
		{name: "merge_mode None", tm: &tmodel{config: seq3("s", input3(4, 3), k3("Bidirectional", map[string]any{"name": "bi", "merge_mode": nil,
			"layer": lstmLayer("l", 2, nil)}))}, kind: layers.ErrUnsupported, msg: []string{"merge_mode"}},
		{name: "quantized policy", tm: &tmodel{config: denseModel(64, map[string]any{"dtype": map[string]any{"module": "keras",
			"class_name": "QuantizedDTypePolicy", "config": map[string]any{"name": "int4_from_float32"}}}), weights: denseW(784, 64)},
			kind: layers.ErrUnsupported},
		{name: "BN renorm", tm: &tmodel{config: seq3("s", input3(3), k2("BatchNormalization", map[string]any{"name": "bn", "renorm": true}))},
			kind: layers.ErrUnsupported, msg: []string{"renorm"}},
		// ---- shape mismatch
		{name: "kernel shape", tm: &tmodel{config: denseModel(64, nil), weights: denseW(784, 128)},
			kind: layers.ErrShapeMismatch, msg: []string{`test.npz: layer "dense_1" (Dense): kernel is 784x128, config needs 784x64`}},
		{name: "bias count", tm: &tmodel{config: denseModel(64, map[string]any{"use_bias": false}), weights: denseW(784, 64)},
			kind: layers.ErrShapeMismatch, msg: []string{"2 weight arrays"}},
		{name: "conv kernel", tm: &tmodel{config: conv(map[string]any{"filters": 3}), weights: convW},
			kind: layers.ErrShapeMismatch, msg: []string{"kernel is 3x3x1x2, config needs 3x3x1x3"}},
		{name: "conv on vector", tm: &tmodel{config: seq3("s", input3(5), k3("Conv2D", map[string]any{"name": "conv", "filters": 2, "kernel_size": 3}))},
			kind: layers.ErrShapeMismatch},
		{name: "window larger than input", tm: &tmodel{config: conv(map[string]any{"kernel_size": []any{9, 9}}), weights: []lw{{"conv", []*array{arr([]int{9, 9, 1, 2}), arr([]int{2})}}}},
			kind: layers.ErrShapeMismatch},
		{name: "reshape size", tm: &tmodel{config: seq3("s", input3(6), k3("Reshape", map[string]any{"name": "r", "target_shape": []any{4, 2}}))},
			kind: layers.ErrShapeMismatch},
		{name: "samples/x shape", tm: &tmodel{config: denseModel(64, nil), weights: denseW(784, 64), x: arr([]int{2, 10})},
			kind: layers.ErrShapeMismatch, msg: []string{"samples/x"}},
		// ---- invalid configuration
		{name: "zero strides", tm: &tmodel{config: conv(map[string]any{"strides": []any{0, 1}}), weights: convW}, kind: layers.ErrInvalid, msg: []string{`"conv"`}},
		{name: "padding name", tm: &tmodel{config: conv(map[string]any{"padding": "full"}), weights: convW}, kind: layers.ErrInvalid, msg: []string{"full"}},
		{name: "data_format", tm: &tmodel{config: conv(map[string]any{"data_format": "nchw"}), weights: convW}, kind: layers.ErrInvalid},
		{name: "units string", tm: &tmodel{config: denseModel(64, map[string]any{"units": "many"}), weights: denseW(784, 64)}, kind: layers.ErrInvalid, msg: []string{"units"}},
		{name: "units zero", tm: &tmodel{config: denseModel(0, nil), weights: denseW(784, 64)}, kind: layers.ErrInvalid},
		{name: "permute dims", tm: &tmodel{config: seq3("s", input3(2, 3), k3("Permute", map[string]any{"name": "p", "dims": []any{0, 1}}))}, kind: layers.ErrInvalid},
		{name: "negative input dim", tm: &tmodel{config: seq3("s", k3("InputLayer", map[string]any{"batch_shape": []any{nil, -3}}), k3("Dense", map[string]any{"name": "d", "units": 1}))},
			kind: layers.ErrInvalid},
		{name: "softmax axis", tm: &tmodel{config: seq3("s", input3(3), k3("Softmax", map[string]any{"name": "sm", "axis": 5}))}, kind: layers.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.tm != nil {
				_, err = c.tm.load()
			} else {
				_, err = Read(bytes.NewReader(c.raw), int64(len(c.raw)), "test.npz")
			}
			if !errors.Is(err, c.kind) {
				t.Fatalf("err = %v, want %v", err, c.kind)
			}
			if !strings.HasPrefix(err.Error(), "test.npz: ") {
				t.Errorf("message %q does not start with the file name", err)
			}
			for _, s := range c.msg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q does not contain %q", err, s)
				}
			}
		})
	}
}
