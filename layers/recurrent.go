package layers

// Recurrent is a sequence layer over (T, In) input that Bidirectional can wrap: LSTM,
// GRU and SimpleRNN.
type Recurrent interface {
	Layer
	// Recurrence returns the layer's sizes and sequence options.
	Recurrence() Recurrence
}

// Recurrence is the sizes and sequence options every recurrent layer has.
type Recurrence struct {
	Units, In        int
	ReturnSequences  bool
	GoBackwards      bool
	KeepTimeOrder    bool
	ZeroMaskedOutput bool // a masked step outputs zeros instead of the previous output
}

// optWeight is an optional weight array with the length the configuration needs.
type optWeight struct {
	name string
	w    []float32
	n    int
}

// checkOptional validates the lengths of the optional weights that are present.
func checkOptional(ws []optWeight) error {
	for _, p := range ws {
		if p.w != nil {
			if err := checkLen(p.name, p.w, p.n); err != nil {
				return err
			}
		}
	}
	return nil
}

// recurrentOut checks a recurrent layer's (T, In) input and returns its output shape.
func recurrentOut(in Shape, features, units int, seq bool, class string) (Shape, error) {
	if err := wantRank(in, 2, class); err != nil {
		return nil, err
	}
	if in[1] != features {
		return nil, errf(ErrShapeMismatch, "input %v has %d features, kernel expects %d", in, in[1], features)
	}
	if seq {
		return Shape{in[0], units}, nil
	}
	return Shape{units}, nil
}

// initState sets dst to init, or to zeros when init is nil.
func initState(dst, init []float32) {
	if init != nil {
		copy(dst, init)
	} else {
		clear(dst)
	}
}

// TimeDistributed applies Inner, a layer over (T, In) sequences, to each entry of a
// leading axis: input (N, T, In), output (N, Inner's output). Keras's TimeDistributed
// around a recurrent layer (or a Bidirectional one); the leading axis acts as more
// batch.
type TimeDistributed struct {
	Info
	Inner Layer
}

// OutputShape implements Layer.
func (l *TimeDistributed) OutputShape(in Shape) (Shape, error) {
	if l.Inner == nil {
		return nil, errf(ErrInvalid, "TimeDistributed without a wrapped layer")
	}
	if len(in) < 2 {
		return nil, errf(ErrShapeMismatch, "TimeDistributed expects an input with a leading axis, got %v", in)
	}
	o, err := l.Inner.OutputShape(in[1:])
	if err != nil {
		return nil, err
	}
	return append(Shape{in[0]}, o...), nil
}

// ScratchLen implements Layer.
func (l *TimeDistributed) ScratchLen(in Shape, batch int) int {
	return l.Inner.ScratchLen(in[1:], batch*in[0])
}

// Forward implements Layer.
func (l *TimeDistributed) Forward(dst, src, scratch []float32, in Shape, batch int) {
	l.Inner.Forward(dst, src, scratch, in[1:], batch*in[0])
}

// Weights implements Layer.
func (l *TimeDistributed) Weights() [][]float32 { return l.Inner.Weights() }

// Config implements Layer.
func (l *TimeDistributed) Config() string { return "{" + l.Inner.Config() + "}" }

// FLOPs implements Layer.
func (l *TimeDistributed) FLOPs(in Shape) int64 {
	if len(in) < 2 {
		return 0
	}
	return int64(in[0]) * l.Inner.FLOPs(in[1:])
}
