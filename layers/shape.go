package layers

import (
	"fmt"
	"math"
	"strings"
)

// Shape is a tensor shape without the batch axis.
type Shape []int

// Size is the product of the dimensions (1 for a scalar shape).
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether two shapes are identical.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Last is the innermost dimension (1 for a scalar shape).
func (s Shape) Last() int {
	if len(s) == 0 {
		return 1
	}
	return s[len(s)-1]
}

// String formats the shape as Keras does, with None for the batch axis.
func (s Shape) String() string {
	parts := []string{"None"}
	for _, d := range s {
		parts = append(parts, fmt.Sprint(d))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Check validates that every dimension is positive and the total size is bounded.
func (s Shape) Check() error {
	n := 1
	for _, d := range s {
		if d <= 0 {
			return errf(ErrInvalid, "shape %v has a non-positive dimension", s)
		}
		if n > MaxElements/d {
			return errf(ErrInvalid, "shape %v has more than %d elements", s, MaxElements)
		}
		n *= d
	}
	return nil
}

func wantRank(in Shape, rank int, what string) error {
	if len(in) != rank {
		return errf(ErrShapeMismatch, "%s expects input of rank %d (plus batch), got %v", what, rank, in)
	}
	return nil
}

func sqrt64(x float64) float64 { return math.Sqrt(x) }
