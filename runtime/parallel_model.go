package runtime

import (
	goruntime "runtime"

	"github.com/kinfer/kinfer/layers"
)

// getTeam returns the Model's team, starting its helpers on first use. The helpers hold
// no reference to the Model, so a cleanup on the Model stops them.
func (m *Model) getTeam() *team {
	m.teamOnce.Do(func() {
		m.team = newTeam(m.threads)
		goruntime.AddCleanup(m, func(t *team) { t.stop() }, m.team)
	})
	return m.team
}

// batchPartsPerWorker is how many parts per worker a split batch is cut into (each of at
// least minPart samples). More parts would let the caller claim those a late helper has
// not started, but 2 and 4 measured no better than 1 (TestBatchPartsTiming, cifar_cnn
// and mnist_cnn at batch 64, load 7-8: every variant within noise of one thread), so
// the default stays 1 until a quiet-machine run says otherwise.
var batchPartsPerWorker = 1

// runTeam runs a single-input, single-output call holding team t: a batch large enough
// for every worker to get minPart samples is split into contiguous parts, each run on
// its own state; anything smaller runs on one state whose large steps split across the
// team (intra-op).
func (m *Model) runTeam(t *team, dst, src []float32, batch int) {
	if w := min(t.workers(), batch/m.minPart); w > 1 && m.batchSplit {
		n := min(batchPartsPerWorker*t.workers(), batch/m.minPart)
		t.runTasks(m, n, dst, src, nil, batch, n, 0)
		return
	}
	st := m.get()
	st.team = t
	m.runSerialState(st, dst, src, batch)
	st.team = nil
	m.put(st)
}

// runTeamMulti is runTeam's batch split for RunMultiInto (each part's exec reads and
// writes its samples of every input and output); it reports false, having run nothing,
// when the batch does not split (the caller then runs it with intra-op splits).
func (m *Model) runTeamMulti(t *team, dsts, srcs [][]float32, batch int) bool {
	if w := min(t.workers(), batch/m.minPart); w <= 1 || !m.batchSplit {
		return false
	}
	n := min(batchPartsPerWorker*t.workers(), batch/m.minPart)
	t.r = region{k: m, dsts: dsts, srcs: srcs, batch: batch, a: n}
	t.run(n)
	t.r = region{}
	return true
}

// parTask runs part i of a batch split into r.a parts.
func (m *Model) parTask(r *region, i, _ int) {
	lo, hi := span(r.batch, r.a, i, 1)
	if hi <= lo {
		return
	}
	if r.srcs == nil {
		m.runSerial(r.dst[lo*m.outSize:hi*m.outSize], r.src[lo*m.inSize:hi*m.inSize], hi-lo)
		return
	}
	st := m.get()
	for b := lo; b < hi; b += m.maxBatch {
		m.exec(st, r.dsts, r.srcs, b, min(m.maxBatch, hi-b))
	}
	m.put(st)
}

// batchSplitPlan decides whether a model splits a batch into parts, one per worker,
// each running the whole model on its samples (runTeam), and the fewest samples per
// part (minPart: the intensity bound, raised for the steps below). A part needs no
// barrier between steps, so models whose steps are per sample split this way:
//   - convolutions and attention (each sample's maps are independent);
//   - recurrent layers of every kind (LSTM, stacked, Bidirectional, GRU, SimpleRNN,
//     masked): a sample is a dependent chain of timesteps, so splitting one step
//     costs a barrier per timestep, where the batch split costs one per call; the
//     steps around them (Dense, Embedding, ...) run in the same part.
//
// Dense-only models split every large step instead (each worker streams only its part
// of the weights; measured: mlp faster with step splits at batch 8 and 64). A
// GEMM-path LSTM wide enough to split its steps by gate columns (fastLSTM.bounds) could
// keep that split up to lstmColMaxBatch(units) samples (measured: not past batch 1).
// A batch-coupled step (dynamic quantization) forbids the batch split.
func batchSplitPlan(us []unit, minPart int) (bool, int) {
	split := false
	for _, u := range us {
		if batchCoupled(u.c) { // fast_quant.go
			return false, minPart
		}
		switch k := u.c.k.(type) {
		case *fastConv, *fastWinograd, *fastDepthwise, *fastQConv:
			split = true
		case *fastLSTM:
			if k.bounds != nil {
				// a batch splits from 2*minPart samples on
				minPart = max(minPart, lstmColMaxBatch(k.l.Units)/2+1)
			}
		}
		if recurrentLayer(u.l) {
			split = true
		}
	}
	return split || hasAttention(us), minPart
}

// lstmColMaxBatch is the largest batch at which a model with a column-split LSTM step
// of u units keeps that split (two workers) rather than splitting the batch: 1, from
// measurement. Counted on one core (TestLSTMStepTiming) the column split looked
// better up to u/32 samples (a worker of the batch split runs the whole step at half
// the batch, full(b/2); one of the column split half the units at the whole batch,
// half(b), plus a region: u 256, full(4) ~14 us against half(8) 11.4 us), but on two
// idle cores (TestRecSplitTiming, 22:56 UTC, 4 runs) lstm256 at batch 8 took 0.58-0.65x
// its one-thread time with the batch split and 0.78-1.00x with the column split, and
// text_lstm 0.52-0.53x against 1.00x: a step region per timestep costs far more than
// the one-core count (the parts exchange h and the projections every step, and a
// region that waits long for a helper backs the team off).
func lstmColMaxBatch(u int) int { return 1 }

// recurrentLayer reports whether l is a recurrent layer (alone, stacked, bidirectional
// or masked).
func recurrentLayer(l layers.Layer) bool {
	switch l := l.(type) {
	case layers.Recurrent, *layers.Bidirectional, *lstmStack:
		return true
	case *layers.Masked:
		return recurrentLayer(l.Layer)
	}
	return false
}
