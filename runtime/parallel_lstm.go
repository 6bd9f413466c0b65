package runtime

import "github.com/kinfer/kinfer/runtime/asm"

// Small LSTMs (the whole-sequence kernels, up to seqMaxUnits units) run one dependent
// chain per sample, so the only thing to split is the batch: each task runs a range of
// samples' whole sequences with its worker's own c and hs rows (per-worker blocks at
// the end of the step's scratch, added by seqForTeam). A sample's bits never depend on
// which worker ran it. A recurrent model splits its batch at the model level
// (batchSplitPlan), so this split runs where that one does not: a part's batch below
// twice minPart, or a model with a batch-coupled step.

// seqParMinSteps is the fewest sample-steps (batch x timesteps) of a whole-sequence
// LSTM call that are split: a step of the chain is ~80 cycles, so 256 of them are a
// few microseconds, several times a region's cost.
var seqParMinSteps = 256

// seqWorkerLen is one worker's c and hs rows.
func (k *fastLSTM) seqWorkerLen() int { return k.up + (k.t+1)*k.up }

// seqForTeam returns the scratch length with a c/hs block per helper.
func (k *fastLSTM) seqForTeam(workers, sc int) int { return sc + (workers-1)*k.seqWorkerLen() }

// runSeqPar splits a whole-sequence LSTM call by samples (the projection GEMM, when
// the kernel does not project in its loop, runs first on the caller).
func (k *fastLSTM) runSeqPar(t *team, dst, src, scratch []float32, batch int) {
	n := min(batch, 2*t.workers())
	if t.workers() < 2 || batch < 2 || batch*k.t < seqParMinSteps {
		k.runSeq(dst, src, scratch, batch)
		return
	}
	if !k.inK {
		zx, _, _ := k.seqScratch(scratch, batch)
		k.seqProject(zx, src, batch)
	}
	t.runTasks(k, n, dst, src, scratch, batch, n, -2)
}

// seqTask runs samples part i of parts on worker w.
func (k *fastLSTM) seqTask(dst, src, scratch []float32, batch, i, parts, w int) {
	b0, b1 := span(batch, parts, i, 1)
	t, n, outLen := k.t, 4*k.up, k.outLen()
	var c, hs []float32
	if w == 0 {
		if k.inK {
			c, hs = scratch[:k.up], scratch[k.up:k.seqWorkerLen()]
		} else {
			_, c, hs = k.seqScratch(scratch, batch)
		}
	} else {
		o := len(scratch) - w*k.seqWorkerLen() // helper w's block, from the end
		c, hs = scratch[o:o+k.up], scratch[o+k.up:o+k.seqWorkerLen()]
	}
	var zx []float32
	if !k.inK {
		zx, _, _ = k.seqScratch(scratch, batch)
	}
	for b := b0; b < b1; b++ {
		k.seqInit(c, hs)
		if k.inK {
			in := k.l.In
			asm.LSTMSeqX(k.isa, src[b*t*in:(b+1)*t*in], in, k.xw, k.xb, k.seqU, c, hs, t, k.l.Units, k.l.GoBackwards, k.gate)
		} else {
			asm.LSTMSeq(k.isa, zx[b*t*n:(b+1)*t*n], k.seqU, c, hs, t, k.l.Units, k.l.GoBackwards, k.gate)
		}
		k.emit(dst[b*outLen:(b+1)*outLen], hs)
	}
}

// lstmPartsPerWorker is how many unit parts per worker a split GEMM-path LSTM step has.
// One: each worker claims its home part (parallel.go), whose columns of U stay in its
// cache step after step, in one GEMM call per step; more parts would let the caller
// take over a late helper's share at a finer grain, at a GEMM call and a claim per part.
var lstmPartsPerWorker = 1

// lstmPartWidth is the units per part of a split u-unit LSTM step on workers workers:
// lstmPartsPerWorker parts per worker of about equal width, in whole lstmPartUnits.
func lstmPartWidth(u, workers int) int {
	parts := max(1, min(workers*lstmPartsPerWorker, u/lstmPartUnits))
	return ((u+parts-1)/parts + lstmPartUnits - 1) / lstmPartUnits * lstmPartUnits
}

// lstmStepSplit enables the per-timestep split of a GEMM-path LSTM by unit parts
// (fastLSTM.runPar). Off: on two idle cores it did not pay (lstm256 at batch 1
// 0.91-1.12x its one-thread time over 12 runs, text_lstm 0.99-1.02x; docs/RATIONALE.md),
// and a split that does not pay only takes the other core's time. The steps then run
// on the caller; the input projection GEMM still splits. The tests split with it on.
var lstmStepSplit = false
