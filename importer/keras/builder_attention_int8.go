package keras

import (
	"math"

	"github.com/kinfer/kinfer/layers"
)

// mhaInt8 reports whether the MultiHeadAttention s was quantized by
// model.quantize("int8"): its config does not say so, its weights do (each projection
// stores kernel, bias, kernel_scale; the scale has the output-aligned rank 4 or 3 where
// a float bias has rank 2 or 1).
func mhaInt8(b *builder, s *spec, bias bool) bool {
	ws, err := b.ws.layerWeights(s.Name)
	if err != nil {
		return false
	}
	n := 8
	if bias {
		n = 12
	}
	return len(ws) == n && len(ws[n/4-1].Shape) == 4
}

// mhaDims are the sizes buildMHA reads from the config and the inputs.
type mhaDims struct {
	heads, kd, vd, qd, kdim, vdim, out int
	causal, hasKey, hasMask            bool
}

// buildInt8MHA imports an int8 MultiHeadAttention as Keras computes it: the four
// projections are int8 EinsumDense layers (KerasQDense: the input quantized per token
// over its features, the output projection's over heads x value_dim), and the attention
// between them is float: a layers.MultiHeadAttention whose own projections are
// identities (exact in float32), at the cost of four small extra GEMMs.
func buildInt8MHA(d *dag, s *spec, order []tensor, m mhaDims, bias bool) (tensor, error) {
	b := d.b
	step := 2
	if bias {
		step = 3
	}
	ws, err := b.weights(s, "query, key, value and output kernels, biases and kernel scales", 4*step)
	if err != nil {
		return tensor{}, err
	}
	hk, hv := m.heads*m.kd, m.heads*m.vd
	if hk > maxIdentity || hv > maxIdentity {
		return tensor{}, b.errf(layers.ErrUnsupported, "int8 MultiHeadAttention with %d heads of key_dim %d, value_dim %d: kinfer imports at most %d features per projection (the attention runs on identity projections of that size squared)", m.heads, m.kd, m.vd, maxIdentity)
	}
	names := []string{"query", "key", "value", "output"}
	kshapes := [][]int{{m.qd, m.heads, m.kd}, {m.kdim, m.heads, m.kd}, {m.vdim, m.heads, m.vd}, {m.heads, m.vd, m.out}}
	bshapes := [][]int{{m.heads, m.kd}, {m.heads, m.kd}, {m.heads, m.vd}, {m.out}}
	sshapes := [][]int{{1, 1, m.heads, m.kd}, {1, 1, m.heads, m.kd}, {1, 1, m.heads, m.vd}, {1, 1, m.out}}
	ins, units := []int{m.qd, m.kdim, m.vdim, hv}, []int{hk, hk, hv, m.out}
	// project runs projection i on tensor t
	project := func(i int, t tensor) (tensor, error) {
		sub := []*array{ws[i*step]}
		if err := b.checkShape(names[i]+" kernel", ws[i*step], kshapes[i]...); err != nil {
			return tensor{}, err
		}
		if bias {
			if err := b.checkShape(names[i]+" bias", ws[i*step+1], bshapes[i]...); err != nil {
				return tensor{}, err
			}
			sub = append(sub, &array{Shape: []int{units[i]}, Data: ws[i*step+1].Data})
		}
		ks := ws[i*step+step-1]
		if err := b.checkShape(names[i]+" kernel_scale", ks, sshapes[i]...); err != nil {
			return tensor{}, err
		}
		sub = append(sub, &array{Shape: []int{units[i]}, Data: ks.Data})
		sub[0] = &array{Shape: []int{ins[i], units[i]}, Data: ws[i*step].Data}
		ps := *s
		ps.Name = s.Name + "/" + names[i] + "_dense"
		d.at(&ps, t)
		start := len(b.out)
		if err := buildInt8DenseFrom(b, &ps, sub, ins[i], units[i], bias, layers.Activation{}); err != nil {
			return tensor{}, err
		}
		r := d.wire(start, t)
		b.cur = s
		return r, nil
	}
	key := order[1]
	if m.hasKey {
		key = order[2]
	}
	q, err := project(0, order[0])
	if err != nil {
		return tensor{}, err
	}
	k, err := project(1, key)
	if err != nil {
		return tensor{}, err
	}
	v, err := project(2, order[1])
	if err != nil {
		return tensor{}, err
	}
	core := []tensor{q, v, k}
	if m.hasMask {
		core = append(core, order[len(order)-1])
	}
	l := &layers.MultiHeadAttention{Info: layers.Info{Name: s.Name + "/attention", Class: s.Class}, Heads: m.heads, KeyDim: m.kd, ValueDim: m.vd,
		QDim: hk, KDim: hk, VDim: hv, OutDim: hv,
		Wq: identity(hk), Wk: identity(hk), Wv: identity(hv), Wo: identity(hv),
		Scale: float32(1 / math.Sqrt(float64(m.kd))), Causal: m.causal, HasKey: true, HasMask: m.hasMask,
		MaskAdd: -1e9}
	a, err := d.node(s, l, core, nil)
	if err != nil {
		return tensor{}, err
	}
	return project(3, a)
}

// maxIdentity bounds the identity projections of an int8 MultiHeadAttention (64 MB).
const maxIdentity = 1 << 12

// identity is the n x n identity matrix, row-major.
func identity(n int) []float32 {
	w := make([]float32, n*n)
	for i := 0; i < n; i++ {
		w[i*n+i] = 1
	}
	return w
}
