package runtime

import (
	"math"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// fastLSTM runs an LSTM as one GEMM for the input projection of every timestep of the
// whole batch (x*W + b), then per step one GEMM h*U over the batch and the gate/state
// update. A tanh cell with sigmoid or hard-sigmoid gates uses asm.LSTMStep (one vector
// pass that adds the two projections, applies the gates and updates c and h); any other
// per-element pair adds in Go and applies the activations with the vector kernels where
// there are some. With return_sequences, h is written straight into the output and the
// next step's GEMM reads it from there (row stride = the per-sample output length).
type fastLSTM struct {
	l        *layers.LSTM
	isa      asm.ISA
	gisa     asm.ISA // GEMM path (gemmISA of 4u)
	t        int
	packedW  []float32 // In x 4U with bias
	packedU  []float32 // U x 4U, no bias
	fused    bool      // asm.LSTMStep handles the activations
	gate     asm.GateAct
	maxBatch int
	// seq: asm.LSTMSeq runs each sample's whole sequence in one call over units padded
	// to up; packedW then holds the padded In x 4up kernel and bias, seqU the packed U.
	seq  bool
	up   int
	seqU []float32
	// inK: asm.LSTMSeqX projects each step's input itself from the padded kernel xw
	// and bias xb (no packedW, no projection scratch).
	inK    bool
	xw, xb []float32
	// bounds: the unit parts of a step split across a team (forTeam), nil when the
	// gate columns are in the natural i, f, g, o order
	bounds []int
	// post: a Dense that followed the layer, fused by fuseSeqDense; runSeq runs its GEMM
	// straight on the hs rows (row stride up) into the output instead of seqOut.
	post *gemmLayer
}

// fuseSeqDense fuses a Dense step c into the whole-sequence LSTM step before it, where
// the LSTM returns sequences whose rows are its hs rows in order (no reversal of a
// backwards pass that keeps time order) and the Dense maps each of them: the Dense's
// GEMM then reads the hs rows where the kernel wrote them, and the LSTM's output
// (seqOut's copy of t rows, an arena buffer and a step) goes away. The sums are the
// GEMM's, which do not depend on the row count: the same bits as the two steps.
//
// The GEMM runs per sample (t rows), not over the batch: on lstm_backwards_seq (7 steps,
// Dense 2) that measured faster at batch 1 (255 -> 237 ns) and 32; without sequences
// (one row per sample) the copy saved is one row and a 1-row GEMM per sample measured
// slower at batch 32, so those stay two steps.
func fuseSeqDense(prev, c compiled) (compiled, bool) {
	k, ok := prev.k.(*fastLSTM)
	if q, isChain := prev.k.(*seqChain); isChain {
		k, ok = q.b, true
	}
	d, okd := c.k.(*fastDense)
	if !ok || !okd || !k.seq || k.post != nil || d.k != k.l.Units || !k.l.ReturnSequences ||
		(k.l.GoBackwards && k.l.KeepTimeOrder) || d.rowsPerSample != k.t {
		return compiled{}, false
	}
	f := *k
	f.post = &d.gemmLayer
	name := prev.name + " + " + c.name + " on its h rows"
	if q, isChain := prev.k.(*seqChain); isChain {
		return compiled{k: &seqChain{a: q.a, b: &f}, name: name, scratchLen: prev.scratchLen}, true
	}
	return compiled{k: &f, name: name, scratchLen: prev.scratchLen}, true
}

// seqChain runs two whole-sequence LSTM steps that project their input in the step
// loop (inK) as one step: per sample the second reads the first's hs rows where its
// kernel wrote them (asm.LSTMSeqXRows, row stride = the first's padded units), so the
// first's output copy, its arena buffer and a step go away. Made by fuseSeqLSTM where
// the graph-level wavefront (lstmStack) does not apply, e.g. when the second layer runs
// backwards over the first's whole sequence. The same bits as the two steps.
type seqChain struct{ a, b *fastLSTM }

// fuseSeqLSTM fuses c into prev when both are inK whole-sequence LSTMs, prev returns
// its sequence in hs-row order and c consumes exactly those rows.
func fuseSeqLSTM(prev, c compiled) (compiled, bool) {
	a, ok := prev.k.(*fastLSTM)
	b, okb := c.k.(*fastLSTM)
	if !ok || !okb || !a.seq || !a.inK || a.post != nil || !a.l.ReturnSequences ||
		(a.l.GoBackwards && a.l.KeepTimeOrder) || !b.seq || !b.inK || b.l.In != a.l.Units || b.t != a.t {
		return compiled{}, false
	}
	return compiled{k: &seqChain{a: a, b: b}, name: prev.name + ", then " + c.name + " on its h rows",
		scratchLen: a.up + (a.t+1)*a.up + b.up + (b.t+1)*b.up}, true
}

func (q *seqChain) run(dst, src, scratch []float32, batch int) {
	a, b, t := q.a, q.b, q.a.t
	na := a.up + (t+1)*a.up
	ca, ha := scratch[:a.up], scratch[a.up:na]
	cb, hb := scratch[na:na+b.up], scratch[na+b.up:na+b.up+(t+1)*b.up]
	in, outLen := a.l.In, b.outLen()
	for s := 0; s < batch; s++ {
		a.seqInit(ca, ha)
		asm.LSTMSeqX(a.isa, src[s*t*in:(s+1)*t*in], in, a.xw, a.xb, a.seqU, ca, ha, t, a.l.Units, a.l.GoBackwards, a.gate)
		b.seqInit(cb, hb)
		asm.LSTMSeqXRows(b.isa, ha[a.up:], a.up, b.l.In, b.xw, b.xb, b.seqU, cb, hb, t, b.l.Units, b.l.GoBackwards, b.gate)
		y := dst[s*outLen : (s+1)*outLen]
		b.emit(y, hb)
	}
}

// emit writes one sample's output from its hs rows: the fused Dense's, or the h rows.
func (k *fastLSTM) emit(y, hs []float32) {
	if k.post != nil {
		k.postOut(y, hs)
		return
	}
	k.seqOut(y, hs)
}

// postOut runs the fused Dense on one sample's hs rows 1..t into y.
func (k *fastLSTM) postOut(y, hs []float32) {
	g, t, up := k.post, k.t, k.up
	asm.Gemm(g.isa, t, g.n, g.k, hs[up:(t+1)*up], up, g.packed, y, g.n, g.lo, g.hi)
	if g.post.Kind != layers.Linear {
		applyActivation(g.isa, g.post, y[:t*g.n], g.n)
	}
}

func newFastLSTM(l *layers.LSTM, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	return newFastLSTMOpt(l, in, isa, maxBatch, true)
}

// newFastLSTMOpt is newFastLSTM; inK allows the whole-sequence kernel that projects the
// input itself (callers that run the projections' zx themselves pass false).
func newFastLSTMOpt(l *layers.LSTM, in layers.Shape, isa asm.ISA, maxBatch int, inK bool) (compiled, bool) {
	if isa == asm.Generic || len(in) != 2 || !l.Act.PerElement() || !l.RecAct.PerElement() {
		return compiled{}, false
	}
	u4 := 4 * l.Units
	if c, ok := newSeqLSTM(l, in, isa, maxBatch, inK); ok {
		return c, true
	}
	gisa := gemmISA(isa, u4)
	k := &fastLSTM{l: l, isa: isa, gisa: gisa, t: in[0], maxBatch: maxBatch,
		packedW: make([]float32, asm.PackedLen(gisa, l.In, u4)),
		packedU: make([]float32, asm.PackedLen(gisa, l.Units, u4))}
	asm.PackB(gisa, k.packedW, l.In, u4, l.W, l.B)
	asm.PackB(gisa, k.packedU, l.Units, u4, l.U, nil)
	name := "lstm gemm/" + gisa.String()
	if l.Act.Kind == layers.Tanh {
		switch l.RecAct.Kind {
		case layers.Sigmoid:
			k.fused = true
		case layers.HardSigmoid:
			k.fused, k.gate = true, asm.GateAct{Hard: true, A: l.RecAct.Alpha, B: l.RecAct.Beta}
		}
	}
	if k.fused {
		name += " + fused " + l.RecAct.String() + "/tanh step"
	} else {
		name += " + " + l.RecAct.String() + "/" + l.Act.String() + " gates"
	}
	// scratch: projections (batch*t*4u), step gates (batch*4u), h and c (batch*u each)
	scratch := maxBatch * (k.t*u4 + u4 + 2*l.Units)
	return compiled{k: k, name: name, scratchLen: scratch}, true
}

// seqMaxUnits bounds the layers run by asm.LSTMSeq. It runs one sample at a time with a
// matrix-vector h*U per step, which wins on latency-bound small layers; wider layers
// (text_lstm 128 units, lstm256 in bench/) measured 2-6x slower at batch 1 and far
// slower at batch 8-64 than one GEMM per step over the whole batch.
const seqMaxUnits = 32

// newSeqLSTM compiles a tanh cell with sigmoid or hard-sigmoid gates for asm.LSTMSeq
// where it has a vector kernel: one GEMM x*W + b for all timesteps into the padded gate
// layout, then one call per sample for the whole recurrence.
//
// With inK, a layer of at most 8 units and seqMaxIn inputs runs asm.LSTMSeqX instead:
// the projection inside the step loop, no GEMM call and no projection scratch (the same
// results bit for bit).
func newSeqLSTM(l *layers.LSTM, in layers.Shape, isa asm.ISA, maxBatch int, inK bool) (compiled, bool) {
	// a plain relu cell (activation="relu") has a kernel in LSTMSeqX only
	relu := l.Act == layers.ActReLU
	if !asm.LSTMSeqAsm(isa) || l.Act.Kind != layers.Tanh && !relu || l.Units > seqMaxUnits {
		return compiled{}, false
	}
	if relu && !(inK && l.In <= seqMaxIn && asm.LSTMSeqXAsm(isa, l.Units)) {
		return compiled{}, false
	}
	k := &fastLSTM{l: l, isa: isa, t: in[0], maxBatch: maxBatch, seq: true, fused: true}
	switch l.RecAct.Kind {
	case layers.Sigmoid:
	case layers.HardSigmoid:
		k.gate = asm.GateAct{Hard: true, A: l.RecAct.Alpha, B: l.RecAct.Beta}
	default:
		return compiled{}, false
	}
	k.gate.Relu = relu
	u := l.Units
	k.up = asm.LSTMSeqPad(u)
	n := 4 * k.up
	k.gisa = gemmISA(isa, n)
	w, b := padLSTMInput(l)
	k.seqU = make([]float32, u*n)
	asm.PackLSTMSeqU(k.seqU, l.U, u)
	if inK && l.In <= seqMaxIn && asm.LSTMSeqXAsm(isa, u) {
		k.inK, k.xw, k.xb = true, w, b
		if b == nil {
			k.xb = make([]float32, n)
		}
		name := "lstm whole-sequence " + l.RecAct.String() + "/" + l.Act.String() + " kernel/" + isa.String() + " (input projected in the step loop)"
		// scratch: c (up), h rows (t+1)*up
		return compiled{k: k, name: name, scratchLen: k.up + (k.t+1)*k.up}, true
	}
	k.packedW = make([]float32, asm.PackedLen(k.gisa, l.In, n))
	asm.PackB(k.gisa, k.packedW, l.In, n, w, b)
	name := "lstm gemm/" + k.gisa.String() + " + whole-sequence " + l.RecAct.String() + "/tanh kernel/" + isa.String()
	// scratch: padded projections (batch*t*4up), c (up), h rows (t+1)*up
	scratch := maxBatch*k.t*n + k.up + (k.t+1)*k.up
	return compiled{k: k, name: name, scratchLen: scratch}, true
}

// padLSTMInput returns an LSTM's input kernel (In rows of 4*up) and bias (nil without)
// in the padded gate layout of the whole-sequence kernels.
func padLSTMInput(l *layers.LSTM) (w, b []float32) {
	n := 4 * asm.LSTMSeqPad(l.Units)
	w = make([]float32, l.In*n)
	asm.PadLSTMGates(w, l.W, l.In, l.Units)
	if l.B != nil {
		b = make([]float32, n)
		asm.PadLSTMGates(b, l.B, 1, l.Units)
	}
	return w, b
}

// seqScratch splits runSeq's scratch: padded projections for the batch, c, hs rows.
func (k *fastLSTM) seqScratch(scratch []float32, batch int) (zx, c, hs []float32) {
	t, up := k.t, k.up
	n := 4 * up
	return scratch[:batch*t*n], scratch[batch*t*n : batch*t*n+up], scratch[batch*t*n+up : batch*t*n+up+(t+1)*up]
}

// seqProject computes x*W + b for every timestep of the batch into zx (padded layout).
func (k *fastLSTM) seqProject(zx, src []float32, batch int) {
	inf := float32(math.Inf(1))
	asm.Gemm(k.gisa, batch*k.t, 4*k.up, k.l.In, src, k.l.In, k.packedW, zx, 4*k.up, -inf, inf)
}

// seqInit sets c and hs row 0 to the initial states (zero without).
func (k *fastLSTM) seqInit(c, hs []float32) {
	up := k.up
	if k.l.C0 != nil {
		copy(c, k.l.C0)
		clear(c[len(k.l.C0):up])
	} else {
		clear(c[:up])
	}
	if k.l.H0 != nil {
		copy(hs, k.l.H0)
		clear(hs[len(k.l.H0):up])
	} else {
		clear(hs[:up])
	}
}

// seqOut writes one sample's output (last h, or every step's h in output order) from
// the hs rows LSTMSeq wrote.
func (k *fastLSTM) seqOut(y, hs []float32) {
	l, t, u, up := k.l, k.t, k.l.Units, k.up
	rows, first, step := 1, t, 0
	if l.ReturnSequences {
		rows, first, step = t, 1, 1
		if l.GoBackwards && l.KeepTimeOrder {
			first, step = t, -1
		}
	}
	// Output rows in increasing order (the hs rows backwards when the output keeps the
	// time order of a backwards pass), each moved 4 floats at a time while the move stays
	// inside y: a move past a row's end spills h's next values into the next output row,
	// which is written after it; the last row ends element by element. The rows are a
	// few floats each: a memmove call per row, or an element loop, cost more than the
	// moves.
	y = y[:rows*u]
	for o, s := 0, first; o < rows; o, s = o+1, s+step {
		r, h := y[o*u:], hs[s*up:(s+1)*up]
		j := 0
		for ; j < u && j+4 <= len(r); j += 4 {
			*(*[4]float32)(r[j : j+4]) = *(*[4]float32)(h[j : j+4])
		}
		for ; j < u; j++ {
			r[j] = h[j]
		}
	}
}

func (k *fastLSTM) outLen() int {
	if k.post != nil {
		return k.t * k.post.n
	}
	if k.l.ReturnSequences {
		return k.t * k.l.Units
	}
	return k.l.Units
}

// seqMaxIn bounds the input features asm.LSTMSeqX projects inside the step loop (in
// FMAs per gate vector per step, in the shadow of the gate chain).
const seqMaxIn = 32

func (k *fastLSTM) runSeq(dst, src, scratch []float32, batch int) {
	t, n := k.t, 4*k.up
	if k.inK {
		c, hs := scratch[:k.up], scratch[k.up:k.up+(t+1)*k.up]
		in, outLen := k.l.In, k.outLen()
		for b := 0; b < batch; b++ {
			k.seqInit(c, hs)
			asm.LSTMSeqX(k.isa, src[b*t*in:(b+1)*t*in], in, k.xw, k.xb, k.seqU, c, hs, t, k.l.Units, k.l.GoBackwards, k.gate)
			k.emit(dst[b*outLen:(b+1)*outLen], hs)
		}
		return
	}
	zx, c, hs := k.seqScratch(scratch, batch)
	k.seqProject(zx, src, batch)
	outLen := k.outLen()
	for b := 0; b < batch; b++ {
		k.seqInit(c, hs)
		asm.LSTMSeq(k.isa, zx[b*t*n:(b+1)*t*n], k.seqU, c, hs, t, k.l.Units, k.l.GoBackwards, k.gate)
		k.emit(dst[b*outLen:(b+1)*outLen], hs)
	}
}

func (k *fastLSTM) run(dst, src, scratch []float32, batch int) {
	if k.seq {
		k.runSeq(dst, src, scratch, batch)
		return
	}
	u4 := 4 * k.l.Units
	zx := scratch[:batch*k.t*u4]
	asm.Gemm(k.gisa, batch*k.t, u4, k.l.In, src, k.l.In, k.packedW, zx, u4, float32(math.Inf(-1)), float32(math.Inf(1)))
	k.initState(scratch, batch)
	for s := 0; s < k.t; s++ {
		k.stepPart(dst, scratch, batch, s, 0, 1)
	}
	k.finish(dst, scratch, batch)
}

// lstmBufs are one call's scratch areas: projections, step gates, h and c.
func (k *fastLSTM) lstmBufs(scratch []float32, batch int) (zx, z, h, c []float32) {
	t, u := k.t, k.l.Units
	u4 := 4 * u
	zx = scratch[:batch*t*u4]
	z = scratch[batch*t*u4 : batch*(t*u4+u4)]
	h = scratch[batch*(t*u4+u4) : batch*(t*u4+u4+u)]
	c = scratch[batch*(t*u4+u4+u) : batch*(t*u4+u4+2*u)]
	return
}

// initState sets h and c to their initial values.
func (k *fastLSTM) initState(scratch []float32, batch int) {
	l, u := k.l, k.l.Units
	_, _, h, c := k.lstmBufs(scratch, batch)
	for b := 0; b < batch; b++ {
		if l.H0 != nil {
			copy(h[b*u:], l.H0)
		} else {
			clear(h[b*u : (b+1)*u])
		}
		if l.C0 != nil {
			copy(c[b*u:], l.C0)
		} else {
			clear(c[b*u : (b+1)*u])
		}
	}
}

// hBuf is where step s writes h when the layer does not return sequences: h itself,
// or with the unit-part layout alternately h and a second buffer after c, since a
// split step's parts read every unit of the previous h while others write theirs.
func (k *fastLSTM) hBuf(scratch []float32, batch, s int) []float32 {
	_, _, h, _ := k.lstmBufs(scratch, batch)
	if k.bounds == nil || s%2 == 0 {
		return h
	}
	u, u4 := k.l.Units, 4*k.l.Units
	return scratch[batch*(k.t*u4+u4+2*u) : batch*(k.t*u4+u4+3*u)]
}

// finish copies the last h to the output when the layer returns only that.
func (k *fastLSTM) finish(dst, scratch []float32, batch int) {
	if !k.l.ReturnSequences {
		copy(dst[:batch*k.l.Units], k.hBuf(scratch, batch, k.t))
	}
}

// stepPart runs part i of parts of timestep s: the h*U GEMM for the part's gate
// columns, then the gates and the c/h update of its units (parts > 1 only with the
// unit-blocked layout of forTeam, where each part's 4 gates are contiguous columns).
// Step s reads the h rows of step s-1 (from h, or from the output rows with
// return_sequences).
func (k *fastLSTM) stepPart(dst, scratch []float32, batch, s, i, parts int) {
	l, t, u := k.l, k.t, k.l.Units
	u4 := 4 * u
	inf := float32(math.Inf(1))
	zx, z, h, c := k.lstmBufs(scratch, batch)
	outLen := u
	if l.ReturnSequences {
		outLen = t * u
	}
	time := func(s int) int {
		if l.GoBackwards {
			return t - 1 - s
		}
		return s
	}
	// hrows returns where step s writes its h rows and their stride (step -1: the
	// initial h)
	hrows := func(s int) ([]float32, int) {
		if !l.ReturnSequences {
			return k.hBuf(scratch, batch, s+1), u
		}
		o := s
		if l.KeepTimeOrder {
			o = time(s)
		}
		return dst[o*u:], outLen
	}
	ti := time(s)
	prev, pstride := h, u
	if s > 0 {
		prev, pstride = hrows(s - 1)
	}
	hout, hstride := hrows(s)
	// units [j0, j1) of this part; the parts' bounds are unit boundaries
	j0, j1 := 0, u
	if parts > 1 {
		j0, j1 = k.bounds[i], k.bounds[i+1]
	}
	c0, c1 := 4*j0, 4*j1
	if s == 0 && l.H0 == nil {
		for b := 0; b < batch; b++ {
			clear(z[b*u4+c0 : b*u4+c1]) // h = 0: h*U = 0
		}
	} else {
		asm.Gemm(k.gisa, batch, c1-c0, u, prev, pstride, k.packedU[c0*(u+1):], z[c0:], u4, -inf, inf)
	}
	pb := k.bounds
	if pb == nil {
		pb = []int{0, u}
	}
	for b := 0; b < batch; b++ {
		for p := 0; p+1 < len(pb); p++ {
			a0, a1 := pb[p], pb[p+1]
			if a0 < j0 || a1 > j1 {
				continue
			}
			n := a1 - a0
			zb := z[b*u4+4*a0 : b*u4+4*a1]
			xb := zx[(b*t+ti)*u4+4*a0 : (b*t+ti)*u4+4*a1]
			cb := c[b*u+a0 : b*u+a1]
			hb := hout[b*hstride+a0 : b*hstride+a1]
			if k.fused {
				asm.LSTMStep(k.isa, zb, xb, cb, hb, n, k.gate)
			} else {
				k.gatesGo(zb, xb, cb, hb)
			}
		}
	}
}

// lstmPartUnits is the unit block of a split LSTM step: each part's GEMM is 4x as
// many columns (a multiple of every packed block width) and its gate pass a whole
// number of vectors.
const lstmPartUnits = 32

// forTeam lays a wide LSTM out for splitting each step by units: the gate columns are
// reordered part by part ([i f g o] of units [j0, j1), then the next part's), in the
// input kernel and bias as in U, so a part's GEMM columns and gate inputs are
// contiguous and one task per part does its GEMM and its gates with no barrier
// between them. Every element's value is the one the natural layout gives (a GEMM
// column's sum does not depend on its position; the gate pass is per element).
func (k *fastLSTM) forTeam(workers, maxBatch, sc int) (parKernel, int) {
	u := k.l.Units
	if k.seq {
		return k, k.seqForTeam(workers, sc)
	}
	if u < 2*lstmPartUnits {
		return k, sc
	}
	sc += maxBatch * u // the second h buffer (hBuf)
	pu := lstmPartWidth(u, workers)
	var bounds []int
	for j := 0; j < u; j += pu {
		bounds = append(bounds, j)
	}
	if u-bounds[len(bounds)-1] < 8 && len(bounds) > 1 {
		bounds = bounds[:len(bounds)-1] // a last part of a few units joins the one before
	}
	bounds = append(bounds, u)
	perm := make([]int, 0, 4*u) // new column -> natural column
	for p := 0; p+1 < len(bounds); p++ {
		for g := 0; g < 4; g++ {
			for j := bounds[p]; j < bounds[p+1]; j++ {
				perm = append(perm, g*u+j)
			}
		}
	}
	permCols := func(w []float32, rows int) []float32 {
		o := make([]float32, rows*4*u)
		for r := 0; r < rows; r++ {
			for j, src := range perm {
				o[r*4*u+j] = w[r*4*u+src]
			}
		}
		return o
	}
	l := k.l
	q := *k
	q.bounds = bounds
	q.packedW = make([]float32, len(k.packedW))
	q.packedU = make([]float32, len(k.packedU))
	var b []float32
	if l.B != nil {
		b = permCols(l.B, 1)
	}
	asm.PackB(k.gisa, q.packedW, l.In, 4*u, permCols(l.W, l.In), b)
	asm.PackB(k.gisa, q.packedU, u, 4*u, permCols(l.U, u), nil)
	return &q, sc
}

// runPar runs the input projection split like any GEMM, then each timestep as one
// region of one task per unit part (the region's end is the step's barrier: the next
// step's GEMM reads every unit's h).
func (k *fastLSTM) runPar(t *team, dst, src, scratch []float32, batch int) {
	if k.seq {
		k.runSeqPar(t, dst, src, scratch, batch)
		return
	}
	u := k.l.Units
	rows := batch * k.t
	parts := len(k.bounds) - 1
	split := parts > 1 && lstmStepSplit && 2*batch*u*4*u >= parMinFLOPs/2
	if split {
		// the projections by the steps' unit parts: each worker's on its own core
		t.runTasks(k, parts, dst, src, scratch, batch, parts, -3)
	} else if n := gemmTasks(t.workers(), rows, 4*u, k.l.In); n > 1 {
		t.runTasks(k, n, dst, src, scratch, batch, n, -1)
	} else {
		zx, _, _, _ := k.lstmBufs(scratch, batch)
		asm.Gemm(k.gisa, rows, 4*u, k.l.In, src, k.l.In, k.packedW, zx, 4*u, float32(math.Inf(-1)), float32(math.Inf(1)))
	}
	k.initState(scratch, batch)
	for s := 0; s < k.t; s++ {
		if split {
			t.runTasks(k, parts, dst, src, scratch, batch, s, parts)
		} else {
			k.stepPart(dst, scratch, batch, s, 0, 1)
		}
	}
	k.finish(dst, scratch, batch)
}

// parTask: r.b == -2 is samples part i of r.a of a whole-sequence call (seqTask),
// r.b == -3 the projection GEMM's columns of unit part i, r.b == -1 part i of r.a of
// the projection GEMM, else part i of r.b of timestep r.a.
func (k *fastLSTM) parTask(r *region, i, w int) {
	if r.b == -2 {
		k.seqTask(r.dst, r.src, r.scratch, r.batch, i, r.a, w)
		return
	}
	if r.b == -3 {
		u4, in := 4*k.l.Units, k.l.In
		c0, c1 := 4*k.bounds[i], 4*k.bounds[i+1]
		zx, _, _, _ := k.lstmBufs(r.scratch, r.batch)
		asm.Gemm(k.gisa, r.batch*k.t, c1-c0, in, r.src, in, k.packedW[c0*(in+1):], zx[c0:], u4, float32(math.Inf(-1)), float32(math.Inf(1)))
		return
	}
	if r.b < 0 {
		u4 := 4 * k.l.Units
		zx, _, _, _ := k.lstmBufs(r.scratch, r.batch)
		gemmSplit(k.gisa, r.batch*k.t, u4, k.l.In, r.src, k.l.In, k.packedW, zx, u4, float32(math.Inf(-1)), float32(math.Inf(1)), i, r.a)
		return
	}
	k.stepPart(r.dst, r.scratch, r.batch, r.a, i, r.b)
}

// gatesGo is one step for any per-element activation pair: z += zx, the activations
// (vector kernels where asm has them), then the c/h update; z is left undefined.
func (k *fastLSTM) gatesGo(z, zx, c, h []float32) {
	u := len(c)
	z = z[:4*u]
	zx = zx[:len(z)]
	for j := range z {
		z[j] += zx[j]
	}
	applyActivation(k.isa, k.l.RecAct, z[:2*u], u)
	applyActivation(k.isa, k.l.Act, z[2*u:3*u], u)
	applyActivation(k.isa, k.l.RecAct, z[3*u:], u)
	zi, zf, zg, zo := z[:u], z[u:2*u], z[2*u:3*u], z[3*u:]
	h = h[:u]
	for j := range c {
		cj := zf[j]*c[j] + zi[j]*zg[j]
		c[j] = cj
		zg[j] = cj
	}
	applyActivation(k.isa, k.l.Act, zg, u)
	for j := range h {
		h[j] = zo[j] * zg[j]
	}
}

// fastBidirectional runs both directions with their fast LSTM kernels over the whole
// batch (each into its own scratch block), then merges per sample as the reference does.
type fastBidirectional struct {
	l        *layers.Bidirectional
	fwd, bwd compiled
	n        int // per-sample output length of one direction
	// pair: both directions are LSTMSeq kernels with the same gate; one GEMM projects
	// both (packed2: the two padded input kernels side by side, rows of 8*up), one
	// asm.LSTMSeqMulti call per sample steps them together reading their halves of the
	// rows, and the merge reads their h rows (see runPair).
	pair    bool
	sf, sb  *fastLSTM
	gisa2   asm.ISA
	packed2 []float32
	// xpair: asm.LSTMSeqXPair runs the pair with the projections in its step loop (no
	// GEMM, no zx): the padded input kernels and biases of the two directions
	xpair          bool
	wf, bf, wb, bb []float32
	// sampled: both directions are GRU/SimpleRNN seqSamplers (see runSampled) with
	// their recurrences rf, rb, stepped together by stack; t the steps
	sampled bool
	xf, xb  seqSampler
	rf, rb  layers.Recurrence
	stack   *asm.RecStack
	stack2  *asm.RecStack // two samples (batch >= 2)
	t       int
}

func newFastBidirectional(l *layers.Bidirectional, in layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool) {
	lf, okf := l.Fwd.(*layers.LSTM)
	lb, okb := l.Bwd.(*layers.LSTM)
	if !okf || !okb {
		return newFastBiRecurrent(l, in, isa, maxBatch)
	}
	fwd, ok := newFastLSTMOpt(lf, in, isa, maxBatch, false)
	if !ok {
		return compiled{}, false
	}
	bwd, ok := newFastLSTMOpt(lb, in, isa, maxBatch, false)
	if !ok {
		return compiled{}, false
	}
	n := lf.Units
	if lf.ReturnSequences {
		n *= in[0]
	}
	k := &fastBidirectional{l: l, fwd: fwd, bwd: bwd, n: n}
	scratch := 2*maxBatch*n + max(fwd.scratchLen, bwd.scratchLen)
	name := "bidirectional " + l.Merge + " {" + fwd.name + "}"
	sf, okf := fwd.k.(*fastLSTM)
	sb, okb := bwd.k.(*fastLSTM)
	if okf && okb && sf.seq && sb.seq && sf.gate == sb.gate && sf.up == sb.up && sf.t == sb.t {
		k.pair, k.sf, k.sb = true, sf, sb
		// the joint projection: row r is [forward row r | backward row r]
		n4 := 4 * sf.up
		wf, bf := padLSTMInput(lf)
		wb, bb := padLSTMInput(lb)
		if isa == asm.AVX512 && asm.LSTMSeqXAsm(isa, lf.Units) && lf.In <= seqMaxIn && !sf.gate.Relu &&
			!lf.GoBackwards && lb.GoBackwards {
			k.xpair, k.wf, k.bf, k.wb, k.bb = true, wf, bf, wb, bb
			if bf == nil {
				k.bf = make([]float32, n4)
			}
			if bb == nil {
				k.bb = make([]float32, n4)
			}
			sf.packedW, sb.packedW = nil, nil
			name = "bidirectional " + l.Merge + " {lstm whole-sequence " + lf.RecAct.String() + "/tanh kernel/" + isa.String() + "} directions stepped together, inputs projected in the step loop"
			return compiled{k: k, name: name, scratchLen: 2 * (sf.up + (sf.t+1)*sf.up)}, true
		}
		w2, b2 := make([]float32, lf.In*2*n4), make([]float32, 2*n4)
		for r := 0; r < lf.In; r++ {
			copy(w2[r*2*n4:], wf[r*n4:(r+1)*n4])
			copy(w2[r*2*n4+n4:], wb[r*n4:(r+1)*n4])
		}
		copy(b2, bf) // a nil bias copies nothing: zeros
		copy(b2[n4:], bb)
		k.gisa2 = gemmISA(isa, 2*n4)
		k.packed2 = make([]float32, asm.PackedLen(k.gisa2, lf.In, 2*n4))
		asm.PackB(k.gisa2, k.packed2, lf.In, 2*n4, w2, b2)
		sf.packedW, sb.packedW = nil, nil // runPair projects with packed2 only
		scratch = fwd.scratchLen + bwd.scratchLen
		name += " directions stepped together"
	}
	return compiled{k: k, name: name, scratchLen: scratch}, true
}

// runPair runs both directions' projections, then per sample one asm.LSTMSeqMulti call
// for the two recurrences (independent chains whose latencies overlap) and the merge
// straight from their h rows: time step o is the forward row o+1 and the backward row
// t-o (the last rows without sequences).
func (k *fastBidirectional) runPair(dst, src, scratch []float32, batch int) {
	sf, sb := k.sf, k.sb
	t, n, u, up := sf.t, 4*sf.up, sf.l.Units, sf.up
	// scratch: the joint projections (batch*t rows of 2n, the room of both directions'
	// zx; none with xpair), then each direction's c and hs
	var z []float32
	if !k.xpair {
		z = scratch[:2*batch*t*n]
		inf := float32(math.Inf(1))
		asm.Gemm(k.gisa2, batch*t, 2*n, sf.l.In, src, sf.l.In, k.packed2, z, 2*n, -inf, inf)
	}
	rest := scratch[len(z):]
	cf, hf := rest[:up], rest[up:up+(t+1)*up]
	cb, hb := rest[up+(t+1)*up:2*up+(t+1)*up], rest[2*up+(t+1)*up:2*up+2*(t+1)*up]
	in := sf.l.In
	seq := k.sf.l.ReturnSequences
	rows, w := 1, u
	if seq {
		rows = t
	}
	if k.l.Merge == "concat" {
		w = 2 * u
	}
	var chains [2]asm.LSTMChain
	for b := 0; b < batch; b++ {
		sf.seqInit(cf, hf)
		sb.seqInit(cb, hb)
		if k.xpair {
			asm.LSTMSeqXPair(sf.isa, src[b*t*in:(b+1)*t*in], in,
				asm.LSTMXDir{W: k.wf, B: k.bf, UW: sf.seqU, C: cf, HS: hf},
				asm.LSTMXDir{W: k.wb, B: k.bb, UW: sb.seqU, C: cb, HS: hb}, t, u, sf.gate)
		} else {
			zs := z[b*t*2*n : (b+1)*t*2*n]
			chains[0] = asm.LSTMChain{ZX: zs, ZXRow: 2 * n, UW: sf.seqU, C: cf, HS: hf, Backwards: sf.l.GoBackwards}
			chains[1] = asm.LSTMChain{ZX: zs[n:], ZXRow: 2 * n, UW: sb.seqU, C: cb, HS: hb, Backwards: sb.l.GoBackwards}
			asm.LSTMSeqMulti(sf.isa, chains[:], t, u, sf.gate)
		}
		y := dst[b*rows*w : (b+1)*rows*w]
		for o := 0; o < rows; o++ {
			fo, bo := (o+1)*up, (t-o)*up
			if !seq {
				fo, bo = t*up, t*up
			}
			f, g, r := hf[fo:fo+u], hb[bo:bo+u], y[o*w:(o+1)*w]
			switch k.l.Merge {
			case "concat":
				// element loops: rows of a few floats, where a memmove call per row
				// costs more than the moves
				for j, v := range f {
					r[j] = v
				}
				for j, v := range g {
					r[u+j] = v
				}
			case "sum":
				for j := range r {
					r[j] = f[j] + g[j]
				}
			case "mul":
				for j := range r {
					r[j] = f[j] * g[j]
				}
			default:
				for j := range r {
					r[j] = (f[j] + g[j]) / 2
				}
			}
		}
	}
}

func (k *fastBidirectional) run(dst, src, scratch []float32, batch int) {
	if k.sampled {
		k.runSampled(dst, src, scratch, batch)
		return
	}
	if k.pair {
		k.runPair(dst, src, scratch, batch)
		return
	}
	n, u := k.n, k.l.Fwd.Recurrence().Units
	fy, by, ls := scratch[:batch*n], scratch[batch*n:2*batch*n], scratch[2*batch*n:]
	k.fwd.k.run(fy, src, ls, batch)
	k.bwd.k.run(by, src, ls, batch)
	mergeDirections(dst, fy, by, k.l.Merge, batch*n, u)
}
