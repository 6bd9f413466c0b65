package keras

import (
	"math"

	"github.com/kinfer/kinfer/layers"
)

// buildMHA maps MultiHeadAttention onto layers.MultiHeadAttention. A call passes the
// query, value and optional key positionally or by keyword, an optional attention_mask
// tensor (1 attends, 0 masks; Keras adds -1e9 to masked scores) and use_causal_mask.
func buildMHA(d *dag, s *spec, ins []tensor) (tensor, error) {
	b := d.b
	b.cur = s
	if err := checkSpec(b, s); err != nil {
		return tensor{}, err
	}
	c := s.Conf
	heads := c.integer("num_heads", 0)
	kd := c.integer("key_dim", 0)
	vd := kd
	if v, ok := c.get("value_dim"); ok && v != nil {
		vd = c.integer("value_dim", kd)
	}
	bias := c.boolean("use_bias", true)
	gate := c.boolean("use_gate", false)
	if err := b.confErr(s); err != nil {
		return tensor{}, err
	}
	if gate {
		return tensor{}, b.unsupported("use_gate", true)
	}
	if v, ok := c.get("sliding_window"); ok && v != nil {
		return tensor{}, b.unsupported("sliding_window", v)
	}
	if v, ok := c.get("attention_axes"); ok && v != nil {
		ax, isList := c.intList("attention_axes")
		if !isList || len(ax) != 1 || (ax[0] != 1 && ax[0] != -2) {
			return tensor{}, b.unsupported("attention_axes", v)
		}
	}
	if heads <= 0 || kd <= 0 || vd <= 0 || heads > 1<<16 || kd > 1<<20 || vd > 1<<20 {
		return tensor{}, b.errf(layers.ErrInvalid, "num_heads=%d key_dim=%d value_dim=%d", heads, kd, vd)
	}

	// roles: positional query, value, key; then the keyword tensors by name
	pos := []string{"query", "value", "key"}
	role := map[string]tensor{}
	ca := d.ca
	if ca.pos > len(pos) || ca.pos+len(ca.named) != len(ins) {
		return tensor{}, b.errf(layers.ErrUnsupported, "call with %d positional and %d keyword tensors; MultiHeadAttention takes query, value, key and attention_mask", ca.pos, len(ca.named))
	}
	for i, t := range ins {
		name := ""
		if i < ca.pos {
			name = pos[i]
		} else {
			name = ca.named[i-ca.pos]
		}
		if _, dup := role[name]; dup {
			return tensor{}, b.errf(layers.ErrInvalid, "%s is given twice", name)
		}
		role[name] = t
	}
	causal := false
	for k, v := range ca.kw {
		switch k {
		case "use_causal_mask":
			bv, ok := v.(bool)
			if !ok {
				return tensor{}, b.unsupported("use_causal_mask", v)
			}
			causal = bv
		case "return_attention_scores":
			if v != false && v != nil {
				return tensor{}, b.unsupported("return_attention_scores", v)
			}
		case "training":
		default:
			if v != nil {
				return tensor{}, b.unsupported("call argument "+k, v)
			}
		}
	}
	q, okQ := role["query"]
	v, okV := role["value"]
	if !okQ || !okV {
		return tensor{}, b.errf(layers.ErrInvalid, "a call without query or value")
	}
	order := []tensor{q, v}
	k, hasKey := role["key"]
	if hasKey {
		order = append(order, k)
	}
	m, hasMask := role["attention_mask"]
	if hasMask {
		order = append(order, m)
	}
	for i := range order {
		var err error
		if order[i], err = d.arrange(s, order[i], identityPerm(len(order[i].perm))); err != nil {
			return tensor{}, err
		}
	}
	for _, t := range order[:len(order)-map[bool]int{true: 1}[hasMask]] {
		if len(t.phys) != 2 {
			return tensor{}, b.errf(layers.ErrUnsupported, "input %v: only (batch, steps, features) inputs are supported", t.logical())
		}
	}
	qd, vdim := order[0].phys[1], order[1].phys[1]
	kdim := vdim
	if hasKey {
		kdim = order[2].phys[1]
	}
	out := qd
	if v, ok := c.get("output_shape"); ok && v != nil {
		switch o := v.(type) {
		case float64:
			out = int(o)
		case []any:
			if len(o) != 1 {
				return tensor{}, b.unsupported("output_shape", v)
			}
			f, _ := o[0].(float64)
			out = int(f)
		default:
			return tensor{}, b.unsupported("output_shape", v)
		}
		if out <= 0 || out > 1<<20 {
			return tensor{}, b.errf(layers.ErrInvalid, "output_shape=%s", jsonText(v))
		}
	}
	if mhaInt8(b, s, bias) { // model.quantize("int8"): builder_attention_int8.go
		return buildInt8MHA(d, s, order, mhaDims{heads, kd, vd, qd, kdim, vdim, out, causal, hasKey, hasMask}, bias)
	}
	n := 4
	if bias {
		n = 8
	}
	ws, err := b.weights(s, "query, key, value and output kernels (and biases)", n)
	if err != nil {
		return tensor{}, err
	}
	step := n / 4
	shapes := [][]int{{qd, heads, kd}, {kdim, heads, kd}, {vdim, heads, vd}, {heads, vd, out}}
	biases := [][]int{{heads, kd}, {heads, kd}, {heads, vd}, {out}}
	names := []string{"query", "key", "value", "output"}
	var w, bs [4][]float32
	for i := range 4 {
		if err := b.checkShape(names[i]+" kernel", ws[i*step], shapes[i]...); err != nil {
			return tensor{}, err
		}
		w[i] = ws[i*step].Data
		if bias {
			if err := b.checkShape(names[i]+" bias", ws[i*step+1], biases[i]...); err != nil {
				return tensor{}, err
			}
			bs[i] = ws[i*step+1].Data
		}
	}
	l := &layers.MultiHeadAttention{Info: info(s), Heads: heads, KeyDim: kd, ValueDim: vd,
		QDim: qd, KDim: kdim, VDim: vdim, OutDim: out,
		Wq: w[0], Wk: w[1], Wv: w[2], Wo: w[3], Bq: bs[0], Bk: bs[1], Bv: bs[2], Bo: bs[3],
		Scale: float32(1 / math.Sqrt(float64(kd))), Causal: causal, HasKey: hasKey, HasMask: hasMask,
		MaskAdd: -1e9}
	return d.node(s, l, order, nil)
}

