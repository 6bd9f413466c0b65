package layers

import "fmt"

// LSTM is a long short-term memory layer over (T, In) input, Keras layout: W is
// (In, 4*Units), U is (Units, 4*Units), B is 4*Units or nil, gate order i, f, c, o:
//
//	z = x_t W + h U + B
//	i, f, o = RecAct(z_i), RecAct(z_f), RecAct(z_o)
//	c = f*c + i*Act(z_c);  h = o*Act(c)
//
// With GoBackwards the steps run from the last input to the first; with
// ReturnSequences the output is (T, Units) in processing order (Keras), or in input
// time order when KeepTimeOrder is set too (ONNX reverse direction, Keras
// Bidirectional). H0 and C0 are optional initial states (zero when nil).
type LSTM struct {
	Info
	In, Units       int
	W, U, B         []float32
	Act, RecAct     Activation
	ReturnSequences bool
	GoBackwards     bool
	KeepTimeOrder   bool
	// ZeroMaskedOutput: the output at a masked step is zero instead of the previous
	// output (Keras zero_output_for_mask; Bidirectional sets it when returning
	// sequences).
	ZeroMaskedOutput bool
	H0, C0           []float32
}

// OutputShape implements Layer.
func (l *LSTM) OutputShape(in Shape) (Shape, error) {
	if l.In <= 0 || l.Units <= 0 {
		return nil, errf(ErrInvalid, "units %d, input features %d", l.Units, l.In)
	}
	u4 := 4 * l.Units
	if err := checkLen("kernel", l.W, l.In*u4); err != nil {
		return nil, err
	}
	if err := checkLen("recurrent kernel", l.U, l.Units*u4); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		name string
		w    []float32
		n    int
	}{{"bias", l.B, u4}, {"initial h", l.H0, l.Units}, {"initial c", l.C0, l.Units}} {
		if p.w != nil {
			if err := checkLen(p.name, p.w, p.n); err != nil {
				return nil, err
			}
		}
	}
	if err := l.Act.Validate(); err != nil {
		return nil, err
	}
	if err := l.RecAct.Validate(); err != nil {
		return nil, err
	}
	if !l.Act.PerElement() || !l.RecAct.PerElement() {
		return nil, errf(ErrUnsupported, "softmax as an LSTM activation")
	}
	if err := wantRank(in, 2, "LSTM"); err != nil {
		return nil, err
	}
	if in[1] != l.In {
		return nil, errf(ErrShapeMismatch, "input %v has %d features, kernel expects %d", in, in[1], l.In)
	}
	if l.ReturnSequences {
		return Shape{in[0], l.Units}, nil
	}
	return Shape{l.Units}, nil
}

// ScratchLen implements Layer: gates, h and c of one sample.
func (l *LSTM) ScratchLen(Shape, int) int { return 6 * l.Units }

// Forward implements Layer.
func (l *LSTM) Forward(dst, src, scratch []float32, in Shape, batch int) {
	l.ForwardMasked(dst, src, nil, scratch, in, batch)
}

// ForwardMasked implements Maskable: a step whose flag in mask is 0 leaves h and c
// unchanged, and its output repeats the previous output (zero before the first kept
// step), or is zero with ZeroMaskedOutput, as Keras's RNN does.
func (l *LSTM) ForwardMasked(dst, src, mask, scratch []float32, in Shape, batch int) {
	t, u := in[0], l.Units
	state, z := scratch[:2*u], scratch[2*u:6*u]
	outLen := u
	if l.ReturnSequences {
		outLen = t * u
	}
	for b := 0; b < batch; b++ {
		x := src[b*t*l.In : (b+1)*t*l.In]
		y := dst[b*outLen : (b+1)*outLen]
		l.InitState(state)
		stepped := false
		last := state[:u]
		for s := 0; s < t; s++ {
			ti := s
			if l.GoBackwards {
				ti = t - 1 - s
			}
			keep := mask == nil || mask[b*t+ti] != 0
			if keep {
				l.Step(state, x[ti*l.In:(ti+1)*l.In], z)
				stepped = true
			}
			last = state[:u]
			if !keep && (l.ZeroMaskedOutput || !stepped) {
				last = nil
			}
			if l.ReturnSequences {
				o := s
				if l.KeepTimeOrder {
					o = ti
				}
				putOut(y[o*u:(o+1)*u], last)
			}
		}
		if !l.ReturnSequences {
			putOut(y, last)
		}
	}
}

