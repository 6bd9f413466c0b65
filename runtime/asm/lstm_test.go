package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestLSTMGates against the float64 formula: |dc| <= 1e-6*(1+|c|), |dh| <= 1e-6 (the
// gate activations are within 3 ULP, the products and sums add a few more).
func TestLSTMGates(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	sig := func(x float64) float64 { return sigmoid64(x) }
	for _, isa := range testISAs() {
		for _, u := range []int{0, 1, 7, 8, 9, 16, 37} {
			z := randSlice(r, 4*u)
			for i := range z {
				z[i] *= 3
			}
			c := randSlice(r, u+1)
			h := make([]float32, u+1)
			c[u], h[u] = guard, guard
			wc, wh := make([]float64, u), make([]float64, u)
			for j := 0; j < u; j++ {
				i, f := sig(float64(z[j])), sig(float64(z[u+j]))
				g, o := math.Tanh(float64(z[2*u+j])), sig(float64(z[3*u+j]))
				wc[j] = f*float64(c[j]) + i*g
				wh[j] = o * math.Tanh(wc[j])
			}
			lstmGates(isa, z, c, h, u)
			for j := 0; j < u; j++ {
				if math.Abs(float64(c[j])-wc[j]) > 1e-6*(1+math.Abs(wc[j])) || math.Abs(float64(h[j])-wh[j]) > 1e-6 {
					t.Fatalf("%v u=%d j=%d: c=%v h=%v, want %v %v", isa, u, j, c[j], h[j], wc[j], wh[j])
				}
			}
			if c[u] != guard || h[u] != guard {
				t.Fatalf("%v u=%d: wrote past c or h", isa, u)
			}
		}
	}
}

// TestLSTMStep against the float64 formula for both gate activations, at unit counts
// around the 8-lane tile, with guard bands after c and h, z and zx unchanged, and NaN
// propagation: |dc| <= 1e-6*(1+|c|), |dh| <= 1e-6 (activations within 3 ULP; the hard
// sigmoid's FMA differs from the float64 form by at most 1 ULP).
func TestLSTMStep(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}, {Hard: true, A: float32(1.0 / 6), B: 0.5}} {
			act := func(x float64) float64 {
				if gate.Hard {
					return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
				}
				return sigmoid64(x)
			}
			for _, u := range []int{0, 1, 2, 7, 8, 9, 12, 15, 16, 17, 24, 37} {
				z, zx := randSlice(r, 4*u), randSlice(r, 4*u)
				for i := range z {
					z[i] *= 3
					zx[i] *= 3
				}
				nan := -1
				if u > 2 {
					nan = r.IntN(u)
					zx[2*u+nan] = float32(math.NaN())
				}
				z0, zx0 := append([]float32(nil), z...), append([]float32(nil), zx...)
				c := randSlice(r, u+1)
				h := make([]float32, u+1)
				c[u], h[u] = guard, guard
				wc, wh := make([]float64, u), make([]float64, u)
				for j := 0; j < u; j++ {
					s := func(k int) float64 { return float64(z[k] + zx[k]) }
					i, f := act(s(j)), act(s(u+j))
					g, o := math.Tanh(s(2*u+j)), act(s(3*u+j))
					wc[j] = f*float64(c[j]) + i*g
					wh[j] = o * math.Tanh(wc[j])
				}
				LSTMStep(isa, z, zx, c, h, u, gate)
				for j := 0; j < u; j++ {
					if j == nan {
						if c[j] == c[j] || h[j] == h[j] {
							t.Fatalf("%v %+v u=%d: NaN gate input gave c=%v h=%v", isa, gate, u, c[j], h[j])
						}
						continue
					}
					if math.Abs(float64(c[j])-wc[j]) > 1e-6*(1+math.Abs(wc[j])) || math.Abs(float64(h[j])-wh[j]) > 1e-6 {
						t.Fatalf("%v %+v u=%d j=%d: c=%v h=%v, want %v %v", isa, gate, u, j, c[j], h[j], wc[j], wh[j])
					}
				}
				if c[u] != guard || h[u] != guard {
					t.Fatalf("%v u=%d: wrote past c or h", isa, u)
				}
				for i := range z {
					if math.Float32bits(z[i]) != math.Float32bits(z0[i]) || math.Float32bits(zx[i]) != math.Float32bits(zx0[i]) {
						t.Fatalf("%v u=%d: z or zx written", isa, u)
					}
				}
			}
		}
	}
}

