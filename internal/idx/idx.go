// Package idx is kinfer's shared index arithmetic: row-major strides, numpy
// broadcasting and the odometer walk over a shape. layers, runtime and both importers
// use it instead of their own copies.
package idx

import "fmt"

// Strides returns the row-major element strides of shape.
func Strides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for a := len(shape) - 1; a >= 0; a-- {
		st[a] = s
		s *= shape[a]
	}
	return st
}

// Broadcast returns the numpy broadcast of shapes (right-aligned; an axis of 1
// stretches), or an error naming the first pair that does not broadcast.
func Broadcast(shapes ...[]int) ([]int, error) {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	out := make([]int, r)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := r - len(s)
		for a, d := range s {
			switch o := out[off+a]; {
			case o == d || d == 1:
			case o == 1:
				out[off+a] = d
			default:
				return nil, fmt.Errorf("shapes %v do not broadcast (axis %d: %d vs %d)", shapes, off+a, o, d)
			}
		}
	}
	return out, nil
}

// BroadcastStrides returns, for each axis of out, the stride in a row-major tensor of
// shape in (right-aligned in out) that the axis advances by: 0 where in is broadcast.
func BroadcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	BroadcastStridesInto(st, in, out)
	return st
}

// BroadcastStridesInto is BroadcastStrides writing into st (len(out) long).
func BroadcastStridesInto(st, in, out []int) {
	off := len(out) - len(in)
	for a := range st[:off] {
		st[a] = 0
	}
	s := 1
	for a := len(in) - 1; a >= 0; a-- {
		st[off+a] = 0
		if in[a] != 1 {
			st[off+a] = s
		}
		s *= in[a]
	}
}

// BroadcastSize is the element count of the broadcast of shapes, which must broadcast.
func BroadcastSize(shapes ...[]int) int {
	r := 0
	for _, s := range shapes {
		r = max(r, len(s))
	}
	n := 1
	for a := 0; a < r; a++ {
		d := 1
		for _, s := range shapes {
			if k := a - (r - len(s)); k >= 0 && s[k] != 1 {
				d = s[k]
			}
		}
		n *= d
	}
	return n
}

// Odometer calls f(o, i) for every element of a row-major tensor of shape out, in
// order: o is the element's offset, i the offset of the same index under strides st
// (one per axis of out).
func Odometer(out, st []int, f func(o, i int)) {
	OdometerBuf(out, st, make([]int, len(out)), f)
}

// OdometerBuf is Odometer with its counters in ctr (len(out) long), so a caller can keep
// them on its stack.
func OdometerBuf(out, st, ctr []int, f func(o, i int)) {
	n := 1
	for _, d := range out {
		n *= d
	}
	if n == 0 {
		return
	}
	r := len(out)
	if r == 0 {
		f(0, 0)
		return
	}
	for a := range ctr {
		ctr[a] = 0
	}
	inner, ist := out[r-1], st[r-1]
	i := 0
	for o := 0; o < n; o += inner {
		for j := 0; j < inner; j++ {
			f(o+j, i+j*ist)
		}
		// advance the outer axes
		for a := r - 2; a >= 0; a-- {
			ctr[a]++
			i += st[a]
			if ctr[a] < out[a] {
				break
			}
			i -= ctr[a] * st[a]
			ctr[a] = 0
		}
	}
}