// putOut writes h, or zeros when h is nil.
func putOut(y, h []float32) {
	if h == nil {
		clear(y)
		return
	}
	copy(y, h)
}

// Recurrence implements Recurrent.
func (l *LSTM) Recurrence() Recurrence {
	return Recurrence{In: l.In, Units: l.Units, ReturnSequences: l.ReturnSequences, GoBackwards: l.GoBackwards,
		KeepTimeOrder: l.KeepTimeOrder, ZeroMaskedOutput: l.ZeroMaskedOutput}
}

// StateLen is the number of floats of one sample's recurrent state: h then c.
func (l *LSTM) StateLen() int { return 2 * l.Units }

// StepScratch is the scratch Step needs.
func (l *LSTM) StepScratch() int { return 4 * l.Units }

// InitState sets state (StateLen floats) to the initial h and c.
func (l *LSTM) InitState(state []float32) {
	h, c := state[:l.Units], state[l.Units:2*l.Units]
	if l.H0 != nil {
		copy(h, l.H0)
	} else {
		clear(h)
	}
	if l.C0 != nil {
		copy(c, l.C0)
	} else {
		clear(c)
	}
}

// Step advances state (h then c) by one timestep of input x (In floats); z is
// StepScratch floats. The new h is state[:Units]. Forward is a loop of Steps, so a
// sequence fed step by step gives the same bits.
func (l *LSTM) Step(state, x, z []float32) {
	u := l.Units
	h, c := state[:u], state[u:2*u]
	z = z[:4*u]
	if l.B != nil {
		copy(z, l.B)
	} else {
		clear(z)
	}
	axpyRows(z, x, l.W)
	axpyRows(z, h, l.U)
	l.cell(z, h, c)
}

// cell applies the gate activations to z (4u, order i f c o) and updates c and h.
func (l *LSTM) cell(z, h, c []float32) {
	u := len(h)
	for j := 0; j < u; j++ {
		i := l.RecAct.Eval(z[j])
		f := l.RecAct.Eval(z[u+j])
		g := l.Act.Eval(z[2*u+j])
		o := l.RecAct.Eval(z[3*u+j])
		c[j] = f*c[j] + i*g
		h[j] = o * l.Act.Eval(c[j])
	}
}

// axpyRows adds x * M to y, where M has len(x) rows of len(y) values.
func axpyRows(y, x, m []float32) {
	n := len(y)
	for k, xv := range x {
		if xv == 0 {
			continue
		}
		row := m[k*n : (k+1)*n]
		for j, w := range row {
			y[j] += xv * w
		}
	}
}

// Weights implements Layer.
func (l *LSTM) Weights() [][]float32 {
	ws := [][]float32{l.W, l.U}
	for _, w := range [][]float32{l.B, l.H0, l.C0} {
		if w != nil {
			ws = append(ws, w)
		}
	}
	return ws
}

// Config implements Layer.
func (l *LSTM) Config() string {
	zm := ""
	if l.ZeroMaskedOutput {
		zm = " zero_output_for_mask=true"
	}
	return fmt.Sprintf("units=%d in=%d act=%v recurrent_act=%v return_sequences=%v go_backwards=%v keep_time_order=%v bias=%v h0=%v c0=%v%s",
		l.Units, l.In, l.Act, l.RecAct, l.ReturnSequences, l.GoBackwards, l.KeepTimeOrder, l.B != nil, l.H0 != nil, l.C0 != nil, zm)
}

// FLOPs implements Layer.
func (l *LSTM) FLOPs(in Shape) int64 {
	if len(in) != 2 {
		return 0
	}
	u := int64(l.Units)
	return int64(in[0]) * (2*int64(l.In)*4*u + 2*u*4*u + 20*u)
}

// Bidirectional runs a forward and a backward recurrent layer (LSTM, GRU or SimpleRNN)
// over the same input and merges their outputs: "concat" (forward first), "sum", "mul"
// or "ave". The backward layer must have GoBackwards set; its sequence output is put
// back in time order.
type Bidirectional struct {
	Info
	Fwd, Bwd Recurrent
	Merge    string
}

