package runtime

import goruntime "runtime"

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

// parTask runs part i of a batch split into r.a parts.
func (m *Model) parTask(r *region, i, _ int) {
	if lo, hi := span(r.batch, r.a, i, 1); hi > lo {
		m.runSerial(r.dst[lo*m.outSize:hi*m.outSize], r.src[lo*m.inSize:hi*m.inSize], hi-lo)
	}
}

// hasConv reports whether a model has a compiled convolution. Such a model splits a
// large batch into parts (each sample's convolutions are independent and the parts need
// no barrier between steps); Dense and LSTM models split every large step instead,
// where each worker streams only its part of the weights (measured at batch 8 and 64:
// text_lstm and mlp faster with step splits, docs/RATIONALE.md).
func hasConv(us []unit) bool {
	conv := false
	for _, u := range us {
		switch u.c.k.(type) {
		case *fastConv, *fastWinograd, *fastDepthwise, *fastQConv:
			conv = true
		}
		if batchCoupled(u.c) { // fast_quant.go
			return false
		}
	}
	return conv
}
