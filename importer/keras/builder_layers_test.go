package keras

import (
	"errors"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

// TestNewLayerErrors: bad configurations and weights of the Conv2DTranspose,
// UpSampling2D, Cropping and LayerNormalization builders give named errors.
func TestNewLayerErrors(t *testing.T) {
	ct := func(cfg map[string]any, ws ...*array) *tmodel {
		base := map[string]any{"name": "ct", "filters": 2.0, "kernel_size": []any{3.0, 3.0}, "strides": []any{2.0, 2.0}, "padding": "valid"}
		for k, v := range cfg {
			base[k] = v
		}
		return &tmodel{config: seq3("s", input3(4, 4, 3), k3("Conv2DTranspose", base)), weights: []lw{{"ct", ws}}}
	}
	good := []*array{rnd(1, 3, 3, 2, 3), rnd(2, 2)}
	cases := []struct {
		name string
		m    *tmodel
		want error
	}{
		{"convT kernel shape", ct(nil, rnd(1, 3, 3, 3, 2), rnd(2, 2)), layers.ErrShapeMismatch},
		{"convT bias shape", ct(nil, good[0], rnd(2, 3)), layers.ErrShapeMismatch},
		{"convT missing bias", ct(nil, good[0]), layers.ErrShapeMismatch},
		{"convT padding", ct(map[string]any{"padding": "full"}, good...), layers.ErrInvalid},
		{"convT output_padding >= stride", ct(map[string]any{"output_padding": []any{2.0, 0.0}}, good...), layers.ErrInvalid},
		{"convT zero stride", ct(map[string]any{"strides": []any{0.0, 1.0}}, good...), layers.ErrInvalid},
		{"upsampling bicubic", &tmodel{config: seq3("s", input3(4, 4, 3), k3("UpSampling2D", map[string]any{"interpolation": "bicubic"}))}, layers.ErrUnsupported},
		{"upsampling size 0", &tmodel{config: seq3("s", input3(4, 4, 3), k3("UpSampling2D", map[string]any{"size": []any{0.0, 2.0}}))}, layers.ErrInvalid},
		{"upsampling on a sequence", &tmodel{config: seq3("s", input3(4, 3), k3("UpSampling2D", nil))}, layers.ErrShapeMismatch},
		{"cropping too much", &tmodel{config: seq3("s", input3(4, 4, 3), k3("Cropping2D", map[string]any{"cropping": []any{2.0, 0.0}}))}, layers.ErrShapeMismatch},
		{"cropping negative", &tmodel{config: seq3("s", input3(4, 4, 3), k3("Cropping2D", map[string]any{"cropping": -1.0}))}, layers.ErrInvalid},
		{"cropping1d on an image", &tmodel{config: seq3("s", input3(4, 4, 3), k3("Cropping1D", nil))}, layers.ErrShapeMismatch},
		{"layernorm rms_scaling", &tmodel{config: seq3("s", input3(4), k3("LayerNormalization", map[string]any{"name": "ln", "rms_scaling": true})),
			weights: []lw{{"ln", []*array{rnd(1, 4)}}}}, layers.ErrUnsupported},
		{"layernorm gamma shape", &tmodel{config: seq3("s", input3(4), k3("LayerNormalization", map[string]any{"name": "ln"})),
			weights: []lw{{"ln", []*array{rnd(1, 3), rnd(2, 3)}}}}, layers.ErrShapeMismatch},
		{"layernorm axis 0", &tmodel{config: seq3("s", input3(4), k3("LayerNormalization", map[string]any{"name": "ln", "axis": 0.0})),
			weights: []lw{{"ln", []*array{rnd(1, 4), rnd(2, 4)}}}}, layers.ErrInvalid},
		{"prelu alpha rank", &tmodel{config: seq3("s", input3(2, 3), k3("PReLU", map[string]any{"name": "p"})),
			weights: []lw{{"p", []*array{rnd(1, 3)}}}}, layers.ErrShapeMismatch},
	}
	for _, c := range cases {
		if _, err := c.m.load(); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := ct(nil, good...).load(); err != nil {
		t.Errorf("the unbroken Conv2DTranspose: %v", err)
	}
}

// TestDeconvAxis pins the Keras / TensorFlow placement: output length and the crop at
// the start for every padding / output_padding combination (checked against
// Conv2DTranspose fixtures in testdata/keras_layers).
func TestDeconvAxis(t *testing.T) {
	cases := []struct {
		k, s, d, op          int
		same, hasOp          bool
		before, after, extra int
	}{
		{3, 2, 1, 0, false, false, 0, 0, 0},
		{2, 3, 1, 0, false, false, 0, 0, 1}, // in*s: one cell past the scatter
		{3, 2, 1, 1, false, true, 0, 0, 1},
		{3, 2, 1, 0, true, false, 0, 1, 0}, // excess 1: after
		{4, 2, 1, 0, true, false, 1, 1, 0},
		{1, 3, 1, 0, true, false, 0, 0, 2},
		{3, 2, 1, 1, true, true, 0, 1, 0}, // 2*(3/2) - 1 = 1
		{2, 2, 1, 1, true, true, 0, 1, 0}, // 2 - 1
	}
	for _, c := range cases {
		b, a, e := deconvAxis(c.k, c.s, c.d, c.same, c.op, c.hasOp)
		if b != c.before || a != c.after || e != c.extra {
			t.Errorf("%+v: got before %d after %d extra %d", c, b, a, e)
		}
	}
}
