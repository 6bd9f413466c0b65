package layers

import (
	"fmt"
	"math"

	"github.com/kinfer/kinfer/internal/idx"
)

// MergeOp is the element-wise operation of a Merge layer.
type MergeOp uint8

// Merge operations (Keras Add, Subtract, Multiply, Average, Maximum, Minimum; ONNX Add,
// Sub, Mul, Max, Min, Mean, Sum on activations).
const (
	MergeAdd MergeOp = iota
	MergeSub
	MergeMul
	MergeAvg
	MergeMax
	MergeMin
	MergeDiv // two inputs: a / b
	MergePow // two inputs: a ^ b
)

var mergeNames = [...]string{"add", "subtract", "multiply", "average", "maximum", "minimum", "divide", "power"}

func (o MergeOp) String() string {
	if int(o) < len(mergeNames) {
		return mergeNames[o]
	}
	return fmt.Sprintf("merge(%d)", o)
}

// Merge combines its inputs element-wise with numpy broadcasting over the per-sample
// axes (right-aligned; the batch axis always matches). Subtract takes exactly two
// inputs; the others any number of at least one.
type Merge struct {
	Info
	Op MergeOp
}

// OutputShapeN implements MultiInput.
func (l *Merge) OutputShapeN(ins []Shape) (Shape, error) {
	if int(l.Op) >= len(mergeNames) {
		return nil, errf(ErrInvalid, "unknown merge op %d", l.Op)
	}
	two := l.Op == MergeSub || l.Op == MergeDiv || l.Op == MergePow
	if len(ins) == 0 || two && len(ins) != 2 {
		return nil, errf(ErrInvalid, "%s takes %s inputs, got %d", l.Op, map[bool]string{true: "2", false: "at least 1"}[two], len(ins))
	}
	return BroadcastShape(ins...)
}

// OutputShape implements Layer (one input).
func (l *Merge) OutputShape(in Shape) (Shape, error) { return l.OutputShapeN([]Shape{in}) }

// ScratchLenN implements MultiInput.
func (l *Merge) ScratchLenN([]Shape, int) int { return 0 }

// ScratchLen implements Layer.
func (l *Merge) ScratchLen(Shape, int) int { return 0 }

// ForwardN implements MultiInput. It allocates nothing for ranks up to 8.
func (l *Merge) ForwardN(dst []float32, srcs [][]float32, _ []float32, ins []Shape, batch int) {
	var outBuf, stBuf, ctrBuf [8]int
	r := 0
	for _, s := range ins {
		r = max(r, len(s))
	}
	out, st, ctr := outBuf[:0], stBuf[:0], ctrBuf[:0]
	if r > len(outBuf) {
		out, st, ctr = make([]int, 0, r), make([]int, 0, r), make([]int, 0, r)
	}
	out, st, ctr = out[:r], st[:r], ctr[:r]
	for a := range out {
		out[a] = 1
		for _, s := range ins {
			if k := a - (r - len(s)); k >= 0 && s[k] != 1 {
				out[a] = s[k]
			}
		}
	}
	n := Shape(out).Size()
	dst = dst[:batch*n]
	for k, in := range ins {
		if in.Size() == n {
			mergeInto(l.Op, k, dst, srcs[k][:batch*n])
			continue
		}
		// broadcast input k into dst's layout one sample at a time
		idx.BroadcastStridesInto(st, in, out)
		per := in.Size()
		for b := 0; b < batch; b++ {
			d := dst[b*n : (b+1)*n]
			s := srcs[k][b*per : (b+1)*per]
			idx.OdometerBuf(out, st, ctr, func(o, i int) { mergeOne(l.Op, k, &d[o], s[i]) })
		}
	}
	if l.Op == MergeAvg {
		inv := 1 / float32(len(ins))
		for i := range dst {
			dst[i] *= inv
		}
	}
}

// Forward implements Layer (one input: a copy, or the average of one).
func (l *Merge) Forward(dst, src, scratch []float32, in Shape, batch int) {
	l.ForwardN(dst, [][]float32{src}, scratch, []Shape{in}, batch)
}

func mergeInto(op MergeOp, k int, dst, src []float32) {
	if k == 0 {
		copy(dst, src)
		return
	}
	switch op {
	case MergeAdd, MergeAvg:
		for i, v := range src {
			dst[i] += v
		}
	case MergeSub:
		for i, v := range src {
			dst[i] -= v
		}
	case MergeMul:
		for i, v := range src {
			dst[i] *= v
		}
	case MergeDiv:
		for i, v := range src {
			dst[i] /= v
		}
	default:
		for i, v := range src {
			mergeOne(op, k, &dst[i], v)
		}
	}
}

