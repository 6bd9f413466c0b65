package asm

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestGemmNarrow covers the narrow-N shapes (AVX2's narrow kernels, and every other path at
// the same sizes) against the float64 reference: row counts around the tile height, column
// counts around 8 and 16, k = 0/1/2/3/4/5/17, with and without bias, every clamp, NaN/Inf
// inputs, unaligned strided A and C with guard values around C (checkGemm).
func TestGemmNarrow(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	inf := float32(math.Inf(1))
	clamps := [][2]float32{{-inf, inf}, {0, inf}, {0, 6}, {-0.5, 0.25}}
	for _, isa := range testISAs() {
		t.Run(isa.String(), func(t *testing.T) {
			for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17} {
				mr := gemmMR(isa, n)
				for _, m := range []int{0, 1, 2, 7, mr - 1, mr, mr + 1, 2 * mr, 2*mr + 1, 11, 12, 13, 36, 37} {
					for _, k := range []int{0, 1, 2, 3, 4, 5, 17} {
						for ci, cl := range clamps {
							checkGemm(t, isa, m, n, k, cl[0], cl[1], (m+n+k+ci)%2 == 0, ci == 3, r)
						}
					}
				}
			}
		})
	}
}

// TestGemmNarrowRowInvariant: with the narrow kernel too, a row computed alone, in a
// remainder tile or in a full tile is bit-identical (k = 108 has a full 4-step loop and no
// tail, k = 107 a 3-product tail).
func TestGemmNarrowRowInvariant(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, isa := range testISAs() {
		for _, nk := range [][2]int{{1, 108}, {3, 107}, {8, 108}, {8, 5}} {
			n, k := nk[0], nk[1]
			m := 4*gemmMR(isa, n) + 5
			a, b, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, n)
			packed := make([]float32, PackedLen(isa, k, n))
			PackB(isa, packed, k, n, b, bias)
			all := make([]float32, m*n)
			Gemm(isa, m, n, k, a, k, packed, all, n, -1, 1)
			for i := 0; i < m; i++ {
				for _, rows := range []int{1, 2, 3, 4, 7} {
					if i+rows > m {
						continue
					}
					part := make([]float32, rows*n)
					Gemm(isa, rows, n, k, a[i*k:], k, packed, part, n, -1, 1)
					for j := 0; j < n; j++ {
						if math.Float32bits(part[j]) != math.Float32bits(all[i*n+j]) {
							t.Fatalf("%v n=%d row %d col %d: %v computed in %d rows, %v in %d", isa, n, i, j, part[j], rows, all[i*n+j], m)
						}
					}
				}
			}
		}
	}
}

// gemmNarrowRef is the narrow path's summation order written out: per element, partial
// p mod 4 takes the fused product p (partial 0 starts at the bias), then (s0+s1)+(s2+s3)
// and the clamp. c has row stride ldc.
func gemmNarrowRef(m, n, k int, a []float32, lda int, b, bias []float32, c []float32, ldc int, lo, hi float32) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s0, s1, s2, s3 float32
			if bias != nil {
				s0 = bias[j]
			}
			for p := 0; p < k; p++ {
				x, y := a[i*lda+p], b[p*n+j]
				if k < 32 {
					s0 = fma32(x, y, s0) // one chain below gemmNarrowSplitK
					continue
				}
				switch p % 4 {
				case 0:
					s0 = fma32(x, y, s0)
				case 1:
					s1 = fma32(x, y, s1)
				case 2:
					s2 = fma32(x, y, s2)
				default:
					s3 = fma32(x, y, s3)
				}
			}
			v := s0
			if k >= 32 {
				v = (s0 + s1) + (s2 + s3)
			}
			if v < lo {
				v = lo
			}
			if v > hi {
				v = hi
			}
			c[i*ldc+j] = v
		}
	}
}

// TestGemmNarrowBits: Gemm on AVX2 at most 8 columns wide (the narrow kernels where they run,
// gemmNarrowGo in purego builds, on other GOARCHes and CPUs without AVX2), and
// gemmNarrowGo itself, give gemmNarrowRef's bits (any NaN for NaN) on strided, unaligned
// A and C, NaN/Inf inputs included, and leave the guard values around C alone.
func TestGemmNarrowBits(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	inf := float32(math.Inf(1))
	for n := 1; n <= gemmNarrowN; n++ {
		for _, m := range []int{1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 24, 37} {
			for _, k := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 31, 32, 33, 35, 107, 108} {
				lda, ldc := k+1, n+3
				abuf := randSlice(r, 1+m*lda+1)
				a := abuf[1:]
				b, bias := randSlice(r, k*n), randSlice(r, n)
				if (m+n+k)%5 == 0 {
					bias = nil
				}
				if k > 0 && (m+n+k)%3 == 0 {
					a[r.IntN(m)*lda+r.IntN(k)] = float32(math.NaN())
					b[r.IntN(k*n)] = inf
					b[r.IntN(k*n)] = -inf
				}
				lo, hi := float32(-3), float32(3)
				if (m+k)%2 == 0 {
					lo, hi = -inf, inf
				}
				packed := make([]float32, PackedLen(AVX2, k, n))
				PackB(AVX2, packed, k, n, b, bias)
				want := make([]float32, m*ldc)
				gemmNarrowRef(m, n, k, a, lda, b, bias, want, ldc, lo, hi)
				for _, path := range []string{"Gemm", "gemmNarrowGo"} {
					cbuf := make([]float32, 1+m*ldc+8)
					for i := range cbuf {
						cbuf[i] = guard
					}
					c := cbuf[1:]
					if path == "Gemm" {
						Gemm(AVX2, m, n, k, a, lda, packed, c, ldc, lo, hi)
					} else {
						gemmNarrowGo(m, n, k, a, lda, packed, c, ldc, lo, hi)
					}
					for i := range cbuf {
						row, col := (i-1)/ldc, (i-1)%ldc
						if i < 1 || row >= m || col >= n {
							if cbuf[i] != guard {
								t.Fatalf("%s m=%d n=%d k=%d: wrote outside C at buffer index %d", path, m, n, k, i)
							}
							continue
						}
						g, w := c[row*ldc+col], want[row*ldc+col]
						if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
							t.Fatalf("%s m=%d n=%d k=%d C[%d][%d] = %v (%#x), reference %v (%#x)", path, m, n, k, row, col, g, math.Float32bits(g), w, math.Float32bits(w))
						}
					}
				}
			}
		}
	}
}

