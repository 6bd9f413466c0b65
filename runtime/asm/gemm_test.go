package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// testISAs is every path this build and CPU can run, Generic first.
func testISAs() []ISA { return Paths() }

const guard = float32(-12345.5) // sentinel written around outputs; must survive

// wideN is a column count past every narrow-kernel threshold: gemmMR/gemmNR of the
// default (widest-tile) kernel of a path.
const wideN = 1 << 20

// gemmRef64 is the exact-ish reference: float64 sums, then the clamp. It also returns the
// magnitude sum |bias| + sum |a*b| that scales the error bound.
func gemmRef64(m, n, k int, a []float32, lda int, b, bias []float32, lo, hi float32) (want, mag []float64) {
	want = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s, g := 0.0, 0.0
			if bias != nil {
				s, g = float64(bias[j]), math.Abs(float64(bias[j]))
			}
			for p := 0; p < k; p++ {
				t := float64(a[i*lda+p]) * float64(b[p*n+j])
				s += t
				g += math.Abs(t)
			}
			if s < float64(lo) {
				s = float64(lo)
			}
			if s > float64(hi) {
				s = float64(hi)
			}
			want[i*n+j], mag[i*n+j] = s, g
		}
	}
	return
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// checkGemm runs one case on isa and compares against the float64 reference with the
// bound |got-want| <= (k+2) * 2^-24 * (|bias| + sum|a*b|) (+1e-30 for exact zeros).
func checkGemm(t *testing.T, isa ISA, m, n, k int, lo, hi float32, withBias bool, poison bool, r *rand.Rand) {
	t.Helper()
	lda, ldc := k+3, n+5
	const off = 1 // unaligned starts
	abuf := randSlice(r, off+m*lda+8)
	a := abuf[off:]
	b := randSlice(r, k*n)
	var bias []float32
	if withBias {
		bias = randSlice(r, n)
	}
	if poison && m > 0 && k > 0 && n > 0 {
		a[r.IntN(m)*lda+r.IntN(k)] = float32(math.NaN())
		b[r.IntN(k)*n+r.IntN(n)] = float32(math.Inf(1))
		b[r.IntN(k)*n+r.IntN(n)] = float32(math.Inf(-1))
	}
	packed := make([]float32, PackedLen(isa, k, n)+16)
	for i := range packed {
		packed[i] = float32(math.NaN()) // PackB must overwrite every value it owns
	}
	PackB(isa, packed, k, n, b, bias)
	cbuf := make([]float32, off+m*ldc+16)
	for i := range cbuf {
		cbuf[i] = guard
	}
	c := cbuf[off:]
	Gemm(isa, m, n, k, a, lda, packed, c, ldc, lo, hi)
	want, mag := gemmRef64(m, n, k, a, lda, b, bias, lo, hi)
	for i := range cbuf {
		row, col := (i-off)/ldc, (i-off)%ldc
		inside := i >= off && row < m && col < n
		if !inside {
			if cbuf[i] != guard {
				t.Fatalf("%v m=%d n=%d k=%d: wrote outside C at buffer index %d (row %d col %d): %v", isa, m, n, k, i, row, col, cbuf[i])
			}
			continue
		}
		got, w := float64(cbuf[i]), want[row*n+col]
		switch {
		case math.IsNaN(w):
			if !math.IsNaN(got) {
				t.Fatalf("%v m=%d n=%d k=%d C[%d][%d] = %v, want NaN", isa, m, n, k, row, col, got)
			}
		case math.IsInf(w, 0):
			if got != w {
				t.Fatalf("%v m=%d n=%d k=%d C[%d][%d] = %v, want %v", isa, m, n, k, row, col, got, w)
			}
		default:
			bound := float64(k+2)*0x1p-24*mag[row*n+col] + 1e-30
			if math.Abs(got-w) > bound {
				t.Fatalf("%v m=%d n=%d k=%d C[%d][%d] = %v, want %v (bound %g)", isa, m, n, k, row, col, got, w, bound)
			}
		}
	}
}

