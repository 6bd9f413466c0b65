package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// poolValue draws an input value: mostly normal, with zeros of both signs, infinities
// and NaN often enough that windows mix them (to check the sign of a zero maximum, NaN
// propagation and Inf-Inf in sums, bit for bit).
func poolValue(r *rand.Rand) float32 {
	switch r.IntN(16) {
	case 0:
		return 0
	case 1:
		return float32(math.Copysign(0, -1))
	case 2:
		return float32(math.Inf(1))
	case 3:
		return float32(math.Inf(-1))
	case 4:
		if r.IntN(3) == 0 {
			return float32(math.NaN())
		}
	}
	return float32(r.NormFloat64())
}

// poolTapsRef is the plain loop of layers.Pool2D over a tap table.
func poolTapsRef(dst, src []float32, offs, ptr []int, scale []float32, c int) {
	for p := 0; p+1 < len(ptr); p++ {
		for i := 0; i < c; i++ {
			y := float32(0)
			if scale == nil {
				y = float32(math.Inf(-1))
			}
			for _, o := range offs[ptr[p]:ptr[p+1]] {
				v := src[o+i]
				if scale != nil {
					y += v
				} else if v > y || v != v {
					y = v
				}
			}
			if scale != nil {
				y *= scale[p]
			}
			dst[p*c+i] = y
		}
	}
}

func sameBits(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }

// samePool compares a pooled value with the reference's: bit for bit, except that an
// average that is NaN need only be NaN. A sum of two NaNs of different payloads keeps
// the payload of the first operand, and Go compiles y += v with either operand first
// (the reference loops themselves differ between builds), so a NaN average's payload
// is not defined by the reference. The maximum moves values and is exact to the bit.
func samePool(got, want float32, isMax bool) bool {
	return sameBits(got, want) || !isMax && got != got && want != want
}

const poolGuardBand = 16

// TestPoolTaps: PoolTaps.Max / Avg against the plain loop, bit for bit, on every path:
// channel counts around the 8-lane vector and the 4-vector block, pixels with 0..10
// taps (repeated taps, any order), NaN / Inf / signed-zero inputs, guard bands on both
// sides of dst untouched.
func TestPoolTaps(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, isa := range testISAs() {
		for _, c := range []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 47, 48, 65} {
			for trial := 0; trial < 6; trial++ {
				npx := 1 + r.IntN(12) // input pixels
				src := make([]float32, npx*c)
				for i := range src {
					src[i] = poolValue(r)
				}
				np := r.IntN(10)
				if trial == 0 {
					np = 1
				}
				ptr := []int{0}
				var offs []int
				scale := make([]float32, np)
				for p := 0; p < np; p++ {
					nt := r.IntN(11)
					if trial == 1 && p == 0 {
						nt = 0
					}
					for k := 0; k < nt; k++ {
						offs = append(offs, r.IntN(npx)*c)
					}
					ptr = append(ptr, len(offs))
					scale[p] = 1 / float32(max(nt, 1))
				}
				tab := NewPoolTaps(offs, ptr, scale, c)
				for _, isMax := range []bool{true, false} {
					want := make([]float32, np*c)
					sc := scale
					if isMax {
						sc = nil
					}
					poolTapsRef(want, src, offs, ptr, sc, c)
					buf := make([]float32, np*c+2*poolGuardBand)
					for i := range buf {
						buf[i] = guard
					}
					dst := buf[poolGuardBand : poolGuardBand+np*c]
					if isMax {
						tab.Max(isa, dst, src)
					} else {
						tab.Avg(isa, dst, src)
					}
					name := fmt.Sprintf("%v c=%d trial %d max=%v", isa, c, trial, isMax)
					for i := range want {
						if !samePool(dst[i], want[i], isMax) {
							t.Fatalf("%s: [%d] = %v (%#x), want %v (%#x)", name, i, dst[i], math.Float32bits(dst[i]), want[i], math.Float32bits(want[i]))
						}
					}
					for i := range buf {
						if (i < poolGuardBand || i >= poolGuardBand+np*c) && buf[i] != guard {
							t.Fatalf("%s: wrote outside dst at %d", name, i-poolGuardBand)
						}
					}
				}
			}
		}
	}
}

