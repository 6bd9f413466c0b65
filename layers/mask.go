package layers

import "fmt"

// Masks. A mask is an explicit value in the graph: shape (T), one flag per timestep
// of each sample, 1 for a step that is kept and 0 for a masked (padded) one. It is made
// by MaskIDs (Keras Embedding mask_zero) or MaskValue (Keras Masking) and read by a
// Masked recurrent layer as its second input.

// Maskable is a recurrent layer that can skip masked steps: at a step whose flag is 0
// the state is carried forward unchanged and the output repeats the previous output
// (or is zero, when the layer zeroes masked outputs), as Keras does.
type Maskable interface {
	Layer
	// ForwardMasked is Forward with one flag per step of each sample in mask
	// (batch*T values; nil: no step is masked).
	ForwardMasked(dst, src, mask, scratch []float32, in Shape, batch int)
}

// Stepper is a recurrent layer that can run one timestep at a time (runtime streams
// and variable-length runs use it; LSTM implements it, and so can GRU and SimpleRNN).
// Its reference ForwardMasked should be a loop of Step, so a stream gives its bits.
type Stepper interface {
	Maskable
	// Recurrence describes the layer's sizes and options.
	Recurrence() Recurrence
	// StateLen is the number of floats of one sample's state; h is its first Units.
	StateLen() int
	// StepScratch is the scratch Step needs.
	StepScratch() int
	// InitState sets a sample's state to the initial one.
	InitState(state []float32)
	// Step advances state by one timestep of input x (In floats).
	Step(state, x, scratch []float32)
}

// Masked runs a Maskable layer with a mask: inputs (T, F) and the mask (T).
type Masked struct {
	Layer Maskable
}

// LayerInfo implements Layer: the wrapped layer's identity.
func (l *Masked) LayerInfo() *Info { return l.Layer.LayerInfo() }

// OutputShapeN implements MultiInput.
func (l *Masked) OutputShapeN(ins []Shape) (Shape, error) {
	if l.Layer == nil {
		return nil, errf(ErrInvalid, "masked layer without a layer")
	}
	if len(ins) != 2 {
		return nil, errf(ErrInvalid, "a masked layer takes its input and a mask, got %d inputs", len(ins))
	}
	out, err := l.Layer.OutputShape(ins[0])
	if err != nil {
		return nil, err
	}
	if len(ins[0]) < 1 || !ins[1].Equal(Shape{ins[0][0]}) {
		return nil, errf(ErrShapeMismatch, "mask %v does not match input %v (want one flag per timestep)", ins[1], ins[0])
	}
	return out, nil
}

// OutputShape implements Layer (a mask is required).
func (l *Masked) OutputShape(Shape) (Shape, error) {
	return nil, errf(ErrInvalid, "a masked layer needs its mask as a second input")
}

// ScratchLenN implements MultiInput.
func (l *Masked) ScratchLenN(ins []Shape, batch int) int { return l.Layer.ScratchLen(ins[0], batch) }

// ScratchLen implements Layer.
func (l *Masked) ScratchLen(in Shape, batch int) int { return l.Layer.ScratchLen(in, batch) }

// ForwardN implements MultiInput.
func (l *Masked) ForwardN(dst []float32, srcs [][]float32, scratch []float32, ins []Shape, batch int) {
	l.Layer.ForwardMasked(dst, srcs[0], srcs[1], scratch, ins[0], batch)
}

// Forward implements Layer: no step masked.
func (l *Masked) Forward(dst, src, scratch []float32, in Shape, batch int) {
	l.Layer.Forward(dst, src, scratch, in, batch)
}

// Weights implements Layer.
func (l *Masked) Weights() [][]float32 { return l.Layer.Weights() }

// Config implements Layer.
func (l *Masked) Config() string { return "masked " + l.Layer.Config() }

// FLOPsN implements MultiInput.
func (l *Masked) FLOPsN(ins []Shape) int64 { return l.Layer.FLOPs(ins[0]) }

// FLOPs implements Layer.
func (l *Masked) FLOPs(in Shape) int64 { return l.Layer.FLOPs(in) }

// Params implements ParamCounter.
func (l *Masked) Params() int64 { return ParamCount(l.Layer) }

// MaskValue computes the Keras Masking mask: input (T, F), output (T) with 1 where
// any feature of the step differs from Value.
type MaskValue struct {
	Info
	Value float32
}

// OutputShape implements Layer.
func (l *MaskValue) OutputShape(in Shape) (Shape, error) {
	if len(in) != 2 {
		return nil, errf(ErrShapeMismatch, "Masking needs a sequence (timesteps, features), got %v", in)
	}
	return Shape{in[0]}, nil
}

// ScratchLen implements Layer.
func (l *MaskValue) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *MaskValue) Forward(dst, src, _ []float32, in Shape, batch int) {
	f := in[1]
	for i := range batch * in[0] {
		dst[i] = 0
		for _, v := range src[i*f : (i+1)*f] {
			if v != l.Value {
				dst[i] = 1
				break
			}
		}
	}
}

// Weights implements Layer.
func (l *MaskValue) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *MaskValue) Config() string { return fmt.Sprintf("mask = any(x != %g)", l.Value) }

// FLOPs implements Layer.
func (l *MaskValue) FLOPs(in Shape) int64 { return int64(in.Size()) }

// Masking is Keras's Masking layer output: input (T, F), each step whose features all
// equal Value set to zero, others unchanged.
type Masking struct {
	Info
	Value float32
}

