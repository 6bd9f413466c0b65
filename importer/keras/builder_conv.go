package keras

import (
	"strings"

	"github.com/kinfer/kinfer/layers"
)

// deconvAxis resolves one axis of a Keras transposed convolution into the crop before
// and after the full scatter result and the cells added past it. Keras computes the
// output length (keras deconv_output_length) and TensorFlow places the result the way
// conv2d_backprop_input does: 'valid' crops nothing at the start, 'same' crops half of
// the excess (the smaller half) at the start. Both are independent of the input size.
func deconvAxis(k, s, d int, same bool, outPad int, hasOutPad bool) (before, after, extra int) {
	span := (k-1)*d + 1
	// excess = full length - output length, for any input length
	var excess int
	switch {
	case !hasOutPad && !same:
		excess = span - max(s, span)
	case !hasOutPad:
		excess = span - s
	case !same:
		excess = -outPad
	default:
		excess = 2*(span/2) - outPad
	}
	if same {
		before = max(excess, 0) / 2
	}
	after = excess - before
	if after < 0 {
		return before, 0, -after
	}
	return before, after, 0
}

func buildConv2DTranspose(b *builder, s *spec) error {
	c := s.Conf
	filters := c.integer("filters", 0)
	bias := c.boolean("use_bias", true)
	df := b.dataFormat(s)
	k := c.ints("kernel_size", 2, nil)
	st := c.ints("strides", 2, []int{1, 1})
	dl := c.ints("dilation_rate", 2, []int{1, 1})
	var op []int
	if c.has("output_padding") {
		op = c.ints("output_padding", 2, nil)
	}
	pad := strings.ToLower(c.str("padding", "valid"))
	if err := b.confErr(s); err != nil {
		return err
	}
	act, err := b.act(s, "activation", "linear")
	if err != nil {
		return err
	}
	if k == nil || filters <= 0 {
		return b.errf(layers.ErrInvalid, "filters=%d kernel_size=%v", filters, k)
	}
	if pad != "valid" && pad != "same" {
		return b.errf(layers.ErrInvalid, "padding %q", pad)
	}
	for i := 0; i < 2; i++ {
		if k[i] <= 0 || st[i] <= 0 || dl[i] <= 0 || (op != nil && (op[i] < 0 || op[i] >= max(st[i], dl[i]))) {
			return b.errf(layers.ErrInvalid, "kernel_size %v strides %v dilation_rate %v output_padding %v", k, st, dl, op)
		}
	}
	if err := b.spatial(s, df); err != nil {
		return err
	}
	in := b.phys[2]
	ws, err := b.weightsBias(s, "kernel, bias", bias)
	if err != nil {
		return err
	}
	if err := b.checkShape("kernel", ws[0], k[0], k[1], filters, in); err != nil {
		return err
	}
	l := &layers.ConvTranspose2D{Info: info(s), KH: k[0], KW: k[1], SH: st[0], SW: st[1], DH: dl[0], DW: dl[1],
		In: in, Filters: filters, Groups: 1}
	for i := 0; i < 2; i++ {
		o := 0
		if op != nil {
			o = op[i]
		}
		l.Pads[2*i], l.Pads[2*i+1], l.OutPad[i] = deconvAxis(k[i], st[i], dl[i], pad == "same", o, op != nil)
	}
	// Keras (kh, kw, filters, in) -> (in, kh, kw, filters)
	taps := k[0] * k[1]
	w := make([]float32, len(ws[0].Data))
	for t := 0; t < taps; t++ {
		for f := 0; f < filters; f++ {
			for ci := 0; ci < in; ci++ {
				w[(ci*taps+t)*filters+f] = ws[0].Data[(t*filters+f)*in+ci]
			}
		}
	}
	l.W = w
	if bias {
		if err := b.checkShape("bias", ws[1], filters); err != nil {
			return err
		}
		l.B = ws[1].Data
	}
	return b.emitConv(l, &l.Act, act)
}
