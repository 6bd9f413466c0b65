package layers

import (
	"fmt"
	"math"
)

// DynQDense is a dynamically quantized Dense layer (ONNX DynamicQuantizeLinear +
// MatMulInteger, Cast, Mul by the product of the scales, Add of a float bias, as
// onnxruntime.quantization.quantize_dynamic writes): per call the whole input tensor's
// range gives a uint8 scale and zero point (DynamicQuantizeLinear: the range includes
// 0, scale = (max-min)/255, zp = roundHalfEven(clamp(-min/scale, 0, 255))), the int8
// GEMM sums in int32, and y = float32(sum)*float32(xScale*wScale[j]) + bias[j].
// The scale depends on every row of the call: results match ORT's when the batch runs
// in one pass (MaxBatch at least the batch).
type DynQDense struct {
	Info
	K, Units int
	W        []int8    // (K, Units) row-major, the weight zero point subtracted
	WScale   []float32 // per unit
	Bias     []float32 // nil or Units values
}

// DynRange is DynamicQuantizeLinear's scale and zero point for values in [lo, hi]
// (lo, hi the tensor's min and max).
func DynRange(lo, hi float32) (scale float32, zp int32) {
	lo, hi = min(lo, 0), max(hi, 0)
	scale = 1
	if hi != lo {
		scale = (hi - lo) / 255
	}
	z := float32(0) - lo/scale
	z = min(max(z, 0), 255)
	return scale, int32(math.RoundToEven(float64(z)))
}

// OutputShape implements Layer.
func (l *DynQDense) OutputShape(in Shape) (Shape, error) {
	if l.K <= 0 || l.Units <= 0 || l.K > 1<<16 || len(l.W) != l.K*l.Units || len(l.WScale) != l.Units || (l.Bias != nil && len(l.Bias) != l.Units) {
		return nil, errf(ErrShapeMismatch, "dynamic int8 dense %dx%d with %d weights, %d scales, %d biases", l.K, l.Units, len(l.W), len(l.WScale), len(l.Bias))
	}
	if len(in) == 0 || in.Last() != l.K {
		return nil, errf(ErrShapeMismatch, "input %v does not end in %d features", in, l.K)
	}
	out := in.Clone()
	out[len(out)-1] = l.Units
	return out, nil
}

// ScratchLen implements Layer.
func (l *DynQDense) ScratchLen(Shape, int) int { return l.K }

// Forward implements Layer.
func (l *DynQDense) Forward(dst, src, scratch []float32, in Shape, batch int) {
	rows := batch * in.Size() / l.K
	x := src[:rows*l.K]
	q := dynQuant(x)
	xq := scratch[:l.K]
	for r := 0; r < rows; r++ {
		for p, v := range x[r*l.K : (r+1)*l.K] {
			xq[p] = float32(q.Quantize(v) - q.ZP)
		}
		y := dst[r*l.Units : (r+1)*l.Units]
		dynRow(y, xq, l.W, l.WScale, l.Bias, q.Scale)
	}
}

// Weights implements Layer (the dequantized weights).
func (l *DynQDense) Weights() [][]float32 {
	return dynWeights(l.W, l.WScale, l.Bias, l.Units)
}

// dynQuant is the uint8 grid DynamicQuantizeLinear picks for the range of x.
func dynQuant(x []float32) QParams {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range x {
		lo, hi = min(lo, v), max(hi, v)
	}
	q := QParams{Type: QUint8}
	q.Scale, q.ZP = DynRange(lo, hi)
	return q
}

// dynRow computes one output row of a dynamic int8 layer from the quantized inputs xq
// (zero point subtracted) and the (len(xq), len(y)) int8 weights w: the exact int32
// dot, scaled by sx*wscale[j] (rounded to float32 first, as ORT does), plus the bias.
func dynRow(y, xq []float32, w []int8, wscale, bias []float32, sx float32) {
	n := len(y)
	for j := range y {
		var s int32
		for p, v := range xq {
			s += int32(v) * int32(w[p*n+j])
		}
		f := float32(s) * float32(sx*wscale[j])
		if bias != nil {
			f = float32(f) + bias[j]
		}
		y[j] = f
	}
}

// dynWeights dequantizes the (K, n) int8 weights w by their per-column scales: the
// Weights of a dynamic int8 layer.
func dynWeights(w []int8, wscale, bias []float32, n int) [][]float32 {
	f := make([]float32, len(w))
	for i, v := range w {
		f[i] = float32(v) * wscale[i%n]
	}
	if bias == nil {
		return [][]float32{f}
	}
	return [][]float32{f, bias}
}

// Config implements Layer.
func (l *DynQDense) Config() string {
	return fmt.Sprintf("int8 dynamic units=%d in=%d bias=%v", l.Units, l.K, l.Bias != nil)
}

// FLOPs implements Layer.
func (l *DynQDense) FLOPs(in Shape) int64 {
	return int64(in.Size()/max(l.K, 1)) * 2 * int64(l.K) * int64(l.Units)
}

// DynFakeQuant is DynamicQuantizeLinear followed by its dequantization: the call's
// range gives the uint8 grid (DynRange) and each value moves to its nearest point. It
// stands before a float layer that reads dynamically quantized data without an int8
// kernel (a grouped ConvInteger), so that the layer sees the values ORT's does.
type DynFakeQuant struct {
	Info
}

// OutputShape implements Layer.
func (l *DynFakeQuant) OutputShape(in Shape) (Shape, error) { return in.Clone(), nil }

// ScratchLen implements Layer.
func (l *DynFakeQuant) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *DynFakeQuant) Forward(dst, src, _ []float32, in Shape, batch int) {
	x := src[:batch*in.Size()]
	q := dynQuant(x)
	for i, v := range x {
		dst[i] = q.Dequantize(q.Quantize(v))
	}
}

// InPlace implements InPlacer.
func (l *DynFakeQuant) InPlace() bool { return true }

// Weights implements Layer.
func (l *DynFakeQuant) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *DynFakeQuant) Config() string { return "dynamic quantize to uint8" }

// FLOPs implements Layer.
func (l *DynFakeQuant) FLOPs(in Shape) int64 { return 4 * int64(in.Size()) }
