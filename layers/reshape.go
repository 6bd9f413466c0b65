package layers

import "fmt"

// Reshape changes the shape without moving data (row-major order is kept). Flatten is a
// Reshape to one axis. Target may hold one -1, resolved from the input size.
type Reshape struct {
	Info
	Target Shape
}

// OutputShape implements Layer.
func (l *Reshape) OutputShape(in Shape) (Shape, error) {
	out := l.Target.Clone()
	known, free := 1, -1
	for i, d := range out {
		switch {
		case d == -1 && free < 0:
			free = i
		case d <= 0:
			return nil, errf(ErrInvalid, "target shape %v has dimension %d", []int(l.Target), d)
		default:
			if known > MaxElements/d {
				return nil, errf(ErrInvalid, "target shape %v too large", []int(l.Target))
			}
			known *= d
		}
	}
	n := in.Size()
	if free >= 0 {
		if n%known != 0 {
			return nil, errf(ErrShapeMismatch, "cannot reshape %v (%d values) to %v", in, n, []int(l.Target))
		}
		out[free] = n / known
	} else if known != n {
		return nil, errf(ErrShapeMismatch, "cannot reshape %v (%d values) to %v", in, n, []int(l.Target))
	}
	return out, nil
}

// ScratchLen implements Layer.
func (l *Reshape) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Reshape) Forward(dst, src, _ []float32, _ Shape, _ int) {
	if &dst[0] != &src[0] {
		copy(dst, src)
	}
}

// InPlace implements InPlacer.
func (l *Reshape) InPlace() bool { return true }

// Weights implements Layer.
func (l *Reshape) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Reshape) Config() string { return fmt.Sprintf("target=%v", []int(l.Target)) }

// FLOPs implements Layer.
func (l *Reshape) FLOPs(Shape) int64 { return 0 }

const maxPermRank = 8

// Permute reorders the non-batch axes: output axis i is input axis Perm[i] (0-based,
// unlike Keras's 1-based dims).
type Permute struct {
	Info
	Perm []int
}

// OutputShape implements Layer.
func (l *Permute) OutputShape(in Shape) (Shape, error) {
	if len(l.Perm) != len(in) || len(in) > maxPermRank {
		return nil, errf(ErrShapeMismatch, "permutation %v does not fit input %v", l.Perm, in)
	}
	seen := make([]bool, len(in))
	out := make(Shape, len(in))
	for i, p := range l.Perm {
		if p < 0 || p >= len(in) || seen[p] {
			return nil, errf(ErrInvalid, "%v is not a permutation", l.Perm)
		}
		seen[p] = true
		out[i] = in[p]
	}
	return out, nil
}

// ScratchLen implements Layer.
func (l *Permute) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Permute) Forward(dst, src, _ []float32, in Shape, batch int) {
	r := len(in)
	var out, inStride, st, idx [maxPermRank]int
	for i, p := range l.Perm {
		out[i] = in[p]
	}
	// strides of the input, taken in output axis order
	s := 1
	for i := r - 1; i >= 0; i-- {
		inStride[i] = s
		s *= in[i]
	}
	for i, p := range l.Perm {
		st[i] = inStride[p]
	}
	n := in.Size()
	for b := 0; b < batch; b++ {
		x, y := src[b*n:(b+1)*n], dst[b*n:(b+1)*n]
		idx = [maxPermRank]int{}
		off := 0
		for o := 0; o < n; o++ {
			y[o] = x[off]
			for a := r - 1; a >= 0; a-- {
				idx[a]++
				off += st[a]
				if idx[a] < out[a] {
					break
				}
				off -= st[a] * idx[a]
				idx[a] = 0
			}
		}
	}
}

// Weights implements Layer.
func (l *Permute) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Permute) Config() string { return fmt.Sprintf("perm=%v", l.Perm) }

// FLOPs implements Layer.
func (l *Permute) FLOPs(Shape) int64 { return 0 }
