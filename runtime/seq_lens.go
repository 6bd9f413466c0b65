package runtime

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/kinfer/kinfer/layers"
)

// Variable length on the compiled kernels for models a stream cannot run
// (Bidirectional layers, go_backwards): RunSeqInto at a length below the graph's runs
// a copy of the graph at the full length in which every recurrent layer (and masked
// pooling) also reads a length mask (layers.MaskLengths, AND-ed with the model's own
// mask), the input padded past the length. Masked steps past the length leave each
// direction's state as a length-L run leaves it (a backward pass starts at the last
// step within the length), so rows before the length and final outputs are the
// length-L run's; the rows past it are dropped. Costs the full length per call; models
// that mix timesteps otherwise (Conv1D, unmasked pooling) are not accepted.

// lenRun is a Model's length-masked copy, compiled on first use.
type lenRun struct {
	ready atomic.Bool // m and err are set
	m     *Model      // inputs: the graph's input and one length per sample
	steps int         // the graph's sequence length
	outT  int         // output floats per step (a time output)
	err   error
	// timeOut: the output has the time axis first (RunSeqInto writes length rows)
	timeOut bool
	mu      sync.Mutex
	free    []*lenBufs
}

// lenBufs holds one caller's padded input, lengths and full-length output for up to
// maxBatch samples.
type lenBufs struct {
	x, lens, y []float32
	srcs, dsts [][]float32
}

// lengthMasked builds the length-masked copy of g, or an error naming the first node
// it cannot take.
func lengthMasked(g *layers.Graph) (*layers.Graph, bool, error) {
	if g.NumInputs() != 1 || len(g.OutputValues()) != 1 {
		return nil, false, fmt.Errorf("runtime: %w: variable length needs one input and one output", layers.ErrUnsupported)
	}
	in := g.Inputs()[0]
	if len(in.Shape) < 2 && !(len(in.Shape) == 1 && in.DType == layers.Int32) {
		return nil, false, fmt.Errorf("runtime: %w: variable length needs a sequence input (timesteps, features) or token ids (timesteps), not %v", layers.ErrUnsupported, in.Shape)
	}
	t := in.Shape[0]
	b := layers.NewBuilder()
	x := b.Input(in.Name, in.Shape, in.DType)
	lv := b.Input("sequence_length", layers.Shape{}, layers.Int32)
	lm := b.Node(&layers.MaskLengths{Info: layers.Info{Name: "sequence_length/mask", Class: "MaskLengths"}, Steps: t}, lv)
	nv := g.NumInputs() + g.Len()
	val := make([]layers.Value, nv) // old value -> new
	timeVal := make([]bool, nv)     // the value has the time axis first
	val[0], timeVal[0] = x, true
	for i := range g.Len() {
		l, ins, out := g.Layer(i), g.NodeInputs(i), g.NodeValue(i)
		anyTime := false
		nins := make([]layers.Value, len(ins))
		for k, v := range ins {
			nins[k], anyTime = val[v], anyTime || timeVal[v]
		}
		info := l.LayerInfo()
		refuse := func(why string) error {
			return fmt.Errorf("runtime: %w: layer %q (%s) %s; it cannot run at a shorter length", layers.ErrUnsupported, info.Name, info.Class, why)
		}
		and := func(mask layers.Value) layers.Value {
			return b.Node(&layers.Merge{Info: layers.Info{Name: info.Name + "/length_mask", Class: "Merge"}, Op: layers.MergeMul}, mask, lm)
		}
		switch {
		case !anyTime:
			val[out] = b.Node(l, nins...)
		case isRecurrent(l):
			r, rc := recurrentOf(l)
			if rc.ZeroMaskedOutput && !rc.ReturnSequences {
				return nil, false, refuse("zeroes a masked final output")
			}
			if rc.GoBackwards && rc.ReturnSequences && !rc.KeepTimeOrder {
				return nil, false, refuse("returns its sequence reversed (go_backwards)")
			}
			mask := lm
			if _, masked := l.(*layers.Masked); masked {
				mask = and(nins[1])
			}
			val[out] = b.Node(&layers.Masked{Layer: r}, nins[0], mask)
			timeVal[out] = rc.ReturnSequences
		case isMaskedPool(l):
			val[out] = b.Node(l, nins[0], and(nins[1]))
		case perStep(l) && len(ins) == 1:
			val[out] = b.Node(l, nins...)
			timeVal[out] = true
		default:
			return nil, false, refuse("mixes timesteps")
		}
	}
	o := g.OutputValues()[0]
	lg, err := b.Build([]layers.Value{val[o]}, []string{g.Outputs()[0].Name}, nil)
	return lg, timeVal[o], err
}