// buildDotAttention maps Keras Attention (Luong dot-product attention, score_mode
// "dot") onto layers.MultiHeadAttention with one head and identity projections:
// softmax(scale * q k^T) v, with use_scale's learned scalar and use_causal_mask.
func buildDotAttention(d *dag, s *spec, ins []tensor) (tensor, error) {
	b := d.b
	b.cur = s
	if err := checkSpec(b, s); err != nil {
		return tensor{}, err
	}
	c := s.Conf
	useScale := c.boolean("use_scale", false)
	mode := c.str("score_mode", "dot")
	causal := c.boolean("causal", false) // tf.keras before use_causal_mask
	if err := b.confErr(s); err != nil {
		return tensor{}, err
	}
	if mode != "dot" {
		return tensor{}, b.unsupported("score_mode", mode)
	}
	if len(d.ca.named) > 0 || len(ins) < 2 || len(ins) > 3 {
		return tensor{}, b.errf(layers.ErrUnsupported, "Attention takes [query, value] or [query, value, key], is given %d tensors", len(ins))
	}
	for k, v := range d.ca.kw {
		switch k {
		case "use_causal_mask":
			bv, ok := v.(bool)
			if !ok {
				return tensor{}, b.unsupported("use_causal_mask", v)
			}
			causal = causal || bv
		case "return_attention_scores":
			if v != false && v != nil {
				return tensor{}, b.unsupported("return_attention_scores", v)
			}
		case "training":
		default:
			if v != nil {
				return tensor{}, b.unsupported("call argument "+k, v)
			}
		}
	}
	order := append([]tensor(nil), ins...)
	for i := range order {
		var err error
		if order[i], err = d.arrange(s, order[i], identityPerm(len(order[i].perm))); err != nil {
			return tensor{}, err
		}
		if len(order[i].phys) != 2 {
			return tensor{}, b.errf(layers.ErrUnsupported, "input %v: only (batch, steps, features) inputs are supported", order[i].logical())
		}
	}
	dq, dv := order[0].phys[1], order[1].phys[1]
	dk := dv
	if len(order) == 3 {
		dk = order[2].phys[1]
	}
	if dq != dk {
		return tensor{}, b.errf(layers.ErrShapeMismatch, "query features %d and key features %d differ", dq, dk)
	}
	scale := float32(1)
	if useScale {
		ws, err := b.weights(s, "scale", 1)
		if err != nil {
			return tensor{}, err
		}
		if err := b.fetchAtMost("scale", ws[0], 1); err != nil {
			return tensor{}, err
		}
		if len(ws[0].Data) != 1 {
			return tensor{}, b.errf(layers.ErrShapeMismatch, "scale has %d values, want 1", len(ws[0].Data))
		}
		scale = ws[0].Data[0]
	}
	eye := func(n int) []float32 {
		w := make([]float32, n*n)
		for i := 0; i < n; i++ {
			w[i*n+i] = 1
		}
		return w
	}
	l := &layers.MultiHeadAttention{Info: info(s), Heads: 1, KeyDim: dq, ValueDim: dv,
		QDim: dq, KDim: dk, VDim: dv, OutDim: dv, Wq: eye(dq), Wk: eye(dq), Wv: eye(dv), Wo: eye(dv),
		Scale: scale, Causal: causal, HasKey: len(order) == 3, MaskAdd: -1e9}
	return d.node(s, l, order, nil)
}

