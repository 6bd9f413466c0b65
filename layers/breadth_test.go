package layers

import (
	"errors"
	"math"
	"testing"
)

func TestRemapForwardAndChecks(t *testing.T) {
	// a reflect pad of one cell on each side of a length-3 row, then a fill cell
	l := &Remap{Idx: []int32{1, 0, 1, 2, 1, -1}, Fill: 7, InSize: 3, Out: Shape{6}}
	out, err := l.OutputShape(Shape{3})
	if err != nil || !out.Equal(Shape{6}) {
		t.Fatalf("OutputShape: %v %v", out, err)
	}
	src := []float32{1, 2, 3, 4, 5, 6}
	dst := make([]float32, 12)
	l.Forward(dst, src, nil, Shape{3}, 2)
	want := []float32{2, 1, 2, 3, 2, 7, 5, 4, 5, 6, 5, 7}
	for k := range want {
		if dst[k] != want[k] {
			t.Fatalf("got %v, want %v", dst, want)
		}
	}
	w := &Remap{Idx: []int32{0, -1, 2}, Fills: []float32{9, float32(math.Inf(-1)), 9}, InSize: 3, Out: Shape{3}}
	w.Forward(dst, src, nil, Shape{3}, 1)
	if dst[0] != 1 || !math.IsInf(float64(dst[1]), -1) || dst[2] != 3 {
		t.Errorf("per-element fills: got %v", dst[:3])
	}
	for _, bad := range []*Remap{
		{Idx: []int32{0}, Fills: []float32{1, 2}, InSize: 1, Out: Shape{1}}, // fills and table disagree
		{Idx: []int32{3}, InSize: 3, Out: Shape{1}},                         // index past the input
		{Idx: []int32{0, 1}, InSize: 3, Out: Shape{1}},                      // table and shape disagree
		{Idx: []int32{0}, InSize: 4, Out: Shape{1}},                         // input size
	} {
		if _, err := bad.OutputShape(Shape{3}); !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrShapeMismatch) {
			t.Errorf("%+v: error %v", bad, err)
		}
	}
}

func TestUnaryTable(t *testing.T) {
	for op := UnaryOp(0); op < numUnaryOps; op++ {
		if unaryOps[op].f == nil || unaryOps[op].name == "" {
			t.Errorf("op %d has no table entry", op)
		}
	}
	if _, err := (&Unary{Op: numUnaryOps}).OutputShape(Shape{2}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown op: %v", err)
	}
	cases := []struct {
		op   UnaryOp
		a, b float32
		x, y float32
	}{
		{UnaryShrink, 1.5, 0.5, -2, -1.5}, {UnaryShrink, 1.5, 0.5, 1, 0}, {UnaryShrink, 1.5, 0.5, 2, 1.5},
		{UnarySign, 0, 0, -3, -1}, {UnarySign, 0, 0, 0, 0}, {UnaryRound, 0, 0, 2.5, 2}, {UnaryRound, 0, 0, -1.5, -2},
		{UnaryNot, 0, 0, 0, 1}, {UnaryNot, 0, 0, 2, 0}, {UnaryPow, 2, 0, -3, 9}, {UnaryRDiv, 3, 0, 2, 1.5},
		{UnaryRPow, 2, 0, 3, 8}, {UnaryReciprocal, 0, 0, 4, 0.25},
	}
	for _, c := range cases {
		dst := []float32{0}
		(&Unary{Op: c.op, Alpha: c.a, Beta: c.b}).Forward(dst, []float32{c.x}, nil, Shape{1}, 1)
		if dst[0] != c.y {
			t.Errorf("%v(%g; %g, %g) = %g, want %g", c.op, c.x, c.a, c.b, dst[0], c.y)
		}
	}
	dst := []float32{0}
	(&Unary{Op: UnaryMax, Alpha: 1}).Forward(dst, []float32{float32(math.NaN())}, nil, Shape{1}, 1)
	if dst[0] == dst[0] {
		t.Errorf("max(NaN, 1) = %g, want NaN", dst[0])
	}
}

func TestConstBinary(t *testing.T) {
	l := &ConstBinary{Op: MergeDiv, C: []float32{2, 4}, ConstFirst: true}
	if _, err := l.OutputShape(Shape{3}); !errors.Is(err, ErrShapeMismatch) {
		t.Errorf("period 2 on 3 values: %v", err)
	}
	dst := make([]float32, 4)
	l.Forward(dst, []float32{1, 2, 4, 8}, nil, Shape{4}, 1)
	want := []float32{2, 2, 0.5, 0.5}
	for k := range want {
		if dst[k] != want[k] {
			t.Fatalf("got %v, want %v", dst, want)
		}
	}
	if _, err := (&ConstBinary{Op: MergeAvg, C: []float32{1}}).OutputShape(Shape{1}); !errors.Is(err, ErrInvalid) {
		t.Errorf("average with a constant: %v", err)
	}
}

func TestReduceOps(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct {
		op   ReduceOp
		x    []float32
		want float64
	}{
		{ReduceMin, []float32{3, -1, 2}, -1}, {ReduceProd, []float32{2, -3, 0.5}, -3},
		{ReduceSumSquare, []float32{1, -2, 3}, 14}, {ReduceL1, []float32{1, -2, 3}, 6},
		{ReduceL2, []float32{3, 4, 0}, 5}, {ReduceLogSum, []float32{1, 2, 4}, math.Log(7)},
		{ReduceLogSumExp, []float32{1000, 1000, 1000}, 1000 + math.Log(3)}, // no overflow
		{ReduceLogSumExp, []float32{-inf, -inf, -inf}, math.Inf(-1)},
		{ReduceLogSumExp, []float32{-inf, inf, 0}, math.Inf(1)},
		{ReduceMean, []float32{1, 2, 6}, 3}, {ReduceMax, []float32{1, 7, 6}, 7},
	}
	for _, c := range cases {
		l := &Reduce{Op: c.op, Axes: []int{0}}
		dst := []float32{0}
		l.Forward(dst, c.x, nil, Shape{3}, 1)
		if got := float64(dst[0]); got != float64(float32(c.want)) && !(math.IsInf(got, 0) && got == c.want) {
			t.Errorf("%v(%v) = %g, want %g", c.op, c.x, got, c.want)
		}
	}
	dst := []float32{0}
	(&Reduce{Op: ReduceMin, Axes: []int{0}}).Forward(dst, []float32{1, float32(math.NaN()), 0}, nil, Shape{3}, 1)
	if dst[0] == dst[0] {
		t.Errorf("min with a NaN = %g, want NaN", dst[0])
	}
}
