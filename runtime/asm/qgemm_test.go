package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// qpathsUnderTest lists the ISAs whose int8 kernels run here, with the non-VNNI
// kernel forced under AVX512 as an extra case.
func qpathsUnderTest(t *testing.T) []struct {
	name   string
	isa    ISA
	novnni bool
} {
	var out []struct {
		name   string
		isa    ISA
		novnni bool
	}
	for _, i := range Paths() {
		out = append(out, struct {
			name   string
			isa    ISA
			novnni bool
		}{i.String(), i, false})
		if i == AVX512 || i == AVX2 || i == NEON { // NEON: the non-dotprod kernel
			out = append(out, struct {
				name   string
				isa    ISA
				novnni bool
			}{i.String() + "-novnni", i, true})
		}
	}
	return out
}

// TestQGemm checks every int8 path against a direct int64 sum at edge sizes with
// values at the uint8/int8 limits, both output stages, and guard bands around C.
func TestQGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ms := []int{1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 17, 20}
	ns := []int{1, 4, 12, 15, 16, 17, 31, 32, 33, 36, 67}
	ks := []int{1, 2, 3, 4, 5, 63, 64, 65, 127}
	for _, pc := range qpathsUnderTest(t) {
		old := SetNoVNNI(pc.novnni)
		for _, k := range ks {
			for _, n := range ns {
				for ci, m := range ms {
					extreme := (k+n+m)%3 == 0
					w := make([]int8, k*n)
					for i := range w {
						w[i] = int8(rng.IntN(256) - 128)
						if extreme {
							w[i] = []int8{-128, 127}[rng.IntN(2)]
						}
					}
					q, err := NewQGemm(pc.isa, k, n, w)
					if err != nil {
						t.Fatal(err)
					}
					if k == 1 && n == 1 && m == 1 {
						t.Logf("%s: %s", pc.name, q.Name())
					}
					if pc.isa == AVX512 && !pc.novnni && haveVNNI512 && q.p != qVNNI512 {
						t.Fatalf("avx512 did not pick the VNNI kernel")
					}
					if pc.isa == NEON && pc.novnni && q.p != qNEONMull {
						t.Fatalf("neon with dotprod forced off picked %v", q.p)
					}
					za := int32(rng.IntN(256))
					bias := make([]int32, n)
					for j := range bias {
						bias[j] = int32(rng.IntN(20001) - 10000)
					}
					x := make([]float32, m*k)
					xs := float32(0.05)
					for i := range x {
						x[i] = (rng.Float32()*2 - 1) * 10
						if extreme {
							x[i] = []float32{-1e9, 1e9, float32(math.NaN())}[rng.IntN(3)]
						}
					}
					a := make([]byte, m*q.LDA())
					q.Quantize(a, x, m, k, xs, za)
					corr := make([]int32, q.NP())
					q.Corr(corr, bias, za)
					scale := make([]float32, q.NP())
					fb := make([]float32, q.NP())
					for j := range scale {
						scale[j] = 0.001 + rng.Float32()*0.01
						fb[j] = rng.Float32() - 0.5
					}
					ldc := n + 3
					for _, round := range []bool{true, false} {
						c := make([]float32, m*ldc+8)
						for i := range c {
							c[i] = -777
						}
						lo, hi, sy := float32(-100), float32(127), float32(0.25)
						if !round {
							lo, hi = float32(math.Inf(-1)), 50
						}
						if round {
							q.Requant(m, a, c[4:], ldc, corr, scale, lo, hi, sy)
						} else {
							q.Float(m, a, c[4:], ldc, corr, scale, fb, lo, hi)
						}
						for i := 0; i < m; i++ {
							for j := 0; j < ldc; j++ {
								got := c[4+i*ldc+j]
								if j >= n {
									if got != -777 {
										t.Fatalf("%s m=%d n=%d k=%d: wrote past n at (%d,%d)", pc.name, m, n, k, i, j)
									}
									continue
								}
								s := int64(bias[j])
								for p := 0; p < k; p++ {
									aq := QuantizeValue(x[i*k+p], xs, float32(-za), float32(255-za)) + za
									s += int64(aq-za) * int64(w[p*n+j])
								}
								want := qout(round, int32(s), scale[j], lo, hi, sy, fb, j)
								if math.Float32bits(got) != math.Float32bits(want) {
									t.Fatalf("%s round=%v m=%d n=%d k=%d (%d,%d): got %v want %v (sum %d)", pc.name, round, m, n, k, i, j, got, want, s)
								}
							}
						}
						for _, g := range append(c[:4], c[4+m*ldc:]...) {
							if g != -777 {
								t.Fatalf("%s m=%d n=%d k=%d: guard band overwritten", pc.name, m, n, k)
							}
						}
					}
					if m%4 == 0 {
						checkPool(t, pc.name, q, m, n, k, a, ldc, corr, scale, func(i, j int) int32 {
							s := int64(bias[j])
							for p := 0; p < k; p++ {
								aq := QuantizeValue(x[i*k+p], xs, float32(-za), float32(255-za)) + za
								s += int64(aq-za) * int64(w[p*n+j])
							}
							return int32(s)
						})
					}
					_ = ci
				}
			}
		}
		SetNoVNNI(old)
	}
}

