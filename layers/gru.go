package layers

import "fmt"

// GRU is a gated recurrent unit layer over (T, In) input, Keras layout: W is
// (In, 3*Units), U is (Units, 3*Units), gate order z (update), r (reset), h (candidate).
// B is the input bias (3*Units) or nil; RB the recurrent bias (3*Units) or nil:
//
//	xz, xr, xh = x_t W + B
//	ResetAfter (Keras reset_after=True, ONNX linear_before_reset=1):
//	  hz, hr, hh = h U + RB
//	  z, r = RecAct(xz + hz), RecAct(xr + hr);  c = Act(xh + r*hh)
//	otherwise (RB must be nil; a recurrent bias folds into B):
//	  z, r = RecAct(xz + h U_z), RecAct(xr + h U_r);  c = Act(xh + (r*h) U_h)
//	h = z*h + (1-z)*c
//
// Act and RecAct apply to each gate's Units values as a vector (so softmax, which
// Keras accepts, acts over the units). GoBackwards, ReturnSequences, KeepTimeOrder and
// H0 are as for LSTM.
type GRU struct {
	Info
	In, Units       int
	W, U, B, RB     []float32
	Act, RecAct     Activation
	ResetAfter      bool
	ReturnSequences bool
	GoBackwards     bool
	KeepTimeOrder   bool
	// ZeroMaskedOutput: a masked step outputs zeros (see LSTM).
	ZeroMaskedOutput bool
	H0               []float32
}

// OutputShape implements Layer.
func (l *GRU) OutputShape(in Shape) (Shape, error) {
	if l.In <= 0 || l.Units <= 0 || l.In > MaxElements || l.Units > MaxElements {
		return nil, errf(ErrInvalid, "units %d, input features %d", l.Units, l.In)
	}
	u3 := 3 * l.Units
	if err := checkLen("kernel", l.W, l.In*u3); err != nil {
		return nil, err
	}
	if err := checkLen("recurrent kernel", l.U, l.Units*u3); err != nil {
		return nil, err
	}
	if l.RB != nil && !l.ResetAfter {
		return nil, errf(ErrInvalid, "a separate recurrent bias needs reset_after")
	}
	if err := checkOptional([]optWeight{{"bias", l.B, u3}, {"recurrent bias", l.RB, u3}, {"initial h", l.H0, l.Units}}); err != nil {
		return nil, err
	}
	if err := l.Act.Validate(); err != nil {
		return nil, err
	}
	if err := l.RecAct.Validate(); err != nil {
		return nil, err
	}
	return recurrentOut(in, l.In, l.Units, l.ReturnSequences, "GRU")
}

// ScratchLen implements Layer: h, then the x projection, h projection and r*h of
// one step.
func (l *GRU) ScratchLen(Shape, int) int { return 8 * l.Units }

// Forward implements Layer.
func (l *GRU) Forward(dst, src, scratch []float32, in Shape, batch int) {
	forwardSteps(l, dst, src, nil, scratch, in, batch)
}

// ForwardMasked implements Maskable with the masking rules of LSTM.ForwardMasked.
func (l *GRU) ForwardMasked(dst, src, mask, scratch []float32, in Shape, batch int) {
	forwardSteps(l, dst, src, mask, scratch, in, batch)
}

// StateLen implements Stepper: h.
func (l *GRU) StateLen() int { return l.Units }

// StepScratch implements Stepper.
func (l *GRU) StepScratch() int { return 7 * l.Units }

// InitState implements Stepper.
func (l *GRU) InitState(state []float32) { initState(state[:l.Units], l.H0) }

// Step implements Stepper: h (state) advances by one timestep of input x.
func (l *GRU) Step(state, x, scratch []float32) {
	u3 := 3 * l.Units
	zx, zh, rh := scratch[:u3], scratch[u3:2*u3], scratch[2*u3:2*u3+l.Units]
	initState(zx, l.B)
	axpyRows(zx, x, l.W)
	l.step(zx, zh, state[:l.Units], rh)
}

// step advances h by one step from the input projection zx (x W + B, 3u); zh and rh
// are scratch (3u and u).
func (l *GRU) step(zx, zh, h, rh []float32) {
	u := len(h)
	if l.ResetAfter {
		initState(zh, l.RB)
		axpyRows(zh, h, l.U)
	} else {
		// only the z and r columns of h U; the candidate's product waits for r
		clear(zh[:2*u])
		for k, hv := range h {
			if hv == 0 {
				continue
			}
			row := l.U[k*3*u : k*3*u+2*u]
			for j, w := range row {
				zh[j] += hv * w
			}
		}
	}
	for j := 0; j < 2*u; j++ {
		zx[j] += zh[j]
	}
	l.RecAct.Apply(zx[:u], u)
	l.RecAct.Apply(zx[u:2*u], u)
	z, r, c := zx[:u], zx[u:2*u], zx[2*u:]
	if l.ResetAfter {
		for j := range c {
			c[j] += r[j] * zh[2*u+j]
		}
	} else {
		for j := range rh {
			rh[j] = r[j] * h[j]
		}
		for k, v := range rh {
			if v == 0 {
				continue
			}
			row := l.U[k*3*u+2*u : (k+1)*3*u]
			for j, w := range row {
				c[j] += v * w
			}
		}
	}
	l.Act.Apply(c, u)
	for j := range h {
		h[j] = z[j]*h[j] + (1-z[j])*c[j]
	}
}

// Weights implements Layer.
func (l *GRU) Weights() [][]float32 {
	ws := [][]float32{l.W, l.U}
	for _, w := range [][]float32{l.B, l.RB, l.H0} {
		if w != nil {
			ws = append(ws, w)
		}
	}
	return ws
}

// Config implements Layer.
func (l *GRU) Config() string {
	return fmt.Sprintf("units=%d in=%d act=%v recurrent_act=%v reset_after=%v return_sequences=%v go_backwards=%v keep_time_order=%v bias=%v recurrent_bias=%v h0=%v%s",
		l.Units, l.In, l.Act, l.RecAct, l.ResetAfter, l.ReturnSequences, l.GoBackwards, l.KeepTimeOrder, l.B != nil, l.RB != nil, l.H0 != nil, zeroMaskedConfig(l.ZeroMaskedOutput))
}

// FLOPs implements Layer.
func (l *GRU) FLOPs(in Shape) int64 {
	if len(in) != 2 {
		return 0
	}
	u := int64(l.Units)
	return int64(in[0]) * (2*int64(l.In)*3*u + 2*u*3*u + 12*u)
}

// Recurrence implements Recurrent.
func (l *GRU) Recurrence() Recurrence {
	return Recurrence{Units: l.Units, In: l.In, ReturnSequences: l.ReturnSequences, GoBackwards: l.GoBackwards,
		KeepTimeOrder: l.KeepTimeOrder, ZeroMaskedOutput: l.ZeroMaskedOutput}
}
