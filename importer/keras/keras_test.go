package keras

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

func TestDense(t *testing.T) {
	tm := &tmodel{
		config: seq3("mlp", input3(2),
			k3("Dense", map[string]any{"name": "d", "units": 3, "activation": "relu", "use_bias": true})),
		weights: []lw{{"d", []*array{arr([]int{2, 3}, 1, 2, 3, -4, 5, -6), arr([]int{3}, 0.5, 0, -10)}}},
	}
	m := tm.mustLoad(t)
	got := run(t, m, []float32{1, 2})
	// x W + b = [1-8+0.5, 2+10, 3-12-10] = [-6.5, 12, -19] -> relu
	near(t, "dense", got, []float32{0, 12, 0}, 0)
	if m.KerasVersion != "3.6.0" || m.Source != "test.keras" || m.Graph.Meta("model_name") != "mlp" {
		t.Errorf("meta: %q %q %q", m.KerasVersion, m.Source, m.Graph.Meta("model_name"))
	}

	// rank-3 input, no bias: acts on the last axis
	tm = &tmodel{
		config:  seq3("r3", input3(2, 2), k3("Dense", map[string]any{"name": "d", "units": 1, "use_bias": false})),
		weights: []lw{{"d", []*array{arr([]int{2, 1}, 1, 10)}}},
	}
	m = tm.mustLoad(t)
	near(t, "dense rank 3", run(t, m, []float32{1, 2, 3, 4}), []float32{21, 43}, 0)
}

func TestKeras2Configs(t *testing.T) {
	dense := func(cfg map[string]any) map[string]any {
		cfg["units"], cfg["activation"], cfg["use_bias"] = 2, "linear", true
		return k2("Dense", cfg)
	}
	w := []lw{{"d", []*array{arr([]int{3, 2}, 1, 0, 0, 1, 1, 1), arr([]int{2}, 0, 100)}}}
	want := []float32{4, 105}
	x := []float32{1, 2, 3}
	for name, cfg := range map[string]any{
		"batch_input_shape on first layer": map[string]any{"class_name": "Sequential", "config": map[string]any{"name": "s",
			"layers": []any{dense(map[string]any{"name": "d", "batch_input_shape": []any{nil, 3}})}}},
		"InputLayer batch_input_shape": map[string]any{"class_name": "Sequential", "config": map[string]any{"name": "s",
			"layers": []any{k2("InputLayer", map[string]any{"batch_input_shape": []any{nil, 3}}), dense(map[string]any{"name": "d"})}}},
		"Keras 2.0 config as a bare list": map[string]any{"class_name": "Sequential",
			"config": []any{dense(map[string]any{"name": "d", "batch_input_shape": []any{nil, 3}})}},
		"bare list of layers": []any{dense(map[string]any{"name": "d", "batch_input_shape": []any{nil, 3}})},
		"Keras 3 build_config": map[string]any{"module": "keras", "class_name": "Sequential",
			"config":       map[string]any{"name": "s", "layers": []any{k3("Dense", map[string]any{"name": "d", "units": 2})}},
			"build_config": map[string]any{"input_shape": []any{nil, 3}}},
	} {
		t.Run(name, func(t *testing.T) {
			m := (&tmodel{kerasVersion: "2.15.0", config: cfg, weights: w}).mustLoad(t)
			near(t, name, run(t, m, x), want, 0)
		})
	}
}

func TestActivations(t *testing.T) {
	cases := []struct {
		v     any
		major int
		want  layers.Activation
	}{
		{"relu", 3, layers.ActReLU},
		{"relu6", 3, layers.ActReLU6},
		{"linear", 3, layers.ActLinear},
		{nil, 3, layers.ActLinear},
		{"hard_sigmoid", 2, layers.Activation{Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}},
		{"hard_sigmoid", 3, layers.Activation{Kind: layers.HardSigmoid, Alpha: 1.0 / 6, Beta: 0.5}},
		{"gelu", 3, layers.Activation{Kind: layers.Gelu}},
		{"swish", 3, layers.Activation{Kind: layers.Swish}},
		{"silu", 3, layers.Activation{Kind: layers.Swish}},
		{"leaky_relu", 3, layers.LeakyReLU(0.2)},
		{"hard_silu", 3, layers.Activation{Kind: layers.HardSwish}},
		{"elu", 3, layers.Activation{Kind: layers.Elu, Alpha: 1}},
		{"log_softmax", 3, layers.Activation{Kind: layers.LogSoftmax}},
		{map[string]any{"module": "keras.activations", "class_name": "function", "config": "tanh", "registered_name": "tanh"}, 3, layers.Activation{Kind: layers.Tanh}},
	}
	for _, c := range cases {
		got, err := activation(c.v, c.major)
		if err != nil || got != c.want {
			t.Errorf("activation(%v, keras %d) = %v, %v; want %v", c.v, c.major, got, err, c.want)
		}
	}
	for _, bad := range []any{"mish", "nosuch", map[string]any{"module": "mymodule", "class_name": "function", "config": "f"}} {
		if _, err := activation(bad, 3); !errors.Is(err, layers.ErrUnsupported) {
			t.Errorf("activation(%v): err = %v, want ErrUnsupported", bad, err)
		}
	}
}

