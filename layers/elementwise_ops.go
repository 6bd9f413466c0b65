package layers

import (
	"fmt"
	"math"
)

// UnaryOp is the operation of a Unary layer: one entry of unaryOps.
type UnaryOp uint8

// Unary operations (ONNX's element-wise ops on one tensor that are not activations).
const (
	UnaryNeg UnaryOp = iota
	UnaryAbs
	UnarySign
	UnarySqrt
	UnaryExp
	UnaryLog
	UnaryReciprocal
	UnaryFloor
	UnaryCeil
	UnaryRound
	UnarySin
	UnaryCos
	UnaryTan
	UnaryAsin
	UnaryAcos
	UnaryAtan
	UnarySinh
	UnaryCosh
	UnaryAsinh
	UnaryAcosh
	UnaryAtanh
	UnaryErf
	UnaryNot
	UnaryShrink // Alpha = lambd, Beta = bias
	UnaryPow    // x^Alpha
	UnaryRPow   // Alpha^x
	UnaryRDiv   // Alpha / x
	UnaryMax    // max(x, Alpha), NaN propagating
	UnaryMin    // min(x, Alpha)
	numUnaryOps
)

// unaryOps is the table behind Unary: a new element-wise op is one entry here and one
// in the ONNX importer's table. Each is evaluated in float64 and rounded once.
var unaryOps = [numUnaryOps]struct {
	name  string
	f     func(x, a, b float64) float64
	flops int64
}{
	UnaryNeg:        {"neg", func(x, _, _ float64) float64 { return -x }, 1},
	UnaryAbs:        {"abs", func(x, _, _ float64) float64 { return math.Abs(x) }, 1},
	UnarySign:       {"sign", sign, 1},
	UnarySqrt:       {"sqrt", func(x, _, _ float64) float64 { return math.Sqrt(x) }, 1},
	UnaryExp:        {"exp", func(x, _, _ float64) float64 { return math.Exp(x) }, 10},
	UnaryLog:        {"log", func(x, _, _ float64) float64 { return math.Log(x) }, 10},
	UnaryReciprocal: {"reciprocal", func(x, _, _ float64) float64 { return 1 / x }, 1},
	UnaryFloor:      {"floor", func(x, _, _ float64) float64 { return math.Floor(x) }, 1},
	UnaryCeil:       {"ceil", func(x, _, _ float64) float64 { return math.Ceil(x) }, 1},
	UnaryRound:      {"round", func(x, _, _ float64) float64 { return math.RoundToEven(x) }, 1},
	UnarySin:        {"sin", func(x, _, _ float64) float64 { return math.Sin(x) }, 10},
	UnaryCos:        {"cos", func(x, _, _ float64) float64 { return math.Cos(x) }, 10},
	UnaryTan:        {"tan", func(x, _, _ float64) float64 { return math.Tan(x) }, 10},
	UnaryAsin:       {"asin", func(x, _, _ float64) float64 { return math.Asin(x) }, 10},
	UnaryAcos:       {"acos", func(x, _, _ float64) float64 { return math.Acos(x) }, 10},
	UnaryAtan:       {"atan", func(x, _, _ float64) float64 { return math.Atan(x) }, 10},
	UnarySinh:       {"sinh", func(x, _, _ float64) float64 { return math.Sinh(x) }, 10},
	UnaryCosh:       {"cosh", func(x, _, _ float64) float64 { return math.Cosh(x) }, 10},
	UnaryAsinh:      {"asinh", func(x, _, _ float64) float64 { return math.Asinh(x) }, 10},
	UnaryAcosh:      {"acosh", func(x, _, _ float64) float64 { return math.Acosh(x) }, 10},
	UnaryAtanh:      {"atanh", func(x, _, _ float64) float64 { return math.Atanh(x) }, 10},
	UnaryErf:        {"erf", func(x, _, _ float64) float64 { return math.Erf(x) }, 10},
	UnaryNot:        {"not", func(x, _, _ float64) float64 { return b2f(x == 0) }, 1},
	UnaryShrink:     {"shrink", shrink, 2},
	UnaryPow:        {"pow", pow, 10},
	UnaryRPow:       {"rpow", func(x, a, _ float64) float64 { return math.Pow(a, x) }, 10},
	UnaryRDiv:       {"rdiv", func(x, a, _ float64) float64 { return a / x }, 1},
	UnaryMax:        {"max", func(x, a, _ float64) float64 { return float64(maxNaN(float32(x), float32(a))) }, 1},
	UnaryMin:        {"min", func(x, a, _ float64) float64 { return float64(minNaN(float32(x), float32(a))) }, 1},
}