// buildDot maps Keras Dot on two sequences (batch, steps, features) onto layers.MatMul:
// axes (a, b) counted with the batch axis contract axis a of x with axis b of y, so
// x is read transposed when a is 1 and y when b is 2.
func buildDot(d *dag, s *spec, ins []tensor) (tensor, error) {
	b := d.b
	b.cur = s
	if err := checkSpec(b, s); err != nil {
		return tensor{}, err
	}
	c := s.Conf
	norm := c.boolean("normalize", false)
	var axes []int
	if v, ok := c.get("axes"); ok {
		if f, isNum := v.(float64); isNum {
			axes = []int{int(f), int(f)}
		} else if l, isList := c.intList("axes"); isList && len(l) == 2 {
			axes = l
		} else {
			return tensor{}, b.unsupported("axes", v)
		}
	}
	if err := b.confErr(s); err != nil {
		return tensor{}, err
	}
	if norm {
		return tensor{}, b.unsupported("normalize", true)
	}
	if len(ins) != 2 || len(d.ca.named) > 0 {
		return tensor{}, b.errf(layers.ErrInvalid, "Dot takes 2 inputs, is given %d", len(ins))
	}
	order := append([]tensor(nil), ins...)
	for i := range order {
		var err error
		if order[i], err = d.arrange(s, order[i], identityPerm(len(order[i].perm))); err != nil {
			return tensor{}, err
		}
		if len(order[i].phys) != 2 {
			return tensor{}, b.errf(layers.ErrUnsupported, "input %v: Dot is imported for (batch, steps, features) inputs", order[i].logical())
		}
	}
	if axes == nil {
		return tensor{}, b.errf(layers.ErrInvalid, "Dot without axes")
	}
	for i := range axes {
		if axes[i] < 0 {
			axes[i] += 3
		}
		if axes[i] != 1 && axes[i] != 2 {
			return tensor{}, b.errf(layers.ErrUnsupported, "axes=%v: only the per-sample axes 1 and 2 can be contracted", axes)
		}
	}
	l := &layers.MatMul{Info: info(s), TransA: axes[0] == 1, TransB: axes[1] == 2}
	return d.node(s, l, order, nil)
}