// checkPool checks RequantPool against the output stage of the largest of each 4 rows'
// sums (sum(i, j): row i, column j, bias included), and the guard bands.
func checkPool(t *testing.T, name string, q *QGemm, m, n, k int, a []byte, ldc int, corr []int32, scale []float32, sum func(i, j int) int32) {
	t.Helper()
	c := make([]float32, m/4*ldc+8)
	for i := range c {
		c[i] = -777
	}
	lo, hi, sy := float32(-100), float32(127), float32(0.25)
	q.RequantPool(m, a, c[4:], ldc, corr, scale, lo, hi, sy)
	if q.BytesOut() {
		checkBytes(t, name, q, m, n, k, a, ldc, corr, scale, sum)
	}
	for i := 0; i < m/4; i++ {
		for j := 0; j < ldc; j++ {
			got := c[4+i*ldc+j]
			if j >= n {
				if got != -777 {
					t.Fatalf("%s pool m=%d n=%d k=%d: wrote past n at (%d,%d)", name, m, n, k, i, j)
				}
				continue
			}
			s := sum(4*i, j)
			for r := 4*i + 1; r < 4*i+4; r++ {
				s = max(s, sum(r, j))
			}
			want := qout(true, s, scale[j], lo, hi, sy, nil, j)
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%s pool m=%d n=%d k=%d (%d,%d): got %v want %v", name, m, n, k, i, j, got, want)
			}
		}
	}
	for _, g := range append(c[:4], c[4+m/4*ldc:]...) {
		if g != -777 {
			t.Fatalf("%s pool m=%d n=%d k=%d: guard band overwritten", name, m, n, k)
		}
	}
}

