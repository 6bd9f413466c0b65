package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// seqSampler is a whole-sequence GRU or SimpleRNN kernel that projects its input in
// the step loop (inK): it runs one sample's sequence into hs rows in scratch, which a
// Bidirectional merges from directly (no per-direction output copy, no merge pass
// over those copies).
type seqSampler interface {
	// sampleHS runs the sample x (t rows of In floats) and returns the hs rows (row
	// s+1 = h after the s-th processed step, rows of up floats).
	sampleHS(x, scratch []float32) (hs []float32, up int)
	rec() layers.Recurrence
}

func (k *fastGRU) rec() layers.Recurrence { return k.l.Recurrence() }
func (k *fastRNN) rec() layers.Recurrence { return k.l.Recurrence() }

func (k *fastGRU) sampleHS(x, scratch []float32) ([]float32, int) {
	l, t, up := k.l, k.t, k.up
	hs, rh := scratch[:(t+1)*up], scratch[(t+1)*up:(t+3)*up]
	clear(hs[:up])
	copy(hs, l.H0)
	asm.GRUSeqX(k.isa, x, l.In, k.xw, k.xb, k.uw, k.rbh, hs, rh, t, l.Units, l.GoBackwards, l.ResetAfter, k.gate)
	return hs, up
}

func (k *fastRNN) sampleHS(x, scratch []float32) ([]float32, int) {
	l, t, up := k.l, k.t, k.up
	hs := scratch[:(t+1)*up]
	clear(hs[:up])
	copy(hs, l.H0)
	asm.RNNSeqX(k.isa, x, l.In, k.xw, k.xb, k.uw, hs, t, l.Units, l.GoBackwards, k.relu)
	return hs, up
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

// runSampled is fastBidirectional.run for two seqSamplers: per sample each direction
// runs into its own scratch block and the merge reads both hs rows straight into dst.
func (k *fastBidirectional) runSampled(dst, src, scratch []float32, batch int) {
	rf, rb := &k.rf, &k.rb
	t, u, in := k.t, rf.Units, rf.In
	sf, sb := scratch[:k.sfLen], scratch[k.sfLen:]
	rows, w := 1, u
	if rf.ReturnSequences {
		rows = t
	}
	if k.l.Merge == "concat" {
		w = 2 * u
	}
	for b := 0; b < batch; b++ {
		x := src[b*t*in : (b+1)*t*in]
		hf, upf := k.xf.sampleHS(x, sf)
		hb, upb := k.xb.sampleHS(x, sb)
		y := dst[b*rows*w : (b+1)*rows*w]
		for o := 0; o < rows; o++ {
			fo, bo := hsRow(rf, o, t)*upf, hsRow(rb, o, t)*upb
			mergeBiRow(y[o*w:(o+1)*w], hf[fo:fo+u], hb[bo:bo+u], k.l.Merge)
		}
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
