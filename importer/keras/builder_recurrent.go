package keras

import (
	"fmt"
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// Recurrent layers other than the LSTM (builder.go), and Bidirectional over any of
// them.

// rnnCommon reads the options every Keras recurrent layer shares, rejecting the
// stateful ones kinfer does not run, and the activation (default tanh).
func (b *builder) rnnCommon(c *conf) (units int, bias, retSeq, back bool, act layers.Activation, err error) {
	units = c.integer("units", 0)
	bias = c.boolean("use_bias", true)
	retSeq = c.boolean("return_sequences", false)
	back = c.boolean("go_backwards", false)
	for _, k := range []string{"return_state", "stateful", "time_major"} {
		if c.boolean(k, false) {
			return 0, false, false, false, act, b.unsupported(k, true)
		}
	}
	if c.err != nil {
		return 0, false, false, false, act, b.wrap(c.err)
	}
	act, err = b.rnnAct(c, "activation", "tanh")
	if err != nil {
		return 0, false, false, false, act, err
	}
	if units <= 0 || units > layers.MaxElements {
		return 0, false, false, false, act, b.errf(layers.ErrInvalid, "units=%d", units)
	}
	return units, bias, retSeq, back, act, nil
}

// rnnAct reads an activation option of a wrapped or plain recurrent layer's config.
func (b *builder) rnnAct(c *conf, key, def string) (layers.Activation, error) {
	v, ok := c.get(key)
	if !ok {
		v = def
	}
	a, err := activation(v, b.kerasMajor)
	if err != nil {
		return a, b.wrap(fmt.Errorf("%s: %w", key, err))
	}
	return a, nil
}

// gruFrom builds a GRU from its config and weights [kernel, recurrent_kernel, bias?]:
// bias is (2, 3u) [input; recurrent] with reset_after, (3u) without.
func (b *builder) gruFrom(s *spec, c *conf, ws []*array, in int, name string) (*layers.GRU, error) {
	units, bias, retSeq, back, act, err := b.rnnCommon(c)
	if err != nil {
		return nil, err
	}
	after := c.boolean("reset_after", true)
	if c.err != nil {
		return nil, b.wrap(c.err)
	}
	rec, err := b.rnnAct(c, "recurrent_activation", "sigmoid")
	if err != nil {
		return nil, err
	}
	if err := b.rnnWeights(name, ws, bias, in, units, 3); err != nil {
		return nil, err
	}
	l := &layers.GRU{Info: info(s), In: in, Units: units, W: ws[0].Data, U: ws[1].Data,
		Act: act, RecAct: rec, ResetAfter: after, ReturnSequences: retSeq, GoBackwards: back,
		ZeroMaskedOutput: c.boolean("zero_output_for_mask", false)}
	if bias {
		if after {
			if err := b.checkShape(name+"bias", ws[2], 2, 3*units); err != nil {
				return nil, err
			}
			l.B, l.RB = ws[2].Data[:3*units], ws[2].Data[3*units:]
		} else {
			if err := b.checkShape(name+"bias", ws[2], 3*units); err != nil {
				return nil, err
			}
			l.B = ws[2].Data
		}
	}
	return l, nil
}

// rnnFrom builds a SimpleRNN from its config and weights [kernel, recurrent_kernel,
// bias?].
func (b *builder) rnnFrom(s *spec, c *conf, ws []*array, in int, name string) (*layers.SimpleRNN, error) {
	units, bias, retSeq, back, act, err := b.rnnCommon(c)
	if err != nil {
		return nil, err
	}
	if err := b.rnnWeights(name, ws, bias, in, units, 1); err != nil {
		return nil, err
	}
	l := &layers.SimpleRNN{Info: info(s), In: in, Units: units, W: ws[0].Data, U: ws[1].Data,
		Act: act, ReturnSequences: retSeq, GoBackwards: back,
		ZeroMaskedOutput: c.boolean("zero_output_for_mask", false)}
	if bias {
		if err := b.checkShape(name+"bias", ws[2], units); err != nil {
			return nil, err
		}
		l.B = ws[2].Data
	}
	return l, nil
}

// rnnWeights checks the weight count and the kernel shapes (in, gates*units) and
// (units, gates*units).
func (b *builder) rnnWeights(name string, ws []*array, bias bool, in, units, gates int) error {
	n := 2
	if bias {
		n = 3
	}
	if len(ws) != n {
		return b.errf(layers.ErrShapeMismatch, "%shas %d weight arrays, config needs %d (kernel, recurrent_kernel, bias)", name, len(ws), n)
	}
	if err := b.checkShape(name+"kernel", ws[0], in, gates*units); err != nil {
		return err
	}
	return b.checkShape(name+"recurrent_kernel", ws[1], units, gates*units)
}

// buildRecurrent builds a plain LSTM, GRU or SimpleRNN layer.
func buildRecurrent(b *builder, s *spec) error {
	in, err := b.sequenceInput()
	if err != nil {
		return err
	}
	n := 2
	if s.Conf.boolean("use_bias", true) {
		n = 3
	}
	ws, err := b.weights(s, "kernel, recurrent_kernel, bias", n)
	if err != nil {
		return err
	}
	l, err := b.cellFrom(wrappedClass(s.Class), s, s.Conf, ws, in, "")
	if err != nil {
		return err
	}
	return b.emit(l, nil)
}

// wrappedClass is the innermost class of a wrapper's spec class ("TimeDistributed(GRU)"
// gives "GRU").
func wrappedClass(cls string) string {
	if i := strings.LastIndexByte(cls, '('); i >= 0 {
		return strings.TrimRight(cls[i+1:], ")")
	}
	return cls
}

// cellFrom builds the recurrent layer of Keras class cls.
func (b *builder) cellFrom(cls string, s *spec, c *conf, ws []*array, in int, name string) (layers.Recurrent, error) {
	switch cls {
	case "LSTM":
		return b.lstmFrom(s, c, ws, in, name)
	case "GRU":
		return b.gruFrom(s, c, ws, in, name)
	case "SimpleRNN":
		return b.rnnFrom(s, c, ws, in, name)
	}
	return nil, b.errf(layers.ErrUnsupported, "Bidirectional(%s) (LSTM, GRU and SimpleRNN are supported)", cls)
}

// setBackward makes r the backward direction of a Bidirectional layer: it steps from
// the last input to the first and returns its sequence in time order.
func setBackward(r layers.Recurrent) {
	switch l := r.(type) {
	case *layers.LSTM:
		l.GoBackwards, l.KeepTimeOrder = true, l.ReturnSequences
	case *layers.GRU:
		l.GoBackwards, l.KeepTimeOrder = true, l.ReturnSequences
	case *layers.SimpleRNN:
		l.GoBackwards, l.KeepTimeOrder = true, l.ReturnSequences
	}
}

func buildBidirectional(b *builder, s *spec) error {
	c := s.Conf
	fcls, fconf, ok := innerLayer(c.m["layer"])
	if !ok {
		return b.errf(layers.ErrInvalid, "missing wrapped layer")
	}
	switch fcls {
	case "LSTM", "GRU", "SimpleRNN":
	default:
		return b.errf(layers.ErrUnsupported, "Bidirectional(%s) (LSTM, GRU and SimpleRNN are supported)", fcls)
	}
	bcls, bconf := fcls, fconf
	if v, ok := c.get("backward_layer"); ok {
		var bc *conf
		bcls, bc, ok = innerLayer(v)
		if !ok {
			return b.errf(layers.ErrInvalid, "backward_layer is not a layer")
		}
		if bcls != fcls {
			return b.errf(layers.ErrUnsupported, "Bidirectional backward layer %s around a forward %s", bcls, fcls)
		}
		bconf = bc
		if !bc.boolean("go_backwards", false) {
			return b.errf(layers.ErrUnsupported, "backward_layer with go_backwards=false")
		}
	}
	mv, ok := c.get("merge_mode")
	if !ok {
		if _, present := c.m["merge_mode"]; present {
			return b.unsupported("merge_mode", nil)
		}
		mv = "concat"
	}
	merge, ok := mv.(string)
	if !ok {
		return b.errf(layers.ErrInvalid, "merge_mode=%s", jsonText(mv))
	}
	switch merge {
	case "concat", "sum", "mul", "ave":
	default:
		return b.unsupported("merge_mode", merge)
	}
	if fconf.boolean("go_backwards", false) {
		return b.errf(layers.ErrUnsupported, "Bidirectional over a %s with go_backwards=true", fcls)
	}
	in, err := b.sequenceInput()
	if err != nil {
		return err
	}
	nf, nb := 2, 2
	if fconf.boolean("use_bias", true) {
		nf++
	}
	if bconf.boolean("use_bias", true) {
		nb++
	}
	ws, err := b.weights(s, "forward kernel, recurrent_kernel, bias, then backward", nf+nb)
	if err != nil {
		return err
	}
	fwd, err := b.cellFrom(fcls, s, fconf, ws[:nf], in, "forward ")
	if err != nil {
		return err
	}
	bwd, err := b.cellFrom(bcls, s, bconf, ws[nf:], in, "backward ")
	if err != nil {
		return err
	}
	setBackward(bwd)
	// Keras's Bidirectional zeroes both directions' outputs at masked steps when it
	// returns sequences (force_zero_output_for_mask).
	for _, d := range []layers.Recurrent{fwd, bwd} {
		switch l := d.(type) {
		case *layers.LSTM:
			l.ZeroMaskedOutput = l.ReturnSequences
		case *layers.GRU:
			l.ZeroMaskedOutput = l.ReturnSequences
		case *layers.SimpleRNN:
			l.ZeroMaskedOutput = l.ReturnSequences
		}
	}
	fo, bo := fwd.Recurrence(), bwd.Recurrence()
	if fo.ReturnSequences != bo.ReturnSequences || fo.Units != bo.Units {
		return b.errf(layers.ErrUnsupported, "forward and backward layers differ in units or return_sequences")
	}
	fwd.LayerInfo().Name, bwd.LayerInfo().Name = s.Name+"/forward", s.Name+"/backward"
	return b.emit(&layers.Bidirectional{Info: info(s), Fwd: fwd, Bwd: bwd, Merge: merge}, nil)
}

// timeDistributedRecurrent builds TimeDistributed around a recurrent layer: its input
// (N, T, features) in Keras order, the wrapped layer built on (T, features) and run
// for each of the N entries.
func (b *builder) timeDistributedRecurrent(s *spec, cls string, ic *conf) error {
	if len(b.phys) != 3 {
		return b.errf(layers.ErrShapeMismatch, "TimeDistributed(%s) expects an input (steps, timesteps, features) plus batch, got %v", cls, b.logical())
	}
	if err := b.kerasLayout(); err != nil {
		return err
	}
	inner := &spec{Name: s.Name, Class: s.Class + "(" + cls + ")", Conf: ic, Raw: s.Raw}
	prev, phys, perm, n, main := b.cur, b.phys, b.perm, len(b.out), b.main
	b.cur, b.phys, b.perm = inner, phys[1:].Clone(), identityPerm(2)
	err := builders[cls](b, inner)
	b.cur = prev
	if err != nil {
		return err
	}
	if len(b.out) != n+1 {
		return b.errf(layers.ErrUnsupported, "TimeDistributed(%s) built %d layers", cls, len(b.out)-n)
	}
	l := b.out[n]
	b.out, b.phys, b.perm, b.main = b.out[:n], phys, perm, main
	return b.emit(&layers.TimeDistributed{Info: info(s), Inner: l.l}, nil)
}
