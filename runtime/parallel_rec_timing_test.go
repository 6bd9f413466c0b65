//go:build unix

package runtime

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kinfer/kinfer/layers"
)

// benchRecGraphs are random-weight models of the bench's recurrent shapes (bench/models.py):
// lstm256 (LSTM 256 over 100 steps of 32, Dense 10) and text_lstm (two LSTM 128 over 50
// steps of 64, Dense 5 softmax).
func benchRecGraphs(t testing.TB) map[string]*layers.Graph {
	r := rand.New(rand.NewPCG(31, 32))
	lstm := func(name string, in, u int, seq bool) *layers.LSTM {
		return &layers.LSTM{Info: info(name, "LSTM"), In: in, Units: u, W: randSlice(r, in*4*u, 0.1), U: randSlice(r, u*4*u, 0.1), B: randSlice(r, 4*u, 0.1),
			Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}, ReturnSequences: seq}
	}
	dense := func(name string, in, out int, act layers.Activation) *layers.Dense {
		return &layers.Dense{Info: info(name, "Dense"), In: in, Units: out, W: randSlice(r, in*out, 0.1), B: randSlice(r, out, 0.1), Act: act}
	}
	gs := map[string]*layers.Graph{}
	add := func(name string, in layers.Shape, ls ...layers.Layer) {
		g, err := layers.NewGraph(in, ls, nil)
		if err != nil {
			t.Fatal(err)
		}
		gs[name] = g
	}
	add("lstm256", layers.Shape{100, 32}, lstm("l", 32, 256, false), dense("d", 256, 10, layers.ActLinear))
	add("text_lstm", layers.Shape{50, 64}, lstm("l1", 64, 128, true), lstm("l2", 128, 128, false),
		dense("d", 128, 5, layers.Activation{Kind: layers.Softmax}))
	return gs
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestRecSplitTiming times the bench's recurrent shapes (benchRecGraphs; KINFER_REC_MODELS
// picks some, KINFER_REC_BATCHES the batches) on one thread and on two with each split
// (the default choice, the model's batch split, intra-op splits only), interleaved
// round by round, and logs per variant the median wall and CPU time per call, the ratio
// to one thread, and the team's counts (regions, share a helper joined, back-offs).
// Run with KINFER_TIMING=1 -v; skipped otherwise.
func TestRecSplitTiming(t *testing.T) {
	if os.Getenv("KINFER_TIMING") == "" {
		t.Skip("KINFER_TIMING not set")
	}
	batches := []int{1, 8, 64}
	if s := os.Getenv("KINFER_REC_BATCHES"); s != "" {
		batches = nil
		for _, f := range strings.Split(s, ",") {
			b, _ := strconv.Atoi(f)
			batches = append(batches, b)
		}
	}
	gs := benchRecGraphs(t)
	names := []string{"lstm256", "text_lstm"}
	if s := os.Getenv("KINFER_REC_MODELS"); s != "" {
		names = strings.Split(s, ",")
	}
	const rounds = 9
	per := 40 * time.Millisecond
	for _, name := range names {
		g := gs[name]
		for _, batch := range batches {
			type variant struct {
				name string
				m    *Model
			}
			var vs []variant
			for _, v := range []string{"t1", "t2", "t2 batch", "t2 intra"} {
				th := 2
				if v == "t1" {
					th = 1
				}
				m, err := Compile(g, Options{MaxBatch: batch, Threads: th})
				if err != nil {
					t.Fatal(err)
				}
				switch v {
				case "t2 batch":
					m.batchSplit = true
				case "t2 intra":
					m.batchSplit = false
				}
				vs = append(vs, variant{v, m})
			}
			r := rand.New(rand.NewPCG(1, 2))
			x := randSlice(r, batch*g.Input().Size(), 1)
			y := make([]float32, batch*g.Output().Size())
			wall := make([][]float64, len(vs))
			cpu := make([][]float64, len(vs))
			ratio := make([][]float64, len(vs))
			for round := range rounds {
				var w1 float64
				for j := range vs {
					k := (j + round) % len(vs)
					m := vs[k].m
					for t0 := time.Now(); time.Since(t0) < per/4; {
						_ = m.RunInto(y, x, batch)
					}
					var ts []float64
					c0, w0 := cpuNow(), time.Now()
					for time.Since(w0) < per || len(ts) < 3 {
						s := time.Now()
						_ = m.RunInto(y, x, batch)
						ts = append(ts, float64(time.Since(s))/1e3)
					}
					slices.Sort(ts)
					wall[k] = append(wall[k], ts[len(ts)/2])
					cpu[k] = append(cpu[k], float64(cpuNow()-c0)/1e3/float64(len(ts)))
					if k == 0 {
						w1 = ts[len(ts)/2]
					}
				}
				_ = w1
			}
			for k := range vs {
				for i := range wall[k] {
					ratio[k] = append(ratio[k], wall[k][i]/wall[0][i])
				}
			}
			med := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
			for k, v := range vs {
				s := ""
				if v.m.team != nil {
					st := v.m.team.stats
					s = fmt.Sprintf("regions/call %.0f solo %.2f joined %.2f helped %.2f backoffs %d wait/region %.2fus",
						float64(st.regions)/float64(max(1, st.regions))*0+float64(st.regions), float64(st.solo)/float64(max(1, st.regions)),
						float64(st.joined)/float64(max(1, st.regions-st.solo)), float64(st.helped)/float64(max(1, st.tasks)), st.backOffs,
						float64(st.waitNs)/1e3/float64(max(1, st.regions-st.solo)))
				}
				t.Logf("%-9s b%-2d %-9s wall %8.1f us cpu %8.1f us  x1 %.2f  %s", name, batch, v.name, med(wall[k]), med(cpu[k]), med(ratio[k]), s)
			}
		}
	}
}

