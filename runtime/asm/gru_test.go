package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// gruSeq64 is GRUSeq in float64 from the unpadded Keras layout: zx t rows of 3u, w u
// rows of 3u, rbh u (resetAfter), h0 u. It returns the t rows of h (processing order).
func gruSeq64(zx, w, rbh, h0 []float32, t, u int, back, after bool, g func(float64) float64) []float64 {
	h := make([]float64, u)
	for j := range h {
		h[j] = float64(h0[j])
	}
	out := make([]float64, 0, t*u)
	for s := 0; s < t; s++ {
		ts := s
		if back {
			ts = t - 1 - s
		}
		x := zx[ts*3*u : (ts+1)*3*u]
		hu := func(v []float64, col int) float64 {
			a := 0.0
			for k := 0; k < u; k++ {
				a += v[k] * float64(w[k*3*u+col])
			}
			return a
		}
		z, r, c := make([]float64, u), make([]float64, u), make([]float64, u)
		for j := 0; j < u; j++ {
			z[j] = g(float64(x[j]) + hu(h, j))
			r[j] = g(float64(x[u+j]) + hu(h, u+j))
		}
		rh := make([]float64, u)
		for j := range rh {
			rh[j] = r[j] * h[j]
		}
		for j := 0; j < u; j++ {
			if after {
				c[j] = math.Tanh(float64(x[2*u+j]) + r[j]*(float64(rbh[j])+hu(h, 2*u+j)))
			} else {
				c[j] = math.Tanh(float64(x[2*u+j]) + hu(rh, 2*u+j))
			}
		}
		for j := range h {
			h[j] = z[j]*h[j] + (1-z[j])*c[j]
		}
		out = append(out, h...)
	}
	return out
}

