//go:build !noasm && !purego && gc

package asm

//go:generate go run -C _gen . -kernel act_avx2 -out ../act_avx2_amd64.s

// actAsm reports whether the AVX2 element-wise kernels serve isa.
func actAsm(isa ISA) bool { return (isa == AVX2 || isa == AVX512) && Available(isa) }

// Each kernel computes, in place, for i := 0; i < n; i++ { x[i] = f(x[i]) }, 8 lanes at
// a time and a masked tail (no access past x[n-1]).

// vexpAVX2: f = exp.
//
//go:noescape
func vexpAVX2(x *float32, n int)

// vsigmoidAVX2: f = 1/(1+exp(-x)).
//
//go:noescape
func vsigmoidAVX2(x *float32, n int)

// vtanhAVX2: f = tanh.
//
//go:noescape
func vtanhAVX2(x *float32, n int)

// vswishAVX2: f = x*sigmoid(x).
//
//go:noescape
func vswishAVX2(x *float32, n int)

// vgeluTanhAVX2: f = x*sigmoid(2*sqrt(2/pi)*(x+0.044715*x^3)).
//
//go:noescape
func vgeluTanhAVX2(x *float32, n int)

// veluAVX2: f = x if x > 0 else alpha*expm1(x).
//
//go:noescape
func veluAVX2(x *float32, n int, alpha float32)

// vsigmoidGateAVX2: f = 1/(1+exp(-x)) in LSTMSeq's short form (see sigmoidGate).
//
//go:noescape
func vsigmoidGateAVX2(x *float32, n int)

// vtanhCellAVX2: f = tanh in LSTMSeq's short form (see tanhCell).
//
//go:noescape
func vtanhCellAVX2(x *float32, n int)

// vtanhRationalAVX2: f = tanh in LSTMSeq's rational form (see tanhRational).
//
//go:noescape
func vtanhRationalAVX2(x *float32, n int)

// vsigmoidRationalAVX2: f = 1/(1+exp(-x)) in LSTMSeq's rational form (see sigmoidRational).
//
//go:noescape
func vsigmoidRationalAVX2(x *float32, n int)

// vtanhFracAVX2: num[i] = tanh(num[i]/den[i]) for i < n, n a multiple of 8 (LSTMSeq's
// fraction form, see tanhFrac in _gen/lstmseq.go).
//
//go:noescape
func vtanhFracAVX2(num, den *float32, n int)

// vsoftplusAVX2: f = max(x, 0) + log1p(exp(-|x|)) (see Softplus).
//
//go:noescape
func vsoftplusAVX2(x *float32, n int)

// vseluAVX2: f = scale*x if x > 0 else scale*alpha*expm1(x) (see Selu).
//
//go:noescape
func vseluAVX2(x *float32, n int)

// vsoftsignAVX2: f = x/(1+|x|).
//
//go:noescape
func vsoftsignAVX2(x *float32, n int)

// vgeluAVX2: x[i] = x[i]*erfc(-x[i]/sqrt2)/2 (exact GELU) for i < n (see Gelu).
//
//go:noescape
func vgeluAVX2(x *float32, n int)