func TestActivationLayers(t *testing.T) {
	x := []float32{-2, -0.5, 0.5, 3, 8}
	inf := float32(math.Inf(1))
	cases := []struct {
		layer map[string]any
		want  []float32
	}{
		{k3("ReLU", map[string]any{"max_value": 6.0, "negative_slope": 0.1, "threshold": 0.0}), []float32{-0.2, -0.05, 0.5, 3, 6}},
		{k3("ReLU", map[string]any{"max_value": nil, "negative_slope": 0.0, "threshold": 1.0}), []float32{0, 0, 0, 3, 8}},
		{k3("LeakyReLU", map[string]any{"negative_slope": 0.5}), []float32{-1, -0.25, 0.5, 3, 8}},
		{k2("LeakyReLU", map[string]any{"alpha": 0.5}), []float32{-1, -0.25, 0.5, 3, 8}},
		{k3("LeakyReLU", map[string]any{}), []float32{-0.6, -0.15, 0.5, 3, 8}}, // default 0.3
		{k3("Activation", map[string]any{"activation": "relu6"}), []float32{0, 0, 0.5, 3, 6}},
		{k3("Dropout", map[string]any{"rate": 0.5}), x},
		{k3("GaussianNoise", map[string]any{"stddev": 1.0}), x},
		{k3("RandomFlip", map[string]any{"mode": "horizontal"}), x},
	}
	_ = inf
	for _, c := range cases {
		c.layer["config"].(map[string]any)["name"] = "a"
		m := (&tmodel{config: seq3("s", input3(5), c.layer)}).mustLoad(t)
		near(t, c.layer["class_name"].(string), run(t, m, x), c.want, 1e-6)
	}
	// ELU layer alpha
	m := (&tmodel{config: seq3("s", input3(2), k3("ELU", map[string]any{"alpha": 2.0}))}).mustLoad(t)
	near(t, "ELU", run(t, m, []float32{-1, 1}), []float32{float32(2 * math.Expm1(-1)), 1}, 1e-6)
	// Softmax layer on axis 1 of a (2, 3) input: over the first non-batch axis
	m = (&tmodel{config: seq3("s", input3(2, 3), k3("Softmax", map[string]any{"axis": 1}))}).mustLoad(t)
	got := run(t, m, []float32{0, 0, 1, 0, 1, 1})
	e := float32(1 / (1 + math.E))
	near(t, "Softmax axis 1", got, []float32{0.5, e, 0.5, 0.5, 1 - e, 0.5}, 1e-6)
}

func TestBatchNormalization(t *testing.T) {
	mean, variance := arr([]int{2}, 1, -1), arr([]int{2}, 3, 0.25)
	gamma, beta := arr([]int{2}, 2, 4), arr([]int{2}, 10, 20)
	x := []float32{3, 1}
	eps := 1e-3
	inv0, inv1 := 1/math.Sqrt(3+eps), 1/math.Sqrt(0.25+eps)
	cases := []struct {
		center, scale bool
		ws            []*array
		want          []float32
	}{
		{true, true, []*array{gamma, beta, mean, variance}, []float32{float32(2*2*inv0 + 10), float32(2*4*inv1 + 20)}},
		{false, true, []*array{gamma, mean, variance}, []float32{float32(2 * 2 * inv0), float32(2 * 4 * inv1)}},
		{true, false, []*array{beta, mean, variance}, []float32{float32(2*inv0 + 10), float32(2*inv1 + 20)}},
		{false, false, []*array{mean, variance}, []float32{float32(2 * inv0), float32(2 * inv1)}},
	}
	for _, c := range cases {
		tm := &tmodel{config: seq3("s", input3(2), k3("BatchNormalization", map[string]any{"name": "bn", "axis": -1,
			"momentum": 0.99, "epsilon": eps, "center": c.center, "scale": c.scale})),
			weights: []lw{{"bn", c.ws}}}
		m := tm.mustLoad(t)
		near(t, "bn", run(t, m, x), c.want, 1e-6)
		if p := m.Graph.Params(); p != int64(2*len(c.ws)) {
			t.Errorf("params = %d, want %d", p, 2*len(c.ws))
		}
	}
}

func TestDepthwise(t *testing.T) {
	// 1x1 depthwise, 2 channels, multiplier 2: out[c*2+m] = x[c]*k[c][m] + b
	tm := &tmodel{config: seq3("s", input3(1, 1, 2), k3("DepthwiseConv2D", map[string]any{"name": "dw",
		"kernel_size": []any{1, 1}, "strides": []any{1, 1}, "padding": "valid", "depth_multiplier": 2,
		"data_format": "channels_last", "dilation_rate": []any{1, 1}, "activation": "linear", "use_bias": true})),
		weights: []lw{{"dw", []*array{arr([]int{1, 1, 2, 2}, 1, 2, 3, 4), arr([]int{4}, 0, 0, 0, 100)}}}}
	m := tm.mustLoad(t)
	near(t, "depthwise", run(t, m, []float32{10, 1}), []float32{10, 20, 3, 104}, 0)
}

