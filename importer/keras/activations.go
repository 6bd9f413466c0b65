package keras

import (
	"fmt"
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// activation maps a Keras activation (a string such as "relu", or a Keras 3
// serialized-function dict) to a layers.Activation. kerasMajor picks formulas that
// changed between Keras 2 and 3 (hard_sigmoid).
func activation(v any, kerasMajor int) (layers.Activation, error) {
	name, err := activationName(v)
	if err != nil {
		return layers.Activation{}, err
	}
	switch name {
	case "linear", "", "None":
		return layers.ActLinear, nil
	case "relu":
		return layers.ActReLU, nil
	case "relu6":
		return layers.ActReLU6, nil
	case "leaky_relu":
		return layers.LeakyReLU(0.2), nil
	case "sigmoid":
		return layers.Activation{Kind: layers.Sigmoid}, nil
	case "hard_sigmoid":
		if kerasMajor < 3 {
			// Keras 2 / tf.keras: clip(0.2x + 0.5, 0, 1).
			return layers.Activation{Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}, nil
		}
		// Keras 3: relu6(x + 3) / 6 = clip(x/6 + 0.5, 0, 1).
		return layers.Activation{Kind: layers.HardSigmoid, Alpha: 1.0 / 6, Beta: 0.5}, nil
	case "hard_silu", "hard_swish":
		return layers.Activation{Kind: layers.HardSwish}, nil
	case "tanh":
		return layers.Activation{Kind: layers.Tanh}, nil
	case "hard_tanh":
		return layers.Activation{Kind: layers.Clip, Alpha: -1, Beta: 1}, nil
	case "softmax":
		return layers.Activation{Kind: layers.Softmax}, nil
	case "log_softmax":
		return layers.Activation{Kind: layers.LogSoftmax}, nil
	case "softplus":
		return layers.Activation{Kind: layers.Softplus}, nil
	case "softsign":
		return layers.Activation{Kind: layers.Softsign}, nil
	case "elu":
		return layers.Activation{Kind: layers.Elu, Alpha: 1}, nil
	case "selu":
		return layers.Activation{Kind: layers.Selu}, nil
	case "gelu":
		// keras.activations.gelu(x, approximate=False) in Keras 3 and tf.keras: exact.
		return layers.Activation{Kind: layers.Gelu}, nil
	case "swish", "silu":
		return layers.Activation{Kind: layers.Swish}, nil
	case "exponential":
		return layers.Activation{Kind: layers.Exponential}, nil
	}
	return layers.Activation{}, fmt.Errorf("activation function %q: %w", name, layers.ErrUnsupported)
}

// activationName extracts the function name from a Keras activation value.
func activationName(v any) (string, error) {
	switch a := v.(type) {
	case nil:
		return "linear", nil
	case string:
		// Keras 3 sometimes qualifies names ("keras.activations.relu").
		if i := strings.LastIndexByte(a, '.'); i >= 0 {
			a = a[i+1:]
		}
		return a, nil
	case map[string]any:
		// Keras 3: {"module": "keras.activations", "class_name": "function",
		// "config": "relu", "registered_name": "relu"}.
		cls, _ := a["class_name"].(string)
		if cls == "function" {
			if mod, ok := a["module"].(string); ok && !strings.HasPrefix(mod, "keras") && !strings.HasPrefix(mod, "tf_keras") && !strings.HasPrefix(mod, "tensorflow") {
				return "", fmt.Errorf("custom activation function from module %q: %w", mod, layers.ErrUnsupported)
			}
			if s, ok := a["config"].(string); ok {
				return activationName(s)
			}
		}
		return "", fmt.Errorf("activation %s: %w", jsonText(v), layers.ErrUnsupported)
	}
	return "", fmt.Errorf("activation %s is not a name: %w", jsonText(v), layers.ErrInvalid)
}
