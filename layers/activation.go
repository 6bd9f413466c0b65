package layers

import (
	"fmt"
	"math"
)

// ActKind names an element-wise (or, for Softmax, last-axis) activation function.
type ActKind uint8

// Activation kinds. Parameters live in Activation's fields.
const (
	Linear      ActKind = iota // x
	ReLU                       // generalized: see Activation
	Sigmoid                    // 1/(1+exp(-x))
	HardSigmoid                // clip(Alpha*x+Beta, 0, 1)
	Tanh                       // tanh(x)
	Softmax                    // over the last axis
	Softplus                   // log(1+exp(x))
	Softsign                   // x/(1+|x|)
	Elu                        // x if x>0 else Alpha*(exp(x)-1)
	Selu                       // scale*elu(x, alpha) with the SELU constants
	Gelu                       // 0.5x(1+erf(x/sqrt2))
	GeluTanh                   // 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))
	Swish                      // x*sigmoid(x), also called silu
	Exponential                // exp(x)
	Clip                       // min(max(x, Alpha), Beta)
	HardSwish                  // x*clip(x/6+0.5, 0, 1)
	LogSoftmax                 // log(softmax(x)) over the last axis
)

var actNames = [...]string{"linear", "relu", "sigmoid", "hard_sigmoid", "tanh", "softmax",
	"softplus", "softsign", "elu", "selu", "gelu", "gelu_tanh", "swish", "exponential",
	"clip", "hard_swish", "log_softmax"}

func (k ActKind) String() string {
	if int(k) < len(actNames) {
		return actNames[k]
	}
	return fmt.Sprintf("act(%d)", uint8(k))
}

// SELU constants (Klambauer et al.), as Keras and ONNX use them.
const (
	SeluAlpha = 1.6732632423543772848170429916717
	SeluScale = 1.0507009873554804934193349852946
)

// Activation is an activation function with its parameters.
//
// For ReLU: f(x) = Max if x >= Max; x if Threshold <= x < Max; Alpha*(x-Threshold)
// otherwise (Keras's ReLU layer; Max is +Inf when unbounded, leaky_relu is Alpha>0).
// For HardSigmoid: clip(Alpha*x+Beta, 0, 1). For Elu: Alpha. For Clip: [Alpha, Beta].
type Activation struct {
	Kind      ActKind
	Alpha     float32
	Beta      float32
	Max       float32
	Threshold float32
}

// Common activations.
var (
	ActLinear = Activation{Kind: Linear}
	ActReLU   = Activation{Kind: ReLU, Max: float32(math.Inf(1))}
	ActReLU6  = Activation{Kind: ReLU, Max: 6}
)

// LeakyReLU returns max(x, alpha*x) for alpha in [0,1).
func LeakyReLU(alpha float32) Activation {
	return Activation{Kind: ReLU, Alpha: alpha, Max: float32(math.Inf(1))}
}

// IsLinear reports whether the activation is the identity.
func (a Activation) IsLinear() bool { return a.Kind == Linear }

// PerElement reports whether the activation acts on each element alone (everything but
// the softmax family).
func (a Activation) PerElement() bool { return a.Kind != Softmax && a.Kind != LogSoftmax }

func (a Activation) String() string {
	switch a.Kind {
	case ReLU:
		s := "relu"
		if a.Alpha != 0 {
			s += fmt.Sprintf("(slope=%g)", a.Alpha)
		}
		if !math.IsInf(float64(a.Max), 1) {
			s += fmt.Sprintf("(max=%g)", a.Max)
		}
		if a.Threshold != 0 {
			s += fmt.Sprintf("(threshold=%g)", a.Threshold)
		}
		return s
	case HardSigmoid, Clip:
		return fmt.Sprintf("%s(%g,%g)", a.Kind, a.Alpha, a.Beta)
	case Elu:
		return fmt.Sprintf("elu(%g)", a.Alpha)
	}
	return a.Kind.String()
}

// Validate checks the kind is known.
func (a Activation) Validate() error {
	if int(a.Kind) >= len(actNames) {
		return errf(ErrInvalid, "unknown activation kind %d", a.Kind)
	}
	if a.Kind == ReLU && a.Max < a.Threshold {
		return errf(ErrInvalid, "relu max_value %g below threshold %g", a.Max, a.Threshold)
	}
	return nil
}

// Apply applies the activation in place. lastDim is the size of the last axis, used by
// the softmax family; x's length must be a multiple of it.
func (a Activation) Apply(x []float32, lastDim int) {
	switch a.Kind {
	case Linear:
		return
	case Softmax, LogSoftmax:
		for i := 0; i+lastDim <= len(x); i += lastDim {
			softmaxRow(x[i:i+lastDim], a.Kind == LogSoftmax)
		}
		return
	}
	for i, v := range x {
		x[i] = a.Eval(v)
	}
}

// Eval evaluates a per-element activation at one point, in float64 internally.
func (a Activation) Eval(v float32) float32 {
	x := float64(v)
	switch a.Kind {
	case Linear:
		return v
	case ReLU:
		if v >= a.Max {
			return a.Max
		}
		if v >= a.Threshold {
			return v
		}
		if math.IsNaN(x) {
			return v
		}
		if a.Alpha == 0 {
			return 0 // +0 (as max(x, 0) and the fused clamps give), also for -Inf
		}
		return a.Alpha * (v - a.Threshold)
	case Sigmoid:
		return float32(sigmoid64(x))
	case HardSigmoid:
		return float32(math.Min(1, math.Max(0, float64(a.Alpha)*x+float64(a.Beta))))
	case Tanh:
		return float32(math.Tanh(x))
	case Softplus:
		return float32(math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))))
	case Softsign:
		return float32(x / (1 + math.Abs(x)))
	case Elu:
		if x > 0 {
			return v
		}
		return float32(float64(a.Alpha) * math.Expm1(x))
	case Selu:
		if x > 0 {
			return float32(SeluScale * x)
		}
		return float32(SeluScale * SeluAlpha * math.Expm1(x))
	case Gelu:
		return float32(0.5 * x * (1 + math.Erf(x/math.Sqrt2)))
	case GeluTanh:
		return float32(0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x))))
	case Swish:
		return float32(x * sigmoid64(x))
	case Exponential:
		return float32(math.Exp(x))
	case Clip:
		if math.IsNaN(x) {
			return v
		}
		return min(max(v, a.Alpha), a.Beta)
	case HardSwish:
		return float32(x * math.Min(1, math.Max(0, x/6+0.5)))
	}
	return v
}

func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func softmaxRow(r []float32, logOut bool) {
	m := math.Inf(-1)
	for _, v := range r {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range r {
		s += math.Exp(float64(v) - m)
	}
	for i, v := range r {
		if logOut {
			r[i] = float32(float64(v) - m - math.Log(s))
		} else {
			r[i] = float32(math.Exp(float64(v)-m) / s)
		}
	}
}

// activationFLOPs is a rough per-element cost used by FLOP counts.
func (a Activation) flopsPerElem() int64 {
	switch a.Kind {
	case Linear:
		return 0
	case ReLU, Clip:
		return 1
	default:
		return 4
	}
}
