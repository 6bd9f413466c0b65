package layers

// Recurrent is a sequence layer over (T, In) input that Bidirectional can wrap: LSTM,
// GRU and SimpleRNN.
type Recurrent interface {
	Layer
	// Recurrence returns the layer's sizes and sequence options.
	Recurrence() RecurrentOpts
}

// RecurrentOpts are the sizes and sequence options every recurrent layer has.
type RecurrentOpts struct {
	Units, In       int
	ReturnSequences bool
	GoBackwards     bool
	KeepTimeOrder   bool
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