// recurrentOf returns the maskable recurrent layer of l (masked or not: a Recurrent or
// a Bidirectional) and its recurrence, or nil.
func recurrentOf(l layers.Layer) (layers.Maskable, layers.Recurrence) {
	if m, ok := l.(*layers.Masked); ok {
		l = m.Layer
	}
	if b, ok := l.(*layers.Bidirectional); ok && b.Fwd != nil {
		return b, b.Fwd.Recurrence()
	}
	r, ok := l.(layers.Recurrent)
	mk, mok := l.(layers.Maskable)
	if !ok || !mok {
		return nil, layers.Recurrence{}
	}
	return mk, r.Recurrence()
}

func isRecurrent(l layers.Layer) bool {
	r, _ := recurrentOf(l)
	return r != nil
}

func isMaskedPool(l layers.Layer) bool {
	_, ok := l.(*layers.MaskedAvgPool1D)
	return ok
}

// lenModel returns the length-masked copy of m, compiling it on first use.
func (m *Model) lenModel() (*Model, error) {
	r := &m.lens
	if !r.ready.Load() {
		r.mu.Lock()
		if !r.ready.Load() {
			g, timeOut, err := lengthMasked(m.g)
			if err == nil {
				r.m, err = Compile(g, Options{ISA: m.isa.String(), MaxBatch: m.maxBatch})
			}
			r.timeOut, r.err, r.steps = timeOut, err, m.g.Input()[0]
			if o := m.g.Output(); len(o) > 0 {
				r.outT = m.outSize / o[0]
			}
			r.ready.Store(true)
		}
		r.mu.Unlock()
	}
	return r.m, r.err
}

// runLengthMasked is RunSeqInto on the length-masked copy (length below the graph's).
func (m *Model) runLengthMasked(dst, src []float32, batch, length int) error {
	lm, err := m.lenModel()
	if err != nil {
		return err
	}
	per := m.inSize / m.lens.steps // input floats per step
	in := length * per
	if len(src) != batch*in {
		return fmt.Errorf("runtime: %w: input has %d values, want batch %d x %d steps x %d", layers.ErrShapeMismatch, len(src), batch, length, per)
	}
	out := m.SeqOutputLen(length)
	if len(dst) < batch*out {
		return fmt.Errorf("runtime: %w: output buffer has %d values, want %d", layers.ErrShapeMismatch, len(dst), batch*out)
	}
	r := &m.lens
	r.mu.Lock()
	var bf *lenBufs
	if n := len(r.free); n > 0 {
		bf, r.free = r.free[n-1], r.free[:n-1]
	}
	r.mu.Unlock()
	if bf == nil {
		mb := m.maxBatch
		bf = &lenBufs{x: make([]float32, mb*m.inSize), lens: make([]float32, mb), y: make([]float32, mb*m.outSize),
			srcs: make([][]float32, 2), dsts: make([][]float32, 1)}
	}
	defer func() {
		r.mu.Lock()
		r.free = append(r.free, bf)
		r.mu.Unlock()
	}()
	srcs, dsts := bf.srcs, bf.dsts
	for b0 := 0; b0 < batch; b0 += m.maxBatch {
		n := min(m.maxBatch, batch-b0)
		for b := range n {
			row := bf.x[b*m.inSize : (b+1)*m.inSize]
			copy(row, src[(b0+b)*in:(b0+b+1)*in])
			clear(row[in:]) // zeros past the length (id 0 for token ids)
			bf.lens[b] = layers.IDBits(int32(length))
		}
		srcs[0], srcs[1] = bf.x[:n*m.inSize], bf.lens[:n]
		dsts[0] = bf.y[:n*m.outSize]
		if err := lm.RunMultiInto(dsts, srcs, n); err != nil {
			return err
		}
		for b := range n { // a sequence output's first rows, or the final output
			copy(dst[(b0+b)*out:(b0+b+1)*out], bf.y[b*m.outSize:b*m.outSize+out])
		}
	}
	return nil
}
