package layers

import (
	"fmt"
	"math"
)

// ReduceOp is the reduction a Reduce layer applies.
type ReduceOp uint8

// Reductions.
const (
	ReduceMean ReduceOp = iota
	ReduceMax
	ReduceSum
	ReduceMin
	ReduceProd
	ReduceSumSquare
	ReduceL1
	ReduceL2
	ReduceLogSum
	ReduceLogSumExp
)

var reduceNames = [...]string{"mean", "max", "sum", "min", "prod", "sum_square", "l1", "l2", "log_sum", "log_sum_exp"}

func (o ReduceOp) String() string {
	if int(o) < len(reduceNames) {
		return reduceNames[o]
	}
	return fmt.Sprintf("reduce(%d)", uint8(o))
}

// maxReduceRank bounds the rank a Reduce layer handles (its index loops use fixed
// arrays, so Forward allocates nothing).
const maxReduceRank = 8

// Reduce reduces a set of the sample's axes by Op (ONNX ReduceMean, ReduceMax,
// ReduceSum, ReduceMin, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum,
// ReduceLogSumExp over constant axes). Axes are sorted, distinct and index the
// sample's shape (without batch). KeepDims keeps them with size 1.
type Reduce struct {
	Info
	Op       ReduceOp
	Axes     []int
	KeepDims bool
}

