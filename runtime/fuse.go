package runtime

import "github.com/kinfer/kinfer/layers"

// fused is a run of graph layers [from, to] executed as one layer.
type fused struct {
	l        layers.Layer
	from, to int
}

// fuse folds per-channel affine layers (BatchNormalization, Rescaling after a linear
// Dense or Conv2D) into the weights of the layer before them, and a following
// element-wise activation into that layer's epilogue, so the tensor is written once
// instead of three times. The graph is not modified: fused layers are copies.
func fuse(g *layers.Graph) []fused {
	var out []fused
	for i := 0; i < g.Len(); i++ {
		f := fused{l: g.Layer(i), from: i, to: i}
		switch l := g.Layer(i).(type) {
		case *layers.Dense:
			c := *l
			f.to = absorb(g, i, &c.W, &c.B, c.Units, &c.Act)
			if f.to > i {
				f.l = &c
			}
		case *layers.Conv2D:
			c := *l
			f.to = absorb(g, i, &c.W, &c.B, c.Filters, &c.Act)
			if f.to > i {
				f.l = &c
			}
		}
		out = append(out, f)
		i = f.to
	}
	return out
}

// absorb folds the layers after i into w (rows of n output channels), b and act, and
// returns the index of the last layer absorbed. w and b are replaced, never written.
func absorb(g *layers.Graph, i int, w, b *[]float32, n int, act *layers.Activation) int {
	j := i
	for j+1 < g.Len() {
		switch nx := g.Layer(j + 1).(type) {
		case *layers.Affine:
			if !act.IsLinear() {
				return j
			}
			nw := make([]float32, len(*w))
			nb := make([]float32, n)
			for k := 0; k < len(*w); k += n {
				for c := 0; c < n; c++ {
					nw[k+c] = (*w)[k+c] * pick(nx.Scale, c)
				}
			}
			for c := 0; c < n; c++ {
				var bc float32
				if *b != nil {
					bc = (*b)[c]
				}
				nb[c] = bc*pick(nx.Scale, c) + pick(nx.Shift, c)
			}
			*w, *b = nw, nb
		case *layers.ActivationLayer:
			if !act.IsLinear() || !nx.Act.PerElement() {
				return j
			}
			*act = nx.Act
		default:
			return j
		}
		j++
	}
	return j
}

func pick(v []float32, c int) float32 {
	if len(v) == 1 {
		return v[0]
	}
	return v[c]
}