// OutputShape implements Layer.
func (l *Masking) OutputShape(in Shape) (Shape, error) {
	if len(in) != 2 {
		return nil, errf(ErrShapeMismatch, "Masking needs a sequence (timesteps, features), got %v", in)
	}
	return in.Clone(), nil
}

// ScratchLen implements Layer.
func (l *Masking) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer; it may run in place.
func (l *Masking) Forward(dst, src, _ []float32, in Shape, batch int) {
	f := in[1]
	for i := range batch * in[0] {
		s, d := src[i*f:(i+1)*f], dst[i*f:(i+1)*f]
		keep := false
		for _, v := range s {
			if v != l.Value {
				keep = true
				break
			}
		}
		if keep {
			copy(d, s)
		} else {
			clear(d)
		}
	}
}

// InPlace implements InPlacer.
func (l *Masking) InPlace() bool { return true }

// Weights implements Layer.
func (l *Masking) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *Masking) Config() string { return fmt.Sprintf("mask_value=%g", l.Value) }

// FLOPs implements Layer.
func (l *Masking) FLOPs(in Shape) int64 { return int64(in.Size()) }

// MaskedAvgPool1D is Keras's GlobalAveragePooling1D with a mask: inputs (T, F) and the
// mask (T), output (F), the mean over the kept steps (0/0 = NaN when none is kept, as
// Keras computes it).
type MaskedAvgPool1D struct {
	Info
}

// OutputShapeN implements MultiInput.
func (l *MaskedAvgPool1D) OutputShapeN(ins []Shape) (Shape, error) {
	if len(ins) != 2 || len(ins[0]) != 2 || !ins[1].Equal(Shape{ins[0][0]}) {
		return nil, errf(ErrShapeMismatch, "masked average pooling takes (timesteps, features) and a (timesteps) mask, got %v", ins)
	}
	return Shape{ins[0][1]}, nil
}

// OutputShape implements Layer (a mask is required).
func (l *MaskedAvgPool1D) OutputShape(Shape) (Shape, error) {
	return nil, errf(ErrInvalid, "masked average pooling needs its mask as a second input")
}

// ScratchLenN implements MultiInput.
func (l *MaskedAvgPool1D) ScratchLenN([]Shape, int) int { return 0 }

// ScratchLen implements Layer.
func (l *MaskedAvgPool1D) ScratchLen(Shape, int) int { return 0 }

// ForwardN implements MultiInput.
func (l *MaskedAvgPool1D) ForwardN(dst []float32, srcs [][]float32, _ []float32, ins []Shape, batch int) {
	t, f := ins[0][0], ins[0][1]
	for b := 0; b < batch; b++ {
		x, m, y := srcs[0][b*t*f:(b+1)*t*f], srcs[1][b*t:(b+1)*t], dst[b*f:(b+1)*f]
		clear(y)
		var n float32
		for s := 0; s < t; s++ {
			n += m[s]
			for j, v := range x[s*f : (s+1)*f] {
				y[j] += v * m[s]
			}
		}
		for j := range y {
			y[j] /= n
		}
	}
}

// Forward implements Layer: every step kept.
func (l *MaskedAvgPool1D) Forward(dst, src, _ []float32, in Shape, batch int) {
	ones := make([]float32, batch*in[0]) // not a runtime path: the graph always passes a mask
	for i := range ones {
		ones[i] = 1
	}
	l.ForwardN(dst, [][]float32{src, ones}, nil, []Shape{in, {in[0]}}, batch)
}

// Weights implements Layer.
func (l *MaskedAvgPool1D) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *MaskedAvgPool1D) Config() string { return "mean over kept steps" }

// FLOPsN implements MultiInput.
func (l *MaskedAvgPool1D) FLOPsN(ins []Shape) int64 { return 2 * int64(ins[0].Size()) }

// FLOPs implements Layer.
func (l *MaskedAvgPool1D) FLOPs(in Shape) int64 { return 2 * int64(in.Size()) }

// MaskLengths makes a mask from one sequence length per sample (ONNX sequence_lens):
// input the length (an Int32 value, held as token ids are), output (Steps) flags, 1 for
// the first length steps. Lengths are checked before a run as ids are (0..Steps, its
// Vocabulary).
type MaskLengths struct {
	Info
	Steps int
}

// Vocabulary implements IDReader: lengths 0..Steps.
func (l *MaskLengths) Vocabulary() int { return l.Steps + 1 }

// OutputShape implements Layer.
func (l *MaskLengths) OutputShape(in Shape) (Shape, error) {
	if in.Size() != 1 || l.Steps <= 0 || l.Steps > MaxElements {
		return nil, errf(ErrShapeMismatch, "sequence lengths need one value per sample and a positive step count, got %v and %d steps", in, l.Steps)
	}
	return Shape{l.Steps}, nil
}

// ScratchLen implements Layer.
func (l *MaskLengths) ScratchLen(Shape, int) int { return 0 }

// Forward implements Layer.
func (l *MaskLengths) Forward(dst, src, _ []float32, _ Shape, batch int) {
	t := l.Steps
	for b := 0; b < batch; b++ {
		n := int(ID(src[b]))
		for s := 0; s < t; s++ {
			dst[b*t+s] = 0
			if s < n {
				dst[b*t+s] = 1
			}
		}
	}
}

// Weights implements Layer.
func (l *MaskLengths) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *MaskLengths) Config() string { return fmt.Sprintf("mask = step < length (%d steps)", l.Steps) }

// FLOPs implements Layer.
func (l *MaskLengths) FLOPs(Shape) int64 { return 0 }