// OutputShape implements Layer.
func (l *Reduce) OutputShape(in Shape) (Shape, error) {
	if int(l.Op) >= len(reduceNames) {
		return nil, errf(ErrInvalid, "unknown reduction %d", l.Op)
	}
	if len(in) > maxReduceRank {
		return nil, errf(ErrUnsupported, "reduction over input of rank %d (at most %d)", len(in), maxReduceRank)
	}
	if len(l.Axes) == 0 {
		return nil, errf(ErrInvalid, "reduction without axes")
	}
	for k, a := range l.Axes {
		if a < 0 || a >= len(in) || (k > 0 && a <= l.Axes[k-1]) {
			return nil, errf(ErrInvalid, "axes %v for input %v (sorted, distinct, in range)", l.Axes, in)
		}
	}
	var out Shape
	k := 0
	for i, d := range in {
		if k < len(l.Axes) && l.Axes[k] == i {
			k++
			if l.KeepDims {
				out = append(out, 1)
			}
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// ScratchLen implements Layer.
func (l *Reduce) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer: for each output element, a walk over the reduced axes in
// float64.
func (l *Reduce) Forward(dst, src, _ []float32, in Shape, batch int) {
	r := len(in)
	var stride, keep, red [maxReduceRank]int // input strides; kept / reduced axis lists
	s := 1
	for i := r - 1; i >= 0; i-- {
		stride[i] = s
		s *= in[i]
	}
	nk, nr, cnt := 0, 0, 1
	k := 0
	for i := 0; i < r; i++ {
		if k < len(l.Axes) && l.Axes[k] == i {
			red[nr] = i
			nr++
			k++
			cnt *= in[i]
			continue
		}
		keep[nk] = i
		nk++
	}
	size := in.Size()
	nout := size / cnt
	for b := 0; b < batch; b++ {
		x := src[b*size : (b+1)*size]
		y := dst[b*nout : (b+1)*nout]
		for o := range y {
			// base offset of output element o over the kept axes (row-major)
			base, rem := 0, o
			for j := nk - 1; j >= 0; j-- {
				a := keep[j]
				base += (rem % in[a]) * stride[a]
				rem /= in[a]
			}
			acc := l.reduceAt(x, base, cnt, in, &stride, &red, nr)
			y[o] = float32(acc)
		}
	}
}

// reduceAt reduces the cnt elements of x reached from off over the reduced axes, in
// float64. LogSumExp takes two passes (the maximum first, for range).
func (l *Reduce) reduceAt(x []float32, off, cnt int, in Shape, stride, red *[maxReduceRank]int, nr int) float64 {
	passes, peak := 1, 0.0
	if l.Op == ReduceLogSumExp {
		passes = 2
	}
	var acc float64
	for pass := 0; pass < passes; pass++ {
		op := l.Op
		if passes == 2 && pass == 0 {
			op = ReduceMax
		}
		switch op {
		case ReduceMax:
			acc = math.Inf(-1)
		case ReduceMin:
			acc = math.Inf(1)
		case ReduceProd:
			acc = 1
		default:
			acc = 0
		}
		var idx [maxReduceRank]int
		o := off
		if op == ReduceMean || op == ReduceSum || op == ReduceLogSum { // the common case: a plain sum
			for n := 0; n < cnt; n++ {
				acc += float64(x[o])
				for j := nr - 1; j >= 0; j-- {
					a := red[j]
					idx[j]++
					o += stride[a]
					if idx[j] < in[a] {
						break
					}
					o -= idx[j] * stride[a]
					idx[j] = 0
				}
			}
			continue
		}
		for n := 0; n < cnt; n++ {
			v := float64(x[o])
			switch op {
			case ReduceMax:
				if v > acc || v != v {
					acc = v
				}
			case ReduceMin:
				if v < acc || v != v {
					acc = v
				}
			case ReduceProd:
				acc *= v
			case ReduceSumSquare, ReduceL2:
				acc += v * v
			case ReduceL1:
				acc += math.Abs(v)
			case ReduceLogSumExp:
				acc += math.Exp(v - peak)
			default:
				acc += v
			}
			for j := nr - 1; j >= 0; j-- { // odometer over the reduced axes
				a := red[j]
				idx[j]++
				o += stride[a]
				if idx[j] < in[a] {
					break
				}
				o -= idx[j] * stride[a]
				idx[j] = 0
			}
		}
		if passes == 2 && pass == 0 {
			peak = acc
			if math.IsInf(peak, 0) || peak != peak {
				return peak // all -Inf: -Inf; any +Inf: +Inf; NaN: NaN
			}
		}
	}
	switch l.Op {
	case ReduceMean:
		acc /= float64(cnt)
	case ReduceL2:
		acc = math.Sqrt(acc)
	case ReduceLogSum:
		acc = math.Log(acc)
	case ReduceLogSumExp:
		acc = math.Log(acc) + peak
	}
	return acc
}

// Weights implements Layer.
func (l *Reduce) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Reduce) Config() string {
	return fmt.Sprintf("%v axes=%v keepdims=%v", l.Op, l.Axes, l.KeepDims)
}

// FLOPs implements Layer.
func (l *Reduce) FLOPs(in Shape) int64 { return int64(in.Size()) }

// Hardmax sets, along the last axis, the first maximum to 1 and every other element to
// 0 (ONNX Hardmax; NaN compares false, so a row of NaN picks its first element).
type Hardmax struct {
	Info
}

// OutputShape implements Layer.
func (l *Hardmax) OutputShape(in Shape) (Shape, error) {
	if len(in) == 0 {
		return nil, errf(ErrShapeMismatch, "Hardmax needs an axis, got a scalar")
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *Hardmax) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Hardmax) Forward(dst, src, _ []float32, in Shape, batch int) {
	k := in.Last()
	n := batch * in.Size()
	for i := 0; i < n; i += k {
		best := i
		for j := i + 1; j < i+k; j++ {
			if src[j] > src[best] {
				best = j
			}
		}
		for j := i; j < i+k; j++ {
			dst[j] = 0
		}
		dst[best] = 1
	}
}

// InPlace implements InPlacer: each row is read whole before it is written.
func (l *Hardmax) InPlace() bool { return true }

// Weights implements Layer.
func (l *Hardmax) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Hardmax) Config() string { return "axis=-1" }

// FLOPs implements Layer.
func (l *Hardmax) FLOPs(in Shape) int64 { return int64(in.Size()) }