// convStack returns Keras 3 layers for an image stack in the given data format.
func convStack(df string, bnAxis int, flatten string) []any {
	ls := []any{
		k3("Conv2D", map[string]any{"name": "c1", "filters": 3, "kernel_size": []any{3, 3}, "strides": []any{1, 1},
			"padding": "same", "data_format": df, "dilation_rate": []any{1, 1}, "groups": 1, "activation": "tanh", "use_bias": true}),
		k3("BatchNormalization", map[string]any{"name": "bn", "axis": bnAxis, "epsilon": 0.001, "center": true, "scale": true}),
		k3("ZeroPadding2D", map[string]any{"name": "zp", "padding": []any{[]any{1, 0}, []any{0, 2}}, "data_format": df}),
		k3("MaxPooling2D", map[string]any{"name": "mp", "pool_size": []any{2, 2}, "strides": nil, "padding": "same", "data_format": df}),
		k3("DepthwiseConv2D", map[string]any{"name": "dw", "kernel_size": []any{2, 2}, "strides": []any{1, 1}, "padding": "valid",
			"depth_multiplier": 2, "data_format": df, "dilation_rate": []any{1, 1}, "activation": "relu", "use_bias": true}),
	}
	if flatten != "" {
		ls = append(ls, k3("Flatten", map[string]any{"name": "fl", "data_format": flatten}),
			k3("Dense", map[string]any{"name": "d", "units": 4, "activation": "linear", "use_bias": true}))
	}
	return ls
}

func convWeights(denseKernel *array) []lw {
	ws := []lw{
		{"c1", []*array{rnd(1, 3, 3, 2, 3), rnd(2, 3)}},
		{"bn", []*array{rnd(3, 3), rnd(4, 3), rnd(5, 3), arr([]int{3}, 0.5, 1, 2)}},
		{"dw", []*array{rnd(6, 2, 2, 3, 2), rnd(7, 6)}},
	}
	if denseKernel != nil {
		ws = append(ws, lw{"d", []*array{denseKernel, rnd(9, 4)}})
	}
	return ws
}

// TestChannelsFirst checks channels_first models against the same model in
// channels_last: the runtime is NHWC, and Keras transposes channels_first tensors
// to channels_last before Flatten when Flatten's data_format is channels_first.
func TestChannelsFirst(t *testing.T) {
	const H, W, C = 5, 6, 2
	xcl := rnd(11, H, W, C).Data
	xcf := transpose(xcl, []int{H, W, C}, []int{2, 0, 1})
	// after conv (5,6,3) -> pad (6,8,3) -> pool (3,4,3) -> dw (2,3,6): flatten 36
	dk := rnd(8, 36, 4)

	ref := (&tmodel{config: seq3("cl", append([]any{input3(H, W, C)}, convStack("channels_last", -1, "channels_last")...)...),
		weights: convWeights(dk)}).mustLoad(t)
	want := run(t, ref, xcl)

	// Flatten(channels_first) flattens in (H, W, C) order: same Dense weights.
	cf := (&tmodel{config: seq3("cf", append([]any{input3(C, H, W)}, convStack("channels_first", 1, "channels_first")...)...),
		weights: convWeights(dk)}).mustLoad(t)
	near(t, "channels_first, Flatten channels_first", run(t, cf, xcf), want, 1e-5)

	// Flatten(channels_last) after channels_first layers flattens (C, H, W): permute
	// the Dense rows to match.
	rows := transpose(dk.Data, []int{2, 3, 6, 4}, []int{2, 0, 1, 3}) // (h,w,c,u) -> (c,h,w,u)
	cfl := (&tmodel{config: seq3("cfl", append([]any{input3(C, H, W)}, convStack("channels_first", 1, "channels_last")...)...),
		weights: convWeights(arr([]int{36, 4}, rows...))}).mustLoad(t)
	near(t, "channels_first, Flatten channels_last", run(t, cfl, xcf), want, 1e-5)

	// Spatial output stays channels_first at the graph's boundary.
	refS := (&tmodel{config: seq3("cls", append([]any{input3(H, W, C)}, convStack("channels_last", -1, "")...)...),
		weights: convWeights(nil)}).mustLoad(t)
	cfS := (&tmodel{config: seq3("cfs", append([]any{input3(C, H, W)}, convStack("channels_first", 1, "")...)...),
		weights: convWeights(nil)}).mustLoad(t)
	if got := cfS.Graph.Output(); !got.Equal(layers.Shape{6, 2, 3}) {
		t.Fatalf("channels_first output shape %v, want (6, 2, 3)", got)
	}
	near(t, "channels_first spatial output", run(t, cfS, xcf), transpose(run(t, refS, xcl), []int{2, 3, 6}, []int{2, 0, 1}), 1e-5)
	if n := countClass(cfS.Graph, "Permute"); n != 2 {
		t.Errorf("channels_first graph has %d Permutes, want 2 (in and out)", n)
	}

	// Conv2D(channels_first, activation=softmax) normalizes over the logical last
	// axis (W), not over the filters.
	smCF := (&tmodel{config: seq3("sm", input3(C, H, W), k3("Conv2D", map[string]any{"name": "c1", "filters": 3,
		"kernel_size": []any{3, 3}, "padding": "same", "data_format": "channels_first", "activation": "softmax"})),
		weights: convWeights(nil)[:1]}).mustLoad(t)
	smRef := (&tmodel{config: seq3("smr", input3(H, W, C), k3("Conv2D", map[string]any{"name": "c1", "filters": 3,
		"kernel_size": []any{3, 3}, "padding": "same", "activation": "linear"}),
		k3("Permute", map[string]any{"name": "p", "dims": []any{3, 1, 2}}),
		k3("Softmax", map[string]any{"name": "s"})),
		weights: convWeights(nil)[:1]}).mustLoad(t)
	near(t, "channels_first softmax", run(t, smCF, xcf), run(t, smRef, xcl), 1e-6)

	// GlobalAveragePooling2D(channels_first) gives (C) directly.
	gp := (&tmodel{config: seq3("gp", input3(C, H, W), k3("GlobalAveragePooling2D", map[string]any{"name": "g", "data_format": "channels_first", "keepdims": false}))}).mustLoad(t)
	gpr := (&tmodel{config: seq3("gpr", input3(H, W, C), k3("GlobalAveragePooling2D", map[string]any{"name": "g", "keepdims": false}))}).mustLoad(t)
	near(t, "global pool channels_first", run(t, gp, xcf), run(t, gpr, xcl), 1e-6)
}

