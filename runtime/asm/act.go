package asm

import "math"

// Element-wise activations, in place over x. Each takes the ISA chosen at compile; the
// AVX2 kernels also serve AVX512 (the AVX2 forms are memory-bound at these sizes and every
// AVX-512 CPU kinfer accepts has AVX2+FMA). The Generic forms evaluate in float64 and
// round once (error <= 0.5 ULP); they are the references the tests measure against.
//
// Error bounds of the vector forms, measured by TestActivationULP against float64 math on
// every float32 in a sweep of the whole range (2^22 points plus specials), are stated per
// function in ULPs of the float32 result. NaN in gives NaN out; +-Inf give the limits.

// Exp sets x[i] = exp(x[i]). Vector error <= 2 ULP; results below 2^-126 keep their
// denormal value (absolute error <= 2^-149); overflow gives +Inf.
func Exp(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vexpAVX2(&x[0], len(x))
		return
	}
	for i, v := range x {
		x[i] = float32(math.Exp(float64(v)))
	}
}

// Sigmoid sets x[i] = 1/(1+exp(-x[i])). Vector error <= 3 ULP where the result is >= 2^-126.
func Sigmoid(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vsigmoidAVX2(&x[0], len(x))
		return
	}
	for i, v := range x {
		x[i] = float32(sigmoid64(float64(v)))
	}
}

// Tanh sets x[i] = tanh(x[i]). Vector error <= 3 ULP (computed as -expm1(-2|x|)/(2+expm1(-2|x|)),
// so it is accurate near zero too).
func Tanh(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vtanhAVX2(&x[0], len(x))
		return
	}
	for i, v := range x {
		x[i] = float32(math.Tanh(float64(v)))
	}
}

// Swish (SiLU) sets x[i] = x[i]*sigmoid(x[i]). Vector error <= 4 ULP where the result is >= 2^-126.
func Swish(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vswishAVX2(&x[0], len(x))
		return
	}
	for i, v := range x {
		x[i] = float32(float64(v) * sigmoid64(float64(v)))
	}
}

// GeluTanh sets x[i] = 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3))), computed as
// x*sigmoid(2*sqrt(2/pi)(x+0.044715x^3)) so the left tail keeps its relative accuracy.
// Vector error: <= geluTanhBound ULP for |x| <= 3 and <= 160 ULP for |x| <= 10: in the
// left tail sigmoid(a) ~ exp(a) turns the float32 rounding of the argument a (~2^-23
// relative) into |a|*2^-23 relative error of a result that is already < 1e-4*|x|.
func GeluTanh(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vgeluTanhAVX2(&x[0], len(x))
		return
	}
	for i, v := range x {
		t := float64(v)
		x[i] = float32(t * sigmoid64(2*math.Sqrt(2/math.Pi)*(t+0.044715*t*t*t)))
	}
}

// Gelu sets x[i] = 0.5x(1+erf(x/sqrt2)) (exact GELU). Generic evaluates erf in float64
// (error <= 1 ULP); the vector form (AVX2, also under AVX512) evaluates Go's rational
// erf/erfc forms in float32 (x^2/2 split exactly by an FMA before the exp, the negative
// side through erfc): error <= geluBound ULP for x >= -10 and <= 11 ULP over the whole
// float32 range (the denormal results below x = -13), measured over the sweep.
func Gelu(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vgeluAVX2(&x[0], len(x))
		return
	}
	for i, v := range x {
		t := float64(v)
		x[i] = float32(0.5 * t * math.Erfc(-t/math.Sqrt2))
	}
}

// Elu sets x[i] = x[i] if x[i] > 0, else alpha*(exp(x[i])-1). Vector error <= 3 ULP
// (expm1 form, accurate near zero).
func Elu(isa ISA, x []float32, alpha float32) {
	if len(x) > 0 && actAsm(isa) {
		veluAVX2(&x[0], len(x), alpha)
		return
	}
	for i, v := range x {
		if v > 0 || v != v {
			continue
		}
		x[i] = float32(float64(alpha) * math.Expm1(float64(v)))
	}
}