// checkBytes checks RequantBytes and RequantPoolBytes against the output stage of each
// row's (each 4 rows' largest) sum plus the zero point, as the path's A elements, and
// the guard bands.
func checkBytes(t *testing.T, name string, q *QGemm, m, n, k int, a []byte, ldc int, corr []int32, scale []float32, sum func(i, j int) int32) {
	t.Helper()
	lo, hi, zp := float32(-100), float32(127), int32(100)
	eb := q.ElemBytes()
	for _, pool := range []bool{false, true} {
		step := 1
		if pool {
			step = 4
		}
		c := make([]byte, (m/step*ldc)*eb+8)
		for i := range c {
			c[i] = 0xAA
		}
		if pool {
			q.RequantPoolBytes(m, a, c[4:], ldc, corr, scale, lo, hi, zp)
		} else {
			q.RequantBytes(m, a, c[4:], ldc, corr, scale, lo, hi, zp)
		}
		for i := 0; i < m/step; i++ {
			for j := 0; j < ldc; j++ {
				e := c[4+(i*ldc+j)*eb:][:eb]
				if j >= n {
					for _, g := range e {
						if g != 0xAA {
							t.Fatalf("%s bytes pool=%v m=%d n=%d k=%d: wrote past n at (%d,%d)", name, pool, m, n, k, i, j)
						}
					}
					continue
				}
				s := sum(step*i, j)
				for r := step*i + 1; r < step*i+step; r++ {
					s = max(s, sum(r, j))
				}
				want := int32(qout(true, s, scale[j], lo, hi, 1, nil, j)) + zp
				got := int32(e[0])
				if eb == 2 {
					got |= int32(e[1]) << 8
				} else {
					want = int32(q.ZeroElem(want)) // NEON stores a-128
				}
				if got != want {
					t.Fatalf("%s bytes pool=%v m=%d n=%d k=%d (%d,%d): got %d want %d", name, pool, m, n, k, i, j, got, want)
				}
			}
		}
		for _, g := range append(c[:4], c[4+m/step*ldc*eb:]...) {
			if g != 0xAA {
				t.Fatalf("%s bytes pool=%v m=%d n=%d k=%d: guard band overwritten", name, pool, m, n, k)
			}
		}
	}
}

// TestQuantizeValue checks the rounding trick against math.RoundToEven, ties included.
func TestQuantizeValue(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200000; i++ {
		x := (rng.Float32()*2 - 1) * 40
		if i%4 == 0 {
			x = float32(rng.IntN(161)-80) / 2 // exact halves
		}
		s := float32(0.25)
		got := QuantizeValue(x, s, -128, 127)
		v := float64(x / s)
		want := int32(math.Max(-128, math.Min(127, math.RoundToEven(v))))
		if got != want {
			t.Fatalf("QuantizeValue(%v/%v) = %d, want %d", x, s, got, want)
		}
	}
	if got := QuantizeValue(float32(math.NaN()), 1, -3, 5); got != -3 {
		t.Fatalf("NaN: got %d", got)
	}
}

func BenchmarkQGemm(b *testing.B) {
	for _, pc := range qpathsUnderTest(nil) {
		for _, sz := range [][3]int{{1, 128, 784}, {64, 128, 784}, {256, 64, 288}, {121, 64, 288}, {676, 32, 9}} {
			m, n, k := sz[0], sz[1], sz[2]
			old := SetNoVNNI(pc.novnni)
			q, _ := NewQGemm(pc.isa, k, n, make([]int8, k*n))
			SetNoVNNI(old)
			a := make([]byte, m*q.LDA())
			c := make([]float32, m*n)
			corr, scale := make([]int32, q.NP()), make([]float32, q.NP())
			b.Run(fmt.Sprintf("%s/%dx%dx%d", pc.name, m, n, k), func(b *testing.B) {
				for b.Loop() {
					q.Requant(m, a, c, n, corr, scale, -128, 127, 1)
				}
				b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
			})
		}
	}
}

