package layers

import "fmt"

// Remap copies elements by a table, per sample: dst[k] = src[Idx[k]], or Fill where
// Idx[k] < 0. The ONNX importer builds it for the ops that only move data in ways a
// transpose cannot: Slice and Split on any axis, Tile, Pad in every mode (constant,
// reflect, edge, with any value).
type Remap struct {
	Info
	Idx    []int32
	Fill   float32
	InSize int   // elements per input sample
	Out    Shape // output shape per sample; Out.Size() == len(Idx)
}

// OutputShape implements Layer.
func (l *Remap) OutputShape(in Shape) (Shape, error) {
	if in.Size() != l.InSize || l.Out.Size() != len(l.Idx) {
		return nil, errf(ErrShapeMismatch, "remap of %d to %v (%d entries) on input %v", l.InSize, l.Out, len(l.Idx), in)
	}
	for _, v := range l.Idx {
		if int(v) >= l.InSize {
			return nil, errf(ErrInvalid, "remap index %d out of range for input %v", v, in)
		}
	}
	return l.Out.Clone(), nil
}

// ScratchLen implements Layer.
func (l *Remap) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *Remap) Forward(dst, src, _ []float32, in Shape, batch int) {
	n, m := len(l.Idx), l.InSize
	for b := 0; b < batch; b++ {
		d, s := dst[b*n:(b+1)*n], src[b*m:(b+1)*m]
		for k, i := range l.Idx {
			if i < 0 {
				d[k] = l.Fill
			} else {
				d[k] = s[i]
			}
		}
	}
}

// Weights implements Layer.
func (l *Remap) Weights() [][]float32 { return nil }

// Params implements ParamCounter: the table is structure, not weights.
func (l *Remap) Params() int64 { return 0 }

// Config implements Layer.
func (l *Remap) Config() string {
	return fmt.Sprintf("out=%v from %d, fill=%g", []int(l.Out), l.InSize, l.Fill)
}

// FLOPs implements Layer.
func (l *Remap) FLOPs(Shape) int64 { return 0 }