// ActVec reports whether Softplus, Selu and Softsign (and the other element-wise
// activations) run vector kernels for isa; elsewhere they run float64 Go loops.
func ActVec(isa ISA) bool { return actAsm(isa) }

// Softplus sets x[i] = max(x[i], 0) + log1p(exp(-|x[i]|)) (Keras's stable form). Vector
// error <= 2 ULP (TestActivationULP); Generic evaluates in float64 (<= 0.5 ULP). NaN
// stays NaN, +Inf gives +Inf, -Inf 0.
func Softplus(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vsoftplusAVX2(&x[0], len(x))
		return
	}
	for i, v := range x {
		f := float64(v)
		l := math.Log1p(math.Exp(-math.Abs(f)))
		if !(f > 0) {
			f = 0
		}
		x[i] = float32(f + l)
	}
}

// Selu sets x[i] = scale*x[i] for x[i] > 0, else scale*alpha*expm1(x[i]) (Keras's
// constants, SeluScale and SeluAlpha in layers). Vector error <= 2 ULP (TestActivationULP;
// the constants rounded to float32, the product's rounding, expm1's); Generic float64.
func Selu(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vseluAVX2(&x[0], len(x))
		return
	}
	for i, v := range x {
		f := float64(v)
		if f > 0 {
			x[i] = float32(seluScale * f)
		} else {
			x[i] = float32(seluScale * seluAlpha * math.Expm1(f))
		}
	}
}

// seluScale and seluAlpha are layers.SeluScale and SeluAlpha (asm does not import layers).
const (
	seluAlpha = 1.6732632423543772848170429916717
	seluScale = 1.0507009873554804934193349852946
)

// Softsign sets x[i] = x[i]/(1+|x[i]|). Vector error <= 1.5 ULP (1+|x| rounded, then
// the divide); Generic float64.
func Softsign(isa ISA, x []float32) {
	if len(x) > 0 && actAsm(isa) {
		vsoftsignAVX2(&x[0], len(x))
		return
	}
	for i, v := range x {
		f := float64(v)
		x[i] = float32(f / (1 + math.Abs(f)))
	}
}

// Clamp sets x[i] = min(max(x[i], lo), hi) (ReLU: 0, +Inf; ReLU6: 0, 6); NaN stays NaN. Exact.
func clampVec(isa ISA, x []float32, lo, hi float32) {
	for i, v := range x {
		if v < lo {
			v = lo
		}
		if v > hi {
			v = hi
		}
		x[i] = v
	}
}

// Softmax replaces each row of n values in x (len(x) a multiple of n) by
// exp(x - max(row)) / sum(exp(x - max(row))), the sum accumulated in float64. Generic
// works in float64 (<= 0.5 ULP); the vector path subtracts the max in float32, as Keras
// does, so element i is within 4 + (max-x[i]) ULP (the rounding of x-max is amplified
// by exp; it only matters for probabilities far below the largest). A row holding NaN
// gives NaN.
func Softmax(isa ISA, x []float32, n int) {
	if n <= 0 {
		return
	}
	if actAsm(isa) && normAsm {
		if rows := len(x) / n; rows > 0 {
			vsoftmaxAVX2(&x[0], n, rows)
		}
		return
	}
	for r := 0; r+n <= len(x); r += n {
		row := x[r : r+n]
		m := float32(math.Inf(-1))
		for _, v := range row {
			if v > m || v != v {
				m = v
			}
		}
		if !actAsm(isa) {
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - float64(m))
			}
			for i, v := range row {
				row[i] = float32(math.Exp(float64(v)-float64(m)) / s)
			}
			continue
		}
		for i := range row {
			row[i] -= m
		}
		Exp(isa, row)
		var s float64
		for _, v := range row {
			s += float64(v)
		}
		inv := 1 / s
		for i, v := range row {
			row[i] = float32(float64(v) * inv)
		}
	}
}

// geluBound is the measured ULP bound of the vector Gelu for x >= -10.
const geluBound = 4

// geluTanhBound is the measured ULP bound of the vector GeluTanh for |x| <= 3.
const geluTanhBound = 16

func sigmoid64(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
