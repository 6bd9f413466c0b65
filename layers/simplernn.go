package layers

import "fmt"

// SimpleRNN is a fully connected recurrent layer over (T, In) input, Keras layout: W is
// (In, Units), U is (Units, Units), B is Units or nil:
//
//	h = Act(x_t W + h U + B)
//
// Act applies to the Units values as a vector (softmax acts over the units).
// GoBackwards, ReturnSequences, KeepTimeOrder and H0 are as for LSTM.
type SimpleRNN struct {
	Info
	In, Units       int
	W, U, B         []float32
	Act             Activation
	ReturnSequences bool
	GoBackwards     bool
	KeepTimeOrder   bool
	// ZeroMaskedOutput: a masked step outputs zeros (see LSTM).
	ZeroMaskedOutput bool
	H0               []float32
}

// OutputShape implements Layer.
func (l *SimpleRNN) OutputShape(in Shape) (Shape, error) {
	if l.In <= 0 || l.Units <= 0 || l.In > MaxElements || l.Units > MaxElements {
		return nil, errf(ErrInvalid, "units %d, input features %d", l.Units, l.In)
	}
	if err := checkLen("kernel", l.W, l.In*l.Units); err != nil {
		return nil, err
	}
	if err := checkLen("recurrent kernel", l.U, l.Units*l.Units); err != nil {
		return nil, err
	}
	if err := checkOptional([]optWeight{{"bias", l.B, l.Units}, {"initial h", l.H0, l.Units}}); err != nil {
		return nil, err
	}
	if err := l.Act.Validate(); err != nil {
		return nil, err
	}
	return recurrentOut(in, l.In, l.Units, l.ReturnSequences, "SimpleRNN")
}

// ScratchLen implements Layer: h and the pre-activation of one step.
func (l *SimpleRNN) ScratchLen(Shape, int) int { return 2 * l.Units }

// Forward implements Layer.
func (l *SimpleRNN) Forward(dst, src, scratch []float32, in Shape, batch int) {
	forwardSteps(l, dst, src, nil, scratch, in, batch)
}

// ForwardMasked implements Maskable with the masking rules of LSTM.ForwardMasked.
func (l *SimpleRNN) ForwardMasked(dst, src, mask, scratch []float32, in Shape, batch int) {
	forwardSteps(l, dst, src, mask, scratch, in, batch)
}

// StateLen implements Stepper: h.
func (l *SimpleRNN) StateLen() int { return l.Units }

// StepScratch implements Stepper.
func (l *SimpleRNN) StepScratch() int { return l.Units }

// InitState implements Stepper.
func (l *SimpleRNN) InitState(state []float32) { initState(state[:l.Units], l.H0) }

// Step implements Stepper: h (state) advances by one timestep of input x.
func (l *SimpleRNN) Step(state, x, scratch []float32) {
	u := l.Units
	z, h := scratch[:u], state[:u]
	initState(z, l.B)
	axpyRows(z, x, l.W)
	axpyRows(z, h, l.U)
	l.Act.Apply(z, u)
	copy(h, z)
}

// Weights implements Layer.
func (l *SimpleRNN) Weights() [][]float32 {
	ws := [][]float32{l.W, l.U}
	for _, w := range [][]float32{l.B, l.H0} {
		if w != nil {
			ws = append(ws, w)
		}
	}
	return ws
}

// Config implements Layer.
func (l *SimpleRNN) Config() string {
	return fmt.Sprintf("units=%d in=%d act=%v return_sequences=%v go_backwards=%v keep_time_order=%v bias=%v h0=%v%s",
		l.Units, l.In, l.Act, l.ReturnSequences, l.GoBackwards, l.KeepTimeOrder, l.B != nil, l.H0 != nil, zeroMaskedConfig(l.ZeroMaskedOutput))
}

// FLOPs implements Layer.
func (l *SimpleRNN) FLOPs(in Shape) int64 {
	if len(in) != 2 {
		return 0
	}
	u := int64(l.Units)
	return int64(in[0]) * (2*int64(l.In)*u + 2*u*u + 2*u)
}

// Recurrence implements Recurrent.
func (l *SimpleRNN) Recurrence() Recurrence {
	return Recurrence{Units: l.Units, In: l.In, ReturnSequences: l.ReturnSequences, GoBackwards: l.GoBackwards,
		KeepTimeOrder: l.KeepTimeOrder, ZeroMaskedOutput: l.ZeroMaskedOutput}
}
