package onnx

import (
	"fmt"

	"github.com/kinfer/kinfer/layers"
)

// opRNN imports an ONNX RNN (Ht = f(Xt Wi^T + Ht-1 Ri^T + Wbi + Rbi)) as
// layers.SimpleRNN (or Bidirectional over two), the two biases summed.
func opRNN(b *builder, n *node) error {
	rn, err := readRecurrent(b, n, 1, []string{"Tanh"})
	if err != nil {
		return err
	}
	h, in := rn.h, rn.in
	cells := make([]layers.Recurrent, rn.dirs)
	for di := 0; di < rn.dirs; di++ {
		f, err := lstmAct(n, rn.acts[di])
		if err != nil {
			return err
		}
		l := &layers.SimpleRNN{In: in, Units: h, Act: f, ReturnSequences: rn.useY,
			W: kerasLayout(rn.w.f, di, h, in), U: kerasLayout(rn.r.f, di, h, h), H0: rn.h0[di]}
		if rn.bias != nil {
			bd := rn.bias.f[di*2*h : (di+1)*2*h]
			l.B = make([]float32, h)
			for j := range l.B {
				l.B[j] = bd[j] + bd[h+j]
			}
		}
		if rn.backward(di) {
			l.GoBackwards, l.KeepTimeOrder = true, true
		}
		cells[di] = l
	}
	return rn.finish(b, n, "RNN", cells)
}

// lastStepOnly makes a recurrent layer return its final state instead of its
// sequence (the pick of one time step of Y that is the final state); false for other
// layers.
func lastStepOnly(l layers.Layer) bool {
	switch l := l.(type) {
	case *layers.LSTM:
		l.ReturnSequences = false
	case *layers.GRU:
		l.ReturnSequences = false
	case *layers.SimpleRNN:
		l.ReturnSequences = false
	default:
		return false
	}
	return true
}

// opRecurrentLens imports an LSTM, GRU or RNN whose sequence_lens (input 4) is computed
// from a graph input (one length per batch entry, an int input): the data input 0 runs
// through the layer masked by a layers.MaskLengths of those lengths, Y zero past each
// length and Y_h the h of the last step within it, as ONNX Runtime gives them. Steps up to a length are the first ones
// in time for both directions (a reverse direction starts at the last kept step).
func opRecurrentLens(b *builder, n *node) error {
	for k, in := range n.GetInput() {
		if _, computed := b.states[in]; computed && in != "" && k != 0 && k != 4 {
			return n.errorf(layers.ErrUnsupported, "input %d (%q) is computed; only X and sequence_lens may be", k, in)
		}
	}
	st, ok := b.states[n.in(4)]
	if !ok || n.in(4) == "" {
		return n.errorf(layers.ErrUnsupported, "input X must be the only computed input besides sequence_lens")
	}
	v := st.val
	if int(v) >= len(b.inShapes) || b.inTypes[v] != layers.Int32 || b.inShapes[v].Size() != 1 {
		return n.errorf(layers.ErrUnsupported, "sequence_lens %q must be a graph input of int32/int64 lengths, one per batch entry", n.in(4))
	}
	b.load(n.in(0))
	b.seqLens = &v
	defer func() { b.seqLens = nil }()
	switch n.GetOpType() {
	case "GRU":
		return opGRU(b, n)
	case "RNN":
		return opRNN(b, n)
	}
	return opLSTM(b, n)
}

// checkSeqLens accepts sequence_lens absent, computed (opRecurrentLens), or constant
// and equal to the t steps.
func checkSeqLens(b *builder, n *node, t int) error {
	if b.seqLens != nil {
		return nil
	}
	sl, err := b.constIn(n, 4)
	if err != nil {
		return n.errorf(layers.ErrUnsupported, "sequence_lens must be absent, constant or a graph input")
	}
	if sl != nil {
		// ints() converts the whole tensor: once, and the message names one value (a
		// folded constant can hold millions; found by FuzzCompileONNX).
		for i, v := range sl.ints() {
			if v != int64(t) {
				return n.errorf(layers.ErrUnsupported, "constant sequence_lens[%d] = %d, not the %d steps (lengths that vary are read from a graph input)", i, v, t)
			}
		}
	}
	return nil
}

// emitRecurrent emits the recurrent layer on the current data ((t, features), already
// materialized), masked by the node's sequence lengths when it has them.
func (b *builder) emitRecurrent(layer layers.Layer, cells []layers.Recurrent, t int, name string) error {
	if b.seqLens == nil {
		return b.emit(layer)
	}
	xv, xs := b.val, b.phys.Clone()
	ml := &layers.MaskLengths{Info: layers.Info{Name: name + "/sequence_lens", Class: "MaskLengths"}, Steps: t}
	ms, err := ml.OutputShape(b.valShape(*b.seqLens))
	if err != nil {
		return fmt.Errorf("layer %q: %w", ml.Name, err)
	}
	b.push(ml, []layers.Value{*b.seqLens}, ms)
	mv := b.val
	// Y is zero past each length; Y_h is the last kept step's h (zero for length 0)
	for _, c := range cells {
		switch l := c.(type) {
		case *layers.LSTM:
			l.ZeroMaskedOutput = l.ReturnSequences
		case *layers.GRU:
			l.ZeroMaskedOutput = l.ReturnSequences
		case *layers.SimpleRNN:
			l.ZeroMaskedOutput = l.ReturnSequences
		}
	}
	mk, ok := layer.(layers.Maskable)
	if !ok {
		return fmt.Errorf("%w: layer %q cannot be masked", layers.ErrUnsupported, name)
	}
	return b.emitN(&layers.Masked{Layer: mk}, []layers.Value{xv, mv}, []layers.Shape{xs, ms})
}
