package keras

import (
	"errors"
	"strings"
	"testing"

	"github.com/kinfer/kinfer/layers"
)

func conv3d(extra map[string]any) map[string]any {
	cfg := map[string]any{"name": "c3", "filters": 2, "kernel_size": []any{2, 3, 3}, "strides": []any{1, 1, 1},
		"padding": "valid", "data_format": "channels_last", "dilation_rate": []any{1, 1, 1}, "activation": "relu", "use_bias": true}
	for k, v := range extra {
		cfg[k] = v
	}
	return seq3("s", input3(4, 6, 6, 1), k3("Conv3D", cfg))
}

var conv3dW = []lw{{"c3", []*array{arr([]int{2, 3, 3, 1, 2}), arr([]int{2})}}}

// TestConv3DErrors: bad Conv3D / pooling configurations and weights are named errors
// that name the file and layer.
func TestConv3DErrors(t *testing.T) {
	if _, err := (&tmodel{config: conv3d(nil), weights: conv3dW}).load(); err != nil {
		t.Fatalf("good model: %v", err)
	}
	pool := func(class string, cfg map[string]any, in ...int) map[string]any {
		cfg["name"] = "p3"
		return seq3("s", input3(in...), k3(class, cfg))
	}
	cases := []struct {
		name string
		tm   *tmodel
		kind error
		msg  []string
	}{
		{"kernel shape", &tmodel{config: conv3d(map[string]any{"filters": 3}), weights: conv3dW},
			layers.ErrShapeMismatch, []string{`layer "c3" (Conv3D): kernel is 2x3x3x1x2, config needs 2x3x3x1x3`}},
		{"kernel rank", &tmodel{config: conv3d(map[string]any{"kernel_size": []any{3, 3}}), weights: conv3dW},
			layers.ErrInvalid, []string{"kernel_size"}},
		{"groups", &tmodel{config: conv3d(map[string]any{"groups": 2}), weights: conv3dW}, layers.ErrInvalid, []string{"groups"}},
		{"stride and dilation", &tmodel{config: conv3d(map[string]any{"strides": []any{2, 1, 1}, "dilation_rate": []any{2, 1, 1}}), weights: conv3dW},
			layers.ErrInvalid, []string{"dilation"}},
		{"zero stride", &tmodel{config: conv3d(map[string]any{"strides": []any{1, 0, 1}}), weights: conv3dW}, layers.ErrInvalid, nil},
		{"padding", &tmodel{config: conv3d(map[string]any{"padding": "causal"}), weights: conv3dW}, layers.ErrInvalid, []string{"causal"}},
		{"data_format", &tmodel{config: conv3d(map[string]any{"data_format": "ncdhw"}), weights: conv3dW}, layers.ErrInvalid, nil},
		{"window too large", &tmodel{config: conv3d(map[string]any{"kernel_size": []any{5, 3, 3}}),
			weights: []lw{{"c3", []*array{arr([]int{5, 3, 3, 1, 2}), arr([]int{2})}}}}, layers.ErrShapeMismatch, nil},
		{"conv on an image", &tmodel{config: seq3("s", input3(6, 6, 1), k3("Conv3D", map[string]any{"name": "c3", "filters": 2, "kernel_size": 2})),
			weights: []lw{{"c3", []*array{arr([]int{2, 2, 2, 1, 2}), arr([]int{2})}}}}, layers.ErrShapeMismatch, []string{"volume"}},
		{"pool on an image", &tmodel{config: pool("MaxPooling3D", map[string]any{"pool_size": 2}, 6, 6, 1)}, layers.ErrShapeMismatch, []string{`"p3"`}},
		{"pool size", &tmodel{config: pool("AveragePooling3D", map[string]any{"pool_size": []any{2, 2}}, 4, 6, 6, 1)}, layers.ErrInvalid, []string{"pool_size"}},
		{"global pool on a sequence", &tmodel{config: pool("GlobalAveragePooling3D", map[string]any{}, 6, 1)}, layers.ErrShapeMismatch, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.tm.load()
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
