package keras

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// Token ids, masks and the graph the builder's nodes form.
//
// Keras Sequential models are chains, but a mask is a second value flowing beside the
// tensor: Embedding(mask_zero=True) and Masking add a node computing it, layers that
// Keras lets carry a mask (per-step Dense, activations, dropout, recurrent layers
// returning sequences) pass it on, and recurrent layers read it as a second input
// (layers.Masked).

// node appends l, reading the current tensor, and makes it the current tensor; a
// recurrent layer reads the current mask too. out is l's output shape.
func (b *builder) node(l layers.Layer, out layers.Shape) error {
	ins := []int{b.main}
	if b.mask != noMask {
		switch ml := l.(type) {
		case layers.Maskable: // LSTM, Bidirectional; any recurrent layer with ForwardMasked
			l = &layers.Masked{Layer: ml}
			ins = append(ins, b.mask)
			if len(out) != 2 { // no sequence out: the mask ends here (Keras)
				b.mask = noMask
			}
		case *layers.Dense, *layers.ActivationLayer, *layers.Identity, *layers.Affine, *layers.Masking:
			// act on each step alone: the mask passes on
		default:
			if b.kerasMajor >= 3 {
				// Keras 3 drops the mask at a layer that does not support masking
				// (Conv1D, Flatten, ...): the layer ignores it and passes none on.
				b.mask = noMask
				break
			}
			return b.errf(layers.ErrUnsupported, "a mask (from Embedding mask_zero or Masking) reaches this layer, which kinfer cannot mask; only recurrent layers, Dense, activations, dropout and GlobalAveragePooling1D can follow a mask")
		}
	}
	b.out = append(b.out, bnode{l: l, ins: ins})
	b.main = len(b.out) - 1
	return nil
}

// graph builds the layers.Graph from the nodes.
func (b *builder) graph(in layers.Shape, meta map[string]string) (*layers.Graph, error) {
	gb := layers.NewBuilder()
	x := gb.Input("input", in, b.inType)
	vals := make([]layers.Value, len(b.out))
	val := func(i int) layers.Value {
		if i < 0 {
			return x
		}
		return vals[i]
	}
	for i, n := range b.out {
		ins := make([]layers.Value, len(n.ins))
		for k, j := range n.ins {
			ins[k] = val(j)
		}
		vals[i] = gb.Node(n.l, ins...)
	}
	return gb.Build([]layers.Value{val(b.main)}, nil, meta)
}

// maskedPool1D handles a global 1-D pooling reached by a mask: the average becomes a
// layers.MaskedAvgPool1D (done); Keras's max pooling ignores the mask, and the caller
// continues without it.
func (b *builder) maskedPool1D(s *spec, isMax bool, df string, keep bool) (bool, error) {
	if isMax {
		b.mask = noMask
		return false, nil
	}
	if df != "channels_last" || keep {
		return true, b.errf(layers.ErrUnsupported, "masked GlobalAveragePooling1D with data_format=%s keepdims=%v", df, keep)
	}
	if len(b.phys) != 2 {
		return true, b.errf(layers.ErrShapeMismatch, "expects a sequence (timesteps, features), got %v", b.logical())
	}
	if err := b.kerasLayout(); err != nil {
		return true, err
	}
	l := &layers.MaskedAvgPool1D{Info: info(s)}
	out, err := l.OutputShapeN([]layers.Shape{b.phys, {b.phys[0]}})
	if err != nil {
		return true, b.wrap(err)
	}
	b.out = append(b.out, bnode{l: l, ins: []int{b.main, b.mask}})
	b.main, b.mask = len(b.out)-1, noMask
	b.phys, b.perm = out, identityPerm(1)
	return true, nil
}

