package serve

import (
	"context"
	"sync"
	"time"

	"github.com/kinfer/kinfer"
)

// job is one request's samples on their way through a batcher. The submitter owns
// ins and outs until done is sent to; the worker then owns nothing of it.
type job struct {
	ctx  context.Context
	n    int         // samples
	ins  [][]float32 // per model input, n samples
	outs [][]float32 // per model output, n samples, filled by the worker
	enq  time.Time
	done chan error // buffered: the worker never blocks on a submitter that left
}

// batcher runs one model version's requests, merging those queued together into
// one batch of at most maxBatch samples. Its queue is bounded: a request that finds
// it full is refused (429), never queued, so memory stays bounded under overload.
type batcher struct {
	m        *kinfer.Model
	inPer    []int
	outPer   []int
	maxBatch int
	delay    time.Duration
	queue    chan *job
	met      *modelMetrics

	hook func() // tests: called before each run, to hold a worker

	mu     sync.RWMutex // guards closed against sends on a closed queue
	closed bool
	wg     sync.WaitGroup
}

func newBatcher(m *kinfer.Model, cfg *Config, met *modelMetrics) *batcher {
	b := &batcher{m: m, maxBatch: cfg.MaxBatch, delay: cfg.MaxQueueDelay, met: met,
		queue: make(chan *job, cfg.MaxQueue)}
	for _, t := range m.Inputs() {
		b.inPer = append(b.inPer, t.Shape.Size())
	}
	for _, t := range m.Outputs() {
		b.outPer = append(b.outPer, t.Shape.Size())
	}
	for range cfg.Workers {
		b.wg.Add(1)
		go b.work()
	}
	return b
}

// submit queues j, or refuses it when the queue is full or the batcher is closed.
func (b *batcher) submit(j *job) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return errorf(kindUnavailable, "server is shutting down")
	}
	j.enq = time.Now()
	select {
	case b.queue <- j:
		b.met.queueDepth.Inc()
		return nil
	default:
		return errorf(kindOverloaded, "model queue is full (%d requests); retry later", cap(b.queue))
	}
}

// close stops taking requests and returns once every queued one has run.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.queue)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// work is one worker: it takes a job, waits up to delay for more to fill the batch,
// and runs them as one. A job that would overflow the batch starts the next one.
func (b *batcher) work() {
	defer b.wg.Done()
	w := &bufs{ins: make([][]float32, len(b.inPer)), outs: make([][]float32, len(b.outPer)),
		src: make([][]float32, len(b.inPer)), dst: make([][]float32, len(b.outPer))}
	for k, p := range b.inPer {
		w.ins[k] = make([]float32, b.maxBatch*p)
	}
	for k, p := range b.outPer {
		w.outs[k] = make([]float32, b.maxBatch*p)
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var batch []*job
	var carry *job
	for {
		j := carry
		carry = nil
		if j == nil {
			var ok bool
			if j, ok = b.take(); !ok {
				return
			}
			if j == nil {
				continue
			}
		}
		batch = append(batch[:0], j)
		n := j.n
		if n < b.maxBatch {
			if b.delay > 0 {
				timer.Reset(b.delay)
			}
		collect:
			for n < b.maxBatch {
				var j2 *job
				var ok bool
				if b.delay > 0 {
					select {
					case j2, ok = <-b.queue:
					case <-timer.C:
						break collect
					}
				} else {
					select {
					case j2, ok = <-b.queue:
					default:
						break collect
					}
				}
				if !ok {
					break // closed and drained: run what we have
				}
				b.met.queueDepth.Dec()
				if !b.live(j2) {
					continue
				}
				if n+j2.n > b.maxBatch {
					carry = j2
					break
				}
				batch = append(batch, j2)
				n += j2.n
			}
			timer.Stop()
		}
		b.run(batch, n, w)
	}
}

// bufs are a worker's batch buffers (MaxBatch samples per model input and output)
// and the headers of one run's prefix of them, reused from run to run.
type bufs struct {
	ins, outs, src, dst [][]float32
}

// take waits for the next job; nil (with ok) when it expired while queued.
func (b *batcher) take() (*job, bool) {
	j, ok := <-b.queue
	if !ok {
		return nil, false
	}
	b.met.queueDepth.Dec()
	if !b.live(j) {
		return nil, true
	}
	return j, true
}

// live reports whether j's submitter still waits; an expired job is answered with
// its context's error and dropped, so a backlog of abandoned requests is not run.
func (b *batcher) live(j *job) bool {
	if err := j.ctx.Err(); err != nil {
		j.done <- err
		return false
	}
	return true
}

// run runs the batch of n samples. One job runs in its own buffers; several are
// copied into the worker's and back out. If a merged run fails, each job is rerun
// alone so that one bad request fails only itself.
func (b *batcher) run(batch []*job, n int, w *bufs) {
	if b.hook != nil {
		b.hook()
	}
	now := time.Now()
	for _, j := range batch {
		b.met.queueTime.Observe(now.Sub(j.enq).Seconds())
	}
	b.met.batchSize.Observe(float64(n))
	if len(batch) == 1 {
		j := batch[0]
		j.done <- b.m.RunMultiInto(j.outs, j.ins, j.n)
		return
	}
	off := 0
	for _, j := range batch {
		for k, p := range b.inPer {
			copy(w.ins[k][off*p:], j.ins[k])
		}
		off += j.n
	}
	src, dst := w.src, w.dst
	for k, p := range b.inPer {
		src[k] = w.ins[k][:n*p]
	}
	for k, p := range b.outPer {
		dst[k] = w.outs[k][:n*p]
	}
	if err := b.m.RunMultiInto(dst, src, n); err != nil {
		for _, j := range batch {
			j.done <- b.m.RunMultiInto(j.outs, j.ins, j.n)
		}
		return
	}
	off = 0
	for _, j := range batch {
		for k, p := range b.outPer {
			copy(j.outs[k], dst[k][off*p:(off+j.n)*p])
		}
		off += j.n
		j.done <- nil
	}
}