// TestFMA32 checks fma32 against x*y+z computed exactly with math/big and rounded once:
// random operands over the float32 range (subnormals, overflow, cancellation) and sums a
// hair off a float32 rounding midpoint, where a float64 sum rounded to nearest would then
// round the wrong way.
func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	exact := func(x, y, z float32) float32 {
		p := new(big.Float).SetPrec(2000).SetFloat64(float64(x))
		p.Mul(p, new(big.Float).SetPrec(2000).SetFloat64(float64(y)))
		p.Add(p, new(big.Float).SetPrec(2000).SetFloat64(float64(z)))
		f, _ := p.Float32()
		return f
	}
	randF := func(minExp, maxExp int) float32 {
		f := float32(math.Ldexp(1+r.Float64(), minExp+r.IntN(maxExp-minExp+1)))
		if r.IntN(2) == 0 {
			f = -f
		}
		return f
	}
	check := func(x, y, z float32) {
		t.Helper()
		if got, want := fma32(x, y, z), exact(x, y, z); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%g, %g, %g) = %g (%#x), want %g (%#x)", x, y, z, got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
	naive := 0
	for i := 0; i < 200000; i++ {
		switch i % 4 {
		case 0:
			check(randF(-40, 40), randF(-40, 40), randF(-40, 40))
		case 1:
			check(randF(-149, 127), randF(-149, 127), randF(-149, 127))
		case 2: // cancellation: z near -x*y
			x, y := randF(-20, 20), randF(-20, 20)
			z := -x * y
			z = math.Float32frombits(math.Float32bits(z) + uint32(r.IntN(5)) - 2)
			check(x, y, z)
		default: // x*y a float32 midpoint (25 significant bits), z far below its ulp
			var x, y float32
			for {
				xi, yi := 1+2*r.IntN(1<<12), 1+2*r.IntN(1<<13)
				if p := uint64(xi) * uint64(yi); p>>24 == 1 {
					x, y = float32(xi), float32(yi)
					break
				}
			}
			z := randF(-80, -30)
			if float32(float64(x)*float64(y)+float64(z)) != exact(x, y, z) {
				naive++
			}
			check(x, y, z)
		}
	}
	if naive == 0 {
		t.Fatal("no midpoint case where rounding the float64 sum to nearest goes wrong")
	}
	for _, v := range [][3]float32{{0, 0, 0}, {0, 0, float32(math.Copysign(0, -1))}, {float32(math.Copysign(0, -1)), 1, float32(math.Copysign(0, -1))},
		{math.MaxFloat32, 2, -math.MaxFloat32}, {math.MaxFloat32, 1.5, 0}, {0x1p-149, 0x1p-149, 0x1p-149}, {0x1p-149, 0.5, 0}, {3 * 0x1p-149, 0.5, 0}} {
		check(v[0], v[1], v[2])
	}
	inf := float32(math.Inf(1))
	if v := fma32(inf, 1, 2); v != inf {
		t.Fatalf("fma32(Inf, 1, 2) = %v", v)
	}
	if v := fma32(inf, 0, 2); v == v {
		t.Fatalf("fma32(Inf, 0, 2) = %v, want NaN", v)
	}
	if v := fma32(1, 2, -inf); v != -inf {
		t.Fatalf("fma32(1, 2, -Inf) = %v", v)
	}
}

// BenchmarkGemmNarrow: the tiny GEMMs of small models (Conv2D with a few filters, small
// Dense layers), per path; with m*k tiny it is mostly Gemm's per-call overhead.
func BenchmarkGemmNarrow(b *testing.B) {
	shapes := [][3]int{{1, 2, 5}, {7, 2, 5}, {1, 8, 108}, {36, 3, 12}, {36, 8, 12}, {196, 4, 27}, {196, 8, 72}, {1024, 8, 72}, {196, 16, 72}}
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		a, w, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, n)
		c := make([]float32, m*n)
		for _, isa := range testISAs() {
			packed := make([]float32, PackedLen(isa, k, n))
			PackB(isa, packed, k, n, w, bias)
			b.Run(fmt.Sprintf("m=%d/n=%d/k=%d/%v", m, n, k, isa), func(b *testing.B) {
				for b.Loop() {
					Gemm(isa, m, n, k, a, k, packed, c, n, 0, float32(math.Inf(1)))
				}
			})
		}
	}
}