// OutputShape implements Layer.
func (l *Bidirectional) OutputShape(in Shape) (Shape, error) {
	if l.Fwd == nil || l.Bwd == nil {
		return nil, errf(ErrInvalid, "bidirectional layer without both directions")
	}
	f, b := l.Fwd.Recurrence(), l.Bwd.Recurrence()
	if f.GoBackwards || !b.GoBackwards || (b.ReturnSequences && !b.KeepTimeOrder) {
		return nil, errf(ErrInvalid, "bidirectional directions are not forward then backward-in-time-order")
	}
	fo, err := l.Fwd.OutputShape(in)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	bo, err := l.Bwd.OutputShape(in)
	if err != nil {
		return nil, fmt.Errorf("backward: %w", err)
	}
	if !fo.Equal(bo) {
		return nil, errf(ErrShapeMismatch, "forward output %v and backward output %v differ", fo, bo)
	}
	switch l.Merge {
	case "concat":
		fo[len(fo)-1] *= 2
	case "sum", "mul", "ave":
	default:
		return nil, errf(ErrUnsupported, "merge_mode %q", l.Merge)
	}
	return fo, nil
}

// ScratchLen implements Layer.
func (l *Bidirectional) ScratchLen(in Shape, batch int) int {
	fo, _ := l.Fwd.OutputShape(in)
	return 2*fo.Size() + l.Fwd.ScratchLen(in, 1)
}

// Forward implements Layer.
func (l *Bidirectional) Forward(dst, src, scratch []float32, in Shape, batch int) {
	l.ForwardMasked(dst, src, nil, scratch, in, batch)
}

// ForwardMasked implements Maskable: both directions read the same mask (a direction
// that is not Maskable runs unmasked; importers give masks only to Maskable ones).
func (l *Bidirectional) ForwardMasked(dst, src, mask, scratch []float32, in Shape, batch int) {
	f := l.Fwd.Recurrence()
	u := f.Units
	n := u
	if f.ReturnSequences {
		n *= in[0]
	}
	fy, by, ls := scratch[:n], scratch[n:2*n], scratch[2*n:]
	step := in.Size()
	for b := 0; b < batch; b++ {
		x := src[b*step : (b+1)*step]
		var mk []float32
		if mask != nil {
			mk = mask[b*in[0] : (b+1)*in[0]]
		}
		forwardMasked(l.Fwd, fy, x, mk, ls, in)
		forwardMasked(l.Bwd, by, x, mk, ls, in)
		if l.Merge == "concat" {
			y := dst[b*2*n : (b+1)*2*n]
			for r := 0; r < n/u; r++ {
				copy(y[2*r*u:], fy[r*u:(r+1)*u])
				copy(y[(2*r+1)*u:], by[r*u:(r+1)*u])
			}
			continue
		}
		y := dst[b*n : (b+1)*n]
		for i := range y {
			switch l.Merge {
			case "sum":
				y[i] = fy[i] + by[i]
			case "mul":
				y[i] = fy[i] * by[i]
			default:
				y[i] = (fy[i] + by[i]) / 2
			}
		}
	}
}

// Weights implements Layer.
func (l *Bidirectional) Weights() [][]float32 {
	return append(l.Fwd.Weights(), l.Bwd.Weights()...)
}

// Config implements Layer.
func (l *Bidirectional) Config() string {
	return fmt.Sprintf("merge=%s forward{%s} backward{%s}", l.Merge, l.Fwd.Config(), l.Bwd.Config())
}

// FLOPs implements Layer.
func (l *Bidirectional) FLOPs(in Shape) int64 { return l.Fwd.FLOPs(in) + l.Bwd.FLOPs(in) }

// forwardMasked runs one sample of r with mask mk when r is Maskable.
func forwardMasked(r Recurrent, dst, src, mk, scratch []float32, in Shape) {
	if m, ok := r.(Maskable); ok {
		m.ForwardMasked(dst, src, mk, scratch, in, 1)
		return
	}
	r.Forward(dst, src, scratch, in, 1)
}