// TestGRUSeq checks every GRUSeq path against the float64 loop at unit counts around
// the 8-lane chunks and primes, sequences of 0, 1, 2 and prime length, both reset
// forms, both gates and both directions: padding lanes of zx and U are NaN (they must
// never reach a unit < u), zx, uw and rbh are not written, nothing is written past hs
// (guard), and a NaN input poisons what depends on it. Bound: |h - want| <= 1e-5
// absolute (weights scaled by 0.5/sqrt(u), so h*U sums stay O(1); the gate's 4*2^-24
// absolute and the candidate's 6 ULP bounds plus float32 sums of u terms, carried
// through contracting steps, stay far below it).
func TestGRUSeq(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	nan := float32(math.NaN())
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}, {Hard: true, A: float32(1.0 / 6), B: 0.5}} {
			act := func(x float64) float64 {
				if gate.Hard {
					return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
				}
				return sigmoid64(x)
			}
			for _, u := range []int{0, 1, 7, 8, 9, 13, 16, 17, 33} {
				for _, steps := range []int{0, 1, 2, 7, 13} {
					for _, back := range []bool{false, true} {
						for _, after := range []bool{true, false} {
							name := fmt.Sprintf("%v %+v u=%d t=%d back=%v after=%v", isa, gate, u, steps, back, after)
							up := LSTMSeqPad(u)
							zx, w := randSlice(r, steps*3*u), randSlice(r, u*3*u)
							for i := range zx {
								zx[i] *= 2
							}
							for i := range w {
								w[i] *= float32(0.5 / math.Sqrt(float64(u)))
							}
							h0, rb := randSlice(r, u), randSlice(r, u)
							pzx := make([]float32, steps*3*up)
							PadGRUGates(pzx, zx, steps, u)
							puw := make([]float32, u*3*up)
							PadGRUGates(puw, w, u, u)
							for i := range pzx {
								if i%up >= u {
									pzx[i] = nan
								}
							}
							for i := range puw {
								if i%up >= u {
									puw[i] = nan
								}
							}
							var rbh, rh []float32
							if after {
								rbh = make([]float32, up)
								copy(rbh, rb)
							} else {
								rh = make([]float32, 2*up)
							}
							nanAt := -1
							if steps == 13 && u > 2 && !gate.Hard {
								nanAt = r.IntN(u)
								zx[5*3*u+2*u+nanAt] = nan
								pzx[5*3*up+2*up+nanAt] = nan
							}
							pzx0, puw0 := append([]float32(nil), pzx...), append([]float32(nil), puw...)
							hs := make([]float32, (steps+1)*up+1)
							for j := 0; j < up; j++ {
								hs[j] = nan
							}
							copy(hs, h0)
							hs[(steps+1)*up] = guard
							GRUSeq(isa, pzx, puw, rbh, hs, rh, steps, u, back, after, gate)
							if hs[(steps+1)*up] != guard {
								t.Fatalf("%s: wrote past hs", name)
							}
							for i := range pzx {
								if math.Float32bits(pzx[i]) != math.Float32bits(pzx0[i]) {
									t.Fatalf("%s: zx written", name)
								}
							}
							for i := range puw {
								if math.Float32bits(puw[i]) != math.Float32bits(puw0[i]) {
									t.Fatalf("%s: uw written", name)
								}
							}
							if steps == 0 || u == 0 {
								continue
							}
							want := gruSeq64(zx, w, rb, h0, steps, u, back, after, act)
							for s := 0; s < steps; s++ {
								ts := s
								if back {
									ts = steps - 1 - s
								}
								for j := 0; j < u; j++ {
									got, wv := float64(hs[(s+1)*up+j]), want[s*u+j]
									if nanAt >= 0 && (ts > 5 && !back || ts < 5 && back || ts == 5 && j == nanAt) {
										if got == got {
											t.Fatalf("%s: step %d unit %d: h=%v after a NaN input", name, s, j, got)
										}
										continue
									}
									if math.Abs(got-wv) > 1e-5 {
										t.Fatalf("%s: step %d unit %d: h=%v want %v", name, s, j, got, wv)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// BenchmarkGRUSeq: one sample's whole sequence (ns/step is the recurrence latency).
func BenchmarkGRUSeq(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][2]int{{30, 16}, {9, 8}, {12, 32}} {
		steps, u := sz[0], sz[1]
		up := LSTMSeqPad(u)
		zx, uw, rbh := randSlice(r, steps*3*up), randSlice(r, u*3*up), randSlice(r, up)
		for i := range uw {
			uw[i] *= 0.3
		}
		hs, rh := make([]float32, (steps+1)*up), make([]float32, 2*up)
		for _, isa := range testISAs() {
			for _, after := range []bool{true, false} {
				b.Run(fmt.Sprintf("t%d/u%d/after=%v/%v", steps, u, after, isa), func(b *testing.B) {
					for b.Loop() {
						GRUSeq(isa, zx, uw, rbh, hs, rh, steps, u, false, after, GateAct{})
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(steps), "ns/step")
				})
			}
		}
	}
}

// TestRNNSeq checks every RNNSeq path against a float64 loop at the same edge sizes as
// TestGRUSeq, tanh and relu, both directions, NaN padding lanes, guard past hs, inputs
// not written, NaN propagation. Bound 1e-5*(1+|want|) (weights scaled by 0.5/sqrt(u)):
// tanh steps stay below 1, where it is 1e-5 absolute; relu steps do not contract and h
// grows (to ~130 over 7 steps), so their float32 roundings are relative to |h|.
func TestRNNSeq(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	nan := float32(math.NaN())
	for _, isa := range testISAs() {
		for _, relu := range []bool{false, true} {
			for _, u := range []int{0, 1, 7, 8, 9, 13, 16, 17, 33} {
				for _, steps := range []int{0, 1, 2, 7, 13} {
					for _, back := range []bool{false, true} {
						name := fmt.Sprintf("%v relu=%v u=%d t=%d back=%v", isa, relu, u, steps, back)
						up := LSTMSeqPad(u)
						zx, w, h0 := randSlice(r, steps*u), randSlice(r, u*u), randSlice(r, u)
						for i := range w {
							w[i] *= float32(0.5 / math.Sqrt(float64(u)))
						}
						pzx, puw := make([]float32, steps*up), make([]float32, u*up)
						for i := range pzx {
							pzx[i] = nan
						}
						for i := range puw {
							puw[i] = nan
						}
						for s := 0; s < steps; s++ {
							copy(pzx[s*up:], zx[s*u:(s+1)*u])
						}
						for k := 0; k < u; k++ {
							copy(puw[k*up:], w[k*u:(k+1)*u])
						}
						nanAt := -1
						if steps == 13 && u > 2 {
							nanAt = r.IntN(u)
							zx[5*u+nanAt], pzx[5*up+nanAt] = nan, nan
						}
						pzx0, puw0 := append([]float32(nil), pzx...), append([]float32(nil), puw...)
						hs := make([]float32, (steps+1)*up+1)
						for j := 0; j < up; j++ {
							hs[j] = nan
						}
						copy(hs, h0)
						hs[(steps+1)*up] = guard
						RNNSeq(isa, pzx, puw, hs, steps, u, back, relu)
						if hs[(steps+1)*up] != guard {
							t.Fatalf("%s: wrote past hs", name)
						}
						for i := range pzx {
							if math.Float32bits(pzx[i]) != math.Float32bits(pzx0[i]) {
								t.Fatalf("%s: zx written", name)
							}
						}
						for i := range puw {
							if math.Float32bits(puw[i]) != math.Float32bits(puw0[i]) {
								t.Fatalf("%s: uw written", name)
							}
						}
						h := make([]float64, u)
						for j := range h {
							h[j] = float64(h0[j])
						}
						for s := 0; s < steps; s++ {
							ts := s
							if back {
								ts = steps - 1 - s
							}
							nh := make([]float64, u)
							for j := range nh {
								v := float64(zx[ts*u+j])
								for k := 0; k < u; k++ {
									v += h[k] * float64(w[k*u+j])
								}
								if relu {
									v = math.Max(0, v)
									if math.IsNaN(float64(zx[ts*u+j])) {
										v = math.NaN()
									}
								} else {
									v = math.Tanh(v)
								}
								nh[j] = v
							}
							h = nh
							for j := 0; j < u; j++ {
								got := float64(hs[(s+1)*up+j])
								if nanAt >= 0 && (ts > 5 && !back || ts < 5 && back || ts == 5 && j == nanAt) {
									if got == got && !(relu && h[j] == 0) {
										t.Fatalf("%s: step %d unit %d: h=%v after a NaN input", name, s, j, got)
									}
									continue
								}
								if math.Abs(got-h[j]) > 1e-5*(1+math.Abs(h[j])) {
									t.Fatalf("%s: step %d unit %d: h=%v want %v", name, s, j, got, h[j])
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestGRUSeqX: GRUSeqX (input projected in the step loop) against the float64 loop fed
// the exact projection, at the edge unit counts, steps 1, 2, 7, inputs 1, 3, 8, 13,
// both reset forms, both gates, both directions; NaN padding lanes of wx, bias and U,
// guard past hs, inputs not written. Bound as TestGRUSeq (1e-5 absolute).
func TestGRUSeqX(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	nan := float32(math.NaN())
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}} {
			act := func(x float64) float64 {
				if gate.Hard {
					return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
				}
				return sigmoid64(x)
			}
			for _, u := range []int{1, 7, 8, 9, 13, 16, 17, 33} {
				for _, steps := range []int{1, 2, 7} {
					for _, in := range []int{1, 3, 8, 13} {
						for _, back := range []bool{false, true} {
							for _, after := range []bool{true, false} {
								name := fmt.Sprintf("%v %+v u=%d t=%d in=%d back=%v after=%v", isa, gate, u, steps, in, back, after)
								up := LSTMSeqPad(u)
								x, w, b := randSlice(r, steps*in), randSlice(r, in*3*u), randSlice(r, 3*u)
								for i := range w {
									w[i] *= float32(1 / math.Sqrt(float64(in)))
								}
								uw := randSlice(r, u*3*u)
								for i := range uw {
									uw[i] *= float32(0.5 / math.Sqrt(float64(u)))
								}
								h0, rb := randSlice(r, u), randSlice(r, u)
								zx := make([]float32, steps*3*u) // the exact projection, time order
								for s := 0; s < steps; s++ {
									for c := 0; c < 3*u; c++ {
										v := float64(b[c])
										for i := 0; i < in; i++ {
											v += float64(x[s*in+i]) * float64(w[i*3*u+c])
										}
										zx[s*3*u+c] = float32(v)
									}
								}
								pw, pb, puw := make([]float32, in*3*up), make([]float32, 3*up), make([]float32, u*3*up)
								PadGRUGates(pw, w, in, u)
								PadGRUGates(pb, b, 1, u)
								PadGRUGates(puw, uw, u, u)
								for _, p := range [][]float32{pw, pb, puw} {
									for i := range p {
										if i%up >= u {
											p[i] = nan
										}
									}
								}
								var rbh, rh []float32
								if after {
									rbh = make([]float32, up)
									copy(rbh, rb)
								} else {
									rh = make([]float32, 2*up)
								}
								x0, pw0 := append([]float32(nil), x...), append([]float32(nil), pw...)
								hs := make([]float32, (steps+1)*up+1)
								copy(hs, h0)
								hs[(steps+1)*up] = guard
								GRUSeqX(isa, x, in, pw, pb, puw, rbh, hs, rh, steps, u, back, after, gate)
								if hs[(steps+1)*up] != guard {
									t.Fatalf("%s: wrote past hs", name)
								}
								for i := range x {
									if x[i] != x0[i] {
										t.Fatalf("%s: x written", name)
									}
								}
								for i := range pw {
									if math.Float32bits(pw[i]) != math.Float32bits(pw0[i]) {
										t.Fatalf("%s: wx written", name)
									}
								}
								want := gruSeq64(zx, uw, rb, h0, steps, u, back, after, act)
								for s := 0; s < steps; s++ {
									for j := 0; j < u; j++ {
										if got, wv := float64(hs[(s+1)*up+j]), want[s*u+j]; math.Abs(got-wv) > 1e-5 {
											t.Fatalf("%s: step %d unit %d: h=%v want %v", name, s, j, got, wv)
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestRNNSeqX: RNNSeqX against RNNSeq fed the float64 projection (and so against
// TestRNNSeq's loop), tanh and relu, edge unit counts, inputs 1, 3, 8, 13, both
// directions, NaN padding lanes, guard past hs. Bound as TestRNNSeq, 1e-5*(1+|want|):
// the reference is RNNSeq fed the projection rounded to float32, RNNSeqX sums it
// exactly (Generic) or in float32 (AVX2), a relative difference relu steps carry.
func TestRNNSeqX(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	nan := float32(math.NaN())
	for _, isa := range testISAs() {
		for _, relu := range []bool{false, true} {
			for _, u := range []int{1, 7, 8, 9, 13, 16, 17, 33} {
				for _, steps := range []int{1, 2, 7} {
					for _, in := range []int{1, 3, 8, 13} {
						for _, back := range []bool{false, true} {
							name := fmt.Sprintf("%v relu=%v u=%d t=%d in=%d back=%v", isa, relu, u, steps, in, back)
							up := LSTMSeqPad(u)
							x, w, b, uw := randSlice(r, steps*in), randSlice(r, in*u), randSlice(r, u), randSlice(r, u*u)
							for i := range uw {
								uw[i] *= float32(0.5 / math.Sqrt(float64(u)))
							}
							pw, pb, puw, pzx := make([]float32, in*up), make([]float32, up), make([]float32, u*up), make([]float32, steps*up)
							for _, p := range [][]float32{pw, pb, puw} {
								for i := range p {
									p[i] = nan
								}
							}
							copy(pb, b)
							for i := 0; i < in; i++ {
								copy(pw[i*up:], w[i*u:(i+1)*u])
							}
							for k := 0; k < u; k++ {
								copy(puw[k*up:], uw[k*u:(k+1)*u])
							}
							for s := 0; s < steps; s++ {
								for j := 0; j < u; j++ {
									v := float64(b[j])
									for i := 0; i < in; i++ {
										v += float64(x[s*in+i]) * float64(w[i*u+j])
									}
									pzx[s*up+j] = float32(v)
								}
							}
							h0 := randSlice(r, u)
							hs, want := make([]float32, (steps+1)*up+1), make([]float32, (steps+1)*up)
							copy(hs, h0)
							copy(want, h0)
							hs[(steps+1)*up] = guard
							RNNSeqX(isa, x, in, pw, pb, puw, hs, steps, u, back, relu)
							RNNSeq(Generic, pzx, puw, want, steps, u, back, relu)
							if hs[(steps+1)*up] != guard {
								t.Fatalf("%s: wrote past hs", name)
							}
							for s := 1; s <= steps; s++ {
								for j := 0; j < u; j++ {
									if got, wv := float64(hs[s*up+j]), float64(want[s*up+j]); math.Abs(got-wv) > 1e-5*(1+math.Abs(wv)) {
										t.Fatalf("%s: step %d unit %d: h=%v want %v", name, s-1, j, got, wv)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}
