package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// seqSampler is a whole-sequence GRU or SimpleRNN kernel that projects its input in
// the step loop (inK): as a stage of an asm.RecStack it runs one sample's sequence
// into hs rows in scratch beside the other direction of a Bidirectional (which merges
// from those rows directly: no per-direction output copy, no merge pass over copies)
// or the layers stacked on it.
type seqSampler interface {
	// recStage is the layer as a stage reading the call's input rows (input) or the
	// previous stage's hs rows.
	recStage(input bool) asm.RecStage
	rec() layers.Recurrence
	kernelISA() asm.ISA
}

func (k *fastGRU) rec() layers.Recurrence { return k.l.Recurrence() }
func (k *fastRNN) rec() layers.Recurrence { return k.l.Recurrence() }
func (k *fastGRU) kernelISA() asm.ISA     { return k.isa }
func (k *fastRNN) kernelISA() asm.ISA     { return k.isa }

func (k *fastGRU) recStage(input bool) asm.RecStage {
	l := k.l
	return asm.RecStage{GRU: true, ResetAfter: l.ResetAfter, Gate: k.gate, Input: input, Backwards: input && l.GoBackwards,
		In: l.In, W: k.xw, B: k.xb, UW: k.uw, RBH: k.rbh, H0: l.H0, U: l.Units, Acts: k.acts, RecAct: k.recAct, Act: k.actAct}
}

func (k *fastRNN) recStage(input bool) asm.RecStage {
	l := k.l
	return asm.RecStage{Relu: k.relu, Input: input, Backwards: input && l.GoBackwards, In: l.In,
		W: k.xw, B: k.xb, UW: k.uw, H0: l.H0, U: l.Units, Acts: k.acts, Act: k.actAct}
}

// asSampler returns c's kernel as a seqSampler when it runs the in-loop projection.
func asSampler(c compiled) (seqSampler, bool) {
	switch k := c.k.(type) {
	case *fastGRU:
		return k, k.seq && k.inK
	case *fastRNN:
		return k, k.seq && k.inK
	}
	return nil, false
}

// hsRow is the hs row holding output row o of a whole-sequence kernel (seqRowsOut's
// order): the last row without sequences, else processing order, or time order for a
// backwards pass that keeps it.
func hsRow(r *layers.Recurrence, o, t int) int {
	switch {
	case !r.ReturnSequences:
		return t
	case r.GoBackwards && r.KeepTimeOrder:
		return t - o
	}
	return o + 1
}

// runSampled is fastBidirectional.run for two seqSamplers: per sample one
// asm.RecStack run steps both directions together (independent chains whose
// latencies overlap), each into its own hs rows, and the merge reads both straight
// into dst.
func (k *fastBidirectional) runSampled(dst, src, scratch []float32, batch int) {
	rf, rb := &k.rf, &k.rb
	t, u, in := k.t, rf.Units, rf.In
	rows, w := 1, u
	if rf.ReturnSequences {
		rows = t
	}
	if k.l.Merge == "concat" {
		w = 2 * u
	}
	for b := 0; b < batch; b++ {
		st, g := k.stack, 1
		if k.stack2 != nil && b+1 < batch {
			st, g = k.stack2, 2 // two samples' four chains in one call
		}
		st.Run(src[b*t*in:(b+g)*t*in], scratch)
		for i := 0; i < g; i++ {
			hf, hb := st.HS(scratch, 2*i), st.HS(scratch, 2*i+1)
			upf, upb := len(hf)/(t+1), len(hb)/(t+1)
			y := dst[(b+i)*rows*w : (b+i+1)*rows*w]
			for o := 0; o < rows; o++ {
				fo, bo := hsRow(rf, o, t)*upf, hsRow(rb, o, t)*upb
				mergeBiRow(y[o*w:(o+1)*w], hf[fo:fo+u], hb[bo:bo+u], k.l.Merge)
			}
		}
		b += g - 1
	}
}

// mergeBiRow merges one output row of a Bidirectional layer from the rows f and g.
func mergeBiRow(r, f, g []float32, merge string) {
	u := len(f)
	switch merge {
	case "concat":
		// element loops: rows of a few floats, where a memmove call per row costs
		// more than the moves
		for j, v := range f {
			r[j] = v
		}
		for j, v := range g[:u] {
			r[u+j] = v
		}
	case "sum":
		for j := range r[:u] {
			r[j] = f[j] + g[j]
		}
	case "mul":
		for j := range r[:u] {
			r[j] = f[j] * g[j]
		}
	default:
		for j := range r[:u] {
			r[j] = (f[j] + g[j]) / 2
		}
	}
}
