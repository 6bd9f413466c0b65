package keras

import (
	"math"

	"github.com/kinfer/kinfer/layers"
)

// kerasInt8Dense reports whether s is a Dense quantized by Keras 3's
// model.quantize("int8"): a QuantizedDTypePolicy of mode int8 (or the older
// "int8_from_..." policy name).
func kerasInt8Dense(s *spec) bool {
	if s.Class != "Dense" {
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