func sign(x, _, _ float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return x // 0, -0 and NaN
}

// shrink is ONNX Shrink: x+bias below -lambd, x-bias above lambd, 0 between.
func shrink(x, lambd, bias float64) float64 {
	switch {
	case x < -lambd:
		return x + bias
	case x > lambd:
		return x - bias
	}
	return 0
}

// pow keeps the common exponents exact (x*x rather than exp(2 log x) paths).
func pow(x, a, _ float64) float64 {
	switch a {
	case 2:
		return x * x
	case 0.5:
		return math.Sqrt(x)
	}
	return math.Pow(x, a)
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

func (o UnaryOp) String() string {
	if o < numUnaryOps {
		return unaryOps[o].name
	}
	return fmt.Sprintf("unary(%d)", o)
}

// Unary applies an element-wise function to every element: Op with its parameters
// Alpha and Beta (Shrink's lambd and bias; the constant of Pow, RPow, RDiv, Max, Min).
type Unary struct {
	Info
	Op          UnaryOp
	Alpha, Beta float32
}

// OutputShape implements Layer.
func (l *Unary) OutputShape(in Shape) (Shape, error) {
	if l.Op >= numUnaryOps {
		return nil, errf(ErrInvalid, "unknown element-wise op %d", l.Op)
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *Unary) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Unary) Forward(dst, src, _ []float32, in Shape, batch int) {
	n := batch * in.Size()
	f, a, b := unaryOps[l.Op].f, float64(l.Alpha), float64(l.Beta)
	for i, v := range src[:n] {
		dst[i] = float32(f(float64(v), a, b))
	}
}

// InPlace implements InPlacer.
func (l *Unary) InPlace() bool { return true }

// Weights implements Layer.
func (l *Unary) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Unary) Config() string {
	return fmt.Sprintf("op=%v alpha=%g beta=%g", l.Op, l.Alpha, l.Beta)
}

// FLOPs implements Layer.
func (l *Unary) FLOPs(in Shape) int64 {
	if l.Op >= numUnaryOps {
		return 0
	}
	return int64(in.Size()) * unaryOps[l.Op].flops
}

// ConstBinary combines each element with a constant of the per-sample shape, given in
// the data's physical order and repeating with period len(C): y = x op c, or c op x
// when ConstFirst. It holds what an Affine cannot: c/x, x^c, max/min with a tensor.
type ConstBinary struct {
	Info
	Op         MergeOp
	C          []float32
	ConstFirst bool
}

// OutputShape implements Layer.
func (l *ConstBinary) OutputShape(in Shape) (Shape, error) {
	if int(l.Op) >= len(mergeNames) || l.Op == MergeAvg {
		return nil, errf(ErrInvalid, "element-wise op %d with a constant", l.Op)
	}
	if len(l.C) == 0 || in.Size()%len(l.C) != 0 {
		return nil, errf(ErrShapeMismatch, "constant of %d values for input %v", len(l.C), in)
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *ConstBinary) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *ConstBinary) Forward(dst, src, _ []float32, in Shape, batch int) {
	n, p := batch*in.Size(), len(l.C)
	for i := 0; i < n; i += p {
		for j, c := range l.C {
			a, b := src[i+j], c
			if l.ConstFirst {
				a, b = b, a
			}
			dst[i+j] = binaryOne(l.Op, a, b)
		}
	}
}

// binaryOne is a op b for the two-operand merge ops.
func binaryOne(op MergeOp, a, b float32) float32 {
	switch op {
	case MergeAdd:
		return a + b
	case MergeSub:
		return a - b
	case MergeMul:
		return a * b
	case MergeDiv:
		return a / b
	case MergePow:
		return float32(pow(float64(a), float64(b), 0))
	case MergeMax:
		return maxNaN(a, b)
	case MergeMin:
		return minNaN(a, b)
	}
	return a
}

// InPlace implements InPlacer.
func (l *ConstBinary) InPlace() bool { return true }

// Weights implements Layer.
func (l *ConstBinary) Weights() [][]float32 { return [][]float32{l.C} }

// Config implements Layer.
func (l *ConstBinary) Config() string {
	return fmt.Sprintf("op=%v constant %d const_first=%v", l.Op, len(l.C), l.ConstFirst)
}

// FLOPs implements Layer.
func (l *ConstBinary) FLOPs(in Shape) int64 { return int64(in.Size()) }

// MergeOne is a op b for a two-operand merge op (the runtime's fallback for the
// rare ones).
func MergeOne(op MergeOp, a, b float32) float32 { return binaryOne(op, a, b) }
