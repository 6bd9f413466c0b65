package runtime

import (
	"reflect"

	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// kernelFactory builds a fast kernel for one layer on an ISA, or reports that it does
// not apply (the shape or options are outside what the kernel handles).
type kernelFactory func(l layers.Layer, ins []layers.Shape, out layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool)

type kernelEntry struct {
	generic bool // also chosen when the ISA is generic (views, which move no data)
	f       kernelFactory
}

// kernelTable lists, per layer type, the fast kernels tried in order; a layer with no
// entry that applies runs its plain-Go reference pass, which is also all that
// KINFER_ISA=generic runs. Adding a kernel is one entry in kernels().
var kernelTable map[reflect.Type][]kernelEntry

func init() { kernelTable = kernels() } // an init, not an initializer: entries call selectKernel

// kernels is the one place fast kernels are registered.
func kernels() map[reflect.Type][]kernelEntry {
	t := map[reflect.Type][]kernelEntry{}
	view := func(layers.Layer, []layers.Shape, layers.Shape, asm.ISA, int) (compiled, bool) {
		return compiled{k: nopKernel{}, name: "view", inPlace: true}, true // no data moves
	}
	t[typeOf[*layers.Identity]()] = []kernelEntry{{generic: true, f: view}}
	t[typeOf[*layers.Reshape]()] = []kernelEntry{{generic: true, f: view}}
	reg(t, func(l *layers.Dense, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return newFastDense(l, in, isa), true
	})
	reg(t, func(l *flatDense, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return newFastDense(&l.Dense, layers.Shape{in.Size()}, isa), true
	})
	reg(t, func(l *layers.Conv2D, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return newFastDepthwise(l, in, isa)
	})
	reg(t, func(l *layers.Conv2D, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return newFastConv(l, in, isa)
	})
	reg(t, func(l *layers.LSTM, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastLSTM(l, in, isa, mb)
	})
	reg(t, func(l *lstmStack, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastStack(l, in, isa, mb)
	})
	reg(t, func(l *recStack, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastRecStack(l, in, isa, mb)
	})
	reg(t, func(l *layers.Bidirectional, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastBidirectional(l, in, isa, mb)
	})
	reg(t, func(l *layers.Pool2D, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return newFastPool(l, in, isa)
	})
	reg(t, func(l *layers.GlobalPool2D, in, _ layers.Shape, _ asm.ISA, _ int) (compiled, bool) {
		if len(in) != 3 {
			return compiled{}, false
		}
		name := "globalavgpool2d go"
		if l.Max {
			name = "globalmaxpool2d go"
		}
		return compiled{k: &fastGlobalPool{l: l, hw: in[0] * in[1], c: in[2]}, name: name}, true
	})
	reg(t, func(l *layers.Permute, in, _ layers.Shape, _ asm.ISA, _ int) (compiled, bool) {
		return newFastPermute(l, in)
	})
	reg(t, func(l *layers.ZeroPad2D, in, _ layers.Shape, _ asm.ISA, _ int) (compiled, bool) {
		return newFastZeroPad(l, in)
	})
	reg(t, func(l *layers.Affine, in, _ layers.Shape, _ asm.ISA, _ int) (compiled, bool) {
		return newFastAffine(l, in)
	})
	reg(t, func(l *layers.ActivationLayer, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return newFastActivation(l, in, isa)
	})
	reg(t, func(l *layers.ConvTranspose2D, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return newFastConvTranspose(l, in, isa)
	})
	reg(t, func(l *layers.Resize2D, in, _ layers.Shape, _ asm.ISA, _ int) (compiled, bool) {
		return newFastResize(l, in)
	})
	reg(t, func(l *layers.GRU, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastGRU(l, in, isa, mb)
	})
	reg(t, func(l *layers.SimpleRNN, in, _ layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return newFastRNN(l, in, isa, mb)
	})
	regConv3D(t) // fast_pool3d.go
	reg(t, newFastTimeDistributed)
	regN(t, newFastMerge)
	regN(t, newFastResidual)
	regN(t, newFastMasked)
	regN(t, newFastMHA)
	reg(t, func(l *layers.LayerNorm, in, _ layers.Shape, isa asm.ISA, _ int) (compiled, bool) {
		return newFastLayerNorm(l, in, isa)
	})
	reg(t, func(l *layers.Embedding, in, _ layers.Shape, _ asm.ISA, _ int) (compiled, bool) {
		return compiled{k: &fastEmbedding{l: l, n: in.Size()}, name: "embedding row copy"}, true
	})
	regQuant(t) // int8 layers: fast_quant.go
	return t
}

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// reg registers a fast kernel for single-input layers of type T.
func reg[T layers.Layer](t map[reflect.Type][]kernelEntry, f func(l T, in, out layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool)) {
	k := typeOf[T]()
	t[k] = append(t[k], kernelEntry{f: func(l layers.Layer, ins []layers.Shape, out layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return f(l.(T), ins[0], out, isa, mb)
	}})
}

// regN registers a fast kernel for multi-input layers of type T.
func regN[T layers.Layer](t map[reflect.Type][]kernelEntry, f func(l T, ins []layers.Shape, out layers.Shape, isa asm.ISA, maxBatch int) (compiled, bool)) {
	k := typeOf[T]()
	t[k] = append(t[k], kernelEntry{f: func(l layers.Layer, ins []layers.Shape, out layers.Shape, isa asm.ISA, mb int) (compiled, bool) {
		return f(l.(T), ins, out, isa, mb)
	}})
}

// selectKernel chooses the implementation of one layer for an ISA from kernelTable,
// falling back to the layer's plain-Go reference pass.
func selectKernel(l layers.Layer, ins []layers.Shape, out layers.Shape, isa asm.ISA, maxBatch int) compiled {
	for _, e := range kernelTable[reflect.TypeOf(l)] {
		if isa == asm.Generic && !e.generic {
			continue
		}
		if c, ok := e.f(l, ins, out, isa, maxBatch); ok {
			return c
		}
	}
	return referenceKernel(l, ins, maxBatch)
}

// compileLayer chooses the kernel of a single-input layer (tests and fused runtime
// layers use it).
func compileLayer(l layers.Layer, in, out layers.Shape, isa asm.ISA, maxBatch int) (compiled, error) {
	return selectKernel(l, []layers.Shape{in}, out, isa, maxBatch), nil
}

// refKernel runs a layer's plain-Go reference Forward.
type refKernel struct {
	l  layers.Layer
	in layers.Shape
}

func (k refKernel) run(dst, src, scratch []float32, batch int) {
	k.l.Forward(dst, src, scratch, k.in, batch)
}

// refMultiKernel runs a multi-input layer's plain-Go reference ForwardN.
type refMultiKernel struct {
	l   layers.MultiInput
	ins []layers.Shape
}

func (k refMultiKernel) runN(dst []float32, srcs [][]float32, scratch []float32, batch int) {
	k.l.ForwardN(dst, srcs, scratch, k.ins, batch)
}

func referenceKernel(l layers.Layer, ins []layers.Shape, maxBatch int) compiled {
	if m, ok := l.(layers.MultiInput); ok && len(ins) != 1 {
		c := make([]layers.Shape, len(ins))
		for i, s := range ins {
			c[i] = s.Clone()
		}
		return compiled{kn: refMultiKernel{l: m, ins: c}, name: "generic", scratchLen: m.ScratchLenN(ins, maxBatch)}
	}
	ip := false
	if p, ok := l.(layers.InPlacer); ok {
		ip = p.InPlace()
	}
	return compiled{k: refKernel{l: l, in: ins[0].Clone()}, name: "generic", scratchLen: l.ScratchLen(ins[0], maxBatch), inPlace: ip}
}

type nopKernel struct{}

func (nopKernel) run(_, _, _ []float32, _ int) {}

// copyKernel is a view (Reshape, Identity) that cannot run in place.
type copyKernel struct{}

func (copyKernel) run(dst, src, _ []float32, _ int) { copy(dst, src) }