func countClass(g *layers.Graph, class string) int {
	n := 0
	for i := 0; i < g.Len(); i++ {
		if g.Layer(i).LayerInfo().Class == class {
			n++
		}
	}
	return n
}

func TestReshapePermute(t *testing.T) {
	m := (&tmodel{config: seq3("s", input3(2, 3),
		k3("Permute", map[string]any{"name": "p", "dims": []any{2, 1}}),
		k3("Reshape", map[string]any{"name": "r", "target_shape": []any{-1, 2}}),
		k3("Flatten", map[string]any{"name": "f"}))}).mustLoad(t)
	if got := m.Graph.Output(); !got.Equal(layers.Shape{6}) {
		t.Fatalf("output %v", got)
	}
	near(t, "permute", run(t, m, []float32{0, 1, 2, 3, 4, 5}), []float32{0, 3, 1, 4, 2, 5}, 0)
}

func TestRescaling(t *testing.T) {
	m := (&tmodel{config: seq3("s", input3(1, 2), k3("Rescaling", map[string]any{"name": "r", "scale": []any{2.0, 3.0}, "offset": 1.0}))}).mustLoad(t)
	near(t, "rescaling", run(t, m, []float32{1, 1}), []float32{3, 4}, 0)
	if p := m.Graph.Params(); p != 0 {
		t.Errorf("Rescaling params = %d, want 0", p)
	}
}

func lstmLayer(name string, units int, extra map[string]any) map[string]any {
	cfg := map[string]any{"name": name, "units": units, "activation": "tanh", "recurrent_activation": "sigmoid",
		"use_bias": true, "return_sequences": false, "go_backwards": false, "stateful": false, "unroll": false}
	for k, v := range extra {
		cfg[k] = v
	}
	return k3("LSTM", cfg)
}