// buildEmbedding maps Embedding onto layers.Embedding reading the model input as
// int32 ids, plus a layers.MaskIDs node when mask_zero is set.
func buildEmbedding(b *builder, s *spec) error {
	c := s.Conf
	vocab := c.integer("input_dim", 0)
	dim := c.integer("output_dim", 0)
	maskZero := c.boolean("mask_zero", false)
	if err := b.confErr(s); err != nil {
		return err
	}
	if b.main != -1 || len(b.out) > 0 {
		return b.errf(layers.ErrUnsupported, "Embedding must be the first layer (it reads the model's token-id input)")
	}
	if len(b.phys) != 1 {
		return b.errf(layers.ErrUnsupported, "Embedding input %v: kinfer reads ids of shape (timesteps) plus batch", b.logical())
	}
	if vocab <= 0 || dim <= 0 {
		return b.errf(layers.ErrInvalid, "input_dim=%d output_dim=%d", vocab, dim)
	}
	var table []float32
	if kerasInt8(s) { // model.quantize("int8"): builder_quant.go
		t, err := int8Embeddings(b, s, vocab, dim)
		if err != nil {
			return err
		}
		table = t
	} else {
		ws, err := b.weights(s, "embeddings", 1)
		if err != nil {
			return err
		}
		if err := b.checkShape("embeddings", ws[0], vocab, dim); err != nil {
			return err
		}
		table = ws[0].Data
	}
	b.inType = layers.Int32
	if maskZero {
		b.out = append(b.out, bnode{l: &layers.MaskIDs{Info: layers.Info{Name: s.Name + "/mask_zero", Class: "Embedding"}}, ins: []int{-1}})
	}
	l := &layers.Embedding{Info: info(s), InputDim: vocab, OutputDim: dim, W: table}
	out, err := l.OutputShape(b.phys)
	if err != nil {
		return b.wrap(err)
	}
	b.out = append(b.out, bnode{l: l, ins: []int{-1}})
	b.main = len(b.out) - 1
	if maskZero {
		b.mask = b.main - 1
	}
	b.phys, b.perm = out, identityPerm(len(out))
	return nil
}

// buildMasking maps Masking onto a layers.MaskValue node (the mask) and a
// layers.Masking node (the input with masked steps zeroed, as Keras outputs it).
func buildMasking(b *builder, s *spec) error {
	v := s.Conf.float("mask_value", 0)
	if err := b.confErr(s); err != nil {
		return err
	}
	if len(b.phys) != 2 {
		return b.errf(layers.ErrUnsupported, "Masking input %v: kinfer masks sequences (timesteps, features)", b.logical())
	}
	if err := b.kerasLayout(); err != nil {
		return err
	}
	b.out = append(b.out, bnode{l: &layers.MaskValue{Info: layers.Info{Name: s.Name + "/mask", Class: s.Class}, Value: float32(v)}, ins: []int{b.main}})
	mask := len(b.out) - 1
	if err := b.emit(&layers.Masking{Info: info(s), Value: float32(v)}, nil); err != nil {
		return err
	}
	b.mask = mask
	return nil
}

// variableAxes lists the per-sample input axes the model declares as None
// ("0" for a (None, F) sequence), comma-separated, or "".
func variableAxes(mi *modelInfo) string {
	d, err := declaredShape(&mi.Specs[0])
	if err != nil {
		return ""
	}
	if d == nil {
		d = mi.InputShape
	}
	var ax []string
	for i, x := range d {
		if x < 0 {
			ax = append(ax, strconv.Itoa(i))
		}
	}
	return strings.Join(ax, ",")
}

// idSamples converts stored samples of a token-id model (whole numbers in float32, the
// npz's dtype) to the int32 bit patterns an Int32 input holds.
func idSamples(smp *Samples, file string) error {
	for i, v := range smp.X {
		if v != float32(int32(v)) || v < -(1<<31) || v >= 1<<31 {
			return fmt.Errorf("%s: samples/x[%d] = %g is not a whole number; the model reads token ids: %w", file, i, v, layers.ErrBadFile)
		}
		smp.X[i] = layers.IDBits(int32(v))
	}
	return nil
}

// idSamplesAll converts the stored samples of every token-id input.
func idSamplesAll(m *Model, file string) error {
	smp := m.Samples
	for k, in := range m.Graph.Inputs() {
		if in.DType != layers.Int32 {
			continue
		}
		var x []float32
		switch {
		case k < len(smp.Xs):
			x = smp.Xs[k]
		case k == 0:
			x = smp.X
		}
		if err := idSamples(&Samples{X: x}, file); err != nil {
			return err
		}
	}
	return nil
}
