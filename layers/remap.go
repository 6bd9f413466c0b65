package layers

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
)

// Remap copies elements by a table, per sample: dst[k] = src[Idx[k]], or where
// Idx[k] < 0 the fill value (Fills[k], or Fill when Fills is nil). The ONNX importer
// builds it for the ops that only move data in ways a transpose cannot: Slice and Split
// on any axis, Tile, Pad in every mode (constant, reflect, edge, with any value), and
// Where choosing between the data and a constant by a constant condition.
type Remap struct {
	Info
	Idx    []int32
	Fill   float32
	Fills  []float32 // nil, or one fill value per output element
	InSize int       // elements per input sample
	Out    Shape     // output shape per sample; Out.Size() == len(Idx)
}

// OutputShape implements Layer.
func (l *Remap) OutputShape(in Shape) (Shape, error) {
	if in.Size() != l.InSize || l.Out.Size() != len(l.Idx) || l.Fills != nil && len(l.Fills) != len(l.Idx) {
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
			switch {
			case i >= 0:
				d[k] = s[i]
			case l.Fills != nil:
				d[k] = l.Fills[k]
			default:
				d[k] = l.Fill
			}
		}
	}
}

// Weights implements Layer.
func (l *Remap) Weights() [][]float32 {
	if l.Fills == nil {
		return nil
	}
	return [][]float32{l.Fills}
}

// Params implements ParamCounter: the table is structure, not weights.
func (l *Remap) Params() int64 { return int64(len(l.Fills)) }

// Config implements Layer. It carries a hash of the table so that the graph's
// fingerprint tells two remaps of the same shapes apart.
func (l *Remap) Config() string {
	h := fnv.New64a()
	var b [4]byte
	for _, v := range l.Idx {
		binary.LittleEndian.PutUint32(b[:], uint32(v))
		h.Write(b[:])
	}
	return fmt.Sprintf("out=%v from %d, fill=%g, table=%016x", []int(l.Out), l.InSize, l.Fill, h.Sum64())
}

// FLOPs implements Layer.
func (l *Remap) FLOPs(Shape) int64 { return 0 }
