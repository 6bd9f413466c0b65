package layers

import (
	"fmt"

	"github.com/kinfer/kinfer/internal/idx"
)

// MatMul multiplies two computed tensors per sample (Keras Dot on sequences, ONNX
// MatMul of two computed tensors): A (..., M, K) times B (..., K, N) -> (..., M, N),
// the leading axes broadcast like numpy. TransA reads A as (..., K, M), TransB reads B
// as (..., N, K) (Keras Dot(axes=(2, 2)) is A B^T).
type MatMul struct {
	Info
	TransA, TransB bool
}

// dims returns M, K, N and the broadcast leading shape.
func (l *MatMul) dims(a, b Shape) (m, k, n int, lead Shape, err error) {
	if len(a) < 2 || len(b) < 2 {
		return 0, 0, 0, nil, errf(ErrUnsupported, "matmul of %v and %v: each operand needs 2 axes per sample", a, b)
	}
	m, k = a[len(a)-2], a[len(a)-1]
	if l.TransA {
		m, k = k, m
	}
	kb, n := b[len(b)-2], b[len(b)-1]
	if l.TransB {
		kb, n = n, kb
	}
	if k != kb {
		return 0, 0, 0, nil, errf(ErrShapeMismatch, "matmul of %v and %v: inner sizes %d and %d differ", a, b, k, kb)
	}
	lead, err = BroadcastShape(a[:len(a)-2], b[:len(b)-2])
	return m, k, n, lead, err
}

// OutputShapeN implements MultiInput.
func (l *MatMul) OutputShapeN(ins []Shape) (Shape, error) {
	if len(ins) != 2 {
		return nil, errf(ErrInvalid, "matmul takes 2 inputs, got %d", len(ins))
	}
	m, _, n, lead, err := l.dims(ins[0], ins[1])
	if err != nil {
		return nil, err
	}
	return append(lead.Clone(), m, n), nil
}

// OutputShape implements Layer (x times itself).
func (l *MatMul) OutputShape(in Shape) (Shape, error) { return l.OutputShapeN([]Shape{in, in}) }

// ScratchLenN implements MultiInput.
func (l *MatMul) ScratchLenN([]Shape, int) int { return 0 }

// ScratchLen implements Layer.
func (l *MatMul) ScratchLen(Shape, int) int { return 0 }

// ForwardN implements MultiInput (float64 sums). It allocates nothing for ranks up to 8.
func (l *MatMul) ForwardN(dst []float32, srcs [][]float32, _ []float32, ins []Shape, batch int) {
	a, b := ins[0], ins[1]
	m, k := a[len(a)-2], a[len(a)-1]
	if l.TransA {
		m, k = k, m
	}
	n := b[len(b)-1]
	if l.TransB {
		n = b[len(b)-2]
	}
	la, lb := a[:len(a)-2], b[:len(b)-2]
	r := max(len(la), len(lb))
	var sa, sb, ld [8]int
	stA, stB, lead := sa[:0], sb[:0], ld[:0]
	if r > len(sa) {
		stA, stB, lead = make([]int, 0, r), make([]int, 0, r), make([]int, 0, r)
	}
	stA, stB, lead = stA[:r], stB[:r], lead[:r]
	for i := range lead { // the numpy broadcast of la and lb (validated by OutputShapeN)
		lead[i] = 1
		if j := i - (r - len(la)); j >= 0 {
			lead[i] = la[j]
		}
		if j := i - (r - len(lb)); j >= 0 && lb[j] != 1 {
			lead[i] = lb[j]
		}
	}
	idx.BroadcastStridesInto(stA, la, lead)
	idx.BroadcastStridesInto(stB, lb, lead)
	nl := Shape(lead).Size()
	per, pa, pb := nl*m*n, a.Size(), b.Size()
	for s := 0; s < batch; s++ {
		A, B := srcs[0][s*pa:(s+1)*pa], srcs[1][s*pb:(s+1)*pb]
		out := dst[s*per : (s+1)*per]
		for g := 0; g < nl; g++ {
			ia, ib, rem := 0, 0, g
			for ax := r - 1; ax >= 0; ax-- {
				c := rem % lead[ax]
				rem /= lead[ax]
				ia += c * stA[ax]
				ib += c * stB[ax]
			}
			am, bm := A[ia*m*k:(ia+1)*m*k], B[ib*k*n:(ib+1)*k*n]
			o := out[g*m*n : (g+1)*m*n]
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var t float64
					for p := 0; p < k; p++ {
						av, bv := am[i*k+p], bm[p*n+j]
						if l.TransA {
							av = am[p*m+i]
						}
						if l.TransB {
							bv = bm[j*k+p]
						}
						t += float64(av) * float64(bv)
					}
					o[i*n+j] = float32(t)
				}
			}
		}
	}
}

// Forward implements Layer.
func (l *MatMul) Forward(dst, src, scratch []float32, in Shape, batch int) {
	l.ForwardN(dst, [][]float32{src, src}, scratch, []Shape{in, in}, batch)
}

// Weights implements Layer.
func (l *MatMul) Weights() [][]float32 { return nil }

// Config implements Layer.
func (l *MatMul) Config() string { return fmt.Sprintf("trans_a=%v trans_b=%v", l.TransA, l.TransB) }

// FLOPsN implements MultiInput.
func (l *MatMul) FLOPsN(ins []Shape) int64 {
	if len(ins) != 2 {
		return 0
	}
	m, k, n, lead, err := l.dims(ins[0], ins[1])
	if err != nil {
		return 0
	}
	return 2 * int64(lead.Size()) * int64(m) * int64(k) * int64(n)
}

// FLOPs implements Layer.
func (l *MatMul) FLOPs(in Shape) int64 { return l.FLOPsN([]Shape{in, in}) }
