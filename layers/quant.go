package layers

import (
	"fmt"
	"math"
)

// Quantized tensors live in the graph as float32 holding their dequantized values
// ((q - zp) * scale, exactly what ONNX DequantizeLinear gives): a layer that works in
// integers quantizes its input again, which recovers q exactly (|q - zp| <= 255, so
// x/scale lands within an ulp of the integer), computes in int32 and writes its output
// dequantized. The layers below are the plain-Go references; they compute ONNX
// Runtime's (MLAS's) arithmetic: x/scale, clamp, round half to even; int32 sums; a
// float32 requantization multiplier (inScale*wScale)/outScale.

// QType is the range of a quantized integer type.
type QType struct{ Lo, Hi int32 }

// The quantized types ONNX models use.
var (
	QUint8 = QType{0, 255}
	QInt8  = QType{-128, 127}
)

func (t QType) String() string {
	if t == QInt8 {
		return "int8"
	}
	return "uint8"
}

// QParams is a per-tensor quantization: scale, zero point and integer type.
type QParams struct {
	Scale float32
	ZP    int32
	Type  QType
}

func (q QParams) validate(what string) error {
	if !(q.Scale > 0) || math.IsInf(float64(q.Scale), 0) || q.ZP < q.Type.Lo || q.ZP > q.Type.Hi || (q.Type != QUint8 && q.Type != QInt8) {
		return errf(ErrInvalid, "%s quantization scale %v zero point %d type %v", what, q.Scale, q.ZP, q.Type)
	}
	return nil
}

func (q QParams) String() string { return fmt.Sprintf("%v(s=%g zp=%d)", q.Type, q.Scale, q.ZP) }

// Quantize is ONNX QuantizeLinear of one value: saturate(roundHalfEven(x/scale) + zp),
// in MLAS's order (divide, clamp to the type's range less the zero point, round); a
// NaN goes to the type's minimum.
func (q QParams) Quantize(x float32) int32 {
	return QuantizeRound(x, q.Scale, float32(q.Type.Lo-q.ZP), float32(q.Type.Hi-q.ZP)) + q.ZP
}

// QuantizeRound is roundHalfEven(clamp(x/scale, lo, hi)) for integer lo, hi of at most
// 2^22 in magnitude; a NaN gives lo.
func QuantizeRound(x, scale, lo, hi float32) int32 {
	v := x / scale
	if !(v >= lo) {
		v = lo
	}
	if v > hi {
		v = hi
	}
	return int32(math.RoundToEven(float64(v)))
}

// Dequantize is ONNX DequantizeLinear of one value.
func (q QParams) Dequantize(v int32) float32 { return float32(v-q.ZP) * q.Scale }

// FakeQuant is ONNX QuantizeLinear followed by DequantizeLinear with the same
// parameters (a QDQ pair on the data path): each value moves to the nearest point of
// the quantization grid.
type FakeQuant struct {
	Info
	Q QParams
}

// OutputShape implements Layer.
func (l *FakeQuant) OutputShape(in Shape) (Shape, error) {
	if err := l.Q.validate("output"); err != nil {
		return nil, err
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *FakeQuant) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *FakeQuant) Forward(dst, src, _ []float32, in Shape, batch int) {
	for i, x := range src[:batch*in.Size()] {
		dst[i] = l.Q.Dequantize(l.Q.Quantize(x))
	}
}

// InPlace implements InPlacer.
func (l *FakeQuant) InPlace() bool { return true }

// Weights implements Layer.
func (l *FakeQuant) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *FakeQuant) Config() string { return "quantize to " + l.Q.String() }

// FLOPs implements Layer.
func (l *FakeQuant) FLOPs(in Shape) int64 { return 4 * int64(in.Size()) }

// QLinear holds what the int8 Dense and Conv layers share: int8 weights (the weight
// zero point already subtracted; In*Units values, row-major (k, units)), per-output
// weight scales, an int32 bias (nil for none) in units of inScale*wScale, the input and
// output quantization, and a fused ReLU (an output clamp at the zero point).
type QLinear struct {
	W      []int8
	WScale []float32 // one per output unit (a per-tensor scale repeated)
	Bias   []int32
	In     QParams
	Out    QParams
	ReLU   bool
}

// Mult is the requantization multiplier of output unit j, as ORT computes it.
func (q *QLinear) Mult(j int) float32 { return float32(q.In.Scale*q.WScale[j]) / q.Out.Scale }

// OutRange is the clamp of the scaled sum before rounding: the output type's limits
// less its zero point, the lower raised to 0 for a fused ReLU.
func (q *QLinear) OutRange() (lo, hi float32) {
	l, h := q.Out.Type.Lo-q.Out.ZP, q.Out.Type.Hi-q.Out.ZP
	if q.ReLU {
		l = max(l, 0)
	}
	return float32(l), float32(h)
}

func (q *QLinear) check(k, units int) error {
	if err := q.In.validate("input"); err != nil {
		return err
	}
	if err := q.Out.validate("output"); err != nil {
		return err
	}
	if k <= 0 || units <= 0 || k > 1<<16 {
		return errf(ErrInvalid, "int8 layer with %d inputs and %d units (at most 65536 inputs)", k, units)
	}
	if len(q.W) != k*units || len(q.WScale) != units || (q.Bias != nil && len(q.Bias) != units) {
		return errf(ErrShapeMismatch, "int8 weights %d, scales %d, bias %d for %dx%d", len(q.W), len(q.WScale), len(q.Bias), k, units)
	}
	for _, s := range q.WScale {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return errf(ErrInvalid, "weight scale %v", s)
		}
	}
	return nil
}

