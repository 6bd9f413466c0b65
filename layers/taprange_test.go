package layers

import "testing"

// TestTapRange checks tapRange against the per-tap bounds test it replaced, over every
// small output index, stride, dilation, padding, input and kernel size.
func TestTapRange(t *testing.T) {
	for n := 1; n <= 7; n++ {
		for k := 1; k <= 5; k++ {
			for s := 1; s <= 3; s++ {
				for d := 1; d <= 3; d++ {
					for pad := 0; pad <= 6; pad++ {
						for o := 0; o <= (n+2*pad)/s+1; o++ {
							var want []int
							for kk := 0; kk < k; kk++ {
								if i := o*s + kk*d - pad; i >= 0 && i < n {
									want = append(want, kk)
								}
							}
							var got []int
							for kk, k1 := tapRange(o, s, d, pad, n, k); kk < k1; kk++ {
								got = append(got, kk)
							}
							if len(got) != len(want) || (len(want) > 0 && (got[0] != want[0] || got[len(got)-1] != want[len(want)-1])) {
								t.Fatalf("tapRange(o=%d s=%d d=%d pad=%d n=%d k=%d) taps %v, want %v", o, s, d, pad, n, k, got, want)
							}
						}
					}
				}
			}
		}
	}
}
