package runtime

import (
	"fmt"
	"math"
	"sync"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// Stream runs a recurrent model a timestep or a chunk of timesteps at a time, keeping
// every recurrent layer's state (h and c of an LSTM) between calls: the step API for
// online use and the runtime form of Keras stateful=True. Recurrent layers step with
// the Model's GEMM-path kernels (asm GEMV for x*W and h*U, the fused gate pass); on the
// generic path with the reference LSTM.Step, so there a sequence fed in any chunking
// gives the bits of Graph.Reference over the whole sequence (the reference LSTM is a
// loop of the same Step). On every path it agrees with the compiled whole-sequence run
// within the kernels' bound.
//
// A Stream serves one sequence (batch 1) and is not safe for concurrent use; open one
// per sequence. Any number of Streams may run on one Model at once, from any
// goroutines. Step allocates nothing.
//
// Streaming needs a model whose layers act on each timestep alone (Embedding, masks,
// Dense, activations, dropout) up to its recurrent layers, which must run forward in
// time (no go_backwards, no Bidirectional); after a recurrent layer that returns no
// sequence, any layers may follow (they run on its latest output once per call).
type Stream struct {
	p       *streamPlan
	vals    [][]float32 // per value
	state   []float32
	stepped []bool // per node: a recurrent node has taken a step since Reset
	scratch []float32
	srcs    [][]float32
}

type streamNode struct {
	l       layers.Layer
	ins     []layers.Value
	out     layers.Value
	rec     layers.Stepper // recurrent node (nil: runs a kernel)
	rc      layers.Recurrence
	fast    *fastLSTM // an LSTM rec's GEMM-path step on the Model's ISA (nil: rec.Step)
	rk      recChunk  // a GRU or SimpleRNN rec's compiled chunk kernel (nil: rec.Step)
	seq     *fastLSTM // a small LSTM's whole-sequence kernel for unmasked chunks (or nil)
	c       compiled  // other nodes: the kernel (per step rows for per-step layers)
	view    bool      // c moves no data (a view): the stream copies instead
	masked  bool      // rec reads a mask as its second input
	stateAt int       // rec: offset of its state
	timeIn  []bool    // per input: a per-step value (its axis 0 is the chunk)
}

type streamPlan struct {
	nodes    []streamNode
	timeVal  []bool // per value: axis 0 is time
	per      []int  // per value: floats per step (time values) or in all
	maxChunk int
	stateLen int
	scratch  int
	arity    int
	vocab    int
	out      layers.Value
}

// perStep lists the layers a stream runs on a chunk of steps as they are.
func perStep(l layers.Layer) bool {
	switch l.(type) {
	case *layers.Embedding, *layers.MaskIDs, *layers.MaskValue, *layers.Masking, *layers.Dense,
		*layers.ActivationLayer, *layers.Identity, *layers.Affine:
		return true
	}
	return false
}

// bidirectional reports whether l is a Bidirectional layer, masked or not.
func bidirectional(l layers.Layer) bool {
	if m, ok := l.(*layers.Masked); ok {
		l = m.Layer
	}
	_, ok := l.(*layers.Bidirectional)
	return ok
}

// streamable returns the recurrent layer a stream steps, or nil.
func streamable(l layers.Layer) (layers.Stepper, bool) {
	masked := false
	if m, ok := l.(*layers.Masked); ok {
		l, masked = m.Layer, true
	}
	r, ok := l.(layers.Stepper)
	if !ok {
		return nil, false
	}
	return r, masked
}

func newStreamPlan(g *layers.Graph, maxChunk int) (*streamPlan, error) {
	if g.NumInputs() != 1 || len(g.OutputValues()) != 1 {
		return nil, fmt.Errorf("runtime: %w: streaming needs one input and one output", layers.ErrUnsupported)
	}
	in := g.Inputs()[0]
	if len(in.Shape) < 2 && !(len(in.Shape) == 1 && in.DType == layers.Int32) {
		return nil, fmt.Errorf("runtime: %w: streaming needs a sequence input (timesteps, features) or token ids (timesteps), not %v", layers.ErrUnsupported, in.Shape)
	}
	if maxChunk < 1 || maxChunk > 1<<20 {
		return nil, fmt.Errorf("runtime: %w: stream chunk of %d steps (want 1..%d)", layers.ErrInvalid, maxChunk, 1<<20)
	}
	nv := g.NumInputs() + g.Len()
	p := &streamPlan{timeVal: make([]bool, nv), per: make([]int, nv), maxChunk: maxChunk, vocab: g.Vocabulary(0), out: g.OutputValues()[0]}
	p.timeVal[0] = true
	p.per[0] = in.Shape.Size() / in.Shape[0]
	for i := range g.Len() {
		l := g.Layer(i)
		n := streamNode{l: l, ins: g.NodeInputs(i), out: g.NodeValue(i)}
		anyTime := false
		for _, v := range n.ins {
			n.timeIn = append(n.timeIn, p.timeVal[v])
			anyTime = anyTime || p.timeVal[v]
		}
		out := g.OutShape(i)
		name := l.LayerInfo()
		rec, masked := streamable(l)
		switch {
		case !anyTime:
			p.per[n.out] = out.Size()
		case bidirectional(l):
			return nil, fmt.Errorf("runtime: %w: layer %q (%s) is bidirectional: its backward direction reads the sequence from the end, so it cannot be streamed (run whole sequences with RunInto)", layers.ErrUnsupported, name.Name, name.Class)
		case rec != nil:
			rc := rec.Recurrence()
			if rc.GoBackwards {
				return nil, fmt.Errorf("runtime: %w: layer %q (%s) runs backwards in time and cannot be streamed", layers.ErrUnsupported, name.Name, name.Class)
			}
			n.rec, n.rc, n.masked, n.stateAt = rec, rc, masked, p.stateLen
			p.stateLen += rec.StateLen()
			p.scratch = max(p.scratch, rec.StepScratch(), 8*rc.Units)
			p.timeVal[n.out] = rc.ReturnSequences
			p.per[n.out] = rc.Units
		case perStep(l) && len(n.ins) == 1:
			p.timeVal[n.out] = true
			p.per[n.out] = out.Size() / out[0]
			p.scratch = max(p.scratch, l.ScratchLen(chunkShape(g.InShape(i), maxChunk), 1))
		default:
			return nil, fmt.Errorf("runtime: %w: layer %q (%s) mixes timesteps and cannot be streamed", layers.ErrUnsupported, name.Name, name.Class)
		}
		if !anyTime {
			if m, ok := l.(layers.MultiInput); ok && len(n.ins) > 1 {
				p.scratch = max(p.scratch, m.ScratchLenN(g.InShapes(i), 1))
			} else {
				p.scratch = max(p.scratch, l.ScratchLen(g.InShape(i), 1))
			}
		}
		p.arity = max(p.arity, len(n.ins))
		p.nodes = append(p.nodes, n)
	}
	return p, nil
}

// chunkShape is s with its time axis set to steps.
func chunkShape(s layers.Shape, steps int) layers.Shape {
	c := s.Clone()
	c[0] = steps
	return c
}

// NewStream opens a stream that takes up to maxChunk timesteps per Step, its state
// initial (zero unless the model sets initial states).
func (m *Model) NewStream(maxChunk int) (*Stream, error) {
	p, err := newStreamPlan(m.g, maxChunk)
	if err != nil {
		return nil, err
	}
	for i := range p.nodes {
		n := &p.nodes[i]
		if n.rec != nil {
			if l, ok := n.rec.(*layers.LSTM); ok {
				n.fast = m.streamKernel(l)
				if n.seq = m.streamSeqKernel(l); n.seq != nil {
					up := n.seq.up
					p.scratch = max(p.scratch, maxChunk*4*up+up+(maxChunk+1)*up)
				}
			} else if n.rk = m.streamRecKernel(n.rec); n.rk != nil {
				p.scratch = max(p.scratch, n.rk.scratchFor(maxChunk))
			}
			continue
		}
		n.c = m.streamStep(i, maxChunk, len(n.timeIn) == 1 && n.timeIn[0])
		_, n.view = n.c.k.(nopKernel)
		p.scratch = max(p.scratch, n.c.scratchLen)
	}
	s := &Stream{p: p, vals: make([][]float32, len(p.per)), state: make([]float32, p.stateLen),
		stepped: make([]bool, len(p.nodes)), srcs: make([][]float32, p.arity)}
	for v := 1; v < len(p.per); v++ {
		n := p.per[v]
		if p.timeVal[v] {
			n *= maxChunk
		}
		s.vals[v] = make([]float32, n)
	}
	s.scratch = make([]float32, p.scratch)
	s.Reset()
	return s, nil
}

// Reset returns every recurrent layer to its initial state.
func (s *Stream) Reset() {
	for i, n := range s.p.nodes {
		if n.rec != nil {
			n.rec.InitState(s.state[n.stateAt : n.stateAt+n.rec.StateLen()])
		}
		s.stepped[i] = false
	}
}

// OutputLen is the number of floats Step writes for a chunk of steps: steps rows of
// the output when the model returns a sequence, else one output.
func (s *Stream) OutputLen(steps int) int {
	if s.p.timeVal[s.p.out] {
		return steps * s.p.per[s.p.out]
	}
	return s.p.per[s.p.out]
}

// Step feeds steps timesteps (x holds steps rows of the input's per-step features, or
// token ids as int32 bit patterns for an id model; see StepIDs) and writes OutputLen(steps)
// values to dst: the outputs of those steps, or the model's output after the last of
// them.
func (s *Stream) Step(dst, x []float32, steps int) error {
	p := s.p
	if steps < 1 || steps > p.maxChunk {
		return fmt.Errorf("runtime: %w: chunk of %d steps, stream takes 1..%d", layers.ErrTooLong, steps, p.maxChunk)
	}
	if len(x) != steps*p.per[0] {
		return fmt.Errorf("runtime: %w: chunk has %d values, want %d steps x %d", layers.ErrShapeMismatch, len(x), steps, p.per[0])
	}
	if ol := s.OutputLen(steps); len(dst) < ol {
		return fmt.Errorf("runtime: %w: output buffer has %d values, want %d", layers.ErrShapeMismatch, len(dst), ol)
	}
	if err := layers.CheckIDBits(x, p.per[0], p.vocab); err != nil {
		return fmt.Errorf("runtime: stream: %w", err)
	}
	s.vals[0] = x
	for i := range p.nodes {
		s.runNode(i, steps)
	}
	s.vals[0] = nil
	copy(dst[:s.OutputLen(steps)], s.vals[p.out])
	return nil
}

// StepIDs is Step for a model whose input is token ids.
func (s *Stream) StepIDs(dst []float32, ids []int32, steps int) error {
	return s.Step(dst, IDsAsFloat32(ids), steps)
}

func (s *Stream) runNode(i, steps int) {
	p := s.p
	n := &p.nodes[i]
	out := s.vals[n.out]
	if p.timeVal[n.out] {
		out = out[:steps*p.per[n.out]]
	}
	if n.rec != nil {
		s.stepRec(i, n, steps, out)
		return
	}
	rows := 1 // a per-step layer runs its kernel on the chunk's steps as a batch of rows
	if n.timeIn[0] {
		rows = steps
	}
	sc := s.scratch[:n.c.scratchLen]
	if n.c.kn != nil {
		srcs := s.srcs[:len(n.ins)]
		for k, v := range n.ins {
			srcs[k] = s.vals[v][:rows*p.per[v]]
		}
		n.c.kn.runN(out, srcs, sc, rows)
		return
	}
	src := s.vals[n.ins[0]][:rows*p.per[n.ins[0]]]
	if n.view {
		copy(out, src)
		return
	}
	n.c.k.run(out, src, sc, rows)
}

// stepRec steps a recurrent node through the chunk, with the masking rules of
// layers.LSTM.ForwardMasked (which every Recurrent layer follows).
func (s *Stream) stepRec(i int, n *streamNode, steps int, out []float32) {
	r, rc := n.rec, n.rc
	u, f := rc.Units, rc.In
	st := s.state[n.stateAt : n.stateAt+r.StateLen()]
	x := s.vals[n.ins[0]]
	var mask []float32
	if n.masked {
		mask = s.vals[n.ins[1]]
	}
	if n.rk != nil {
		var mk []float32
		if mask != nil {
			mk = mask[:steps]
		}
		n.rk.chunk(st, x[:steps*f], mk, out, s.scratch, steps, s.stepped[i])
		s.stepped[i] = s.stepped[i] || anyKept(mask, steps)
		return
	}
	if n.seq != nil && steps > 1 && allKept(mask, steps) {
		s.seqChunk(n.seq, st, x[:steps*f], out, steps)
		s.stepped[i] = true
		return
	}
	for t := range steps {
		keep := mask == nil || mask[t] != 0
		if keep {
			if n.fast != nil {
				n.fast.step(st, x[t*f:(t+1)*f], s.scratch)
			} else {
				r.Step(st, x[t*f:(t+1)*f], s.scratch)
			}
			s.stepped[i] = true
		}
		if !rc.ReturnSequences && t < steps-1 {
			continue
		}
		y := out[:u]
		if rc.ReturnSequences {
			y = out[t*u : (t+1)*u]
		}
		if !keep && (rc.ZeroMaskedOutput || !s.stepped[i]) {
			clear(y)
		} else {
			copy(y, st[:u])
		}
	}
}

// streamStep compiles node i for streams with chunks of up to maxChunk steps: a
// per-step layer as a batch of single-step rows (its input (1, ...) per row), any other
// node on its graph shapes at batch 1. Compiled once per Model and chunk size; the
// kernels are immutable, so streams share them.
func (m *Model) streamStep(i, maxChunk int, perRow bool) compiled {
	key := [2]int{i, maxChunk}
	if !perRow {
		key[1] = 0
	}
	m.streamMu.Lock()
	defer m.streamMu.Unlock()
	if c, ok := m.streamCs[key]; ok {
		return c
	}
	if m.streamCs == nil {
		m.streamCs = map[[2]int]compiled{}
	}
	g := m.g
	ins, out, mb := g.InShapes(i), g.OutShape(i), 1
	if perRow {
		ins[0], out, mb = chunkShape(ins[0], 1), chunkShape(out, 1), maxChunk
	}
	c := selectKernel(g.Layer(i), ins, out, m.isa, mb)
	if len(m.streamCs) < maxStreamKernels { // streams of many chunk sizes: compile, uncached
		m.streamCs[key] = c
	}
	return c
}

// maxStreamKernels bounds the compiled stream steps a Model keeps.
const maxStreamKernels = 256

// streamKernel returns the GEMM-path step of a recurrent layer for streams on the
// Model's ISA, packed once per Model and shared by its streams, or nil on the generic
// path (streams then run the reference Step) or for activations it does not take.
func (m *Model) streamKernel(l *layers.LSTM) *fastLSTM {
	if m.isa == asm.Generic || !l.Act.PerElement() || !l.RecAct.PerElement() {
		return nil
	}
	m.streamMu.Lock()
	defer m.streamMu.Unlock()
	if k, ok := m.streamKs[l]; ok {
		return k
	}
	if m.streamKs == nil {
		m.streamKs = map[*layers.LSTM]*fastLSTM{}
	}
	k := newGemmLSTM(l, 1, m.isa, 1)
	m.streamKs[l] = k
	return k
}

// allKept reports whether no step of a chunk is masked.
func allKept(mask []float32, steps int) bool {
	if mask == nil {
		return true
	}
	for _, v := range mask[:steps] {
		if v == 0 {
			return false
		}
	}
	return true
}

// seqChunk runs an unmasked chunk of a small LSTM through the whole-sequence kernel,
// starting from and updating the stream's state (h then c).
func (s *Stream) seqChunk(k *fastLSTM, state, x, out []float32, steps int) {
	l, u, up := k.l, k.l.Units, k.up
	n := 4 * up
	sc := s.scratch
	zx, c, hs := sc[:steps*n], sc[steps*n:steps*n+up], sc[steps*n+up:steps*n+up+(steps+1)*up]
	inf := float32(math.Inf(1))
	asm.Gemm(k.gisa, steps, n, l.In, x, l.In, k.packedW, zx, n, -inf, inf)
	copy(hs[:u], state[:u])
	clear(hs[u:up])
	copy(c[:u], state[u:2*u])
	clear(c[u:up])
	asm.LSTMSeq(k.isa, zx, k.seqU, c, hs, steps, u, false, k.gate)
	copy(state[:u], hs[steps*up:steps*up+u])
	copy(state[u:2*u], c[:u])
	if !l.ReturnSequences {
		copy(out[:u], state[:u])
		return
	}
	for t := range steps {
		copy(out[t*u:(t+1)*u], hs[(t+1)*up:(t+1)*up+u])
	}
}

// streamSeqKernel returns the whole-sequence kernel of a small LSTM for streams (nil
// when the layer has no such kernel on the Model's ISA), packed once per Model.
func (m *Model) streamSeqKernel(l *layers.LSTM) *fastLSTM {
	if m.isa == asm.Generic || l.GoBackwards {
		return nil
	}
	m.streamMu.Lock()
	defer m.streamMu.Unlock()
	if k, ok := m.streamSeqKs[l]; ok {
		return k
	}
	if m.streamSeqKs == nil {
		m.streamSeqKs = map[*layers.LSTM]*fastLSTM{}
	}
	var k *fastLSTM
	if c, ok := newSeqLSTM(l, layers.Shape{1, l.In}, m.isa, 1, false); ok {
		k = c.k.(*fastLSTM)
	}
	m.streamSeqKs[l] = k
	return k
}

// seqPool keeps streams for RunSeqInto, one per concurrent caller.
type seqPool struct {
	mu   sync.Mutex
	free []*Stream
}

// RunSeqInto runs batch sequences of length steps each (src holds batch*length rows of
// the input's per-step features) and writes each sample's OutputLen(length) values to
// dst: the model's sequence output of length rows, or its final output. This is how a
// model declared with a None time axis runs at any length up to Options.MaxSeqLen
// (default: the time axis the graph was imported with); a longer call is an error
// wrapping layers.ErrTooLong. The graph's own length runs the compiled whole-sequence
// kernels (RunInto); shorter ones run on the step path (see Stream), or, for a model
// the step path refuses (Bidirectional), on a length-masked copy of the graph at its
// full length (seq_lens.go; up to the graph's length). It allocates nothing once a
// stream or buffer is pooled for the caller.
func (m *Model) RunSeqInto(dst, src []float32, batch, length int) error {
	if batch < 1 {
		return fmt.Errorf("runtime: batch %d < 1", batch)
	}
	if length < 1 || length > m.maxSeq {
		return fmt.Errorf("runtime: %w: sequence of %d steps, the model was compiled for 1..%d (Options.MaxSeqLen)", layers.ErrTooLong, length, m.maxSeq)
	}
	if m.seqOK && length == m.seqFull {
		// the imported length: the compiled whole-sequence kernels
		return m.RunInto(dst, src, batch)
	}
	if !m.seqOK { // no step path (Bidirectional, go_backwards): the length-masked copy
		if _, err := m.lenModel(); err != nil {
			return err
		}
		if t := m.lens.steps; length == t {
			return m.RunInto(dst, src, batch)
		} else if length > t {
			return fmt.Errorf("runtime: %w: sequence of %d steps; this model runs up to its graph's %d (it has no step path)", layers.ErrTooLong, length, t)
		}
		return m.runLengthMasked(dst, src, batch, length)
	}
	s, err := m.getSeq()
	if err != nil {
		return err
	}
	defer m.putSeq(s)
	in, out := length*s.p.per[0], s.OutputLen(length)
	if len(src) != batch*in {
		return fmt.Errorf("runtime: %w: input has %d values, want batch %d x %d steps x %d", layers.ErrShapeMismatch, len(src), batch, length, s.p.per[0])
	}
	if len(dst) < batch*out {
		return fmt.Errorf("runtime: %w: output buffer has %d values, want %d", layers.ErrShapeMismatch, len(dst), batch*out)
	}
	if err := layers.CheckIDBits(src, in, s.p.vocab); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	for b := range batch {
		s.Reset()
		if err := s.Step(dst[b*out:(b+1)*out], src[b*in:(b+1)*in], length); err != nil {
			return err
		}
	}
	return nil
}

// RunSeqIDsInto is RunSeqInto for a model whose input is token ids.
func (m *Model) RunSeqIDsInto(dst []float32, ids []int32, batch, length int) error {
	return m.RunSeqInto(dst, IDsAsFloat32(ids), batch, length)
}

// SeqOutputLen is the number of floats RunSeqInto writes per sample for a sequence of
// length steps.
func (m *Model) SeqOutputLen(length int) int {
	if !m.seqOK {
		if _, err := m.lenModel(); err == nil && m.lens.timeOut {
			return length * m.lens.outT
		}
		return m.outSize
	}
	if m.seqTimeOut {
		return length * (m.outSize / m.g.Output()[0])
	}
	return m.outSize
}

func (m *Model) getSeq() (*Stream, error) {
	m.seqs.mu.Lock()
	if n := len(m.seqs.free); n > 0 {
		s := m.seqs.free[n-1]
		m.seqs.free = m.seqs.free[:n-1]
		m.seqs.mu.Unlock()
		return s, nil
	}
	m.seqs.mu.Unlock()
	return m.NewStream(m.maxSeq)
}

func (m *Model) putSeq(s *Stream) {
	m.seqs.mu.Lock()
	m.seqs.free = append(m.seqs.free, s)
	m.seqs.mu.Unlock()
}