// requant is the output stage of one element.
func (q *QLinear) requant(s int32, j int, lo, hi float32) float32 {
	f := float32(s) * q.Mult(j)
	f = min(max(f, lo), hi)
	return float32(int32(math.RoundToEven(float64(f)))) * q.Out.Scale // an int, so never -0
}

// row is requant(sum(xq[p] * W[p][j]) + bias[j]) for one row of quantized inputs less
// their zero point (small integers held exactly in float32 scratch).
func (q *QLinear) row(y []float32, xq []float32, units int) {
	lo, hi := q.OutRange()
	for j := range y {
		var s int32
		if q.Bias != nil {
			s = q.Bias[j]
		}
		for p, v := range xq {
			s += int32(v) * int32(q.W[p*units+j])
		}
		y[j] = q.requant(s, j, lo, hi)
	}
}

func (q *QLinear) weightsF() [][]float32 {
	w := make([]float32, len(q.W))
	units := len(q.WScale)
	for i, v := range q.W {
		w[i] = float32(v) * q.WScale[i%units]
	}
	if q.Bias == nil {
		return [][]float32{w}
	}
	b := make([]float32, units)
	for j, v := range q.Bias {
		b[j] = float32(v) * (q.In.Scale * q.WScale[j])
	}
	return [][]float32{w, b}
}

// QDense is an int8 Dense layer (ONNX QLinearMatMul, or a QDQ MatMul/Gemm) on the
// last axis: y = dequantize(requantize(sum((q(x) - zx) * w) + bias)).
type QDense struct {
	Info
	QLinear
	K, Units int
}

// OutputShape implements Layer.
func (l *QDense) OutputShape(in Shape) (Shape, error) {
	if err := l.check(l.K, l.Units); err != nil {
		return nil, err
	}
	if len(in) == 0 || in.Last() != l.K {
		return nil, errf(ErrShapeMismatch, "input %v does not end in %d features", in, l.K)
	}
	out := in.Clone()
	out[len(out)-1] = l.Units
	return out, nil
}

// ScratchLen implements Layer.
func (l *QDense) ScratchLen(Shape, int) int { return l.K }

// Forward implements Layer.
func (l *QDense) Forward(dst, src, scratch []float32, in Shape, batch int) {
	rows := batch * in.Size() / l.K
	xq := scratch[:l.K]
	for r := 0; r < rows; r++ {
		for p, x := range src[r*l.K : (r+1)*l.K] {
			xq[p] = float32(l.In.Quantize(x) - l.In.ZP)
		}
		l.row(dst[r*l.Units:(r+1)*l.Units], xq, l.Units)
	}
}

// Weights implements Layer (the dequantized weights).
func (l *QDense) Weights() [][]float32 { return l.weightsF() }

// Config implements Layer.
func (l *QDense) Config() string {
	return fmt.Sprintf("int8 units=%d in=%d bias=%v relu=%v input=%v output=%v", l.Units, l.K, l.Bias != nil, l.ReLU, l.In, l.Out)
}

// FLOPs implements Layer (integer multiply-adds counted as two operations).
func (l *QDense) FLOPs(in Shape) int64 {
	return int64(in.Size()/max(l.K, 1)) * 2 * int64(l.K) * int64(l.Units)
}

// QConv2D is an int8 2-D convolution over NHWC input (ONNX QLinearConv, or a QDQ Conv),
// groups 1: W is (KH, KW, In, Filters) row-major, so rows of (KH*KW*In) x Filters. Padding
// taps read the input zero point (a float 0), as ORT's QLinearConv pads.
type QConv2D struct {
	Info
	Window
	QLinear
	Cin, Filters int
}

// OutputShape implements Layer.
func (l *QConv2D) OutputShape(in Shape) (Shape, error) {
	if err := l.Window.validate(); err != nil {
		return nil, err
	}
	if err := l.check(l.KH*l.KW*l.Cin, l.Filters); err != nil {
		return nil, err
	}
	return l.convShape(in, l.Cin, l.Filters, "QConv2D")
}

// ScratchLen implements Layer.
func (l *QConv2D) ScratchLen(Shape, int) int { return l.KH * l.KW * l.Cin }

// Forward implements Layer.
func (l *QConv2D) Forward(dst, src, scratch []float32, in Shape, batch int) {
	h, w, c := in[0], in[1], in[2]
	oh, ow, pt, pl, _ := l.Geometry(h, w)
	xq := scratch[:l.KH*l.KW*c]
	for b := 0; b < batch; b++ {
		x := src[b*h*w*c:]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				l.quantPatch(xq, x, h, w, c, oy, ox, pt, pl, l.In)
				l.row(dst[((b*oh+oy)*ow+ox)*l.Filters:][:l.Filters], xq, l.Filters)
			}
		}
	}
}

// Weights implements Layer (the dequantized weights).
func (l *QConv2D) Weights() [][]float32 { return l.weightsF() }

// Config implements Layer.
func (l *QConv2D) Config() string {
	return fmt.Sprintf("int8 filters=%d in=%d %v bias=%v relu=%v input=%v output=%v", l.Filters, l.Cin, l.Window, l.Bias != nil, l.ReLU, l.In, l.Out)
}

// FLOPs implements Layer.
func (l *QConv2D) FLOPs(in Shape) int64 {
	return l.outPixels(in) * 2 * int64(l.KH*l.KW*l.Cin) * int64(l.Filters)
}