// lstmSeq64 is an independent float64 reference for LSTMSeq on unpadded Keras layouts:
// zx (t rows of 4u, time order), w (u rows of 4u), h0/c0 (u); it returns h after each
// processed step (t rows of u) and the final c.
func lstmSeq64(zx, w, h0, c0 []float32, t, u int, backwards bool, act func(float64) float64) ([]float64, []float64) {
	return lstmSeq64Cell(zx, w, h0, c0, t, u, backwards, act, math.Tanh)
}

// lstmSeq64Cell is lstmSeq64 with the cell activation cell.
func lstmSeq64Cell(zx, w, h0, c0 []float32, t, u int, backwards bool, act, cell func(float64) float64) ([]float64, []float64) {
	h, c := make([]float64, u), make([]float64, u)
	for j := range h {
		h[j], c[j] = float64(h0[j]), float64(c0[j])
	}
	hs := make([]float64, 0, t*u)
	for s := 0; s < t; s++ {
		ts := s
		if backwards {
			ts = t - 1 - s
		}
		nh := make([]float64, u)
		for j := 0; j < u; j++ {
			var a [4]float64
			for g := range a {
				v := float64(zx[ts*4*u+g*u+j])
				for k := 0; k < u; k++ {
					v += h[k] * float64(w[k*4*u+g*u+j])
				}
				a[g] = v
			}
			c[j] = act(a[1])*c[j] + act(a[0])*cell(a[2])
			nh[j] = act(a[3]) * cell(c[j])
		}
		h = nh
		hs = append(hs, h...)
	}
	return hs, c
}

// TestLSTMSeq runs whole sequences on every path against lstmSeq64, at unit counts
// around the 8-lane chunk, 1, 2 and 13 steps, both directions, random initial states,
// NaN in every padding lane (zx, U, c, h0: none may reach a real unit), guard bands
// after c and hs, and read-only zx and U. Bounds: one step |dc| <= 1e-6*(1+|c|) + e,
// |dh| <= 1e-6 + e with e = (u+1)*2^-23*S, S the largest sum of |terms| of a gate
// pre-activation (float32 rounding of the h*U sum; activations within 3 ULP as
// LSTMStep); 13 steps of a contractive recurrence (|U| entries <= 0.5/sqrt(u))
// |dc| <= 1e-5*(1+|c|), |dh| <= 1e-5. A NaN in one real input gives NaN from then on.
func TestLSTMSeq(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	nan := float32(math.NaN())
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}, {Hard: true, A: float32(1.0 / 6), B: 0.5}} {
			act := func(x float64) float64 {
				if gate.Hard {
					return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
				}
				return sigmoid64(x)
			}
			for _, u := range []int{0, 1, 2, 7, 8, 9, 12, 15, 16, 17, 23, 37} {
				for _, steps := range []int{0, 1, 2, 13} {
					for _, back := range []bool{false, true} {
						up := LSTMSeqPad(u)
						zx, w := randSlice(r, steps*4*u), randSlice(r, u*4*u)
						for i := range zx {
							zx[i] *= 2
						}
						for i := range w {
							w[i] *= float32(0.5 / math.Sqrt(float64(u)))
						}
						h0, c0 := randSlice(r, u), randSlice(r, u)
						pzx := make([]float32, steps*4*up)
						PadLSTMGates(pzx, zx, steps, u)
						puw := make([]float32, u*4*up)
						PackLSTMSeqU(puw, w, u)
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
						nanAt := -1
						if steps == 13 && u > 2 && !gate.Hard {
							nanAt = r.IntN(u)
							ts := 5
							zx[ts*4*u+2*u+nanAt] = nan
							pzx[ts*4*up+2*up+nanAt] = nan
						}
						pzx0, puw0 := append([]float32(nil), pzx...), append([]float32(nil), puw...)
						c := make([]float32, up+1)
						hs := make([]float32, (steps+1)*up+1)
						for j := 0; j < up; j++ {
							c[j], hs[j] = nan, nan
						}
						copy(c, c0)
						copy(hs, h0)
						c[up], hs[(steps+1)*up] = guard, guard
						LSTMSeq(isa, pzx, puw, c, hs, steps, u, back, gate)
						wh, wc := lstmSeq64(zx, w, h0, c0, steps, u, back, act)
						name := func() string {
							return fmt.Sprintf("%v %+v u=%d t=%d back=%v", isa, gate, u, steps, back)
						}
						if c[up] != guard || hs[(steps+1)*up] != guard {
							t.Fatalf("%s: wrote past c or hs", name())
						}
						for i := range pzx {
							if math.Float32bits(pzx[i]) != math.Float32bits(pzx0[i]) {
								t.Fatalf("%s: zx written", name())
							}
						}
						for i := range puw {
							if math.Float32bits(puw[i]) != math.Float32bits(puw0[i]) {
								t.Fatalf("%s: uw written", name())
							}
						}
						if steps == 0 || u == 0 {
							continue
						}
						bc, bh := 1e-5, 1e-5
						e := 0.0
						if steps == 1 {
							ts := 0
							S := 0.0
							for g := 0; g < 4; g++ {
								for j := 0; j < u; j++ {
									s := math.Abs(float64(zx[ts*4*u+g*u+j]))
									for k := 0; k < u; k++ {
										s += math.Abs(float64(h0[k]) * float64(w[k*4*u+g*u+j]))
									}
									S = math.Max(S, s)
								}
							}
							bc, bh, e = 1e-6, 1e-6, float64(u+1)*math.Ldexp(S, -23)
						}
						for s := 0; s < steps; s++ {
							for j := 0; j < u; j++ {
								got, want := float64(hs[(s+1)*up+j]), wh[s*u+j]
								ts := s
								if back {
									ts = steps - 1 - s
								}
								if nanAt >= 0 && (ts > 5 && !back || ts < 5 && back || ts == 5 && j == nanAt) {
									if got == got {
										t.Fatalf("%s: step %d unit %d: h=%v after a NaN input", name(), s, j, got)
									}
									continue
								}
								if math.Abs(got-want) > bh+e {
									t.Fatalf("%s: step %d unit %d: h=%v want %v", name(), s, j, got, want)
								}
							}
						}
						if nanAt >= 0 {
							continue
						}
						for j := 0; j < u; j++ {
							if math.Abs(float64(c[j])-wc[j]) > bc*(1+math.Abs(wc[j]))+e {
								t.Fatalf("%s: c[%d]=%v want %v", name(), j, c[j], wc[j])
							}
						}
					}
				}
			}
		}
	}
}

