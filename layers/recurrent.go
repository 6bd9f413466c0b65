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

// forwardSteps is the masked forward pass of a Stepper as a loop of its Step (so a
// stream stepping the layer gives the same bits): a step whose flag in mask is 0 leaves
// the state unchanged, and its output repeats the previous output (zero before the
// first kept step, or with ZeroMaskedOutput), as Keras's RNN does. scratch holds the
// state, then StepScratch floats.
func forwardSteps(r Stepper, dst, src, mask, scratch []float32, in Shape, batch int) {
	rc := r.Recurrence()
	t, u, f := in[0], rc.Units, rc.In
	state, z := scratch[:r.StateLen()], scratch[r.StateLen():]
	outLen := u
	if rc.ReturnSequences {
		outLen = t * u
	}
	for b := 0; b < batch; b++ {
		x := src[b*t*f : (b+1)*t*f]
		y := dst[b*outLen : (b+1)*outLen]
		r.InitState(state)
		stepped := false
		last := state[:u]
		for s := 0; s < t; s++ {
			ti := s
			if rc.GoBackwards {
				ti = t - 1 - s
			}
			keep := mask == nil || mask[b*t+ti] != 0
			if keep {
				r.Step(state, x[ti*f:(ti+1)*f], z)
				stepped = true
			}
			last = state[:u]
			if !keep && (rc.ZeroMaskedOutput || !stepped) {
				last = nil
			}
			if rc.ReturnSequences {
				o := s
				if rc.KeepTimeOrder {
					o = ti
				}
				putOut(y[o*u:(o+1)*u], last)
			}
		}
		if !rc.ReturnSequences {
			putOut(y, last)
		}
	}
}

// zeroMaskedConfig is the Config suffix of a layer that zeroes masked outputs.
func zeroMaskedConfig(zero bool) string {
	if zero {
		return " zero_output_for_mask=true"
	}
	return ""
}
