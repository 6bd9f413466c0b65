package runtime

import "testing"

// TestMinPart: the split threshold for Dense-heavy and convolutional models.
func TestMinPart(t *testing.T) {
	for _, c := range []struct {
		params, flops int64
		want          int
	}{
		{669706, 1339442, 16}, // bench mlp: ~2 FLOPs per weight per sample
		{34826, 4968754, 1},   // bench mnist_cnn
		{948970, 79101450, 1}, // bench cifar_cnn
		{0, 100, 1},
		{100, 0, 1},
	} {
		if got := minPart(c.params, c.flops); got != c.want {
			t.Errorf("minPart(%d, %d) = %d, want %d", c.params, c.flops, got, c.want)
		}
	}
}
