package onnx

import "testing"

// TestStridedIndex checks the transpose and broadcast index tables against
// per-element multi-index arithmetic (unflat).
func TestStridedIndex(t *testing.T) {
	dims := []int{2, 3, 1, 4}
	perm := []int{3, 0, 2, 1}
	od := []int{4, 2, 1, 3}
	st := strides(dims)
	got, got32 := transposeIndex(dims, perm), transposeIndex32(dims, perm)
	if len(got) != shapeSize(dims) || len(got32) != len(got) {
		t.Fatalf("transpose tables of %d and %d entries, want %d", len(got), len(got32), shapeSize(dims))
	}
	for o := range got {
		idx, want := unflat(o, od), 0
		for k, p := range perm {
			want += idx[k] * st[p]
		}
		if got[o] != want || int(got32[o]) != want {
			t.Fatalf("transpose %d: got %d / %d, want %d", o, got[o], got32[o], want)
		}
	}
	out, in := []int{2, 3, 4}, []int{3, 1}
	ist := strides(in)
	b := broadcastIndex(out, in)
	if len(b) != shapeSize(out) {
		t.Fatalf("broadcast table of %d entries, want %d", len(b), shapeSize(out))
	}
	for o := range b {
		idx, want := unflat(o, out), 0
		for k := range in {
			if in[k] != 1 {
				want += idx[k+len(out)-len(in)] * ist[k]
			}
		}
		if b[o] != want {
			t.Fatalf("broadcast %d: got %d, want %d", o, b[o], want)
		}
	}
}