// spinTask is a region whose every task does the same fixed work (a dependent chain of
// about iters multiply-adds), and records which worker ran it.
type spinTask struct {
	iters int
	by    []int
	sink  []float64
}

func (s *spinTask) parTask(_ *region, i, w int) {
	x := float64(i)
	for range s.iters {
		x = x*0.999999 + 1
	}
	s.sink[w*8] += x
	s.by[i] = w
}

// TestBarrierTiming measures a region's fixed cost (post, claim, join): regions of 2
// and 4 tasks of fixed work on a team of 2, against the same work on the caller, with
// the back-off disabled; it logs the median region time, the overhead over half the
// serial time (the barrier's cost when both workers run), and the share of tasks the
// helper ran and of tasks that ran on their home worker. KINFER_TIMING=1 -v.
func TestBarrierTiming(t *testing.T) {
	if os.Getenv("KINFER_TIMING") == "" {
		t.Skip("KINFER_TIMING not set")
	}
	oldWait, oldAlone := backOffWait, backOffAlone
	backOffWait, backOffAlone = 1<<62, 1<<30
	defer func() { backOffWait, backOffAlone = oldWait, oldAlone }()
	tm := newTeam(2)
	defer tm.stop()
	for _, tasks := range []int{2, 4} {
		for _, iters := range []int{250, 1000, 4000} {
			s := &spinTask{iters: iters, by: make([]int, tasks), sink: make([]float64, 16)}
			const regions = 2000
			var ser, par []float64
			helped, home := 0, 0
			for round := range 9 {
				for j := range 2 {
					start := time.Now()
					for range regions {
						if (j+round)%2 == 0 {
							for i := range tasks {
								s.parTask(nil, i, 0)
							}
						} else {
							tm.runTasks(s, tasks, nil, nil, nil, 0, 0, 0)
							for i, w := range s.by {
								if w > 0 {
									helped++
								}
								if lo, hi := span(tasks, 2, w, 1); i >= lo && i < hi {
									home++
								}
							}
						}
					}
					d := float64(time.Since(start)) / regions
					if (j+round)%2 == 0 {
						ser = append(ser, d)
					} else {
						par = append(par, d)
					}
				}
			}
			slices.Sort(ser)
			slices.Sort(par)
			n := float64(9 * regions * tasks)
			t.Logf("%d tasks of %4d iters: serial %7.0f ns, team of 2 %7.0f ns (min %7.0f), over half serial %6.0f ns (min %6.0f); helper ran %.2f, home %.2f",
				tasks, iters, ser[4], par[4], par[0], par[4]-ser[4]/2, par[0]-ser[0]/2, float64(helped)/n, float64(home)/n)
		}
	}
}
