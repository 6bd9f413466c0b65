package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestWinogradF2x2Transforms checks the vector transforms against the Go loops (the
// sums are the same float32 operations in the same order, so equal bit for bit up to
// the sign of zero and NaN payloads), with guard bands around the output, at channel
// counts 8 (one AVX2 vector), 16 and 32 (AVX-512), 24, 40 and non-multiples of 8 (the Go loop), for 0, 1 and
// several tiles at odd offsets, and with NaN/Inf inputs.
func TestWinogradF2x2Transforms(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, isa := range testISAs() {
		for _, c := range []int{1, 3, 8, 16, 24, 32, 40} {
			for _, nt := range []int{0, 1, 2, 7} {
				rowStride := 5*c + 3
				src := randSlice(r, 3*rowStride+4*c+17*nt+8)
				if nt > 0 {
					src[r.IntN(len(src))] = float32(math.NaN())
					src[r.IntN(len(src))] = float32(math.Inf(1))
				}
				offs := make([]int, nt)
				for i := range offs {
					offs[i] = 17*i + r.IntN(3)
				}
				want := make([]float32, nt*16*c)
				WinogradF2x2In(Generic, want, src, offs, c, rowStride)
				got := make([]float32, nt*16*c+16)
				for i := range got {
					got[i] = guard
				}
				WinogradF2x2In(isa, got, src, offs, c, rowStride)
				for i := range want {
					if !sameF32(got[i], want[i]) {
						t.Fatalf("%v In c=%d nt=%d: [%d] = %v, want %v", isa, c, nt, i, got[i], want[i])
					}
				}
				for i := len(want); i < len(got); i++ {
					if got[i] != guard {
						t.Fatalf("%v In c=%d nt=%d: wrote past the end at %d", isa, c, nt, i)
					}
				}

				// output transform: n = c channels, blocks into a strided destination
				n := c
				m := randSlice(r, nt*16*n)
				if nt > 0 {
					m[r.IntN(len(m))] = float32(math.NaN())
				}
				bias := randSlice(r, n)
				ors := 3*n + 5
				oofs := make([]int, nt)
				for i := range oofs {
					oofs[i] = 2*ors*i + r.IntN(3)
				}
				dlen := 2*ors*nt + ors + 2*n + 8
				for _, cl := range [][2]float32{{float32(math.Inf(-1)), float32(math.Inf(1))}, {0, 6}} {
					w := make([]float32, dlen)
					g := make([]float32, dlen)
					for i := range w {
						w[i], g[i] = guard, guard
					}
					WinogradF2x2Out(Generic, w, m, oofs, bias, n, ors, cl[0], cl[1])
					WinogradF2x2Out(isa, g, m, oofs, bias, n, ors, cl[0], cl[1])
					for i := range w {
						if !sameF32(g[i], w[i]) {
							t.Fatalf("%v Out n=%d nt=%d clamp %v: [%d] = %v, want %v", isa, n, nt, cl, i, g[i], w[i])
						}
					}
				}
			}
		}
	}
}

func sameF32(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return a == b
}

// TestWinogradF2x2Exact checks the three transforms together against direct 3x3
// correlation on small integers, where every float32 sum is exact: the algebra, the
// positions and the layout are right whatever the rounding.
func TestWinogradF2x2Exact(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, isa := range testISAs() {
		const cin, cout = 8, 16
		w := make([]float32, 9*cin*cout)
		for i := range w {
			w[i] = float32(r.IntN(9) - 4) // G's halves stay exact in float32
		}
		d := make([]float32, 16*cin)
		for i := range d {
			d[i] = float32(r.IntN(17) - 8)
		}
		bias := make([]float32, cout)
		for i := range bias {
			bias[i] = float32(r.IntN(5))
		}
		u := make([]float32, 16*cin*cout)
		WinogradF2x2Weights(u, w, cin, cout)
		v := make([]float32, 16*cin)
		WinogradF2x2In(isa, v, d, []int{0}, cin, 4*cin)
		m := make([]float32, 16*cout)
		for p := 0; p < 16; p++ {
			for co := 0; co < cout; co++ {
				var s float32
				for ci := 0; ci < cin; ci++ {
					s += v[p*cin+ci] * u[p*cin*cout+ci*cout+co]
				}
				m[p*cout+co] = s
			}
		}
		y := make([]float32, 4*cout)
		WinogradF2x2Out(isa, y, m, []int{0}, bias, cout, 2*cout, float32(math.Inf(-1)), float32(math.Inf(1)))
		for oy := 0; oy < 2; oy++ {
			for ox := 0; ox < 2; ox++ {
				for co := 0; co < cout; co++ {
					s := bias[co]
					for ky := 0; ky < 3; ky++ {
						for kx := 0; kx < 3; kx++ {
							for ci := 0; ci < cin; ci++ {
								s += d[((oy+ky)*4+ox+kx)*cin+ci] * w[((ky*3+kx)*cin+ci)*cout+co]
							}
						}
					}
					if got := y[(oy*2+ox)*cout+co]; got != s {
						t.Fatalf("%v (%d,%d,%d) = %v, want %v", isa, oy, ox, co, got, s)
					}
				}
			}
		}
	}
}

// TestWinogradF4x4Transforms: the F(4x4) vector transforms against the Go loops, as for
// F(2x2) (same bits up to the sign of zero and NaN payloads).
func TestWinogradF4x4Transforms(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, isa := range testISAs() {
		for _, c := range []int{1, 3, 8, 16, 24, 32, 40} {
			for _, nt := range []int{0, 1, 2, 5} {
				rowStride := 7*c + 3
				src := randSlice(r, 5*rowStride+6*c+29*nt+8)
				if nt > 0 {
					src[r.IntN(len(src))] = float32(math.NaN())
					src[r.IntN(len(src))] = float32(math.Inf(-1))
				}
				offs := make([]int, nt)
				for i := range offs {
					offs[i] = 29*i + r.IntN(3)
				}
				want := make([]float32, nt*36*c)
				WinogradF4x4In(Generic, want, src, offs, c, rowStride)
				got := make([]float32, nt*36*c+16)
				for i := range got {
					got[i] = guard
				}
				WinogradF4x4In(isa, got, src, offs, c, rowStride)
				for i := range want {
					if !sameF32(got[i], want[i]) {
						t.Fatalf("%v In4 c=%d nt=%d: [%d] = %v, want %v", isa, c, nt, i, got[i], want[i])
					}
				}
				for i := len(want); i < len(got); i++ {
					if got[i] != guard {
						t.Fatalf("%v In4 c=%d nt=%d: wrote past the end at %d", isa, c, nt, i)
					}
				}
				n := c
				m := randSlice(r, nt*36*n)
				if nt > 0 {
					m[r.IntN(len(m))] = float32(math.NaN())
				}
				bias := randSlice(r, n)
				ors := 5*n + 5
				oofs := make([]int, nt)
				for i := range oofs {
					oofs[i] = 4*ors*i + r.IntN(3)
				}
				dlen := 4*ors*nt + 3*ors + 4*n + 8
				for _, cl := range [][2]float32{{float32(math.Inf(-1)), float32(math.Inf(1))}, {0, 6}} {
					w := make([]float32, dlen)
					g := make([]float32, dlen)
					for i := range w {
						w[i], g[i] = guard, guard
					}
					WinogradF4x4Out(Generic, w, m, oofs, bias, n, ors, cl[0], cl[1])
					WinogradF4x4Out(isa, g, m, oofs, bias, n, ors, cl[0], cl[1])
					for i := range w {
						if !sameF32(g[i], w[i]) {
							t.Fatalf("%v Out4 n=%d nt=%d clamp %v: [%d] = %v, want %v", isa, n, nt, cl, i, g[i], w[i])
						}
					}
					// with a residual: the unclamped transform, then AddClamp, on every
					// path (res outside the blocks is never read: NaN there)
					res := randSlice(r, dlen)
					for i := range res {
						if i%7 == 3 {
							res[i] = float32(math.NaN())
						}
					}
					for _, o := range oofs {
						for yo := 0; yo < 4; yo++ {
							for x := 0; x < 4*n; x++ {
								res[o+yo*ors+x] = float32(r.NormFloat64())
							}
						}
					}
					inf := float32(math.Inf(1))
					WinogradF4x4Out(Generic, w, m, oofs, bias, n, ors, -inf, inf)
					for _, o := range oofs {
						for yo := 0; yo < 4; yo++ {
							q := o + yo*ors
							AddClamp(Generic, w[q:q+4*n], w[q:], res[q:], cl[0], cl[1])
						}
					}
					WinogradF4x4OutAdd(isa, g, m, oofs, bias, res, n, ors, cl[0], cl[1])
					for i := range w {
						if g[i] != w[i] && !(g[i] != g[i] && w[i] != w[i]) {
							t.Fatalf("%v OutAdd4 n=%d nt=%d clamp %v: [%d] = %v, want %v", isa, n, nt, cl, i, g[i], w[i])
						}
					}
				}
			}
		}
	}
}

// TestWinogradF4x4Direct: the three F(4x4) transforms and the products against direct
// 3x3 correlation in float64 on one 6x6 window: |err| <= 1e-5 * (|b| + sum|w||x|)
// (measured ~1e-6; the G entries 1/6, 1/12, 1/24 are not exact in float32).
func TestWinogradF4x4Direct(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, isa := range testISAs() {
		const cin, cout = 16, 8
		w := randSlice(r, 9*cin*cout)
		d := randSlice(r, 36*cin)
		bias := randSlice(r, cout)
		u := make([]float32, 36*cin*cout)
		WinogradF4x4Weights(u, w, cin, cout)
		v := make([]float32, 36*cin)
		WinogradF4x4In(isa, v, d, []int{0}, cin, 6*cin)
		m := make([]float32, 36*cout)
		for p := 0; p < 36; p++ {
			for co := 0; co < cout; co++ {
				var s float32
				for ci := 0; ci < cin; ci++ {
					s += v[p*cin+ci] * u[p*cin*cout+ci*cout+co]
				}
				m[p*cout+co] = s
			}
		}
		y := make([]float32, 16*cout)
		WinogradF4x4Out(isa, y, m, []int{0}, bias, cout, 4*cout, float32(math.Inf(-1)), float32(math.Inf(1)))
		for oy := 0; oy < 4; oy++ {
			for ox := 0; ox < 4; ox++ {
				for co := 0; co < cout; co++ {
					s, mag := float64(bias[co]), math.Abs(float64(bias[co]))
					for ky := 0; ky < 3; ky++ {
						for kx := 0; kx < 3; kx++ {
							for ci := 0; ci < cin; ci++ {
								p := float64(d[((oy+ky)*6+ox+kx)*cin+ci]) * float64(w[((ky*3+kx)*cin+ci)*cout+co])
								s += p
								mag += math.Abs(p)
							}
						}
					}
					if got := float64(y[(oy*4+ox)*cout+co]); math.Abs(got-s) > 1e-5*mag {
						t.Fatalf("%v (%d,%d,%d) = %v, want %v (mag %v)", isa, oy, ox, co, got, s, mag)
					}
				}
			}
		}
	}
}
