package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fused is a run of graph layers [from, to] executed as one layer.
type fused struct {
	l        layers.Layer
	from, to int
	ins      []layers.Value // the values it reads, when not node from's inputs
}

// inputs are the values f reads.
func (f fused) inputs(g *layers.Graph) []layers.Value {
	if f.ins != nil {
		return f.ins
	}
	return g.NodeInputs(f.from)
}

// inShapes are the shapes of the values f reads.
func (f fused) inShapes(g *layers.Graph) []layers.Shape {
	vs := f.inputs(g)
	out := make([]layers.Shape, len(vs))
	for i, v := range vs {
		out[i] = g.ValueShape(v)
	}
	return out
}

// foldLinear folds per-channel affine layers (BatchNormalization, Rescaling after a linear
// Dense, Conv2D or Conv3D) into the weights of the layer before them, and a following
// element-wise activation into that layer's epilogue, so the tensor is written once
// instead of three times. The graph is not modified: fused layers are copies.
// foldLinear must run first: it reads the graph's nodes, not fs (one run per node at
// that point).
func foldLinear(g *layers.Graph, _ []fused, _ asm.ISA) []fused {
	// Every fold below looks only at chained successors (Graph.ChainNext): a value read
	// by two nodes, or a node reading two values, ends a run.
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
		case *layers.Conv3D:
			c := *l
			f.to = absorb(g, i, &c.W, &c.B, c.Filters, &c.Act)
			if f.to > i {
				f.l = &c
			}
		case *layers.ZeroPad2D:
			if nl, ok := padIntoConv(g, i, l); ok {
				f.l, f.to = nl, i+1
				f.to = absorbInto(g, f)
			}
		case *layers.Affine:
			if nl, ok := affineIntoNext(g, i, l); ok {
				f.l, f.to = nl, i+1
				f.to = absorbInto(g, f)
			}
		case *layers.Permute:
			if nl, to, ok := permuteIntoDense(g, i, l); ok {
				f.l, f.to = nl, to
				f.to = absorbInto(g, f)
			}
		}
		out = append(out, f)
		i = f.to
	}
	return out
}

// absorbInto runs absorb on the Dense or Conv2D a fold just made (f.l, a copy), for the
// layers after f.to.
func absorbInto(g *layers.Graph, f fused) int {
	switch l := f.l.(type) {
	case *layers.Conv2D:
		return absorb(g, f.to, &l.W, &l.B, l.Filters, &l.Act)
	case *flatDense:
		return absorb(g, f.to, &l.W, &l.B, l.Units, &l.Act)
	case *layers.Dense:
		return absorb(g, f.to, &l.W, &l.B, l.Units, &l.Act)
	}
	return f.to
}

// affineIntoNext folds a per-channel affine (Rescaling, an unfolded BatchNormalization)
// into the Conv2D or Dense right after it: W'[k, o] = W[k, o]*scale[ch(k)], b'[o] =
// b[o] + sum_k W[k, o]*shift[ch(k)], ch(k) the input channel row k reads. Exact in real
// arithmetic (not in rounding: the reference path runs the same folded weights) when
// every input the layer reads went through the affine, so not for a conv that pads its
// input itself (padding inserts zeros after the affine); padding before the affine
// (ZeroPadding2D) is fine.
func affineIntoNext(g *layers.Graph, i int, a *layers.Affine) (layers.Layer, bool) {
	if !g.ChainNext(i) {
		return nil, false
	}
	c := g.InShape(i).Last()
	switch l := g.Layer(i + 1).(type) {
	case *layers.Conv2D:
		if !(l.Pad == layers.PadValid || l.Pad == layers.PadExplicit && l.Pads == [4]int{}) || l.In != c {
			return nil, false
		}
		nl := *l
		nl.W, nl.B = foldAffine(a, l.W, l.B, l.KH*l.KW, max(l.Groups, 1), l.In, l.Filters)
		return &nl, true
	case *layers.Dense:
		if l.In != c {
			return nil, false
		}
		nl := *l
		nl.W, nl.B = foldAffine(a, l.W, l.B, 1, 1, l.In, l.Units)
		return &nl, true
	}
	return nil, false
}

// foldAffine returns w and b with a per-channel affine of the input folded in, for a
// kernel of taps blocks of cin rows (input channel gi*cin/groups+ci in group gi) by n
// output columns (group gi owning columns [gi*n/groups, (gi+1)*n/groups)): a Dense is
// one tap and one group.
func foldAffine(a *layers.Affine, w, b []float32, taps, groups, cin, n int) (nw, nb []float32) {
	cg, fg := cin/groups, n/groups
	nw, nb = make([]float32, len(w)), make([]float32, n)
	copy(nb, b)
	for t := 0; t < taps; t++ {
		for gi := 0; gi < groups; gi++ {
			for ci := 0; ci < cg; ci++ {
				ch := gi*cg + ci
				row := (t*cg + ci) * n
				for f := gi * fg; f < (gi+1)*fg; f++ {
					nw[row+f] = w[row+f] * pick(a.Scale, ch)
					nb[f] += w[row+f] * pick(a.Shift, ch)
				}
			}
		}
	}
	return nw, nb
}