func mergeOne(op MergeOp, k int, d *float32, v float32) {
	if k == 0 {
		*d = v
		return
	}
	switch op {
	case MergeAdd, MergeAvg:
		*d += v
	case MergeSub:
		*d -= v
	case MergeMul:
		*d *= v
	case MergeMax:
		*d = maxNaN(*d, v)
	case MergeMin:
		*d = minNaN(*d, v)
	case MergeDiv, MergePow:
		*d = binaryOne(op, *d, v)
	}
}

// maxNaN and minNaN propagate NaN as tf.maximum and ONNX Max do.
func maxNaN(a, b float32) float32 {
	if a != a || b != b {
		return float32(math.NaN())
	}
	return max(a, b)
}

func minNaN(a, b float32) float32 {
	if a != a || b != b {
		return float32(math.NaN())
	}
	return min(a, b)
}

// Weights implements Layer.
func (l *Merge) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Merge) Config() string { return "op=" + l.Op.String() }

// FLOPsN implements MultiInput.
func (l *Merge) FLOPsN(ins []Shape) int64 {
	out, err := BroadcastShape(ins...)
	if err != nil {
		return 0
	}
	return int64(out.Size()) * int64(len(ins)-1)
}

// FLOPs implements Layer.
func (l *Merge) FLOPs(Shape) int64 { return 0 }

// Concatenate joins its inputs along Axis (a per-sample axis: 0 is the first axis
// after batch). Every other axis must match.
type Concatenate struct {
	Info
	Axis int
}

// OutputShapeN implements MultiInput.
func (l *Concatenate) OutputShapeN(ins []Shape) (Shape, error) {
	if len(ins) == 0 {
		return nil, errf(ErrInvalid, "concatenate has no inputs")
	}
	r := len(ins[0])
	if l.Axis < 0 || l.Axis >= r {
		return nil, errf(ErrInvalid, "concatenate axis %d out of range for rank %d (plus batch)", l.Axis, r)
	}
	out := ins[0].Clone()
	for _, s := range ins[1:] {
		if len(s) != r {
			return nil, errf(ErrShapeMismatch, "concatenate inputs %v and %v differ in rank", ins[0], s)
		}
		for a := range s {
			if a != l.Axis && s[a] != out[a] {
				return nil, errf(ErrShapeMismatch, "concatenate on axis %d: inputs %v and %v differ on axis %d", l.Axis+1, ins[0], s, a+1)
			}
		}
		if out[l.Axis] > MaxElements-s[l.Axis] {
			return nil, errf(ErrInvalid, "concatenate output too large")
		}
		out[l.Axis] += s[l.Axis]
	}
	return out, nil
}

// OutputShape implements Layer (one input).
func (l *Concatenate) OutputShape(in Shape) (Shape, error) { return l.OutputShapeN([]Shape{in}) }

// ScratchLenN implements MultiInput.
func (l *Concatenate) ScratchLenN([]Shape, int) int { return 0 }

// ScratchLen implements Layer.
func (l *Concatenate) ScratchLen(Shape, int) int { return 0 }

// ForwardN implements MultiInput.
func (l *Concatenate) ForwardN(dst []float32, srcs [][]float32, _ []float32, ins []Shape, batch int) {
	outer := Shape(ins[0][:l.Axis]).Size() * batch
	o := 0
	for i := 0; i < outer; i++ {
		for k, s := range ins {
			inner := Shape(s[l.Axis:]).Size()
			o += copy(dst[o:o+inner], srcs[k][i*inner:(i+1)*inner])
		}
	}
}

// Forward implements Layer.
func (l *Concatenate) Forward(dst, src, scratch []float32, in Shape, batch int) {
	l.ForwardN(dst, [][]float32{src}, scratch, []Shape{in}, batch)
}

// Weights implements Layer.
func (l *Concatenate) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Concatenate) Config() string { return fmt.Sprintf("axis=%d", l.Axis+1) }

// FLOPsN implements MultiInput.
func (l *Concatenate) FLOPsN([]Shape) int64 { return 0 }

// FLOPs implements Layer.
func (l *Concatenate) FLOPs(Shape) int64 { return 0 }
