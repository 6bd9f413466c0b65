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

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestRecSplitTiming times the bench's recurrent shapes (benchRecGraphs; KINFER_REC_MODELS
// picks some, KINFER_REC_BATCHES the batches) on one thread and on two with each split
// ("t2" the default choice, "t2 batch" the batch split from batch 2, "t2 column" the
// per-step splits only; KINFER_LSTM_STEP_SPLIT=1 turns on the LSTM's per-timestep split),
// interleaved round by round, and logs per variant the median
// wall and CPU time per call, the ratio
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
	if os.Getenv("KINFER_LSTM_STEP_SPLIT") != "" { // the per-timestep split, off by default
		old := lstmStepSplit
		lstmStepSplit = true
		defer func() { lstmStepSplit = old }()
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
			for _, v := range []string{"t1", "t2", "t2 batch", "t2 column"} {
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
					m.batchSplit, m.minPart = true, 1
				case "t2 column":
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
				}
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
					parks := int64(0)
					for _, h := range v.m.team.helpers {
						parks += h.parks.Load()
					}
					s = fmt.Sprintf("regions %d solo %.2f joined %.2f helped %.2f backoffs %d parks %d wait/region %.2fus",
						st.regions, float64(st.solo)/float64(max(1, st.regions)),
						float64(st.joined)/float64(max(1, st.regions-st.solo)), float64(st.helped)/float64(max(1, st.tasks)), st.backOffs, parks,
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

// TestLSTMStepTiming counts one worker's work per timestep of a GEMM-path LSTM (u units,
// 2 workers) on one thread: the whole step at batch b (what a worker of the batch split
// runs at 2b), and one of the two unit parts at batch b (what a worker of the column
// split runs, its half of U staying in its cache), so the two splits compare without a
// second core: batch split ~ full(b/2), column split ~ half(b) + a region.
// KINFER_TIMING=1 -v.
func TestLSTMStepTiming(t *testing.T) {
	if os.Getenv("KINFER_TIMING") == "" {
		t.Skip("KINFER_TIMING not set")
	}
	r := rand.New(rand.NewPCG(41, 42))
	for _, u := range []int{128, 256} {
		const steps, in = 4, 32
		l := &layers.LSTM{Info: info("l", "LSTM"), In: in, Units: u, W: randSlice(r, in*4*u, 0.1), U: randSlice(r, u*4*u, 0.1), B: randSlice(r, 4*u, 0.1),
			Act: layers.Activation{Kind: layers.Tanh}, RecAct: layers.Activation{Kind: layers.Sigmoid}}
		isa, _ := pickISA("")
		const mb = 64
		c, ok := newFastLSTM(l, layers.Shape{steps, in}, isa, mb)
		if !ok {
			t.Skip("no fast LSTM")
		}
		k := c.k.(*fastLSTM)
		pk, sc := k.forTeam(2, mb, c.scratchLen)
		kp := pk.(*fastLSTM)
		if len(kp.bounds) != 3 {
			t.Fatalf("u %d: parts %v", u, kp.bounds)
		}
		scratch := randSlice(r, sc, 0.1)
		dst := make([]float32, mb*u)
		timeIt := func(f func()) float64 {
			var ts []float64
			for range 15 {
				start := time.Now()
				const reps = 200
				for range reps {
					f()
				}
				ts = append(ts, float64(time.Since(start))/reps/1e3)
			}
			slices.Sort(ts)
			return ts[len(ts)/2]
		}
		for _, b := range []int{1, 2, 4, 8, 16, 32, 64} {
			full := timeIt(func() { k.stepPart(dst, scratch, b, 1, 0, 1) })
			half := timeIt(func() { kp.stepPart(dst, scratch, b, 1, 0, 2) })
			t.Logf("u %d batch %2d: full step %7.2f us, half step %7.2f us (%.2f of full)", u, b, full, half, half/full)
		}
	}
}
