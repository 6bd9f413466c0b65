package runtime

import (
	"github.com/kinfer/kinfer/layers"
	"github.com/kinfer/kinfer/runtime/asm"
)

// compileLayer chooses the implementation of one layer for an ISA. Fast kernels are
// added here case by case; every layer falls back to its plain-Go reference pass,
// which is also what KINFER_ISA=generic runs.
func compileLayer(l layers.Layer, in, out layers.Shape, isa asm.ISA, maxBatch int) (compiled, error) {
	switch l := l.(type) {
	case *layers.Identity, *layers.Reshape:
		// Pure views: no data moves.
		return compiled{k: nopKernel{}, name: "view", inPlace: true}, nil
	case *layers.Dense:
		if isa != asm.Generic {
			return newFastDense(l, in, isa), nil
		}
	case *flatDense:
		if isa != asm.Generic {
			return newFastDense(&l.Dense, layers.Shape{in.Size()}, isa), nil
		}
	case *layers.Conv2D:
		if c, ok := newFastConv(l, in, isa); isa != asm.Generic && ok {
			return c, nil
		}
	case *layers.ConvTranspose2D:
		if c, ok := newFastConvTranspose(l, in, isa); ok {
			return c, nil
		}
	case *layers.Resize2D:
		if c, ok := newFastResize(l, in); isa != asm.Generic && ok {
			return c, nil
		}
	case *layers.LSTM:
		if c, ok := newFastLSTM(l, in, isa, maxBatch); isa != asm.Generic && ok {
			return c, nil
		}
	case *lstmStack:
		if c, ok := newFastStack(l, in, isa, maxBatch); isa != asm.Generic && ok {
			return c, nil
		}
	case *layers.Bidirectional:
		if c, ok := newFastBidirectional(l, in, isa, maxBatch); isa != asm.Generic && ok {
			return c, nil
		}
	case *layers.Pool2D:
		if c, ok := newFastPool(l, in, isa); isa != asm.Generic && ok {
			return c, nil
		}
	case *layers.GlobalPool2D:
		if isa != asm.Generic && len(in) == 3 {
			name := "globalavgpool2d go"
			if l.Max {
				name = "globalmaxpool2d go"
			}
			return compiled{k: &fastGlobalPool{l: l, hw: in[0] * in[1], c: in[2]}, name: name}, nil
		}
	case *layers.Permute:
		if isa == asm.Generic {
			break
		}
		if c, ok := newFastPermute(l, in); ok {
			return c, nil
		}
	case *layers.ZeroPad2D:
		if isa == asm.Generic {
			break
		}
		if c, ok := newFastZeroPad(l, in); ok {
			return c, nil
		}
	case *layers.Affine:
		if isa == asm.Generic {
			break
		}
		if c, ok := newFastAffine(l, in); ok {
			return c, nil
		}
	case *layers.ActivationLayer:
		if isa == asm.Generic {
			break
		}
		if c, ok := newFastActivation(l, in, isa); ok {
			return c, nil
		}
	default:
		_ = l
	}
	return referenceKernel(l, in, maxBatch), nil
}

// refKernel runs a layer's plain-Go reference Forward.
type refKernel struct {
	l  layers.Layer
	in layers.Shape
}

func (k refKernel) run(dst, src, scratch []float32, batch int) {
	k.l.Forward(dst, src, scratch, k.in, batch)
}

func referenceKernel(l layers.Layer, in layers.Shape, maxBatch int) compiled {
	ip := false
	if p, ok := l.(layers.InPlacer); ok {
		ip = p.InPlace()
	}
	return compiled{k: refKernel{l: l, in: in.Clone()}, name: "generic", scratchLen: l.ScratchLen(in, maxBatch), inPlace: ip}
}

type nopKernel struct{}

func (nopKernel) run(_, _, _ []float32, _ int) {}