// TestQuantizeKernels checks the vector quantizers against QuantizeValue (NaN, +-Inf,
// ties, values past the limits) at lengths around the 32-value step.
func TestQuantizeKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, pc := range qpathsUnderTest(t) {
		old := SetNoVNNI(pc.novnni)
		q, _ := NewQGemm(pc.isa, 3, 1, make([]int8, 3))
		SetNoVNNI(old)
		for _, n := range []int{0, 1, 31, 32, 33, 64, 97} {
			src := make([]float32, n)
			for i := range src {
				src[i] = (rng.Float32()*2 - 1) * 30
				switch i % 7 {
				case 1:
					src[i] = float32(rng.IntN(41)-20) / 4 // ties at scale 0.5
				case 2:
					src[i] = []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e30}[rng.IntN(4)]
				}
			}
			for _, zp := range []int32{0, 7, 128, 255} {
				eb := q.ElemBytes()
				dst := make([]byte, eb*n+3)
				for i := range dst {
					dst[i] = 0xAA
				}
				q.QuantizeFlat(dst, src, 0.5, zp)
				for i, x := range src {
					want := QuantizeValue(x, 0.5, float32(-zp), float32(255-zp)) + zp
					got := int32(dst[eb*i])
					if eb == 2 {
						got |= int32(dst[eb*i+1]) << 8
					} else {
						want = int32(q.ZeroElem(want)) // NEON stores a-128
					}
					if got != want {
						t.Fatalf("%s n=%d zp=%d: [%d]=%v -> %d, want %d", pc.name, n, zp, i, x, got, want)
					}
				}
				for _, g := range dst[eb*n:] {
					if g != 0xAA {
						t.Fatalf("%s n=%d: wrote past the end", pc.name, n)
					}
				}
				f := make([]float32, n+1)
				f[n] = -777
				lo, hi := float32(-zp), float32(255-zp)
				FakeQuant(pc.isa, f[:n], src, 0.5, lo, hi)
				for i, x := range src {
					want := float32(QuantizeValue(x, 0.5, lo, hi)) * 0.5
					if math.Float32bits(f[i]) != math.Float32bits(want) {
						t.Fatalf("%s FakeQuant n=%d zp=%d: [%d]=%v -> %v, want %v", pc.name, n, zp, i, x, f[i], want)
					}
				}
				if f[n] != -777 {
					t.Fatalf("FakeQuant wrote past the end")
				}
			}
		}
	}
}

// TestCopyRuns checks CopyRuns against copy at run lengths on and off the 32-byte step,
// with the bytes around each run untouched.
func TestCopyRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, move := range []int{1, 31, 32, 64, 96, 100, 256} {
		for _, n := range []int{1, 2, 7} {
			step := move + rng.IntN(40)
			src := make([]byte, (n-1)*step+move)
			for i := range src {
				src[i] = byte(rng.IntN(256))
			}
			offs := make([]int, n)
			for i := range offs {
				offs[i] = 5 + i*(move+3)
			}
			dst := make([]byte, offs[n-1]+move+5)
			want := make([]byte, len(dst))
			for i := range dst {
				dst[i], want[i] = 0xAA, 0xAA
			}
			for i, o := range offs {
				copy(want[o:o+move], src[i*step:])
			}
			CopyRuns(dst, offs, src, step, move)
			for i := range dst {
				if dst[i] != want[i] {
					t.Fatalf("move=%d n=%d: byte %d = %d, want %d", move, n, i, dst[i], want[i])
				}
			}
		}
	}
}

// TestThin1Pool checks Thin1Pool's rows against their definition (taps, then zeros)
// at edge window counts and plane widths, with a guard band after the rows.
func TestThin1Pool(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, sz := range [][3]int{{1, 1, 4}, {1, 5, 12}, {3, 7, 17}, {13, 13, 28}, {2, 3, 30}} {
		ph, pw, w := sz[0], sz[1], sz[2]
		src := make([]byte, (2*ph+2)*w)
		for i := range src {
			src[i] = byte(rng.IntN(256))
		}
		dst := make([]byte, ph*pw*48+5)
		for i := range dst {
			dst[i] = 0xAA
		}
		if !Thin1Pool(dst, src, w, ph, pw) {
			t.Skip("no Thin1Pool kernel on this CPU")
		}
		for py := 0; py < ph; py++ {
			for px := 0; px < pw; px++ {
				for r := range 4 {
					dy, dx := r/2, r%2
					row := dst[((py*pw+px)*4+r)*12:][:12]
					for p, got := range row {
						want := byte(0)
						if p < 9 {
							want = src[(2*py+dy+p/3)*w+2*px+dx+p%3]
						}
						if got != want {
							t.Fatalf("%v: window (%d,%d) row %d byte %d = %d, want %d", sz, py, px, r, p, got, want)
						}
					}
				}
			}
		}
		for _, g := range dst[ph*pw*48:] {
			if g != 0xAA {
				t.Fatalf("%v: wrote past the rows", sz)
			}
		}
	}
}