// BenchmarkLSTMSeq: one sample's whole sequence (ns/step is the recurrence latency).
func BenchmarkLSTMSeq(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, sz := range [][2]int{{50, 12}, {8, 7}, {12, 32}} {
		steps, u := sz[0], sz[1]
		up := LSTMSeqPad(u)
		zx, uw := randSlice(r, steps*4*up), randSlice(r, u*4*up)
		for i := range uw {
			uw[i] *= 0.3
		}
		c, hs := make([]float32, up), make([]float32, (steps+1)*up)
		for _, isa := range testISAs() {
			for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}} {
				b.Run(fmt.Sprintf("t%d/u%d/hard=%v/%v", steps, u, gate.Hard, isa), func(b *testing.B) {
					for b.Loop() {
						LSTMSeq(isa, zx, uw, c, hs, steps, u, false, gate)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(steps), "ns/step")
				})
			}
		}
	}
}

// TestLSTMSeqMulti: LSTMSeqMulti gives bit for bit what LSTMSeq gives per chain, for 0..9
// chains (across the 4-chain kernel calls) with mixed directions, at unit counts around
// the 8-lane chunk and 0, 1, 2, 7 steps, NaN in padding lanes, a NaN input in one chain
// (it must not reach the others), guard bands after each c and hs, read-only zx and U,
// and no allocation.
func TestLSTMSeqMulti(t *testing.T) {
	nan := float32(math.NaN())
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}} {
			for _, u := range []int{0, 1, 5, 7, 8, 9, 16, 17} {
				for _, steps := range []int{0, 1, 2, 7} {
					for _, nch := range []int{0, 1, 2, 3, 4, 5, 9} {
						up := LSTMSeqPad(u)
						type buf struct{ zx, uw, c, hs []float32 }
						mk := func() []buf {
							r := rand.New(rand.NewPCG(uint64(u*100+steps), uint64(nch)))
							bs := make([]buf, nch)
							for i := range bs {
								zx := randSlice(r, steps*4*up)
								uw := randSlice(r, u*4*up)
								for k := range uw {
									uw[k] *= float32(0.5 / math.Sqrt(float64(max(u, 1))))
								}
								for k := range zx {
									if k%up >= u {
										zx[k] = nan
									}
								}
								for k := range uw {
									if k%up >= u {
										uw[k] = nan
									}
								}
								if i == 1 && steps > 1 && u > 0 {
									zx[4*up+2*up] = nan
								}
								c := append(randSlice(r, up), guard)
								hs := append(randSlice(r, (steps+1)*up), guard)
								bs[i] = buf{zx, uw, c, hs}
							}
							return bs
						}
						want, got := mk(), mk()
						chains := make([]LSTMChain, nch)
						for i, b := range want {
							LSTMSeq(isa, b.zx, b.uw, b.c, b.hs, steps, u, i%3 == 1, gate)
						}
						for i, b := range got {
							chains[i] = LSTMChain{ZX: b.zx, UW: b.uw, C: b.c, HS: b.hs, Backwards: i%3 == 1}
						}
						ref := mk()
						LSTMSeqMulti(isa, chains, steps, u, gate)
						name := fmt.Sprintf("%v %+v u=%d t=%d chains=%d", isa, gate, u, steps, nch)
						for i := range got {
							for _, p := range [][3][]float32{{got[i].c, want[i].c, nil}, {got[i].hs, want[i].hs, nil}, {got[i].zx, ref[i].zx, nil}, {got[i].uw, ref[i].uw, nil}} {
								for k := range p[0] {
									if math.Float32bits(p[0][k]) != math.Float32bits(p[1][k]) {
										t.Fatalf("%s: chain %d index %d of %d: %v want %v", name, i, k, len(p[0]), p[0][k], p[1][k])
									}
								}
							}
							if got[i].c[up] != guard || got[i].hs[(steps+1)*up] != guard {
								t.Fatalf("%s: chain %d: wrote past c or hs", name, i)
							}
						}
						if a := testing.AllocsPerRun(3, func() { LSTMSeqMulti(isa, chains, steps, u, gate) }); a != 0 {
							t.Fatalf("%s: %v allocations", name, a)
						}
					}
				}
			}
		}
	}
}