func TestGemmSizes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, isa := range testISAs() {
		mr, nr := gemmMR(isa, wideN), gemmNR(isa, wideN)
		ms := []int{0, 1, 2, 3, mr - 1, mr, mr + 1, 2 * mr, 2*mr + 3, 37}
		ns := []int{0, 1, 3, nr - 1, nr, nr + 1, 2 * nr, 2*nr + 7, 37, 4 * nr, 4*nr + 1, 9*nr - 1}
		ks := []int{0, 1, 2, 3, 4, 5, 7, 16, 17, 101}
		t.Run(isa.String(), func(t *testing.T) {
			for _, m := range ms {
				for _, n := range ns {
					for _, k := range ks {
						checkGemm(t, isa, m, n, k, float32(math.Inf(-1)), float32(math.Inf(1)), (m+n+k)%2 == 0, false, r)
					}
				}
			}
		})
	}
}

func TestGemmClampAndSpecials(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	clamps := [][2]float32{{0, float32(math.Inf(1))}, {0, 6}, {-0.5, 0.25}, {float32(math.Inf(-1)), float32(math.Inf(1))}}
	for _, isa := range testISAs() {
		mr, nr := gemmMR(isa, wideN), gemmNR(isa, wideN)
		t.Run(isa.String(), func(t *testing.T) {
			for _, cl := range clamps {
				for _, m := range []int{1, mr, mr + 1, 2*mr + 1} {
					for _, n := range []int{1, nr - 1, nr, 2*nr + 3} {
						for _, k := range []int{1, 9, 64} {
							checkGemm(t, isa, m, n, k, cl[0], cl[1], true, false, r)
							checkGemm(t, isa, m, n, k, cl[0], cl[1], true, true, r)
						}
					}
				}
			}
		})
	}
}

// TestGemmLarge crosses the row-panel split in Gemm.
func TestGemmLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, isa := range testISAs() {
		for _, sz := range [][3]int{{257, 67, 1031}, {100, 300, 500}, {1, 1000, 999}} {
			t.Run(fmt.Sprintf("%v/%dx%dx%d", isa, sz[0], sz[1], sz[2]), func(t *testing.T) {
				checkGemm(t, isa, sz[0], sz[1], sz[2], 0, float32(math.Inf(1)), true, false, r)
			})
		}
	}
}

// TestGemmAgreesAcrossISAs: every path against Generic on the same inputs.
func TestGemmPackedLen(t *testing.T) {
	for _, isa := range []ISA{Generic, AVX2, AVX512, NEON} {
		nr := gemmNR(isa, wideN)
		if got := PackedLen(isa, 3, nr+1); got != 2*nr*4 {
			t.Errorf("%v PackedLen(3, nr+1) = %d, want %d", isa, got, 2*nr*4)
		}
		for n := 1; n <= gemmNarrowN+1; n++ {
			nr := gemmNR(isa, n)
			if want := (n + nr - 1) / nr * nr * 4; PackedLen(isa, 3, n) != want {
				t.Errorf("%v PackedLen(3, %d) = %d, want %d (NR %d)", isa, n, PackedLen(isa, 3, n), want, nr)
			}
		}
	}
}

// TestGemmRowInvariant: a row's result is bit-identical whether it is computed alone
// (the GEMV path), in a remainder tile or in a full tile (batch- and thread-invariance).
func TestGemmRowInvariant(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, isa := range testISAs() {
		m, n, k := 2*gemmMR(isa, wideN)+3, 5*gemmNR(isa, wideN)+3, 77
		a, b, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, n)
		packed := make([]float32, PackedLen(isa, k, n))
		PackB(isa, packed, k, n, b, bias)
		all := make([]float32, m*n)
		Gemm(isa, m, n, k, a, k, packed, all, n, -1, 1)
		for i := 0; i < m; i++ {
			for _, rows := range []int{1, 2} {
				if i+rows > m {
					continue
				}
				part := make([]float32, rows*n)
				Gemm(isa, rows, n, k, a[i*k:], k, packed, part, n, -1, 1)
				for j := 0; j < n; j++ {
					if math.Float32bits(part[j]) != math.Float32bits(all[i*n+j]) {
						t.Fatalf("%v row %d col %d: %v computed in %d rows, %v in %d", isa, i, j, part[j], rows, all[i*n+j], m)
					}
				}
			}
		}
	}
}
