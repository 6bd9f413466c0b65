package layers

import "github.com/kinfer/kinfer/internal/idx"

// BroadcastShape is the numpy broadcast of per-sample shapes.
func BroadcastShape(ss ...Shape) (Shape, error) {
	in := make([][]int, len(ss))
	for i, s := range ss {
		in[i] = s
	}
	out, err := idx.Broadcast(in...)
	if err != nil {
		return nil, errf(ErrShapeMismatch, "%v", err)
	}
	return out, nil
}

// BroadcastStrides: see idx.BroadcastStrides.
func BroadcastStrides(in, out Shape) []int { return idx.BroadcastStrides(in, out) }

// Odometer: see idx.Odometer.
func Odometer(out Shape, st []int, f func(o, i int)) { idx.Odometer(out, st, f) }
