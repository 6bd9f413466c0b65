package asm

import "fmt"

// Winograd F(2x2, 3x3) for stride-1 3x3 convolution (Lavin & Gray 2015): each 2x2 block
// of output pixels comes from a 4x4 input window d as Y = A^T [(G g G^T) . (B^T d B)] A,
// 16 products per channel pair instead of 36, so the 16 per-position GEMMs (transformed
// input tile rows x transformed weights) do 2.25x fewer multiply-adds than im2col.
//
//	B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//	G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//	A^T = [1 1 1 0; 0 1 -1 -1]
//
// Layout: a transformed tile t holds its 16 positions p = 4*i+j at t*16*c + p*c with the
// channels contiguous, so position p of consecutive tiles is a matrix with row stride 16*c
// (asm.Gemm's lda/ldc), and NHWC windows and blocks are read and written in place.

// WinogradF2x2Weights transforms a Keras 3x3 kernel w (3, 3, cin, cout) into the 16
// matrices U_p = (G g G^T)[p] (cin x cout, row-major), dst[p*cin*cout + ci*cout + co],
// computed in float64 and rounded once.
func WinogradF2x2Weights(dst, w []float32, cin, cout int) {
	if len(dst) < 16*cin*cout || len(w) < 9*cin*cout {
		panic(fmt.Sprintf("asm.WinogradF2x2Weights: short slice (dst %d, w %d) for cin=%d cout=%d", len(dst), len(w), cin, cout))
	}
	g := [4][3]float64{{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
	for ci := 0; ci < cin; ci++ {
		for co := 0; co < cout; co++ {
			var k [3][3]float64
			for ky := 0; ky < 3; ky++ {
				for kx := 0; kx < 3; kx++ {
					k[ky][kx] = float64(w[((ky*3+kx)*cin+ci)*cout+co])
				}
			}
			for i := 0; i < 4; i++ {
				for j := 0; j < 4; j++ {
					var s float64
					for a := 0; a < 3; a++ {
						for b := 0; b < 3; b++ {
							s += g[i][a] * k[a][b] * g[j][b]
						}
					}
					dst[(i*4+j)*cin*cout+ci*cout+co] = float32(s)
				}
			}
		}
	}
}

// WinogradF2x2In writes the input transform V = B^T d B of the 4x4 window at src[o:]
// (pixel (y, x), channel ci at o + y*rowStride + x*c + ci) for each o = offs[t], into
// dst[t*16*c + p*c + ci]. Exact float32 sums in a fixed order, identical on every path.
// As a Go loop, per tile and channel:
//
//	t_i[x] = {d0-d2, d1+d2, d2-d1, d1-d3}[i] over rows y, for each column x
//	V[4i+j] = {t_i[0]-t_i[2], t_i[1]+t_i[2], t_i[2]-t_i[1], t_i[1]-t_i[3]}[j]
func WinogradF2x2In(isa ISA, dst, src []float32, offs []int, c, rowStride int) {
	if len(offs) == 0 || c <= 0 {
		return
	}
	if len(dst) < len(offs)*16*c {
		panic(fmt.Sprintf("asm.WinogradF2x2In: dst %d < %d tiles x 16 x %d", len(dst), len(offs), c))
	}
	for _, o := range offs {
		if o < 0 || o+3*rowStride+4*c > len(src) {
			panic(fmt.Sprintf("asm.WinogradF2x2In: window at %d (row stride %d, c %d) outside src (%d)", o, rowStride, c, len(src)))
		}
	}
	if c%16 == 0 && winogradAsm512(isa) {
		winogradInF2x2AVX512(&dst[0], &src[0], &offs[0], len(offs), c, rowStride)
		return
	}
	if c%8 == 0 && winogradAsm(isa) {
		winogradInF2x2AVX2(&dst[0], &src[0], &offs[0], len(offs), c, rowStride)
		return
	}
	for t, o := range offs {
		v := dst[t*16*c : (t+1)*16*c]
		for ci := 0; ci < c; ci++ {
			d := func(y, x int) float32 { return src[o+y*rowStride+x*c+ci] }
			for i := 0; i < 4; i++ {
				var r [4]float32
				for x := 0; x < 4; x++ {
					switch i {
					case 0:
						r[x] = d(0, x) - d(2, x)
					case 1:
						r[x] = d(1, x) + d(2, x)
					case 2:
						r[x] = d(2, x) - d(1, x)
					case 3:
						r[x] = d(1, x) - d(3, x)
					}
				}
				v[(4*i+0)*c+ci] = r[0] - r[2]
				v[(4*i+1)*c+ci] = r[1] + r[2]
				v[(4*i+2)*c+ci] = r[2] - r[1]
				v[(4*i+3)*c+ci] = r[1] - r[3]
			}
		}
	}
}

// WinogradF2x2Out writes the output transform of each tile t of src (src[t*16*n + p*n + co],
// the 16 GEMM results M) as the 2x2 block at dst[o:], o = offs[t] (pixel (y, x) at
// o + y*rowStride + x*n), with bias and the clamp: Y = clamp(A^T M A + bias, lo, hi). A NaN
// stays NaN through the clamp. Exact float32 sums in a fixed order, identical on every
// path. As a Go loop, per tile and channel:
//
//	s0[i] = (m[i][0]+m[i][1])+m[i][2];  s1[i] = (m[i][1]-m[i][2])-m[i][3]
//	Y[0][x] = ((sx[0]+sx[1])+sx[2]) + bias;  Y[1][x] = ((sx[1]-sx[2])-sx[3]) + bias
func WinogradF2x2Out(isa ISA, dst, src []float32, offs []int, bias []float32, n, rowStride int, lo, hi float32) {
	if len(offs) == 0 || n <= 0 {
		return
	}
	if len(src) < len(offs)*16*n || len(bias) < n {
		panic(fmt.Sprintf("asm.WinogradF2x2Out: src %d < %d tiles x 16 x %d or bias %d short", len(src), len(offs), n, len(bias)))
	}
	for _, o := range offs {
		if o < 0 || o+rowStride+2*n > len(dst) {
			panic(fmt.Sprintf("asm.WinogradF2x2Out: block at %d (row stride %d, n %d) outside dst (%d)", o, rowStride, n, len(dst)))
		}
	}
	if n%16 == 0 && winogradAsm512(isa) {
		winogradOutF2x2AVX512(&dst[0], &src[0], &offs[0], &bias[0], len(offs), n, rowStride, lo, hi)
		return
	}
	if n%8 == 0 && winogradAsm(isa) {
		winogradOutF2x2AVX2(&dst[0], &src[0], &offs[0], &bias[0], len(offs), n, rowStride, lo, hi)
		return
	}
	for t, o := range offs {
		m := src[t*16*n : (t+1)*16*n]
		for co := 0; co < n; co++ {
			var s0, s1 [4]float32
			for i := 0; i < 4; i++ {
				r := m[4*i*n+co:]
				s0[i] = (r[0] + r[n]) + r[2*n]
				s1[i] = (r[n] - r[2*n]) - r[3*n]
			}
			b := bias[co]
			y := [4]float32{
				((s0[0] + s0[1]) + s0[2]) + b, ((s1[0] + s1[1]) + s1[2]) + b,
				((s0[1] - s0[2]) - s0[3]) + b, ((s1[1] - s1[2]) - s1[3]) + b,
			}
			for k, v := range y {
				// max/min with the NaN test first: a NaN sum stays NaN
				if !(v != v) {
					v = min(max(v, lo), hi)
				}
				dst[o+(k/2)*rowStride+(k%2)*n+co] = v
			}
		}
	}
}

// WinogradF2x2Vector reports whether WinogradF2x2In and WinogradF2x2Out run as vector
// code on isa for channel counts that are multiples of 8 (otherwise they are Go loops).
func WinogradF2x2Vector(isa ISA) bool { return winogradAsm(isa) }

// Winograd F(4x4, 3x3): each 4x4 block of output pixels from a 6x6 input window, 36
// products per channel pair instead of 144 (4x fewer multiply-adds than im2col), with
//
//	B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//	G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//	A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
//
// and the layout of F(2x2) with 36 positions p = 6*i+j per tile (t*36*c + p*c). The
// larger transform coefficients cost accuracy: errors grow about 10x over F(2x2) (see the
// runtime's differential test for the bound).

// WinogradF4x4Weights is WinogradF2x2Weights for F(4x4, 3x3): 36 matrices U_p (cin x
// cout), dst[p*cin*cout + ci*cout + co], computed in float64 and rounded once.
func WinogradF4x4Weights(dst, w []float32, cin, cout int) {
	if len(dst) < 36*cin*cout || len(w) < 9*cin*cout {
		panic(fmt.Sprintf("asm.WinogradF4x4Weights: short slice (dst %d, w %d) for cin=%d cout=%d", len(dst), len(w), cin, cout))
	}
	g := [6][3]float64{{1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
		{1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}}
	for ci := 0; ci < cin; ci++ {
		for co := 0; co < cout; co++ {
			var k [3][3]float64
			for ky := 0; ky < 3; ky++ {
				for kx := 0; kx < 3; kx++ {
					k[ky][kx] = float64(w[((ky*3+kx)*cin+ci)*cout+co])
				}
			}
			for i := 0; i < 6; i++ {
				for j := 0; j < 6; j++ {
					var s float64
					for a := 0; a < 3; a++ {
						for b := 0; b < 3; b++ {
							s += g[i][a] * k[a][b] * g[j][b]
						}
					}
					dst[(i*6+j)*cin*cout+ci*cout+co] = float32(s)
				}
			}
		}
	}
}

// bt6 is one B^T pass over six values, every step rounded to float32 in the vector
// kernel's order (the conversions stop the compiler fusing a multiply into an add).
func bt6(x [6]float32) (r [6]float32) {
	r[0] = float32(x[4]+float32(4*x[0])) - float32(5*x[2])
	r[5] = float32(x[5]+float32(4*x[1])) - float32(5*x[3])
	r[1] = float32(x[3]+x[4]) - float32(4*float32(x[1]+x[2]))
	r[2] = float32(x[4]-x[3]) + float32(4*float32(x[1]-x[2]))
	u := float32(2 * float32(x[3]-x[1]))
	t := float32(x[4] - x[2])
	r[3] = t + u
	r[4] = t - u
	return
}

// at4 is one A^T pass over six values (bias not included), in the vector kernel's order.
func at4(m [6]float32) (y [4]float32) {
	a, b := float32(m[1]+m[2]), float32(m[1]-m[2])
	c, d := float32(m[3]+m[4]), float32(m[3]-m[4])
	y[0] = float32(m[0]+a) + c
	y[1] = b + float32(2*d)
	y[2] = a + float32(4*c)
	y[3] = float32(b+float32(8*d)) + m[5]
	return
}

// WinogradF4x4In writes the input transform V = B^T d B of the 6x6 window at src[o:]
// (pixel (y, x), channel ci at o + y*rowStride + x*c + ci) for each o = offs[t], into
// dst[t*36*c + p*c + ci]: each window row through bt6, then each column of those
// results. Identical bits on every path.
func WinogradF4x4In(isa ISA, dst, src []float32, offs []int, c, rowStride int) {
	if len(offs) == 0 || c <= 0 {
		return
	}
	if len(dst) < len(offs)*36*c {
		panic(fmt.Sprintf("asm.WinogradF4x4In: dst %d < %d tiles x 36 x %d", len(dst), len(offs), c))
	}
	for _, o := range offs {
		if o < 0 || o+5*rowStride+6*c > len(src) {
			panic(fmt.Sprintf("asm.WinogradF4x4In: window at %d (row stride %d, c %d) outside src (%d)", o, rowStride, c, len(src)))
		}
	}
	if c%16 == 0 && winogradAsm512(isa) {
		winogradInF4x4AVX512(&dst[0], &src[0], &offs[0], len(offs), c, rowStride)
		return
	}
	if c%8 == 0 && winogradAsm(isa) {
		winogradInF4x4AVX2(&dst[0], &src[0], &offs[0], len(offs), c, rowStride)
		return
	}
	for t, o := range offs {
		v := dst[t*36*c : (t+1)*36*c]
		for ci := 0; ci < c; ci++ {
			var tmp [6][6]float32
			for y := 0; y < 6; y++ {
				var x [6]float32
				for j := range x {
					x[j] = src[o+y*rowStride+j*c+ci]
				}
				tmp[y] = bt6(x)
			}
			for j := 0; j < 6; j++ {
				r := bt6([6]float32{tmp[0][j], tmp[1][j], tmp[2][j], tmp[3][j], tmp[4][j], tmp[5][j]})
				for i := 0; i < 6; i++ {
					v[(6*i+j)*c+ci] = r[i]
				}
			}
		}
	}
}

// WinogradF4x4Out writes the output transform of each tile t of src (src[t*36*n + p*n +
// co]) as the 4x4 block at dst[o:], o = offs[t] (pixel (y, x) at o + y*rowStride + x*n):
// Y = clamp(A^T M A + bias, lo, hi), each row of M through at4, then each column, then
// the bias and the clamp (a NaN stays NaN). Identical bits on every path.
func WinogradF4x4Out(isa ISA, dst, src []float32, offs []int, bias []float32, n, rowStride int, lo, hi float32) {
	winogradF4x4Out(isa, dst, src, offs, bias, nil, n, rowStride, lo, hi)
}

// WinogradF4x4OutAdd is WinogradF4x4Out with a residual: Y = clamp((A^T M A + bias) +
// R, lo, hi), R read from res at the offsets Y is written to in dst (res laid out like
// dst), the residual sum and its activation in the transform's store. The bits are
// WinogradF4x4Out's with no clamp, then AddClamp's.
func WinogradF4x4OutAdd(isa ISA, dst, src []float32, offs []int, bias, res []float32, n, rowStride int, lo, hi float32) {
	if len(res) < len(dst) {
		panic(fmt.Sprintf("asm.WinogradF4x4OutAdd: res %d < dst %d", len(res), len(dst)))
	}
	winogradF4x4Out(isa, dst, src, offs, bias, res, n, rowStride, lo, hi)
}

func winogradF4x4Out(isa ISA, dst, src []float32, offs []int, bias, res []float32, n, rowStride int, lo, hi float32) {
	if len(offs) == 0 || n <= 0 {
		return
	}
	if len(src) < len(offs)*36*n || len(bias) < n {
		panic(fmt.Sprintf("asm.WinogradF4x4Out: src %d < %d tiles x 36 x %d or bias %d short", len(src), len(offs), n, len(bias)))
	}
	for _, o := range offs {
		if o < 0 || o+3*rowStride+4*n > len(dst) {
			panic(fmt.Sprintf("asm.WinogradF4x4Out: block at %d (row stride %d, n %d) outside dst (%d)", o, rowStride, n, len(dst)))
		}
	}
	if n%16 == 0 && winogradAsm512(isa) {
		if res != nil {
			winogradOutAddF4x4AVX512(&dst[0], &src[0], &offs[0], &bias[0], &res[0], len(offs), n, rowStride, lo, hi)
			return
		}
		winogradOutF4x4AVX512(&dst[0], &src[0], &offs[0], &bias[0], len(offs), n, rowStride, lo, hi)
		return
	}
	if n%8 == 0 && winogradAsm(isa) {
		if res != nil {
			winogradOutAddF4x4AVX2(&dst[0], &src[0], &offs[0], &bias[0], &res[0], len(offs), n, rowStride, lo, hi)
			return
		}
		winogradOutF4x4AVX2(&dst[0], &src[0], &offs[0], &bias[0], len(offs), n, rowStride, lo, hi)
		return
	}
	for t, o := range offs {
		m := src[t*36*n : (t+1)*36*n]
		for co := 0; co < n; co++ {
			var tmp [6][4]float32
			for i := 0; i < 6; i++ {
				var r [6]float32
				for j := range r {
					r[j] = m[(6*i+j)*n+co]
				}
				tmp[i] = at4(r)
			}
			for x := 0; x < 4; x++ {
				y := at4([6]float32{tmp[0][x], tmp[1][x], tmp[2][x], tmp[3][x], tmp[4][x], tmp[5][x]})
				for yo, v := range y {
					d := o + yo*rowStride + x*n + co
					v += bias[co]
					if res != nil {
						v += res[d]
					}
					if !(v != v) {
						v = min(max(v, lo), hi)
					}
					dst[d] = v
				}
			}
		}
	}
}