func TestLSTM(t *testing.T) {
	const T, F, U = 4, 3, 2
	ws := func(seed uint64) []*array { return []*array{rnd(seed, F, 4*U), rnd(seed+1, U, 4*U), rnd(seed+2, 4*U)} }
	x := rnd(20, T, F).Data
	fw := (&tmodel{config: seq3("s", input3(T, F), lstmLayer("l", U, map[string]any{"return_sequences": true})),
		weights: []lw{{"l", ws(1)}}}).mustLoad(t)
	bw := (&tmodel{config: seq3("s", input3(T, F), lstmLayer("l", U, map[string]any{"return_sequences": true, "go_backwards": true})),
		weights: []lw{{"l", ws(4)}}}).mustLoad(t)
	bi := (&tmodel{config: seq3("s", input3(T, F), k3("Bidirectional", map[string]any{"name": "bi", "merge_mode": "concat",
		"layer": lstmLayer("l", U, map[string]any{"return_sequences": true})})),
		weights: []lw{{"bi", append(ws(1), ws(4)...)}}}).mustLoad(t)
	f, b, got := run(t, fw, x), run(t, bw, x), run(t, bi, x)
	if !bi.Graph.Output().Equal(layers.Shape{T, 2 * U}) {
		t.Fatalf("bidirectional output %v", bi.Graph.Output())
	}
	// Keras: backward outputs are reversed back to time order, then concatenated.
	var want []float32
	for s := 0; s < T; s++ {
		want = append(want, f[s*U:(s+1)*U]...)
		want = append(want, b[(T-1-s)*U:(T-s)*U]...)
	}
	near(t, "bidirectional concat", got, want, 1e-6)

	for _, opt := range []string{"return_state", "time_major"} {
		_, err := (&tmodel{config: seq3("s", input3(T, F), lstmLayer("l", U, map[string]any{opt: true})),
			weights: []lw{{"l", ws(1)}}}).load()
		if !errors.Is(err, layers.ErrUnsupported) || !strings.Contains(err.Error(), opt) {
			t.Errorf("LSTM %s: err = %v, want ErrUnsupported naming it", opt, err)
		}
	}
	_, err := (&tmodel{config: seq3("s", input3(T, F), k3("Bidirectional", map[string]any{"name": "bi", "merge_mode": nil,
		"layer": lstmLayer("l", U, nil)})), weights: []lw{{"bi", append(ws(1), ws(4)...)}}}).load()
	if !errors.Is(err, layers.ErrUnsupported) {
		t.Errorf("merge_mode None: err = %v, want ErrUnsupported", err)
	}
}

