package layers

import (
	"fmt"
	"math"
)

// KerasQDense is a Keras 3 Dense after model.quantize("int8"): kernel int8 (In,
// Units) with per-unit kernel_scale (kernel ~ W / kernel_scale), inputs quantized per
// row by Keras's AbsMaxQuantizer: s = 127/(max|x| + 1e-7), q = clip(round(x*s), -127,
// 127); y = act(float32(sum(q*W)) / (kernel_scale*s) + bias), in float32 and in that
// order, as keras.layers.Dense._int8_call computes it.
type KerasQDense struct {
	Info
	In, Units int
	W         []int8
	KScale    []float32
	B         []float32 // nil or Units values
	Act       Activation
}

// KerasEpsilon is keras.backend.epsilon(), the AbsMaxQuantizer's guard.
const KerasEpsilon = float32(1e-7)

// KerasRowScale is the AbsMaxQuantizer's scale of one row.
func KerasRowScale(x []float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, float32(math.Abs(float64(v))))
	}
	return 127 / (m + KerasEpsilon)
}

// KerasQuantize is the AbsMaxQuantizer's int8 value of x at row scale s.
func KerasQuantize(x, s float32) int32 {
	v := float32(math.RoundToEven(float64(x * s)))
	return int32(min(max(v, -127), 127))
}

// OutputShape implements Layer.
func (l *KerasQDense) OutputShape(in Shape) (Shape, error) {
	if l.In <= 0 || l.Units <= 0 || l.In > 1<<16 || len(l.W) != l.In*l.Units || len(l.KScale) != l.Units || (l.B != nil && len(l.B) != l.Units) {
		return nil, errf(ErrShapeMismatch, "int8 Dense %dx%d with %d weights, %d scales, %d biases", l.In, l.Units, len(l.W), len(l.KScale), len(l.B))
	}
	if err := l.Act.Validate(); err != nil {
		return nil, err
	}
	if len(in) == 0 || in.Last() != l.In {
		return nil, errf(ErrShapeMismatch, "input %v does not end in %d features", in, l.In)
	}
	out := in.Clone()
	out[len(out)-1] = l.Units
	return out, nil
}

// ScratchLen implements Layer.
func (l *KerasQDense) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *KerasQDense) Forward(dst, src, _ []float32, in Shape, batch int) {
	rows := batch * in.Size() / l.In
	for r := 0; r < rows; r++ {
		x := src[r*l.In : (r+1)*l.In]
		s := KerasRowScale(x)
		y := dst[r*l.Units : (r+1)*l.Units]
		for j := range y {
			var acc int32
			for p, v := range x {
				acc += KerasQuantize(v, s) * int32(l.W[p*l.Units+j])
			}
			y[j] = KerasOut(acc, l.KScale[j], s, l.B, j)
		}
		l.Act.Apply(y, l.Units)
	}
}

// KerasOut is the output of unit j before the activation: float32(acc) /
// (kscale*s) + bias[j].
func KerasOut(acc int32, kscale, s float32, bias []float32, j int) float32 {
	f := float32(acc) / float32(kscale*s)
	if bias != nil {
		f = float32(f) + bias[j]
	}
	return f
}

// Weights implements Layer (the dequantized kernel).
func (l *KerasQDense) Weights() [][]float32 {
	w := make([]float32, len(l.W))
	for i, v := range l.W {
		w[i] = float32(v) / l.KScale[i%l.Units]
	}
	if l.B == nil {
		return [][]float32{w}
	}
	return [][]float32{w, l.B}
}

// Config implements Layer.
func (l *KerasQDense) Config() string {
	return fmt.Sprintf("int8 units=%d in=%d bias=%v act=%v", l.Units, l.In, l.B != nil, l.Act)
}

// FLOPs implements Layer.
func (l *KerasQDense) FLOPs(in Shape) int64 {
	return int64(in.Size()/max(l.In, 1)) * 2 * int64(l.In) * int64(l.Units)
}
