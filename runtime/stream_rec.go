package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// recChunk is a compiled GRU or SimpleRNN kernel a stream runs a chunk of steps on,
// from and back into the stream's state (h): the whole-sequence kernel (masked steps
// split the chunk into runs, as in the masked kernels) or the GEMM path at batch 1.
// Variable-length runs (RunSeqInto at another length) run through it too.
type recChunk interface {
	// chunk advances state through steps rows of x (mask: steps flags or nil) and
	// writes the chunk's output rows (or its final output) to out; stepped says
	// whether an earlier chunk kept a step.
	chunk(state, x, mask, out, scratch []float32, steps int, stepped bool)
	// scratchFor is the scratch a chunk of up to steps steps needs.
	scratchFor(steps int) int
}

// recScratch bounds the scratch of every recChunk over steps steps: projections (3
// gates), hs rows and the GEMM path's step rows, over max(u, up) lanes.
func recScratch(steps, u, up int) int { return 4*(steps+4)*max(u, up) + 1 }

func (k *fastGRU) scratchFor(steps int) int { return recScratch(steps, k.l.Units, k.up) }
func (k *fastRNN) scratchFor(steps int) int { return recScratch(steps, k.l.Units, k.up) }

func (k *fastGRU) chunk(state, x, mask, out, scratch []float32, steps int, stepped bool) {
	if !k.seq {
		k.gemmRun(out, x, mask, scratch, 1, steps, state, stepped)
		return
	}
	l, u, up := k.l, k.l.Units, k.up
	n := 3 * up
	var zx []float32
	rest := scratch
	if !k.inK {
		inf := float32(math.Inf(1))
		zx, rest = scratch[:steps*n], scratch[steps*n:]
		asm.Gemm(k.gisaW, steps, n, l.In, x, l.In, k.packedW, zx, n, -inf, inf)
	}
	hs, rh := rest[:(steps+1)*up], rest[(steps+1)*up:(steps+3)*up]
	copy(hs[:u], state[:u])
	clear(hs[u:up])
	in := l.In
	maskedSeqSample(out, mask, hs, steps, u, up, l.Recurrence(), stepped, func(a, e, m int) {
		if k.inK {
			asm.GRUSeqX(k.isa, x[a*in:e*in], in, k.xw, k.xb, k.uw, k.rbh, hs, rh, m, u, false, l.ResetAfter, k.gate)
		} else {
			asm.GRUSeq(k.isa, zx[a*n:e*n], k.uw, k.rbh, hs, rh, m, u, false, l.ResetAfter, k.gate)
		}
	})
	copy(state[:u], hs[:u])
}

func (k *fastRNN) chunk(state, x, mask, out, scratch []float32, steps int, stepped bool) {
	if !k.seq {
		k.gemmRun(out, x, mask, scratch, 1, steps, state, stepped)
		return
	}
	l, u, up := k.l, k.l.Units, k.up
	var zx []float32
	rest := scratch
	if !k.inK {
		inf := float32(math.Inf(1))
		zx, rest = scratch[:steps*up], scratch[steps*up:]
		asm.Gemm(k.gisa, steps, up, l.In, x, l.In, k.packedW, zx, up, -inf, inf)
	}
	hs := rest[:(steps+1)*up]
	copy(hs[:u], state[:u])
	clear(hs[u:up])
	in := l.In
	maskedSeqSample(out, mask, hs, steps, u, up, l.Recurrence(), stepped, func(a, e, m int) {
		if k.inK {
			asm.RNNSeqX(k.isa, x[a*in:e*in], in, k.xw, k.xb, k.uw, hs, m, u, false, k.relu)
		} else {
			asm.RNNSeq(k.isa, zx[a*up:e*up], k.uw, hs, m, u, false, k.relu)
		}
	})
	copy(state[:u], hs[:u])
}

// streamRecKernel returns the compiled chunk kernel of a GRU or SimpleRNN for streams,
// packed once per Model and shared by its streams, or nil (the generic path, where
// streams run the reference Step, and other layers).
func (m *Model) streamRecKernel(r layers.Stepper) recChunk {
	if m.isa == asm.Generic {
		return nil
	}
	rr, ok := r.(layers.Recurrent)
	if !ok {
		return nil
	}
	switch r.(type) {
	case *layers.GRU, *layers.SimpleRNN:
	default:
		return nil
	}
	m.streamMu.Lock()
	defer m.streamMu.Unlock()
	if k, ok := m.streamRecKs[r]; ok {
		return k
	}
	if m.streamRecKs == nil {
		m.streamRecKs = map[layers.Stepper]recChunk{}
	}
	var k recChunk
	if c, ok := newFastRecurrent(rr, layers.Shape{1, r.Recurrence().In}, m.isa, 1); ok {
		k, _ = c.k.(recChunk)
	}
	m.streamRecKs[r] = k
	return k
}

// anyKept reports whether a chunk keeps a step.
func anyKept(mask []float32, steps int) bool {
	if mask == nil {
		return true
	}
	for _, v := range mask[:steps] {
		if v != 0 {
			return true
		}
	}
	return false
}