// TestPoolTapsPooling: tap tables built the way the runtime builds them for a pooling
// window (borders, strides, dilations), vs a direct loop over the window with bounds
// tests, as in layers.Pool2D.
func TestPoolTapsPooling(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	type win struct{ kh, kw, sh, sw, dh, dw, pt, pl, oh, ow int }
	const h, w = 7, 6
	wins := []win{
		{3, 3, 1, 1, 1, 1, 1, 1, 7, 6},
		{3, 3, 2, 2, 1, 1, 1, 1, 4, 3},
		{2, 3, 2, 1, 2, 2, 2, 0, 5, 6},
		{5, 5, 1, 1, 1, 1, 2, 2, 7, 6},
		{2, 2, 2, 2, 1, 1, 0, 0, 3, 3},
	}
	for _, isa := range testISAs() {
		for wi, wn := range wins {
			for _, c := range []int{1, 3, 4, 7, 8, 9, 16, 17, 33} {
				src := make([]float32, h*w*c)
				for i := range src {
					src[i] = poolValue(r)
				}
				ptr := []int{0}
				var offs []int
				var scale []float32
				for oy := 0; oy < wn.oh; oy++ {
					for ox := 0; ox < wn.ow; ox++ {
						n := 0
						for ky := 0; ky < wn.kh; ky++ {
							for kx := 0; kx < wn.kw; kx++ {
								iy, ix := oy*wn.sh+ky*wn.dh-wn.pt, ox*wn.sw+kx*wn.dw-wn.pl
								if iy >= 0 && iy < h && ix >= 0 && ix < w {
									offs = append(offs, (iy*w+ix)*c)
									n++
								}
							}
						}
						ptr = append(ptr, len(offs))
						scale = append(scale, 1/float32(max(n, 1)))
					}
				}
				tab := NewPoolTaps(offs, ptr, scale, c)
				np := wn.oh * wn.ow
				for _, isMax := range []bool{true, false} {
					want := make([]float32, np*c)
					got := make([]float32, np*c+poolGuardBand)
					for i := range got {
						got[i] = guard
					}
					for p := 0; p < np; p++ {
						oy, ox := p/wn.ow, p%wn.ow
						for i := 0; i < c; i++ {
							y := float32(0)
							if isMax {
								y = float32(math.Inf(-1))
							}
							n := 0
							for ky := 0; ky < wn.kh; ky++ {
								iy := oy*wn.sh + ky*wn.dh - wn.pt
								if iy < 0 || iy >= h {
									continue
								}
								for kx := 0; kx < wn.kw; kx++ {
									ix := ox*wn.sw + kx*wn.dw - wn.pl
									if ix < 0 || ix >= w {
										continue
									}
									n++
									v := src[(iy*w+ix)*c+i]
									if !isMax {
										y += v
									} else if v > y || v != v {
										y = v
									}
								}
							}
							if !isMax {
								y *= 1 / float32(max(n, 1))
							}
							want[p*c+i] = y
						}
					}
					if isMax {
						tab.Max(isa, got, src)
					} else {
						tab.Avg(isa, got, src)
					}
					for i := range want {
						if !samePool(got[i], want[i], isMax) {
							t.Fatalf("%v win%d c=%d max=%v: [%d] = %v, want %v", isa, wi, c, isMax, i, got[i], want[i])
						}
					}
					for i := np * c; i < len(got); i++ {
						if got[i] != guard {
							t.Fatalf("%v win%d c=%d max=%v: wrote past dst", isa, wi, c, isMax)
						}
					}
				}
			}
		}
	}
}