func TestNestedAndFunctional(t *testing.T) {
	inner := seq3("inner", input3(3), k3("Dense", map[string]any{"name": "d", "units": 2}))
	w := []*array{arr([]int{3, 2}, 1, 0, 0, 1, 1, 1), arr([]int{2}, 0, 100)}
	m := (&tmodel{config: seq3("outer", input3(3), inner, k3("Activation", map[string]any{"name": "a", "activation": "relu"})),
		weights: []lw{{"inner/d", w}}}).mustLoad(t)
	near(t, "nested", run(t, m, []float32{1, 2, 3}), []float32{4, 105}, 0)

	// Keras 3 Functional chain.
	kt := func(name string) map[string]any {
		return map[string]any{"class_name": "__keras_tensor__", "config": map[string]any{"shape": []any{nil, 3}, "dtype": "float32", "keras_history": []any{name, 0, 0}}}
	}
	in := input3(3)
	in["inbound_nodes"] = []any{}
	d := k3("Dense", map[string]any{"name": "d", "units": 2})
	d["inbound_nodes"] = []any{map[string]any{"args": []any{kt("input_layer")}, "kwargs": map[string]any{}}}
	fn := map[string]any{"module": "keras", "class_name": "Functional", "config": map[string]any{"name": "fn",
		"layers": []any{in, d}, "input_layers": []any{"input_layer", 0, 0}, "output_layers": []any{"d", 0, 0}}}
	m = (&tmodel{config: fn, weights: []lw{{"d", w}}}).mustLoad(t)
	near(t, "functional", run(t, m, []float32{1, 2, 3}), []float32{4, 105}, 0)
	if !m.Graph.IsChain() {
		t.Error("a single-chain Functional model should import as a chain")
	}
	// Branching: two layers read the input; both are outputs.
	d2 := k3("Dense", map[string]any{"name": "d2", "units": 2, "activation": "relu"})
	d2["inbound_nodes"] = d["inbound_nodes"]
	fn["config"].(map[string]any)["layers"] = []any{in, d, d2}
	fn["config"].(map[string]any)["output_layers"] = []any{[]any{"d2", 0, 0}, []any{"d", 0, 0}}
	m = (&tmodel{config: fn, weights: []lw{{"d", w}, {"d2", w}}}).mustLoad(t)
	ys, err := m.Graph.ReferenceN([][]float32{{-5, 1, 1}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "branch d2", ys[0], []float32{0, 102}, 0)
	near(t, "branch d", ys[1], []float32{-4, 102}, 0)
	if outs := m.Graph.Outputs(); len(outs) != 2 || outs[0].Name != "d2" || outs[1].Name != "d" {
		t.Errorf("outputs %v", outs)
	}
	// A layer reading a layer the model does not have.
	d2["inbound_nodes"] = []any{map[string]any{"args": []any{kt("nope")}, "kwargs": map[string]any{}}}
	if _, err := (&tmodel{config: fn, weights: []lw{{"d", w}, {"d2", w}}}).load(); !errors.Is(err, layers.ErrBadFile) || !strings.Contains(err.Error(), `"d2"`) {
		t.Errorf("missing producer: err = %v, want ErrBadFile naming d2", err)
	}
	// An output that is the model's input gets a node of its own.
	fn["config"].(map[string]any)["output_layers"] = []any{[]any{"input_layer", 0, 0}, []any{"d", 0, 0}}
	fn["config"].(map[string]any)["layers"] = []any{in, d}
	m = (&tmodel{config: fn, weights: []lw{{"d", w}}}).mustLoad(t)
	if ys, err = m.Graph.ReferenceN([][]float32{{-5, 1, 1}}, 1); err != nil {
		t.Fatal(err)
	}
	near(t, "input as output", ys[0], []float32{-5, 1, 1}, 0)
	near(t, "d next to it", ys[1], []float32{-4, 102}, 0)
	fn["config"].(map[string]any)["layers"] = []any{in, d, d2}
	// Dict inputs are not supported.
	fn["config"].(map[string]any)["input_layers"] = map[string]any{"x": []any{"input_layer", 0, 0}}
	if _, err := (&tmodel{config: fn, weights: []lw{{"d", w}}}).load(); !errors.Is(err, layers.ErrUnsupported) {
		t.Errorf("dict inputs: err = %v, want ErrUnsupported", err)
	}
	fn["config"].(map[string]any)["input_layers"] = []any{"input_layer", 0, 0}
	// A cycle: d reads d2, d2 reads d.
	d2["inbound_nodes"] = []any{map[string]any{"args": []any{kt("d")}, "kwargs": map[string]any{}}}
	d["inbound_nodes"] = []any{map[string]any{"args": []any{kt("d2")}, "kwargs": map[string]any{}}}
	if _, err := (&tmodel{config: fn, weights: []lw{{"d", w}, {"d2", w}}}).load(); !errors.Is(err, layers.ErrBadFile) || !strings.Contains(err.Error(), "never computed") {
		t.Errorf("cycle: err = %v, want ErrBadFile (never computed)", err)
	}
}

func TestSamplesAndUnknownDims(t *testing.T) {
	x := rnd(1, 2, 4, 3)
	cfg := seq3("s", input3(-1, 3), lstmLayer("l", 2, nil))
	cfg["config"].(map[string]any)["layers"].([]any)[0].(map[string]any)["config"].(map[string]any)["batch_shape"] = []any{nil, nil, 3}
	tm := &tmodel{config: cfg, weights: []lw{{"l", []*array{rnd(2, 3, 8), rnd(3, 2, 8), rnd(4, 8)}}}, x: x}
	m := tm.mustLoad(t)
	if !m.Graph.Input().Equal(layers.Shape{4, 3}) || m.Samples.N != 2 || m.Samples.Y != nil {
		t.Fatalf("input %v samples %+v", m.Graph.Input(), m.Samples)
	}
	tm.x = nil
	if _, err := tm.load(); !errors.Is(err, layers.ErrUnsupported) {
		t.Errorf("unknown time axis without samples: err = %v, want ErrUnsupported", err)
	}
	tm.x, tm.y = x, rnd(5, 2, 3)
	if _, err := tm.load(); !errors.Is(err, layers.ErrShapeMismatch) {
		t.Errorf("samples/y of the wrong shape: err = %v, want ErrShapeMismatch", err)
	}
}

func TestFortranOrder(t *testing.T) {
	// A 2x3 kernel stored column-major.
	payload := new(bytes.Buffer)
	for _, v := range []float32{1, -4, 2, 5, 3, -6} { // columns of [[1,2,3],[-4,5,-6]]
		b := math.Float32bits(v)
		payload.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
	}
	tm := &tmodel{config: seq3("s", input3(2), k3("Dense", map[string]any{"name": "d", "units": 3, "use_bias": false})),
		raw: map[string][]byte{"w/d/0.npy": npyRaw("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", payload.Bytes())},
		metaEdit: func(m map[string]any) {
			m["weights"] = map[string]any{"d": []any{"w/d/0"}}
		}}
	m := tm.mustLoad(t)
	near(t, "fortran", run(t, m, []float32{1, 2}), []float32{-7, 12, -9}, 0)
}

func TestMoreLayers(t *testing.T) {
	// SeparableConv2D = DepthwiseConv2D (no bias) then a 1x1 Conv2D.
	dk, pk, pb := rnd(1, 3, 3, 2, 2), rnd(2, 1, 1, 4, 3), rnd(3, 3)
	x := rnd(4, 5, 5, 2).Data
	sep := (&tmodel{config: seq3("s", input3(5, 5, 2), k3("SeparableConv2D", map[string]any{"name": "sc", "filters": 3,
		"kernel_size": []any{3, 3}, "depth_multiplier": 2, "padding": "same", "activation": "relu", "use_bias": true})),
		weights: []lw{{"sc", []*array{dk, pk, pb}}}}).mustLoad(t)
	two := (&tmodel{config: seq3("s", input3(5, 5, 2),
		k3("DepthwiseConv2D", map[string]any{"name": "dw", "kernel_size": []any{3, 3}, "depth_multiplier": 2, "padding": "same", "use_bias": false}),
		k3("Conv2D", map[string]any{"name": "pw", "filters": 3, "kernel_size": 1, "activation": "relu"})),
		weights: []lw{{"dw", []*array{dk}}, {"pw", []*array{pk, pb}}}}).mustLoad(t)
	near(t, "separable", run(t, sep, x), run(t, two, x), 1e-6)

	// Grouped Conv2D: filters of group g read input channels of group g only.
	m := (&tmodel{config: seq3("s", input3(1, 1, 4), k3("Conv2D", map[string]any{"name": "g", "filters": 4,
		"kernel_size": []any{1, 1}, "groups": 2, "use_bias": false})),
		weights: []lw{{"g", []*array{arr([]int{1, 1, 2, 4}, 1, 0, 10, 0, 0, 1, 0, 10)}}}}).mustLoad(t)
	near(t, "groups", run(t, m, []float32{1, 2, 3, 4}), []float32{1, 2, 30, 40}, 0)

	// TimeDistributed(Dense) is Dense on the last axis.
	dw := []*array{rnd(5, 3, 2), rnd(6, 2)}
	xs := rnd(7, 4, 3).Data
	td := (&tmodel{config: seq3("s", input3(4, 3), k3("TimeDistributed", map[string]any{"name": "td",
		"layer": k3("Dense", map[string]any{"name": "inner", "units": 2, "activation": "tanh"})})),
		weights: []lw{{"td", dw}}}).mustLoad(t)
	d := (&tmodel{config: seq3("s", input3(4, 3), k3("Dense", map[string]any{"name": "d", "units": 2, "activation": "tanh"})),
		weights: []lw{{"d", dw}}}).mustLoad(t)
	near(t, "TimeDistributed", run(t, td, xs), run(t, d, xs), 0)

	// ZeroPadding2D: int, (h, w) and ((t, b), (l, r)).
	for _, c := range []struct {
		pad  any
		want layers.Shape
	}{{1, layers.Shape{3, 3, 1}}, {[]any{1, 2}, layers.Shape{3, 5, 1}}, {[]any{[]any{0, 1}, []any{2, 3}}, layers.Shape{2, 6, 1}}} {
		m := (&tmodel{config: seq3("s", input3(1, 1, 1), k3("ZeroPadding2D", map[string]any{"name": "z", "padding": c.pad}))}).mustLoad(t)
		if got := m.Graph.Output(); !got.Equal(c.want) {
			t.Errorf("ZeroPadding2D(%v): output %v, want %v", c.pad, got, c.want)
		}
	}

	// PReLU with one shared slope is a leaky ReLU; per-element slopes are a PReLU layer,
	// and slopes that do not fit the input are a shape mismatch.
	m = (&tmodel{config: seq3("s", input3(3), k3("PReLU", map[string]any{"name": "p"})),
		weights: []lw{{"p", []*array{arr([]int{3}, 0.25, 0.25, 0.25)}}}}).mustLoad(t)
	near(t, "PReLU", run(t, m, []float32{-4, 0, 4}), []float32{-1, 0, 4}, 0)
	m = (&tmodel{config: seq3("s", input3(3), k3("PReLU", map[string]any{"name": "p"})),
		weights: []lw{{"p", []*array{arr([]int{3}, 0.25, 0.5, 0.25)}}}}).mustLoad(t)
	near(t, "PReLU per-element", run(t, m, []float32{-4, -4, 4}), []float32{-1, -2, 4}, 0)
	_, err := (&tmodel{config: seq3("s", input3(3), k3("PReLU", map[string]any{"name": "p"})),
		weights: []lw{{"p", []*array{arr([]int{2}, 0.25, 0.5)}}}}).load()
	if !errors.Is(err, layers.ErrShapeMismatch) {
		t.Errorf("PReLU with 2 slopes for 3 features: err = %v, want ErrShapeMismatch", err)
	}

	// Augmentation and dropout layers are in the table; ConvLSTM2D is not.
	sup := strings.Join(Supported(), " ")
	for _, c := range []string{"Dense", "RandomFlip", "SpatialDropout2D", "LSTM", "GRU", "SimpleRNN"} {
		if !strings.Contains(sup, c) {
			t.Errorf("Supported() lacks %s", c)
		}
	}
	if strings.Contains(sup, "ConvLSTM2D") {
		t.Error("Supported() lists ConvLSTM2D")
	}
}

func TestNormalization(t *testing.T) {
	x := []float32{1, 2, 3, 4}
	// mean/variance in the config, per last axis
	m := (&tmodel{config: seq3("s", input3(2, 2), k3("Normalization", map[string]any{"name": "n", "axis": []any{-1},
		"mean": []any{1.0, 2.0}, "variance": []any{4.0, 0.25}, "invert": false}))}).mustLoad(t)
	near(t, "normalization", run(t, m, x), []float32{0, 0, 1, 4}, 1e-6)
	// adapted: weights [mean, variance, count]; invert
	m = (&tmodel{config: seq3("s", input3(2, 2), k3("Normalization", map[string]any{"name": "n", "axis": -1, "invert": true})),
		weights: []lw{{"n", []*array{arr([]int{2}, 1, 2), arr([]int{2}, 4, 0.25), arr(nil, 10)}}}}).mustLoad(t)
	near(t, "normalization invert", run(t, m, x), []float32{3, 3, 7, 4}, 1e-6)
	if p := m.Graph.Params(); p != 5 {
		t.Errorf("params = %d, want 5", p)
	}
	// axis=None: one scalar mean and variance
	m = (&tmodel{config: seq3("s", input3(4), k3("Normalization", map[string]any{"name": "n", "axis": nil, "mean": 2.0, "variance": 4.0}))}).mustLoad(t)
	near(t, "normalization scalar", run(t, m, x), []float32{-0.5, 0, 0.5, 1}, 1e-6)
}

func TestOneD(t *testing.T) {
	// causal Conv1D: y_t = k0*x[t-d] + k1*x[t]
	for _, c := range []struct {
		dil  int
		want []float32
	}{{1, []float32{1, 12, 23, 34}}, {2, []float32{1, 2, 13, 24}}} {
		m := (&tmodel{config: seq3("s", input3(4, 1), k3("Conv1D", map[string]any{"name": "c", "filters": 1, "kernel_size": []any{2},
			"strides": []any{1}, "padding": "causal", "dilation_rate": []any{c.dil}, "use_bias": false})),
			weights: []lw{{"c", []*array{arr([]int{2, 1, 1}, 10, 1)}}}}).mustLoad(t)
		near(t, "causal conv1d", run(t, m, []float32{1, 2, 3, 4}), c.want, 0)
	}
	// channels_first 1-D stack equals the channels_last one on transposed input.
	stack := func(df string, act string) []any {
		return []any{
			k3("Conv1D", map[string]any{"name": "c", "filters": 3, "kernel_size": 3, "padding": "same", "data_format": df, "activation": "relu"}),
			k3("MaxPooling1D", map[string]any{"name": "p", "pool_size": 2, "padding": "valid", "data_format": df}),
			k3("Conv1D", map[string]any{"name": "c2", "filters": 2, "kernel_size": 2, "padding": "valid", "data_format": df, "activation": act}),
		}
	}
	ws := []lw{{"c", []*array{rnd(1, 3, 2, 3), rnd(2, 3)}}, {"c2", []*array{rnd(3, 2, 3, 2), rnd(4, 2)}}}
	x := rnd(5, 8, 2).Data
	xcf := transpose(x, []int{8, 2}, []int{1, 0})
	lin := (&tmodel{config: seq3("s", append([]any{input3(8, 2)}, stack("channels_last", "linear")...)...), weights: ws}).mustLoad(t)
	linCF := (&tmodel{config: seq3("s", append([]any{input3(2, 8)}, stack("channels_first", "linear")...)...), weights: ws}).mustLoad(t)
	near(t, "conv1d channels_first", run(t, linCF, xcf), transpose(run(t, lin, x), []int{3, 2}, []int{1, 0}), 1e-6)
	cl := (&tmodel{config: seq3("s", append([]any{input3(8, 2)}, stack("channels_last", "softmax")...)...), weights: ws}).mustLoad(t)
	cf := (&tmodel{config: seq3("s", append([]any{input3(2, 8)}, stack("channels_first", "softmax")...)...), weights: ws}).mustLoad(t)
	if !cl.Graph.Output().Equal(layers.Shape{3, 2}) || !cf.Graph.Output().Equal(layers.Shape{2, 3}) {
		t.Fatalf("outputs %v %v", cl.Graph.Output(), cf.Graph.Output())
	}
	// cf softmax runs over steps, cl over filters: compare the conv stacks without it.
	ycl := run(t, cl, x)
	ycf := run(t, cf, xcf)
	// cl: softmax over the 2 filters of each step; cf: softmax over the 3 steps of
	// each filter. Both come from the same logits: check each normalizes its axis.
	for s := 0; s < 3; s++ {
		if v := ycl[2*s] + ycl[2*s+1]; math.Abs(float64(v)-1) > 1e-6 {
			t.Errorf("cl softmax row %d sums to %g", s, v)
		}
	}
	for f := 0; f < 2; f++ {
		if v := ycf[3*f] + ycf[3*f+1] + ycf[3*f+2]; math.Abs(float64(v)-1) > 1e-6 {
			t.Errorf("cf softmax row %d sums to %g", f, v)
		}
	}
	// Global pooling, keepdims.
	g := (&tmodel{config: seq3("s", input3(3, 2), k3("GlobalAveragePooling1D", map[string]any{"name": "g", "keepdims": true}))}).mustLoad(t)
	if !g.Graph.Output().Equal(layers.Shape{1, 2}) {
		t.Fatalf("GlobalAveragePooling1D keepdims output %v", g.Graph.Output())
	}
	near(t, "global avg 1d", run(t, g, []float32{1, 2, 3, 4, 5, 6}), []float32{3, 4}, 1e-6)
	g = (&tmodel{config: seq3("s", input3(2, 3), k3("GlobalMaxPooling1D", map[string]any{"name": "g", "data_format": "channels_first"}))}).mustLoad(t)
	near(t, "global max 1d cf", run(t, g, []float32{1, 5, 3, 4, 2, 6}), []float32{5, 6}, 0)
}
