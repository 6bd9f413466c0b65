package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastMerge runs a Merge whose inputs each have the output's shape or are one value per
// channel broadcast over the other axes (a squeeze-and-excitation scale): plain loops
// over contiguous rows, no index arithmetic per element.
type fastMerge struct {
	op  layers.MergeOp
	n   int    // floats per sample of the output
	c   int    // channels (last axis)
	vec []bool // per input: one value per channel
	per []int  // per input: floats per sample
}

func newFastMerge(l *layers.Merge, ins []layers.Shape, out layers.Shape, _ asm.ISA, _ int) (compiled, bool) {
	if len(ins) < 2 {
		return compiled{}, false
	}
	k := &fastMerge{op: l.Op, n: out.Size(), c: out.Last()}
	for i, s := range ins {
		switch {
		case s.Equal(out):
		case i > 0 && s.Size() == k.c && isChannelVector(s, out):
			// the first input is copied whole; a channel vector may not come first
		default:
			return compiled{}, false
		}
		k.vec = append(k.vec, !s.Equal(out))
		k.per = append(k.per, s.Size())
	}
	return compiled{kn: k, name: "merge " + l.Op.String() + " go"}, true
}

// isChannelVector reports whether s broadcasts against out along the last axis only.
func isChannelVector(s, out layers.Shape) bool {
	if len(s) == 0 || s.Last() != out.Last() {
		return false
	}
	for _, d := range s[:len(s)-1] {
		if d != 1 {
			return false
		}
	}
	return true
}

func (k *fastMerge) runN(dst []float32, srcs [][]float32, _ []float32, batch int) {
	n := k.n
	for b := 0; b < batch; b++ {
		d := dst[b*n : (b+1)*n]
		copy(d, srcs[0][b*n:(b+1)*n])
		for i := 1; i < len(srcs); i++ {
			s := srcs[i][b*k.per[i] : (b+1)*k.per[i]]
			if !k.vec[i] {
				mergeRow(k.op, d, s)
				continue
			}
			for o := 0; o < n; o += k.c {
				mergeRow(k.op, d[o:o+k.c], s)
			}
		}
		if k.op == layers.MergeAvg {
			inv := 1 / float32(len(srcs))
			for i := range d {
				d[i] *= inv
			}
		}
	}
}

// mergeRow combines s into d element-wise (len(s) == len(d)).
func mergeRow(op layers.MergeOp, d, s []float32) {
	s = s[:len(d)]
	switch op {
	case layers.MergeAdd, layers.MergeAvg:
		for i, v := range s {
			d[i] += v
		}
	case layers.MergeSub:
		for i, v := range s {
			d[i] -= v
		}
	case layers.MergeMul:
		for i, v := range s {
			d[i] *= v
		}
	case layers.MergeMax:
		for i, v := range s {
			if a := d[i]; a != a || v != v {
				d[i] = a + v // NaN
			} else if v > a {
				d[i] = v
			}
		}
	case layers.MergeMin:
		for i, v := range s {
			if a := d[i]; a != a || v != v {
				d[i] = a + v
			} else if v < a {
				d[i] = v
			}
		}
	case layers.MergeDiv:
		for i, v := range s {
			d[i] /= v
		}
	default: // Pow: a rare op, the layer's own arithmetic
		for i, v := range s {
			d[i] = layers.MergeOne(op, d[i], v)
		}
	}
}
