package keras

import (
	"sort"
	"strings"

	"github.com/kinfer/kinfer/layers"
)

func buildLayerNorm(b *builder, s *spec) error {
	c := s.Conf
	eps := c.float("epsilon", 1e-3)
	center := c.boolean("center", true)
	scale := c.boolean("scale", true)
	rms := c.boolean("rms_scaling", false)
	axes, ok := c.intList("axis")
	if err := b.confErr(s); err != nil {
		return err
	}
	if rms {
		return b.unsupported("rms_scaling", true)
	}
	if !ok {
		axes = []int{-1}
	}
	r := len(b.perm)
	norm := make([]int, len(axes))
	in := make([]bool, r)
	for i, a := range axes {
		switch {
		case a < 0 && a >= -r:
			norm[i] = r + a
		case a > 0 && a <= r:
			norm[i] = a - 1
		default:
			return b.errf(layers.ErrInvalid, "axis=%v out of range for input %v", axes, b.logical())
		}
		if in[norm[i]] {
			return b.errf(layers.ErrInvalid, "axis=%v repeats an axis", axes)
		}
		in[norm[i]] = true
	}
	if !sort.IntsAreSorted(norm) {
		return b.unsupported("axis (unsorted)", axes)
	}
	// The normalized axes, in Keras order, become the physical trailing block.
	var target []int
	for i := 0; i < r; i++ {
		if !in[i] {
			target = append(target, i)
		}
	}
	target = append(target, norm...)
	if err := b.arrange(target); err != nil {
		return err
	}
	var names []string
	if scale {
		names = append(names, "gamma")
	}
	if center {
		names = append(names, "beta")
	}
	count := len(names)
	l := &layers.LayerNorm{Info: info(s), Axes: len(norm), Eps: eps}
	if count > 0 {
		ws, err := b.weights(s, strings.Join(names, ", "), count)
		if err != nil {
			return err
		}
		logical := b.logical()
		pshape := make([]int, len(norm))
		for i, a := range norm {
			pshape[i] = logical[a]
		}
		for i, a := range ws {
			if err := b.checkShape(names[i], a, pshape...); err != nil {
				return err
			}
		}
		if scale {
			l.Gamma = ws[0].Data
		}
		if center {
			l.Beta = ws[count-1].Data
		}
	} else {
		b.used[s.Name] = true
	}
	return b.emit(l, nil)
}

// buildPReLU imports PReLU. alpha has the logical input shape with the shared axes at
// size 1; it is broadcast to the physical layout and stored at its smallest period
// (one slope per channel for shared_axes=[1, 2] on images). One slope for everything is
// a leaky ReLU.
func buildPReLU(b *builder, s *spec) error {
	ws, err := b.weights(s, "alpha", 1)
	if err != nil {
		return err
	}
	a := ws[0]
	if err := b.fetchAtMost("alpha", a, max(1, b.phys.Size())); err != nil {
		return err
	}
	if len(a.Data) == 0 {
		return b.errf(layers.ErrShapeMismatch, "alpha is empty")
	}
	same := true
	for _, v := range a.Data[1:] {
		same = same && v == a.Data[0]
	}
	if same {
		return b.emitAct(s, layers.LeakyReLU(a.Data[0]))
	}
	logical := b.logical()
	if len(a.Shape) != len(logical) {
		return b.errf(layers.ErrShapeMismatch, "alpha is %s for input %v", dims(a.Shape), logical)
	}
	for i, d := range a.Shape {
		if d != 1 && d != logical[i] {
			return b.errf(layers.ErrShapeMismatch, "alpha is %s for input %v", dims(a.Shape), logical)
		}
	}
	// physical element -> logical coordinates -> alpha index
	r := len(logical)
	lstride := make([]int, r) // alpha strides over the logical axes (0 where shared)
	st := 1
	for i := r - 1; i >= 0; i-- {
		if a.Shape[i] != 1 {
			lstride[i] = st
		}
		st *= a.Shape[i]
	}
	n := b.phys.Size()
	full := make([]float32, n)
	for j := range full {
		rem, off := j, 0
		for k := r - 1; k >= 0; k-- {
			d := b.phys[k]
			off += (rem % d) * lstride[b.perm[k]]
			rem /= d
		}
		full[j] = a.Data[off]
	}
	p := n
	for k := r - 1; k >= 0; k-- {
		if q := layers.Shape(b.phys[k:]).Size(); periodic32(full, q) {
			p = q
			break
		}
	}
	return b.emit(&layers.PReLU{Info: info(s), Alpha: full[:p], OrigParams: int64(len(a.Data))}, nil)
}

// periodic32 reports whether v repeats with period p.
func periodic32(v []float32, p int) bool {
	if p <= 0 || len(v)%p != 0 {
		return false
	}
	for j := p; j < len(v); j++ {
		if v[j] != v[j-p] {
			return false
		}
	}
	return true
}