// TestGlobalPool: GlobalPool against the loops of layers.GlobalPool2D, bit for bit.
func TestGlobalPool(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	for _, isa := range testISAs() {
		for _, c := range []int{1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64} {
			for _, hw := range []int{1, 2, 3, 7, 16, 49} {
				src := make([]float32, hw*c)
				for i := range src {
					src[i] = poolValue(r)
				}
				for _, isMax := range []bool{true, false} {
					want := make([]float32, c)
					if isMax {
						copy(want, src[:c])
						for p := 1; p < hw; p++ {
							for i, v := range src[p*c : (p+1)*c] {
								if v > want[i] || v != v {
									want[i] = v
								}
							}
						}
					} else {
						for p := 0; p < hw; p++ {
							for i, v := range src[p*c : (p+1)*c] {
								want[i] += v
							}
						}
						inv := 1 / float32(hw)
						for i := range want {
							want[i] *= inv
						}
					}
					buf := make([]float32, c+2*poolGuardBand)
					for i := range buf {
						buf[i] = guard
					}
					GlobalPool(isa, buf[poolGuardBand:poolGuardBand+c], src, hw, c, isMax)
					for i := range want {
						if g := buf[poolGuardBand+i]; !samePool(g, want[i], isMax) {
							t.Fatalf("%v c=%d hw=%d max=%v: [%d] = %v, want %v", isa, c, hw, isMax, i, g, want[i])
						}
					}
					for i := range buf {
						if (i < poolGuardBand || i >= poolGuardBand+c) && buf[i] != guard {
							t.Fatalf("%v c=%d hw=%d: wrote outside dst", isa, c, hw)
						}
					}
				}
			}
		}
	}
}

// TestPoolTapsBounds: bad tables, and dst / src too short for a table, panic instead of
// touching memory.
func TestPoolTapsBounds(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	mustPanic("negative offset", func() { NewPoolTaps([]int{-1}, []int{0, 1}, nil, 4) })
	mustPanic("ptr end", func() { NewPoolTaps([]int{0, 4}, []int{0, 1}, nil, 4) })
	mustPanic("ptr start", func() { NewPoolTaps([]int{0}, []int{1, 1}, nil, 4) })
	mustPanic("ptr decreasing", func() { NewPoolTaps([]int{0, 4}, []int{0, 2, 1, 2}, nil, 4) })
	mustPanic("scale count", func() { NewPoolTaps([]int{0}, []int{0, 1}, []float32{1, 1}, 4) })
	mustPanic("c", func() { NewPoolTaps([]int{0}, []int{0, 1}, nil, 0) })
	tab := NewPoolTaps([]int{0, 8}, []int{0, 1, 2}, []float32{1, 1}, 4)
	for _, isa := range testISAs() {
		mustPanic("short src", func() { tab.Max(isa, make([]float32, 8), make([]float32, 11)) })
		mustPanic("short dst", func() { tab.Avg(isa, make([]float32, 7), make([]float32, 12)) })
		tab.Max(isa, make([]float32, 8), make([]float32, 12))
		mustPanic("global src", func() { GlobalPool(isa, make([]float32, 4), make([]float32, 7), 2, 4, true) })
		mustPanic("global hw", func() { GlobalPool(isa, make([]float32, 4), make([]float32, 8), 0, 4, true) })
	}
	mustPanic("avg without scales", func() {
		NewPoolTaps([]int{0}, []int{0, 1}, nil, 4).Avg(Generic, make([]float32, 4), make([]float32, 4))
	})
}

// BenchmarkPoolTaps: a 3x3 same-padded window over a 13x11 map, 4 and 32 channels.
func BenchmarkPoolTaps(b *testing.B) {
	const h, w = 13, 11
	for _, c := range []int{4, 32} {
		ptr := []int{0}
		var offs []int
		var scale []float32
		for oy := 0; oy < h; oy++ {
			for ox := 0; ox < w; ox++ {
				for ky := -1; ky <= 1; ky++ {
					for kx := -1; kx <= 1; kx++ {
						if iy, ix := oy+ky, ox+kx; iy >= 0 && iy < h && ix >= 0 && ix < w {
							offs = append(offs, (iy*w+ix)*c)
						}
					}
				}
				scale = append(scale, 1/float32(len(offs)-ptr[len(ptr)-1]))
				ptr = append(ptr, len(offs))
			}
		}
		tab := NewPoolTaps(offs, ptr, scale, c)
		src := make([]float32, h*w*c)
		dst := make([]float32, h*w*c)
		for _, isa := range testISAs() {
			b.Run(fmt.Sprintf("c%d/max/%v", c, isa), func(b *testing.B) {
				for b.Loop() {
					tab.Max(isa, dst, src)
				}
			})
			b.Run(fmt.Sprintf("c%d/avg/%v", c, isa), func(b *testing.B) {
				for b.Loop() {
					tab.Avg(isa, dst, src)
				}
			})
		}
	}
}
