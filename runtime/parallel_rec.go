package runtime

// GRU and SimpleRNN layers split a batch by samples across the team: each task runs
// the layer's own kernel (whole-sequence or per-step GEMM path) on a contiguous range
// of samples with its worker's copy of the scratch. A recurrent layer has a dependent
// chain of steps per sample, so samples are the split with no barrier per step; a
// sample's bits do not depend on the batch it ran in (per-sample kernels, and GEMM sums
// independent of the row count, runtime/asm/doc.go). Batch 1 runs on the caller. The
// kernels stay in fast_gru.go and fast_rnn.go; this file only calls their run.

// recKernel is a recurrent kernel that splits by samples.
type recKernel interface {
	kernel
	steps() int
}

func (k *fastGRU) steps() int { return k.t }
func (k *fastRNN) steps() int { return k.t }

// runSamplesPar runs k over batch samples split across t, scratchLen floats of scratch
// per worker (worker w's at w*scratchLen), or on the caller when the call is small.
func runSamplesPar(t *team, k recKernel, pt parTasker, dst, src, scratch []float32, batch, scratchLen int) {
	if t.workers() < 2 || batch < 2 || batch*k.steps() < seqParMinSteps || len(scratch) < t.workers()*scratchLen {
		k.run(dst, src, scratch, batch)
		return
	}
	n := min(batch, 2*t.workers())
	t.runTasks(pt, n, dst, src, scratch, batch, n, scratchLen)
}

// samplesTask runs samples part i of r.a (r.b floats of scratch per worker).
func samplesTask(k recKernel, r *region, i, w int) {
	b0, b1 := span(r.batch, r.a, i, 1)
	if b1 <= b0 {
		return
	}
	in, out := len(r.src)/r.batch, len(r.dst)/r.batch
	k.run(r.dst[b0*out:b1*out], r.src[b0*in:b1*in], r.scratch[w*r.b:(w+1)*r.b], b1-b0)
}

// scratchPer is the serial scratch length a team's kernel keeps per worker.
func scratchPer(scratch []float32, workers int) int { return len(scratch) / workers }

func (k *fastGRU) runPar(t *team, dst, src, scratch []float32, batch int) {
	runSamplesPar(t, k, k, dst, src, scratch, batch, scratchPer(scratch, t.workers()))
}

func (k *fastGRU) parTask(r *region, i, w int) { samplesTask(k, r, i, w) }

// forTeam gives every worker a copy of the serial scratch.
func (k *fastGRU) forTeam(workers, _, sc int) (parKernel, int) { return k, workers * sc }

func (k *fastRNN) runPar(t *team, dst, src, scratch []float32, batch int) {
	runSamplesPar(t, k, k, dst, src, scratch, batch, scratchPer(scratch, t.workers()))
}

func (k *fastRNN) parTask(r *region, i, w int) { samplesTask(k, r, i, w) }

func (k *fastRNN) forTeam(workers, _, sc int) (parKernel, int) { return k, workers * sc }

// A Bidirectional layer splits a batch by samples like the layers above; a single
// sample whose directions run as two kernels (not the LSTM pair kernel, which steps
// both in one call) runs them as two tasks, the backward one with worker 1's scratch
// block for its working space, then merges on the caller.

// biSteps is the call's timesteps.
func (k *fastBidirectional) biSteps(src []float32, batch int) int {
	return len(src) / batch / max(1, k.l.Fwd.Recurrence().In)
}

func (k *fastBidirectional) runPar(t *team, dst, src, scratch []float32, batch int) {
	per := scratchPer(scratch, t.workers())
	steps := k.biSteps(src, batch)
	if t.workers() < 2 || batch*steps < seqParMinSteps || len(scratch) < t.workers()*per {
		k.run(dst, src, scratch, batch)
		return
	}
	if batch >= 2 {
		n := min(batch, 2*t.workers())
		t.runTasks(k, n, dst, src, scratch, batch, n, per)
		return
	}
	if !k.directionTasks() {
		k.run(dst, src, scratch, batch)
		return
	}
	t.runTasks(k, 2, dst, src, scratch, batch, 0, per)
	n, u := k.n, k.l.Fwd.Recurrence().Units
	mergeDirections(dst, scratch[:batch*n], scratch[batch*n:2*batch*n], k.l.Merge, batch*n, u)
}

// directionTasks reports whether one sample's two directions can run as two tasks:
// not for the LSTM pair kernel (both in one call), nor for two seqSamplers, whose
// per-sample runs merge straight from their hs rows (runSampled: small units, where a
// split would not pay).
func (k *fastBidirectional) directionTasks() bool { return !k.pair && k.xf == nil }

// parTask: r.a > 0 is samples part i of r.a; r.a == 0 is direction i of one call (the
// layout of run: fy, by, then the working space, the backward's in block 1).
func (k *fastBidirectional) parTask(r *region, i, w int) {
	if r.a > 0 {
		b0, b1 := span(r.batch, r.a, i, 1)
		if b1 > b0 {
			in, out := len(r.src)/r.batch, len(r.dst)/r.batch
			k.run(r.dst[b0*out:b1*out], r.src[b0*in:b1*in], r.scratch[w*r.b:(w+1)*r.b], b1-b0)
		}
		return
	}
	bn := r.batch * k.n
	if i == 0 {
		k.fwd.k.run(r.scratch[:bn], r.src, r.scratch[2*bn:r.b], r.batch)
		return
	}
	k.bwd.k.run(r.scratch[bn:2*bn], r.src, r.scratch[r.b:2*r.b], r.batch)
}

// forTeam gives every worker a copy of the serial scratch.
func (k *fastBidirectional) forTeam(workers, _, sc int) (parKernel, int) { return k, workers * sc }
