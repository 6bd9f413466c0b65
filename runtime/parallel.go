package runtime

import (
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A team is a Model's Threads-1 helper goroutines plus whichever caller holds it. The
// caller splits a piece of work (a region) into tasks; each worker claims the tasks of
// its home block (a contiguous share), then any left in the others', until none is
// left; then the caller waits for the claimed ones to finish. Because the caller claims
// tasks too, a helper that is slow to wake, descheduled, or gone never blocks a region:
// the caller simply runs more of it.
// Which goroutine runs a task never changes what it computes (a task is a fixed slice
// of the output), so results are bit-identical for every thread count and timing.
//
// Helpers spin on the tickets for spinFor after their last task (a model's steps follow
// each other within microseconds, and an LSTM posts one region per timestep), then
// park on a channel; posting a region wakes parked helpers. Nothing is allocated per
// region: the region's arguments live in the team, tasks are methods of the kernels.
//
// One caller at a time holds the team (TryLock); a concurrent caller runs serially on
// its own goroutine, which is what the cores are best used for when they are all busy.
// With GOMAXPROCS 1 the team is not used (a helper could only run when the caller
// yields).
type team struct {
	// Read by the helpers, written by the caller when it posts a region (the lines a
	// spinning helper polls change only then: the caller's per-region bookkeeping is
	// below, on lines of its own).
	r       region
	homes   []home // per worker: its home block of the current region's tasks
	helpers []*helper
	quit    atomic.Bool
	failed  atomic.Pointer[taskPanic]
	_       [64]byte
	done    atomic.Int64 // helpers' tasks finished, over all regions
	_       [56]byte

	// The caller's (the team's holder's) own.
	mu      sync.Mutex // held by the caller using the helpers
	gen     uint64     // regions posted
	want    int64      // done once the helpers' tasks of the current region have finished
	backOff int64      // the current back-off: doubles while probes fail
	alone   int        // consecutive regions whose every task the caller ran
	stats   teamStats
	// serialUntil (nanoseconds on the clock of now): regions run on the caller alone
	// until then, because a recent region waited long for a helper (backOff).
	serialUntil atomic.Int64
}

// teamStats are the caller's counts of what its regions did (diagnostics and timing
// tests; plain fields, written by the team's holder only).
type teamStats struct {
	regions  int64 // regions run
	solo     int64 // of them, run on the caller during a back-off
	joined   int64 // of them, regions where a helper ran a task
	tasks    int64 // tasks in all regions
	helped   int64 // tasks run by helpers
	backOffs int64 // back-offs started
	waitNs   int64 // time the caller waited for helpers after its own tasks
}

// home is one worker's block of a region's tasks, claimed from its front: the worker
// claims its own block first, then takes what is left of the others'. A worker thus
// runs the same part of a step region after region (its columns of an LSTM's U stay
// in its cache) while a late or absent worker's tasks still go to whoever is there.
// Each home has a cache line of its own, so the owners' claims do not contend.
type home struct {
	ticket atomic.Uint64 // gen<<40 | end<<20 | next task
	_      [56]byte
}

// helper is one parked-or-spinning helper goroutine's wake-up channel.
type helper struct {
	sleeping atomic.Bool
	wake     chan struct{} // cap 1
	parks    atomic.Int64  // times parked (diagnostics)
}

// taskPanic carries a panic from a task to the caller of the region.
type taskPanic struct{ v any }

// region is what the current tasks compute: k's parTask with these arguments.
type region struct {
	k                 parTasker
	dst, src, scratch []float32
	dsts, srcs        [][]float32 // a model's inputs and outputs (RunMultiInto's batch split)
	batch             int
	a, b              int // kernel-specific (e.g. an LSTM's timestep)
}

// parTasker is a kernel whose work splits into tasks.
type parTasker interface {
	// parTask runs task i of region r on worker w (0 is the caller, 1.. the helpers;
	// w indexes per-worker scratch).
	parTask(r *region, i, w int)
}

// parKernel is a kernel that can run one call across a team; kernels without it run on
// the caller alone.
type parKernel interface {
	kernel
	// runPar is run (instead of run) when the call holds a team; it splits what pays
	// and may run parts on the caller alone.
	runPar(t *team, dst, src, scratch []float32, batch int)
	// forTeam returns the kernel to compile for a team of workers (itself, or a copy
	// laid out for splitting; its run must still work alone) and its scratch length,
	// given the serial kernel's.
	forTeam(workers, maxBatch, scratchLen int) (parKernel, int)
}

const (
	ticketBits = 20
	ticketMask = 1<<ticketBits - 1
	// maxTasks bounds one region's task count (the ticket's field width).
	maxTasks = ticketMask
)

// spinFor is how long an idle helper polls for work before it parks. Waking a parked
// goroutine costs a few microseconds and the gaps between one call's regions are far
// shorter, so a helper spins through a call; past the call it parks quickly, so a
// spinning helper does not hold a core that other work (or the descheduled caller)
// needs for long (docs/RATIONALE.md, "Threads").
var spinFor = 50 * time.Microsecond

func newTeam(threads int) *team {
	t := &team{homes: make([]home, threads)}
	for i := 1; i < threads; i++ {
		h := &helper{wake: make(chan struct{}, 1)}
		t.helpers = append(t.helpers, h)
		go t.loop(h, i)
	}
	return t
}

// workers is the number of goroutines that may run a region's tasks.
func (t *team) workers() int { return len(t.helpers) + 1 }

// stop ends the helpers (the Model is unreachable).
func (t *team) stop() {
	t.quit.Store(true)
	for _, h := range t.helpers {
		if h.sleeping.Swap(false) {
			h.wake <- struct{}{}
		}
	}
}

// run runs tasks 0..n-1 of the region set in t.r, on the caller and any helper that
// claims one, and returns when all are done. A panic in any task is re-raised here,
// after every task has finished.
func (t *team) run(n int) {
	if n <= 0 {
		return
	}
	if n > maxTasks {
		panic(fmt.Sprintf("runtime: %d tasks in one region", n))
	}
	start := now()
	t.stats.regions++
	t.stats.tasks += int64(n)
	if start < t.serialUntil.Load() {
		t.stats.solo++
		for i := 0; i < n; i++ { // the same tasks, on the caller
			t.do(i, 0)
		}
		t.finish()
		return
	}
	t.gen++
	for w := range t.homes {
		lo, hi := span(n, len(t.homes), w, 1)
		t.homes[w].ticket.Store(t.gen<<(2*ticketBits) | uint64(hi)<<ticketBits | uint64(lo))
	}
	for _, h := range t.helpers {
		if h.sleeping.Load() && h.sleeping.Swap(false) {
			h.wake <- struct{}{}
		}
	}
	ran := 0
	for {
		i, ok := t.claim(0)
		if !ok {
			break
		}
		t.do(i, 0)
		ran++
	}
	// every task is claimed now: the helpers count theirs in done (the caller's own go
	// uncounted, which saves it taking done's line from a helper every region)
	t.want += int64(n - ran)
	if t.done.Load() != t.want {
		mine := now() - start
		for spins := 0; t.done.Load() != t.want; spins++ {
			if spins > 1000 {
				goruntime.Gosched() // a helper was descheduled mid-task
			}
		}
		waited := now() - start - mine
		t.stats.waitNs += waited
		if waited > backOffWait && waited > mine {
			// a probe that failed again backs off twice as long (up to backOffMax)
			t.backOff = min(backOffMax, max(backOffFor, 2*t.backOff))
			t.serialUntil.Store(now() + t.backOff)
			t.stats.backOffs++
			t.stats.joined++
			t.stats.helped += int64(n - ran)
			ran = n
		}
	}
	if ran < n {
		t.stats.joined++
		t.stats.helped += int64(n - ran)
		t.backOff, t.alone = 0, 0 // a helper took part without a long wait
	} else if t.alone++; t.alone >= backOffAlone {
		t.stats.backOffs++
		// the helpers are spinning but not running: they share the caller's core
		// (the others are busy), where spinning only takes the caller's time
		t.alone = 0
		t.backOff = min(backOffMax, max(backOffFor, 2*t.backOff))
		t.serialUntil.Store(now() + t.backOff)
	}
	t.finish()
}

// solo reports whether the team is backing off (calls run on the caller alone).
func (t *team) solo() bool { return now() < t.serialUntil.Load() }

// finish ends a region: it re-raises a task's panic.
func (t *team) finish() {
	t.r.k = nil
	if t.failed.Load() != nil { // a load first: the line is the helpers'
		panic(t.failed.Swap(nil).v)
	}
}

// Back-off: when the caller, done with its own tasks, waited longer for a helper than
// it worked and more than backOffWait, the helper was off its core (other processes
// have the cores): every barrier would wait for the helper's next time slice (and a
// helper sharing the caller's core only takes its time by spinning), so the
// team runs regions on the caller alone for backOffFor, then tries again, backing off
// twice as long after each failed try (up to backOffMax) and resetting once a helper
// takes part without a long wait. On an idle machine a helper finishes within about one
// task of the caller and this never fires.
var (
	backOffWait = int64(10 * time.Microsecond)
	backOffFor  = int64(20 * time.Millisecond)
	backOffMax  = int64(time.Second)
	// backOffAlone consecutive regions run wholly by the caller also back off: a
	// spinning helper claims a task within a fraction of a microsecond, so that many
	// in a row (more than a parked helper's wake-up spans) mean it is not on a core.
	backOffAlone = 64
)

// epoch is the origin of now.
var epoch = time.Now()

// now is monotonic nanoseconds since epoch.
func now() int64 { return int64(time.Since(epoch)) }

// claim takes worker w's next task of the current region: from its home block, else
// from the others' in turn.
func (t *team) claim(w int) (int, bool) {
	for j := range t.homes {
		if i, ok := t.homes[(w+j)%len(t.homes)].claim(); ok {
			return i, true
		}
	}
	return 0, false
}

func (h *home) claim() (int, bool) {
	for {
		v := h.ticket.Load()
		n, i := int(v>>ticketBits&ticketMask), int(v&ticketMask)
		if i >= n {
			return 0, false
		}
		if h.ticket.CompareAndSwap(v, v+1) {
			return i, true
		}
	}
}

// pending reports whether the current region has unclaimed tasks.
func (t *team) pending() bool {
	for w := range t.homes {
		if t.homes[w].pending() {
			return true
		}
	}
	return false
}

// pending reports whether the home has unclaimed tasks.
func (h *home) pending() bool {
	v := h.ticket.Load()
	return v&ticketMask < v>>ticketBits&ticketMask
}

// do runs one claimed task on worker w; a panic is recorded for the caller and a
// helper's task counted as done, so the region (and the Model) is never left waiting
// for it.
func (t *team) do(i, w int) {
	defer func() {
		if p := recover(); p != nil {
			t.failed.CompareAndSwap(nil, &taskPanic{v: p})
		}
		if w != 0 {
			t.done.Add(1)
		}
	}()
	t.r.k.parTask(&t.r, i, w)
}

// loop is helper w's life: claim tasks while there are any, spin for spinFor, park.
func (t *team) loop(h *helper, w int) {
	for !t.quit.Load() {
		if i, ok := t.claim(w); ok {
			t.do(i, w)
			continue
		}
		start := time.Now()
		// poll the own home's line only (the caller posts a region by storing every
		// home, and claims from its own: polling that one too would take it from the
		// caller each time); every 256 polls, all of them (a region of fewer tasks than
		// workers leaves some homes empty)
		own := &t.homes[w]
		for spins := 1; !own.pending() && !t.quit.Load(); spins++ {
			if spins&255 != 0 {
				continue
			}
			if t.pending() {
				break
			}
			goruntime.Gosched() // let the process's other goroutines have this P
			if time.Since(start) > spinFor {
				h.sleeping.Store(true)
				if t.pending() || t.quit.Load() {
					if !h.sleeping.Swap(false) {
						<-h.wake // a poster saw us asleep and sent a token: take it
					}
					break
				}
				h.parks.Add(1)
				<-h.wake
				break
			}
		}
	}
}

// runTasks runs n tasks of k with the given arguments on the team.
func (t *team) runTasks(k parTasker, n int, dst, src, scratch []float32, batch, a, b int) {
	t.r = region{k: k, dst: dst, src: src, scratch: scratch, batch: batch, a: a, b: b}
	t.run(n)
	t.r = region{}
}

// span returns part i of n of the range [0, total) in units of align (every part but
// the last a multiple of align), as [lo, hi).
func span(total, n, i, align int) (lo, hi int) {
	blocks := (total + align - 1) / align
	lo = min(total, blocks*i/n*align)
	hi = min(total, blocks*(i+1)/n*align)
	return lo, hi
}