// permuteIntoDense folds a Permute, and the views after it (Flatten, Reshape, Dropout),
// into a Dense that reads the whole permuted tensor as one row: the Dense's kernel rows
// are permuted instead (row off(o) of the new kernel is row o of the old, where output
// element o of the Permute reads input element off(o)), so the transpose never runs.
// Returns the fused layer and the Dense's index.
func permuteIntoDense(g *layers.Graph, i int, p *layers.Permute) (layers.Layer, int, bool) {
	in := g.InShape(i)
	n := in.Size()
	if !g.ChainNext(i) {
		return nil, 0, false
	}
	j := i + 1
	for j < g.Len() {
		switch g.Layer(j).(type) {
		case *layers.Identity, *layers.Reshape:
			if !g.ChainNext(j) {
				return nil, 0, false
			}
			j++
			continue
		}
		break
	}
	if j >= g.Len() {
		return nil, 0, false
	}
	d, ok := g.Layer(j).(*layers.Dense)
	if !ok || d.In != n || len(g.InShape(j)) != 1 || len(p.Perm) != len(in) {
		return nil, 0, false
	}
	// off(o) for every output element, in the Permute's output order
	r := len(in)
	stride := make([]int, r)
	s := 1
	for a := r - 1; a >= 0; a-- {
		stride[a] = s
		s *= in[a]
	}
	out := make([]int, r)
	for a, q := range p.Perm {
		out[a] = in[q]
	}
	idx := make([]int, r)
	nl := &flatDense{Dense: *d}
	nl.W = make([]float32, len(d.W))
	for o := 0; o < n; o++ {
		off := 0
		for a := range idx {
			off += idx[a] * stride[p.Perm[a]]
		}
		copy(nl.W[off*d.Units:(off+1)*d.Units], d.W[o*d.Units:(o+1)*d.Units])
		for a := r - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < out[a] {
				break
			}
			idx[a] = 0
		}
	}
	return nl, j, true
}

// flatDense is a Dense that reads its whole input as one row of In features, whatever
// the input's rank (a Permute and a Flatten folded into it). A runtime-only layer.
type flatDense struct {
	layers.Dense
}

// OutputShape implements layers.Layer: one row of Units.
func (l *flatDense) OutputShape(in layers.Shape) (layers.Shape, error) {
	if _, err := l.Dense.OutputShape(layers.Shape{in.Size()}); err != nil {
		return nil, err
	}
	return layers.Shape{l.Units}, nil
}

// Forward implements layers.Layer.
func (l *flatDense) Forward(dst, src, scratch []float32, in layers.Shape, batch int) {
	l.Dense.Forward(dst, src, scratch, layers.Shape{in.Size()}, batch)
}

// FLOPs implements layers.Layer.
func (l *flatDense) FLOPs(in layers.Shape) int64 { return l.Dense.FLOPs(layers.Shape{in.Size()}) }

// absorb folds the layers after i into w (rows of n output channels), b and act, and
// returns the index of the last layer absorbed. w and b are replaced, never written.
func absorb(g *layers.Graph, i int, w, b *[]float32, n int, act *layers.Activation) int {
	j := i
	for g.ChainNext(j) {
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

// padIntoConv folds a ZeroPadding2D into the valid or explicitly padded Conv2D it feeds
// (keras.applications pad before every strided convolution): the copy takes the zeros
// as its own padding, so the padded map is never written and the convolution kernels
// skip the taps that fall on it. Taps on padding add nothing either way (the kernels'
// sums leave out-of-bounds taps, the reference's included 0*w).
func padIntoConv(g *layers.Graph, i int, p *layers.ZeroPad2D) (*layers.Conv2D, bool) {
	if !g.ChainNext(i) {
		return nil, false
	}
	cv, ok := g.Layer(i + 1).(*layers.Conv2D)
	if !ok || (cv.Pad != layers.PadValid && cv.Pad != layers.PadExplicit) {
		return nil, false
	}
	c := *cv
	if c.Pad == layers.PadValid {
		c.Pads = [4]int{}
	}
	for k := range c.Pads {
		if c.Pads[k] += p.Pads[k]; c.Pads[k] > 1<<20 {
			return nil, false
		}
	}
	c.Pad = layers.PadExplicit
	return &c, true
}