// TestLSTMSeqStack runs stacks of 1, 2, 3 and 5 stages (5: more than one kernel call
// holds, so the Go path) on every path against a float64 chain of lstmSeq64 (stage i's
// zx = b + h_{i-1} W in float64, rounded to float32), at unit counts around the 8-lane
// chunk mixed between stages, 0, 1, 2, 7 and 13 steps, a forward or backward first
// stage, random initial states, NaN in every padding lane (bias, W, U, c, h0), guard
// bands after every c and hs, read-only inputs. Bounds as TestLSTMSeq's 13 steps of a
// contractive recurrence: |dh| <= 1e-5, |dc| <= 1e-5*(1+|c|). A NaN in stage 0's input
// at time 5 makes every later h of every stage NaN.
func TestLSTMSeqStack(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	nan := float32(math.NaN())
	unitSets := [][]int{{8}, {7, 4}, {8, 4}, {6, 5}, {1, 9}, {16, 8}, {17, 1}, {9, 17, 7}, {2, 8, 3, 5, 1}, {5, 0}}
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}} {
			act := func(x float64) float64 {
				if gate.Hard {
					return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
				}
				return sigmoid64(x)
			}
			for _, us := range unitSets {
				for _, steps := range []int{0, 1, 2, 7, 13} {
					for _, back := range []bool{false, true} {
						name := fmt.Sprintf("%v %+v units=%v t=%d back=%v", isa, gate, us, steps, back)
						n := len(us)
						in := 3
						x := randSlice(r, steps*in)
						stages := make([]LSTMStage, n)
						var copies [][]float32 // read-only inputs and their first values
						var wantH [][]float64
						var wantC [][]float64
						prevH := func(s, k int) float64 { return float64(x[s*in+k]) } // time order input
						prevU := in
						nanAt := -1
						if steps == 13 && !gate.Hard && us[0] > 0 {
							nanAt = 5
							x[5*in+1] = nan
						}
						for i, u := range us {
							up := LSTMSeqPad(u)
							w, uw, b := randSlice(r, prevU*4*u), randSlice(r, u*4*u), randSlice(r, 4*u)
							for k := range w {
								w[k] *= float32(0.5 / math.Sqrt(float64(prevU)))
							}
							for k := range uw {
								uw[k] *= float32(0.5 / math.Sqrt(float64(max(u, 1))))
							}
							h0, c0 := randSlice(r, u), randSlice(r, u)
							// zx in processing-order input rows: stage 0 in time order, later
							// stages from the previous stage's rows (already processing order)
							zx := make([]float32, steps*4*u)
							for s := 0; s < steps; s++ {
								for q := 0; q < 4*u; q++ {
									v := float64(b[q])
									for k := 0; k < prevU; k++ {
										v += prevH(s, k) * float64(w[k*4*u+q])
									}
									zx[s*4*u+q] = float32(v)
								}
							}
							bk := back && i == 0
							wh, wc := lstmSeq64(zx, uw, h0, c0, steps, u, bk, act)
							wantH, wantC = append(wantH, wh), append(wantC, wc)
							st := &stages[i]
							st.U, st.Backwards = u, bk
							pad := func(src []float32, rows int) []float32 {
								d := make([]float32, rows*4*up)
								PadLSTMGates(d, src, rows, u)
								for k := range d {
									if up > 0 && k%up >= u {
										d[k] = nan
									}
								}
								return d
							}
							if i == 0 {
								// the first stage's zx: x*W + b in time order, as LSTMSeq takes it
								st.ZX = pad(zx, steps)
							} else {
								st.ZX, st.W = pad(b, 1), pad(w, prevU)
							}
							st.UW = pad(uw, u)
							st.C = make([]float32, up+1)
							st.HS = make([]float32, (steps+1)*up+1)
							for j := 0; j < up; j++ {
								st.C[j], st.HS[j] = nan, nan
							}
							copy(st.C, c0)
							copy(st.HS, h0)
							st.C[up], st.HS[(steps+1)*up] = guard, guard
							copies = append(copies, st.ZX, append([]float32(nil), st.ZX...), st.W, append([]float32(nil), st.W...), st.UW, append([]float32(nil), st.UW...))
							prevH = func(s, k int) float64 { return wh[s*u+k] }
							prevU = u
						}
						LSTMSeqStack(isa, stages, steps, gate)
						for i := 0; i < len(copies); i += 2 {
							for k := range copies[i] {
								if math.Float32bits(copies[i][k]) != math.Float32bits(copies[i+1][k]) {
									t.Fatalf("%s: an input was written", name)
								}
							}
						}
						for i, st := range stages {
							u, up := st.U, LSTMSeqPad(st.U)
							if st.C[up] != guard || st.HS[(steps+1)*up] != guard {
								t.Fatalf("%s: stage %d wrote past c or hs", name, i)
							}
							if steps == 0 || u == 0 {
								continue
							}
							for s := 0; s < steps; s++ {
								p5 := 5
								if back {
									p5 = steps - 1 - 5
								}
								for j := 0; j < u; j++ {
									got, want := float64(st.HS[(s+1)*up+j]), wantH[i][s*u+j]
									if nanAt >= 0 && (s > p5 || s == p5 && (i > 0 || math.IsNaN(want))) {
										if got == got && math.IsNaN(want) {
											t.Fatalf("%s: stage %d step %d unit %d: h=%v after a NaN input", name, i, s, j, got)
										}
										continue
									}
									if !(math.Abs(got-want) <= 1e-5) {
										t.Fatalf("%s: stage %d step %d unit %d: h=%v want %v", name, i, s, j, got, want)
									}
								}
							}
							if nanAt >= 0 {
								continue
							}
							for j := 0; j < u; j++ {
								if !(math.Abs(float64(st.C[j])-wantC[i][j]) <= 1e-5*(1+math.Abs(wantC[i][j]))) {
									t.Fatalf("%s: stage %d c[%d]=%v want %v", name, i, j, st.C[j], wantC[i][j])
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestLSTMSeqX: LSTMSeqX against LSTMSeq on the zx of a Gemm (bias, then the in
// products in order) bit for bit where LSTMSeqXAsm, and against lstmSeq64 everywhere
// (|dh| <= 1e-5, |dc| <= 1e-5*(1+|c|), 13 steps of a contractive recurrence), at unit
// counts 1..8 (the kernel) and 9, 17 (the Go loop), 1 to 7 inputs, 0, 1, 2 and 13
// steps, both directions, NaN in every padding lane (W, b, U, c, h0), guard bands after
// c and hs, read-only inputs, and a NaN input at time 5 giving NaN from then on.
func TestLSTMSeqX(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}, {Relu: true}, {Hard: true, A: 0.2, B: 0.5, Relu: true}} {
			act := func(x float64) float64 {
				if gate.Hard {
					return math.Min(1, math.Max(0, float64(gate.A)*x+float64(gate.B)))
				}
				return sigmoid64(x)
			}
			for _, u := range []int{1, 2, 5, 7, 8, 9, 17} {
				for _, in := range []int{1, 3, 4, 7} {
					for _, steps := range []int{0, 1, 2, 13} {
						for _, back := range []bool{false, true} {
							name := fmt.Sprintf("%v %+v u=%d in=%d t=%d back=%v", isa, gate, u, in, steps, back)
							up := LSTMSeqPad(u)
							x, w, b := randSlice(r, steps*in), randSlice(r, in*4*u), randSlice(r, 4*u)
							uw := randSlice(r, u*4*u)
							for i := range uw {
								uw[i] *= float32(0.5 / math.Sqrt(float64(u)))
							}
							h0, c0 := randSlice(r, u), randSlice(r, u)
							nanAt := -1
							if steps == 13 && !gate.Hard {
								nanAt = 5
								x[5*in+in/2] = nan
							}
							pad := func(src []float32, rows int) []float32 {
								d := make([]float32, rows*4*up)
								PadLSTMGates(d, src, rows, u)
								for k := range d {
									if k%up >= u {
										d[k] = nan
									}
								}
								return d
							}
							pw, pb, puw := pad(w, in), pad(b, 1), pad(uw, u)
							ins := [][]float32{x, pw, pb, puw}
							var saved [][]float32
							for _, s := range ins {
								saved = append(saved, append([]float32(nil), s...))
							}
							state := func() ([]float32, []float32) {
								c := make([]float32, up+1)
								hs := make([]float32, (steps+1)*up+1)
								for j := 0; j < up; j++ {
									c[j], hs[j] = nan, nan
								}
								copy(c, c0)
								copy(hs, h0)
								c[up], hs[(steps+1)*up] = guard, guard
								return c, hs
							}
							c, hs := state()
							LSTMSeqX(isa, x, in, pw, pb, puw, c, hs, steps, u, back, gate)
							if c[up] != guard || hs[(steps+1)*up] != guard {
								t.Fatalf("%s: wrote past c or hs", name)
							}
							for i, s := range ins {
								for k := range s {
									if math.Float32bits(s[k]) != math.Float32bits(saved[i][k]) {
										t.Fatalf("%s: an input was written", name)
									}
								}
							}
							if LSTMSeqXAsm(isa, u) && steps > 0 && !gate.Relu {
								// the same bits as LSTMSeq on a GEMM's projections
								gisa := isa
								packed := make([]float32, PackedLen(gisa, in, 4*up))
								wz, bz := append([]float32(nil), pw...), append([]float32(nil), pb...)
								PackB(gisa, packed, in, 4*up, wz, bz)
								zx := make([]float32, steps*4*up)
								Gemm(gisa, steps, 4*up, in, x, in, packed, zx, 4*up, -inf, inf)
								c2, hs2 := state()
								LSTMSeq(isa, zx, puw, c2, hs2, steps, u, back, gate)
								for k := 0; k < u; k++ {
									if math.Float32bits(c[k]) != math.Float32bits(c2[k]) && !(c[k] != c[k] && c2[k] != c2[k]) {
										t.Fatalf("%s: c[%d] = %v, LSTMSeq on a GEMM's zx %v", name, k, c[k], c2[k])
									}
								}
								for s := 1; s <= steps; s++ {
									for k := 0; k < u; k++ {
										a, e := hs[s*up+k], hs2[s*up+k]
										if math.Float32bits(a) != math.Float32bits(e) && !(a != a && e != e) {
											t.Fatalf("%s: step %d h[%d] = %v, LSTMSeq on a GEMM's zx %v", name, s-1, k, a, e)
										}
									}
								}
							}
							if steps == 0 {
								continue
							}
							zx64 := make([]float32, steps*4*u) // float64 projection, rounded once
							for s := 0; s < steps; s++ {
								for q := 0; q < 4*u; q++ {
									v := float64(b[q])
									for k := 0; k < in; k++ {
										v += float64(x[s*in+k]) * float64(w[k*4*u+q])
									}
									zx64[s*4*u+q] = float32(v)
								}
							}
							wh, wc := lstmSeq64Cell(zx64, uw, h0, c0, steps, u, back, act, gate.cell)
							p5 := 5
							if back {
								p5 = steps - 1 - 5
							}
							for s := 0; s < steps; s++ {
								for j := 0; j < u; j++ {
									got, want := float64(hs[(s+1)*up+j]), wh[s*u+j]
									if nanAt >= 0 && s >= p5 {
										if math.IsNaN(want) && got == got {
											t.Fatalf("%s: step %d unit %d: h=%v after a NaN input", name, s, j, got)
										}
										continue
									}
									if !(math.Abs(got-want) <= 1e-5) {
										t.Fatalf("%s: step %d unit %d: h=%v want %v", name, s, j, got, want)
									}
								}
							}
							if nanAt >= 0 {
								continue
							}
							for j := 0; j < u; j++ {
								if !(math.Abs(float64(c[j])-wc[j]) <= 1e-5*(1+math.Abs(wc[j]))) {
									t.Fatalf("%s: c[%d]=%v want %v", name, j, c[j], wc[j])
								}
							}
						}
					}
				}
			}
		}
	}
}

// TestTanhFrac measures tanhFrac's error against float64 tanh(num/den): num = x*den for
// x over a dense sweep of [-12, 12] plus large, tiny and special values, and den over
// the ranges the LSTM kernels pass ([1, 8) with sigmoid gates, [1, 422] with hard ones),
// plus 512K random pairs.
func TestTanhFrac(t *testing.T) {
	xs := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-7, 100, -100, 1e30, -1e30, float32(math.Inf(1)), float32(math.Inf(-1))}
	for v := -12.0; v <= 12; v += 1.0 / 1024 {
		xs = append(xs, float32(v)+float32(v)*1e-4)
	}
	dens := []float32{1, 1.001, 1.5, 2.999, 4, 7.99, 17.3, 100, 421.9}
	for _, isa := range testISAs() {
		worst, at := 0.0, [2]float32{}
		for _, d := range dens {
			n := len(xs) &^ 7
			num, den := make([]float32, n), make([]float32, n)
			for i := range num {
				num[i], den[i] = xs[i]*d, d
			}
			in := append([]float32(nil), num...)
			tanhFrac(isa, num, den)
			for i := range num {
				want := math.Tanh(float64(in[i]) / float64(d))
				ulp := ulpErr(num[i], want)
				if ulp > worst {
					worst, at = ulp, [2]float32{in[i], d}
				}
			}
		}
		// random pairs: den in [1, 8) or [1, 422], num/den in [-12, 12)
		r := rand.New(rand.NewPCG(7, 8))
		for rep := 0; rep < 64; rep++ {
			d := float32(1 + r.Float64()*421)
			if rep%2 == 0 {
				d = float32(1 + r.Float64()*7)
			}
			num, den := make([]float32, 1<<13), make([]float32, 1<<13)
			for i := range num {
				num[i], den[i] = float32(r.Float64()*24-12)*d, d
			}
			in := append([]float32(nil), num...)
			tanhFrac(isa, num, den)
			for i := range num {
				if e := ulpErr(num[i], math.Tanh(float64(in[i])/float64(d))); e > worst {
					worst, at = e, [2]float32{in[i], d}
				}
			}
		}
		nan := []float32{float32(math.NaN()), 1, 1, 1, 1, 1, 1, 1}
		tanhFrac(isa, nan, []float32{1, 1, 1, 1, 1, 1, 1, 1})
		if nan[0] == nan[0] {
			t.Errorf("%v: tanh(NaN) = %v", isa, nan[0])
		}
		t.Logf("%v: tanhFrac worst %.2f ULP at %v/%v", isa, worst, at[0], at[1])
		if worst > 8 {
			t.Errorf("%v: tanhFrac %.2f ULP at %v/%v, bound 8", isa, worst, at[0], at[1])
		}
	}
}

// TestLSTMSeqXRows: input rows spaced xRow apart (NaN between them) give LSTMSeqX's
// bits on the packed rows, forwards and backwards, on every path.
func TestLSTMSeqXRows(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	nan := float32(math.NaN())
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}} {
			for _, u := range []int{1, 5, 8} {
				for _, in := range []int{1, 6} {
					for _, steps := range []int{1, 7} {
						for _, back := range []bool{false, true} {
							up, xRow := LSTMSeqPad(u), in+3
							x := randSlice(r, steps*in)
							xs := make([]float32, (steps-1)*xRow+in)
							for i := range xs {
								xs[i] = nan
							}
							for s := 0; s < steps; s++ {
								copy(xs[s*xRow:], x[s*in:(s+1)*in])
							}
							w, b, uw := make([]float32, in*4*up), make([]float32, 4*up), make([]float32, u*4*up)
							PadLSTMGates(w, randSlice(r, in*4*u), in, u)
							PadLSTMGates(b, randSlice(r, 4*u), 1, u)
							PadLSTMGates(uw, randSlice(r, u*4*u), u, u)
							c1, h1 := make([]float32, up), make([]float32, (steps+1)*up)
							c2, h2 := make([]float32, up), make([]float32, (steps+1)*up)
							LSTMSeqX(isa, x, in, w, b, uw, c1, h1, steps, u, back, gate)
							LSTMSeqXRows(isa, xs, xRow, in, w, b, uw, c2, h2, steps, u, back, gate)
							for k := 0; k < u; k++ {
								if math.Float32bits(c1[k]) != math.Float32bits(c2[k]) {
									t.Fatalf("%v %+v u=%d in=%d t=%d back=%v: c[%d] %v, packed rows %v", isa, gate, u, in, steps, back, k, c2[k], c1[k])
								}
								for s := 1; s <= steps; s++ {
									if math.Float32bits(h1[s*up+k]) != math.Float32bits(h2[s*up+k]) {
										t.Fatalf("%v %+v u=%d in=%d t=%d back=%v: h[%d][%d] %v, packed rows %v", isa, gate, u, in, steps, back, s, k, h2[s*up+k], h1[s*up+k])
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

// TestLSTMSeqMultiRows: chains reading their zx rows out of one wider, interleaved
// buffer (ZXRow = 8*up, as a Bidirectional layer's joint projection) give the bits of
// chains on packed rows, on every path, in both directions.
func TestLSTMSeqMultiRows(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}} {
			for _, u := range []int{1, 5, 8, 9, 17} {
				for _, steps := range []int{1, 7} {
					up := LSTMSeqPad(u)
					n := 4 * up
					zx := [2][]float32{randSlice(r, steps*n), randSlice(r, steps*n)}
					wide := make([]float32, steps*2*n)
					for s := 0; s < steps; s++ {
						copy(wide[s*2*n:], zx[0][s*n:(s+1)*n])
						copy(wide[s*2*n+n:], zx[1][s*n:(s+1)*n])
					}
					uw := make([]float32, u*n)
					PadLSTMGates(uw, randSlice(r, u*4*u), u, u)
					run := func(packed bool) [2][]float32 {
						var out [2][]float32
						var ch [2]LSTMChain
						for i := range ch {
							out[i] = make([]float32, (steps+1)*up)
							ch[i] = LSTMChain{ZX: zx[i], UW: uw, C: make([]float32, up), HS: out[i], Backwards: i == 1}
							if !packed {
								ch[i].ZX, ch[i].ZXRow = wide[i*n:], 2*n
							}
						}
						LSTMSeqMulti(isa, ch[:], steps, u, gate)
						return out
					}
					want, got := run(true), run(false)
					for i := range got {
						for k := range got[i] {
							if math.Float32bits(got[i][k]) != math.Float32bits(want[i][k]) {
								t.Fatalf("%v %+v u=%d t=%d chain %d: h[%d] = %v, packed rows %v", isa, gate, u, steps, i, k, got[i][k], want[i][k])
							}
						}
					}
				}
			}
		}
	}
}

// TestLSTMSeqXPair: the two directions stepped together give LSTMSeqX's bits for each
// (forward and backward over the same rows), on every path, with a NaN input reaching
// both chains' later steps only, guard bands after c and hs, and read-only inputs.
func TestLSTMSeqXPair(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 62))
	nan := float32(math.NaN())
	for _, isa := range testISAs() {
		for _, gate := range []GateAct{{}, {Hard: true, A: 0.2, B: 0.5}} {
			for _, u := range []int{1, 4, 5, 8} {
				for _, in := range []int{1, 3, 7} {
					for _, steps := range []int{1, 2, 7} {
						up := LSTMSeqPad(u)
						x := randSlice(r, steps*in)
						if steps == 7 {
							x[3*in] = nan
						}
						x0 := append([]float32(nil), x...)
						mk := func() LSTMXDir {
							d := LSTMXDir{W: make([]float32, in*4*up), B: make([]float32, 4*up), UW: make([]float32, u*4*up)}
							PadLSTMGates(d.W, randSlice(r, in*4*u), in, u)
							PadLSTMGates(d.B, randSlice(r, 4*u), 1, u)
							PadLSTMGates(d.UW, randSlice(r, u*4*u), u, u)
							return d
						}
						state := func(d LSTMXDir) LSTMXDir {
							d.C = append(randSlice(rand.New(rand.NewPCG(1, uint64(u))), up), guard)
							d.HS = append(make([]float32, (steps+1)*up), guard)
							copy(d.HS, randSlice(rand.New(rand.NewPCG(2, uint64(u))), up))
							return d
						}
						f, b := mk(), mk()
						wf, wb := state(f), state(b)
						LSTMSeqX(isa, x, in, wf.W, wf.B, wf.UW, wf.C, wf.HS, steps, u, false, gate)
						LSTMSeqX(isa, x, in, wb.W, wb.B, wb.UW, wb.C, wb.HS, steps, u, true, gate)
						gf, gb := state(f), state(b)
						LSTMSeqXPair(isa, x, in, gf, gb, steps, u, gate)
						name := fmt.Sprintf("%v %+v u=%d in=%d t=%d", isa, gate, u, in, steps)
						for i := range x {
							if math.Float32bits(x[i]) != math.Float32bits(x0[i]) {
								t.Fatalf("%s: x written", name)
							}
						}
						for _, p := range [][2][]float32{{gf.C, wf.C}, {gf.HS, wf.HS}, {gb.C, wb.C}, {gb.HS, wb.HS}} {
							if p[0][len(p[0])-1] != guard {
								t.Fatalf("%s: wrote past c or hs", name)
							}
							for k := range p[0] {
								if k%up >= u && k != len(p[0])-1 {
									continue // padding lanes are undefined
								}
								if math.Float32bits(p[0][k]) != math.Float32bits(p[1][k]) && !(p[0][k] != p[0][k] && p[1][k] != p[1][k]) {
									t.Fatalf("%s: index %d: %v, LSTMSeqX %v", name, k, p[0][k], p[1][k])
								}
							}
						}
					}
				}
			}
		}
	}
}
