package keras

import (
	"math"

	"github.com/kinfer/kinfer/layers"
)

// kerasInt8 reports whether s is a Dense, EinsumDense or Embedding quantized by Keras 3's
// model.quantize("int8"): a QuantizedDTypePolicy of mode int8 (or the older
// "int8_from_..." policy name).
func kerasInt8(s *spec) bool {
	if s.Class != "Dense" && s.Class != "Embedding" && s.Class != "EinsumDense" {
		return false
	}
	v, ok := s.Conf.get("dtype")
	if !ok {
		return false
	}
	d, ok := v.(map[string]any)
	if !ok {
		return false
	}
	c, _ := d["config"].(map[string]any)
	if mode, _ := c["mode"].(string); mode == "int8" {
		return true
	}
	name, _ := c["name"].(string)
	return len(name) > 5 && name[:5] == "int8_"
}

// buildInt8Dense imports a quantized Dense: weights kernel (int8 values, exported as
// float32), bias (when use_bias), kernel_scale, in the order Keras saves them.
func buildInt8Dense(b *builder, s *spec, in, units int, bias bool, act layers.Activation) error {
	n, what := 2, "kernel, kernel_scale"
	if bias {
		n, what = 3, "kernel, bias, kernel_scale"
	}
	ws, err := b.weights(s, what, n)
	if err != nil {
		return err
	}
	return buildInt8DenseFrom(b, s, ws, in, units, bias, act)
}

// buildInt8DenseFrom is buildInt8Dense on weights already read (EinsumDense passes
// its kernel reshaped to 2-D).
func buildInt8DenseFrom(b *builder, s *spec, ws []*array, in, units int, bias bool, act layers.Activation) error {
	n := len(ws)
	if err := b.checkShape("kernel", ws[0], in, units); err != nil {
		return err
	}
	ks := ws[n-1]
	if err := b.checkShape("kernel_scale", ks, units); err != nil {
		return err
	}
	l := &layers.KerasQDense{Info: info(s), In: in, Units: units, W: make([]int8, in*units), KScale: ks.Data, Act: act}
	for i, v := range ws[0].Data {
		if v != float32(math.Trunc(float64(v))) || v < -128 || v > 127 {
			return b.errf(layers.ErrBadFile, "int8 kernel value %v", v)
		}
		l.W[i] = int8(v)
	}
	for _, v := range ks.Data {
		if !(v > 0) || math.IsInf(float64(v), 0) {
			return b.errf(layers.ErrBadFile, "kernel_scale %v", v)
		}
	}
	if bias {
		if err := b.checkShape("bias", ws[1], units); err != nil {
			return err
		}
		l.B = ws[1].Data
	}
	return b.emit(l, nil)
}

// int8Embeddings reads a quantized Embedding's embeddings (int8 values) and
// embeddings_scale (one per row) as Keras's float32 table: q / scale[row], the
// division Keras does at every lookup.
func int8Embeddings(b *builder, s *spec, vocab, dim int) ([]float32, error) {
	ws, err := b.weights(s, "embeddings, embeddings_scale", 2)
	if err != nil {
		return nil, err
	}
	if err := b.checkShape("embeddings", ws[0], vocab, dim); err != nil {
		return nil, err
	}
	if err := b.checkShape("embeddings_scale", ws[1], vocab); err != nil {
		return nil, err
	}
	w := make([]float32, len(ws[0].Data))
	for i, v := range ws[0].Data {
		sc := ws[1].Data[i/dim]
		if v != float32(math.Trunc(float64(v))) || v < -128 || v > 127 || !(sc > 0) || math.IsInf(float64(sc), 0) {
			return nil, b.errf(layers.ErrBadFile, "int8 embedding value %v, scale %v", v, sc)
		}
		w[i] = v / sc
	}
	return w, nil
}
