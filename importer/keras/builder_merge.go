package keras

import (
	"github.com/kinfer/kinfer/layers"
)

// mergeFunc builds a layer that reads several tensors (Functional models only).
type mergeFunc func(d *dag, s *spec, ins []tensor) (tensor, error)

// mergeBuilders is the table of supported multi-input Keras layer classes.
var mergeBuilders = map[string]mergeFunc{
	"Add":                buildMerge(layers.MergeAdd),
	"Subtract":           buildMerge(layers.MergeSub),
	"Multiply":           buildMerge(layers.MergeMul),
	"Average":            buildMerge(layers.MergeAvg),
	"Maximum":            buildMerge(layers.MergeMax),
	"Minimum":            buildMerge(layers.MergeMin),
	"Concatenate":        buildConcatenate,
	"MultiHeadAttention": buildMHA,
	"Attention":          buildDotAttention,
	"Dot":                buildDot,
}

// common brings the inputs of a multi-input layer to one layout: the inputs' own when
// they share one (same rank, same permutation), else the Keras layout.
func (d *dag) common(s *spec, ins []tensor) ([]tensor, []int, error) {
	target := ins[0].perm
	for _, t := range ins[1:] {
		if !samePerm(t.perm, target) {
			target = nil
			break
		}
	}
	out := make([]tensor, len(ins))
	for i, t := range ins {
		var err error
		if out[i], err = d.arrange(s, t, pick(target, identityPerm(len(t.perm)))); err != nil {
			return nil, nil, err
		}
	}
	if target == nil {
		target = identityPerm(len(ins[0].perm))
	}
	return out, target, nil
}

func pick(a, b []int) []int {
	if a != nil {
		return a
	}
	return b
}

// node adds multi-input layer l on ins, checking its output shape (errors name s).
func (d *dag) node(s *spec, l layers.MultiInput, ins []tensor, perm []int) (tensor, error) {
	shapes := make([]layers.Shape, len(ins))
	vals := make([]layers.Value, len(ins))
	for i, t := range ins {
		shapes[i], vals[i] = t.phys, t.v
	}
	d.b.cur = s
	out, err := l.OutputShapeN(shapes)
	if err == nil {
		err = out.Check()
	}
	if err != nil {
		return tensor{}, d.b.wrap(err)
	}
	if len(perm) != len(out) {
		perm = identityPerm(len(out))
	}
	return tensor{v: d.g.Node(l.(layers.Layer), vals...), phys: out, perm: append([]int(nil), perm...)}, nil
}

// buildMerge maps Add, Subtract, Multiply, Average, Maximum and Minimum onto
// layers.Merge. Keras 3 broadcasts the inputs like numpy (ranks aligned on the right
// after the batch axis), which layers.Merge does too.
func buildMerge(op layers.MergeOp) mergeFunc {
	return func(d *dag, s *spec, ins []tensor) (tensor, error) {
		d.b.cur = s
		if err := checkSpec(d.b, s); err != nil {
			return tensor{}, err
		}
		if op == layers.MergeSub && len(ins) != 2 {
			return tensor{}, d.b.errf(layers.ErrInvalid, "Subtract takes exactly 2 inputs, is given %d", len(ins))
		}
		same := true
		for _, t := range ins[1:] {
			same = same && len(t.perm) == len(ins[0].perm)
		}
		var perm []int
		var err error
		if same {
			ins, perm, err = d.common(s, ins)
		} else {
			// Different ranks broadcast on the Keras axes.
			for i := range ins {
				if ins[i], err = d.arrange(s, ins[i], identityPerm(len(ins[i].perm))); err != nil {
					return tensor{}, err
				}
			}
		}
		if err != nil {
			return tensor{}, err
		}
		return d.node(s, &layers.Merge{Info: info(s), Op: op}, ins, perm)
	}
}

// buildConcatenate maps Concatenate onto layers.Concatenate. Keras's axis counts the
// batch axis (default -1); concatenating along the batch axis is not supported.
func buildConcatenate(d *dag, s *spec, ins []tensor) (tensor, error) {
	d.b.cur = s
	if err := checkSpec(d.b, s); err != nil {
		return tensor{}, err
	}
	axis := s.Conf.integer("axis", -1)
	if err := d.b.confErr(s); err != nil {
		return tensor{}, err
	}
	r := len(ins[0].perm)
	for _, t := range ins[1:] {
		if len(t.perm) != r {
			return tensor{}, d.b.errf(layers.ErrShapeMismatch, "inputs of different ranks: %v and %v", ins[0].logical(), t.logical())
		}
	}
	a := axis
	if a < 0 {
		a += r + 1
	}
	if a == 0 {
		return tensor{}, d.b.errf(layers.ErrUnsupported, "axis=%d concatenates along the batch axis", axis)
	}
	if a < 0 || a > r {
		return tensor{}, d.b.errf(layers.ErrInvalid, "axis=%d is out of range for inputs of rank %d (with batch)", axis, r+1)
	}
	ins, perm, err := d.common(s, ins)
	if err != nil {
		return tensor{}, err
	}
	p := 0
	for i, q := range perm {
		if q == a-1 {
			p = i
		}
	}
	return d.node(s, &layers.Concatenate{Info: info(s), Axis: p}, ins, perm)
}
