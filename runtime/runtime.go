// Package runtime compiles a frozen layers.Graph into a Model that runs with no
// allocations per call and is safe for concurrent use.
//
// Compile chooses one kernel per layer for the CPU it runs on (see runtime/asm), packs
// weights for that kernel, and plans one arena per execution state from buffer
// liveness. Run and RunInto borrow a state from a free list, so many goroutines can
// share one Model; each state is allocated once and reused.
package runtime

import (
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// DefaultMaxBatch is the largest batch one arena holds when Options.MaxBatch is 0.
// Larger batches still work: they run in chunks of MaxBatch.
const DefaultMaxBatch = 64

// Options tunes Compile.
type Options struct {
	// MaxBatch is the largest batch processed in one pass (arena size scales with it).
	// 0 means DefaultMaxBatch.
	MaxBatch int
	// ISA forces a kernel path ("generic", "avx2", "avx512", "neon"); "" uses the
	// KINFER_ISA environment variable, else the best the CPU supports.
	ISA string
	// Threads is how many goroutines one call may use: the caller's and Threads-1
	// helpers the Model starts on its first call (they spin briefly between pieces of
	// work, then park, and exit once the Model is unreachable). A call splits a large
	// batch into parts, or one inference's large steps (GEMMs by columns or rows,
	// convolutions by pixels or samples, an LSTM's per-step GEMM by units), whichever
	// the cost model says pays; results are bit-identical for every Threads. One call
	// at a time uses the helpers: concurrent callers run on their own goroutines. 0 or
	// 1 runs on the caller's goroutine. No path allocates per call.
	Threads int
	// MaxArenaBytes bounds the arena memory one RunInto call uses (ArenaBytes times
	// Threads): Compile refuses a plan over it with an error wrapping
	// layers.ErrTooLarge, so no run can die allocating its state. 0 means
	// DefaultMaxArenaBytes (4 GiB); a negative value disables the check.
	MaxArenaBytes int64
	// MaxSeqLen is the longest sequence RunSeqInto accepts (variable-length models);
	// 0 means the graph's time axis (the length the model was imported with).
	MaxSeqLen int
}

// Model is a compiled graph. It is immutable and safe for concurrent use.
type Model struct {
	g        *layers.Graph
	isa      asm.ISA
	maxBatch int
	threads  int
	steps    []step
	ins      []ioBuf  // per graph input: its arena buffer
	outs     []ioBuf  // per graph output
	inSize   int      // floats per sample of the first input
	outSize  int      // of the first output
	maxArity int      // most inputs of one step
	arenaLen int      // floats
	kernels  []string // per graph node, for Kernels
	microEnd int      // steps [0, microEnd] run microN samples at a time (-1: none)
	microN   int
	microPer int // floats per sample of the prefix's largest step
	// outDirect: the last step writes into the caller's dst instead of the arena's
	// output buffer (single output; it does not run in place and is not
	// micro-batched), which saves exec's copy of the output.
	outDirect bool
	minPart   int // fewest samples per worker worth a batch split (runTeam)
	// batchSplit: a batch of at least minPart samples per worker is split into parts
	// rather than run with intra-op splits (runTeam)
	batchSplit bool
	// arenaLimit is the limit checkArena applied, in bytes (-1: none).
	arenaLimit  int64
	vocab       []int // per graph input: ids must be below this (0: not checked)
	maxSeq      int   // RunSeqInto's longest sequence
	seqTimeOut  bool  // the output has a time axis on the step path
	seqOK       bool  // the graph can run on the step path
	seqFull     int   // the graph's own sequence length
	seqs        seqPool
	streamMu    sync.Mutex
	streamKs    map[*layers.LSTM]*fastLSTM // streams' recurrent steps (streamKernel)
	streamSeqKs map[*layers.LSTM]*fastLSTM // streams' whole-chunk kernels (streamSeqKernel)
	streamCs    map[[2]int]compiled        // streams' other steps by node and chunk (streamStep)
	hasIDs      bool                       // some vocab entry is non-zero
	idInput     bool                       // the first input is Int32

	// streams' GRU/SimpleRNN chunk kernels (streamRecKernel)
	streamRecKs map[layers.Stepper]recChunk
	lens        lenRun // RunSeqInto's length-masked copy (seq_lens.go)

	teamOnce sync.Once
	team     *team // Threads-1 helpers (parallel.go), started on the first threaded call

	mu   sync.Mutex
	free []*state
	// last is the most recently returned state, taken and given back with one atomic
	// swap each (the common single-caller case skips the mutex); others go to free.
	last atomic.Pointer[state]
}

// ioBuf is a graph input's or output's place in the arena.
type ioBuf struct {
	off, per int // arena offset, floats per sample
}

// step is one layer's kernel with its arena offsets.
type step struct {
	k                 kernel      // single-input kernel, or nil
	par               parKernel   // k, when it can split across a team and Threads > 1
	kn                multiKernel // multi-input kernel, or nil
	src, dst, scratch int         // arena offsets in floats (src: the first input)
	srcs, inPers      []int       // multi-input: every input's offset and floats per sample
	inPer, outPer     int         // floats per sample
	scratchLen        int         // floats
	srcAt, dstAt      bool        // micro-batching: src / dst is indexed by the micro-batch's first sample
}

type state struct {
	arena []float32
	team  *team       // set while this state's call holds the Model's team
	srcs  [][]float32 // a multi-input step's input slices (cap maxArity)
	in1   [][]float32 // the single-tensor API's src and dst as one-element lists
	out1  [][]float32
}

// kernel is one layer's compiled implementation.
type kernel interface {
	// run computes batch samples from src into dst; scratch has the length the
	// kernel asked for at compile (for MaxBatch samples).
	run(dst, src, scratch []float32, batch int)
}

// multiKernel is the compiled implementation of a layer with several inputs.
type multiKernel interface {
	// runN computes batch samples from srcs (one per input) into dst.
	runN(dst []float32, srcs [][]float32, scratch []float32, batch int)
}

// compiled is what kernel selection returns for one layer: k or kn is set.
type compiled struct {
	k          kernel
	kn         multiKernel
	name       string // kernel description for `kinfer info`
	scratchLen int    // floats needed for maxBatch samples
	inPlace    bool   // may run with dst == src (single-input kernels)
}

func pickISA(name string) (asm.ISA, error) {
	if name == "" {
		return asm.FromEnv()
	}
	return asm.Parse(name)
}

// Graph is the graph the model was compiled from.
func (m *Model) Graph() *layers.Graph { return m.g }

// ISA is the kernel path chosen at compile.
func (m *Model) ISA() string { return m.isa.String() }

// MaxBatch is the largest batch run in one pass.
func (m *Model) MaxBatch() int { return m.maxBatch }

// InputShape is the per-sample input shape (no batch axis).
func (m *Model) InputShape() layers.Shape { return m.g.Input() }

// OutputShape is the per-sample output shape (no batch axis).
func (m *Model) OutputShape() layers.Shape { return m.g.Output() }

// ArenaBytes is the size of one execution state's arena. Each goroutine running the
// model concurrently holds one.
func (m *Model) ArenaBytes() int64 { return int64(m.arenaLen+arenaAlign) * 4 }

// Kernels describes the kernel chosen for each layer, in order.
func (m *Model) Kernels() []string {
	return append([]string(nil), m.kernels...)
}

// Inputs describes the model's inputs (RunMultiInto's srcs, in order).
func (m *Model) Inputs() []layers.Tensor { return m.g.Inputs() }

// Outputs describes the model's outputs (RunMultiInto's dsts, in order).
func (m *Model) Outputs() []layers.Tensor { return m.g.Outputs() }

// Run runs a batch and returns a new output slice of batch*OutputShape().Size() values.
// src holds batch*InputShape().Size() values, batch-first, row-major.
func (m *Model) Run(src []float32, batch int) ([]float32, error) {
	if batch < 1 {
		return nil, fmt.Errorf("runtime: batch %d < 1", batch)
	}
	dst := make([]float32, batch*m.outSize)
	return dst, m.RunInto(dst, src, batch)
}

// RunInto runs a batch of a single-input, single-output model into dst, which must
// hold batch*OutputShape().Size() values. It allocates nothing once a state is
// available (after the first call per concurrent caller).
func (m *Model) RunInto(dst, src []float32, batch int) error {
	if batch < 1 {
		return fmt.Errorf("runtime: batch %d < 1", batch)
	}
	if len(m.ins) != 1 || len(m.outs) != 1 {
		return fmt.Errorf("runtime: model has %d inputs and %d outputs; use RunMultiInto", len(m.ins), len(m.outs))
	}
	if len(src) != batch*m.inSize {
		return fmt.Errorf("runtime: %w: input has %d values, want %d (batch %d x %v)", layers.ErrShapeMismatch, len(src), batch*m.inSize, batch, m.g.Input())
	}
	if len(dst) < batch*m.outSize {
		return fmt.Errorf("runtime: %w: output buffer has %d values, want %d (batch %d x %v)", layers.ErrShapeMismatch, len(dst), batch*m.outSize, batch, m.g.Output())
	}
	if m.hasIDs {
		if err := layers.CheckIDBits(src, m.inSize, m.vocab[0]); err != nil {
			return fmt.Errorf("runtime: %w (ids are int32 bit patterns in float32 slots: use RunIDsInto or IDsAsFloat32)", err)
		}
	}
	if m.threads > 1 && goruntime.GOMAXPROCS(0) > 1 {
		if t := m.getTeam(); !t.solo() && t.mu.TryLock() {
			defer t.mu.Unlock() // even if a kernel panics: the team stays usable
			m.runTeam(t, dst, src, batch)
			return nil
		}
	}
	m.runSerial(dst, src, batch)
	return nil
}

// RunMulti runs a batch of a model with any number of inputs and outputs and returns
// new output slices (see RunMultiInto).
func (m *Model) RunMulti(srcs [][]float32, batch int) ([][]float32, error) {
	if batch < 1 {
		return nil, fmt.Errorf("runtime: batch %d < 1", batch)
	}
	dsts := make([][]float32, len(m.outs))
	for k, o := range m.outs {
		dsts[k] = make([]float32, batch*o.per)
	}
	return dsts, m.RunMultiInto(dsts, srcs, batch)
}

// RunMultiInto runs a batch: srcs[k] holds batch samples of input k (Inputs()[k]),
// dsts[k] receives batch samples of output k (Outputs()[k]). It allocates nothing
// once a state is available; with Threads > 1 it splits the batch or large steps as
// RunInto does.
func (m *Model) RunMultiInto(dsts, srcs [][]float32, batch int) error {
	if batch < 1 {
		return fmt.Errorf("runtime: batch %d < 1", batch)
	}
	if len(srcs) != len(m.ins) || len(dsts) != len(m.outs) {
		return fmt.Errorf("runtime: %w: got %d inputs and %d outputs, model has %d and %d", layers.ErrShapeMismatch, len(srcs), len(dsts), len(m.ins), len(m.outs))
	}
	for k, in := range m.ins {
		if len(srcs[k]) != batch*in.per {
			t := m.g.Inputs()[k]
			return fmt.Errorf("runtime: %w: input %q has %d values, want %d (batch %d x %v)", layers.ErrShapeMismatch, t.Name, len(srcs[k]), batch*in.per, batch, t.Shape)
		}
	}
	for k, o := range m.outs {
		if len(dsts[k]) < batch*o.per {
			t := m.g.Outputs()[k]
			return fmt.Errorf("runtime: %w: output %q buffer has %d values, want %d (batch %d x %v)", layers.ErrShapeMismatch, t.Name, len(dsts[k]), batch*o.per, batch, t.Shape)
		}
	}
	if m.hasIDs {
		if err := m.checkIDs(srcs); err != nil {
			return err
		}
	}
	var tm *team
	if m.threads > 1 && goruntime.GOMAXPROCS(0) > 1 {
		if t := m.getTeam(); !t.solo() && t.mu.TryLock() {
			defer t.mu.Unlock()
			if m.runTeamMulti(t, dsts, srcs, batch) { // parallel_model.go
				return nil
			}
			tm = t
		}
	}
	st := m.get()
	st.team = tm
	for b := 0; b < batch; b += m.maxBatch {
		m.exec(st, dsts, srcs, b, min(m.maxBatch, batch-b))
	}
	st.team = nil
	m.put(st)
	return nil
}

func (m *Model) runSerial(dst, src []float32, batch int) {
	st := m.get()
	m.runSerialState(st, dst, src, batch)
	m.put(st)
}

// runSerialState runs batch samples of a single-input, single-output model on the
// caller's goroutine with state st.
func (m *Model) runSerialState(st *state, dst, src []float32, batch int) {
	st.in1[0], st.out1[0] = src, dst
	for b := 0; b < batch; b += m.maxBatch {
		m.exec(st, st.out1, st.in1, b, min(m.maxBatch, batch-b))
	}
	st.in1[0], st.out1[0] = nil, nil
}

// minSplitIntensity is the fewest FLOPs per weight a worker's part of a batch must do
// for the split to pay: every worker streams all the weights, so a part of a few samples
// of a Dense-heavy model (about 2 FLOPs per weight per sample) is bound by that traffic,
// and two such parts take longer than the whole batch on one thread (measured: mlp at
// batch 8, 46 us on one thread, 73 us split in two).
const minSplitIntensity = 32

// minPart is the fewest samples per worker for a model of params weights and flops
// FLOPs per sample.
func minPart(params, flops int64) int {
	if flops <= 0 {
		return 1
	}
	return int(max(1, (minSplitIntensity*params+flops-1)/flops))
}

// exec runs samples [b0, b0+n) of the caller's srcs into dsts (n <= MaxBatch).
func (m *Model) exec(st *state, dsts, srcs [][]float32, b0, n int) {
	a := st.arena
	for k, in := range m.ins {
		copy(a[in.off:in.off+n*in.per], srcs[k][b0*in.per:(b0+n)*in.per])
	}
	first := 0
	if m.microEnd >= 0 && n > m.microN {
		for s0 := 0; s0 < n; s0 += m.microN {
			k := min(m.microN, n-s0)
			for i := 0; i <= m.microEnd; i++ {
				runStep(a, st, &m.steps[i], s0, k)
			}
		}
		first = m.microEnd + 1
	}
	end := len(m.steps)
	if m.outDirect {
		end--
	}
	for i := first; i < end; i++ {
		runStep(a, st, &m.steps[i], 0, n)
	}
	if !m.outDirect {
		for k, o := range m.outs {
			copy(dsts[k][b0*o.per:(b0+n)*o.per], a[o.off:o.off+n*o.per])
		}
		return
	}
	// the last step reads the arena (never the caller's src: a step before it, or
	// exec's copy, wrote its input there), so dst may alias src
	s := &m.steps[end]
	var sc []float32
	if s.scratch >= 0 {
		sc = a[s.scratch : s.scratch+s.scratchLen]
	}
	d := dsts[0][b0*s.outPer : (b0+n)*s.outPer]
	runKernel(st, s, d[:n*s.outPer:n*s.outPer], a[s.src:s.src+n*s.inPer], sc, n)
}

// runKernel runs a single-input step's kernel, across the call's team when it has one
// and the kernel can split.
func runKernel(st *state, s *step, dst, src, sc []float32, n int) {
	if st.team != nil && s.par != nil {
		s.par.runPar(st.team, dst, src, sc, n)
		return
	}
	s.k.run(dst, src, sc, n)
}

// runStep runs samples [b0, b0+n) of one step (b0 > 0 only under micro-batching).
func runStep(a []float32, st *state, s *step, b0, n int) {
	so, do := s.src, s.dst
	if s.srcAt {
		so += b0 * s.inPer
	}
	if s.dstAt {
		do += b0 * s.outPer
	}
	var sc []float32
	if s.scratch >= 0 {
		sc = a[s.scratch : s.scratch+s.scratchLen]
	}
	if s.kn != nil {
		srcs := st.srcs[:len(s.srcs)]
		for i, off := range s.srcs {
			srcs[i] = a[off : off+n*s.inPers[i]]
		}
		s.kn.runN(a[do:do+n*s.outPer], srcs, sc, n)
		return
	}
	runKernel(st, s, a[do:do+n*s.outPer], a[so:so+n*s.inPer], sc, n)
}

// arenaAlign is the arena's alignment in floats (64 bytes, one cache line).
const arenaAlign = 16

func (m *Model) get() *state {
	if st := m.last.Swap(nil); st != nil {
		return st
	}
	m.mu.Lock()
	if n := len(m.free); n > 0 {
		st := m.free[n-1]
		m.free = m.free[:n-1]
		m.mu.Unlock()
		return st
	}
	m.mu.Unlock()
	raw := make([]float32, m.arenaLen+arenaAlign)
	skip := 0
	if r := int(uintptr(unsafe.Pointer(&raw[0])) % (4 * arenaAlign)); r != 0 {
		skip = (4*arenaAlign - r) / 4
	}
	st := &state{arena: raw[skip : skip+m.arenaLen : skip+m.arenaLen],
		srcs: make([][]float32, m.maxArity), in1: make([][]float32, 1), out1: make([][]float32, 1)}
	return st
}

func (m *Model) put(st *state) {
	if m.last.CompareAndSwap(nil, st) {
		return
	}
	m.mu.Lock()
	m.free = append(m.free, st)
	m.mu.Unlock()
}
