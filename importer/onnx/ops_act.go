package onnx

import (
	"math"

	"github.com/kinfer/kinfer/layers"
)

func opArith(b *builder, n *node) error {
	op := n.GetOpType()
	constFirst := n.in(0) != b.cur
	k := 1
	if constFirst {
		k = 0
	}
	c, err := b.constIn(n, k)
	if err != nil {
		return err
	}
	if c == nil {
		return n.errorf(layers.ErrBadFile, "missing operand")
	}
	if r := len(b.d.shape); n.has("axis") && b.opset < 7 && !constFirst {
		// opset-6 broadcast: B's axes align with A's from axis on
		ax := n.int("axis", 0)
		if ax < 0 || int(ax)+len(c.dims) > r {
			return n.errorf(layers.ErrInvalid, "broadcast axis %d of a %v constant for rank %d", ax, c.dims, r)
		}
		dims := append(append([]int(nil), c.dims...), make([]int, r-int(ax)-len(c.dims))...)
		for k := len(c.dims); k < len(dims); k++ {
			dims[k] = 1
		}
		c = &tensor{dims: dims, f: c.floats(), bAxis: -1}
	}
	if out, ok := broadcastDims(b.d.shape, c.dims); !ok || len(out) != len(b.d.shape) {
		return n.errorf(layers.ErrUnsupported, "constant of shape %v grows the data %v", c.dims, b.d.shape)
	}
	v, err := b.expand(n, c)
	if err != nil {
		return err
	}
	if op == "Pow" || op == "Max" || op == "Min" || op == "Div" && constFirst {
		return b.constBinary(n, v, constFirst)
	}
	scale, shift := make([]float32, len(v)), make([]float32, len(v))
	for j, cv := range v {
		switch {
		case op == "Add":
			scale[j], shift[j] = 1, cv
		case op == "Sub" && !constFirst:
			scale[j], shift[j] = 1, -cv
		case op == "Sub":
			scale[j], shift[j] = -1, cv
		case op == "Mul":
			scale[j] = cv
		case op == "Div" && !constFirst:
			scale[j] = 1 / cv
		default:
			return n.errorf(layers.ErrUnsupported, "constant divided by the data")
		}
	}
	if err := b.affine(n, scale, shift, 0); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}

// actFor maps an ONNX activation op (with its attributes) onto layers.Activation.
func (b *builder) actFor(n *node) (layers.Activation, error) {
	inf := float32(math.Inf(1))
	switch op := n.GetOpType(); op {
	case "Relu":
		return layers.ActReLU, nil
	case "LeakyRelu":
		return layers.LeakyReLU(n.float("alpha", 0.01)), nil
	case "Sigmoid":
		return layers.Activation{Kind: layers.Sigmoid}, nil
	case "HardSigmoid":
		return layers.Activation{Kind: layers.HardSigmoid, Alpha: n.float("alpha", 0.2), Beta: n.float("beta", 0.5)}, nil
	case "Tanh":
		return layers.Activation{Kind: layers.Tanh}, nil
	case "Elu":
		return layers.Activation{Kind: layers.Elu, Alpha: n.float("alpha", 1)}, nil
	case "Selu":
		a, g := n.float("alpha", 1.67326319217681884765625), n.float("gamma", 1.05070102214813232421875)
		if math.Abs(float64(a)-layers.SeluAlpha) > 1e-6 || math.Abs(float64(g)-layers.SeluScale) > 1e-6 {
			return layers.Activation{}, n.errorf(layers.ErrUnsupported, "attribute alpha=%g gamma=%g (only the standard SELU constants)", a, g)
		}
		return layers.Activation{Kind: layers.Selu}, nil
	case "Softplus":
		return layers.Activation{Kind: layers.Softplus}, nil
	case "Softsign":
		return layers.Activation{Kind: layers.Softsign}, nil
	case "Exp":
		return layers.Activation{Kind: layers.Exponential}, nil
	case "HardSwish":
		return layers.Activation{Kind: layers.HardSwish}, nil
	case "Gelu":
		switch ap := n.str("approximate", "none"); ap {
		case "none":
			return layers.Activation{Kind: layers.Gelu}, nil
		case "tanh":
			return layers.Activation{Kind: layers.GeluTanh}, nil
		default:
			return layers.Activation{}, n.errorf(layers.ErrUnsupported, "attribute approximate=%q", ap)
		}
	case "Clip":
		lo, hi := float32(math.Inf(-1)), inf
		if n.has("min") || n.has("max") {
			lo, hi = n.float("min", lo), n.float("max", hi)
		}
		for k, p := range []*float32{&lo, &hi} {
			t, err := b.constIn(n, k+1)
			if err != nil {
				return layers.Activation{}, err
			}
			if t != nil {
				if t.size() != 1 || t.hasBatch() {
					return layers.Activation{}, n.errorf(layers.ErrUnsupported, "non-scalar clip bound")
				}
				*p = t.floats()[0]
			}
		}
		if lo == 0 {
			return layers.Activation{Kind: layers.ReLU, Max: hi}, nil
		}
		return layers.Activation{Kind: layers.Clip, Alpha: lo, Beta: hi}, nil
	}
	return layers.Activation{}, n.errorf(layers.ErrUnsupported, "op type %s", n.GetOpType())
}

func opAct(b *builder, n *node) error {
	a, err := b.actFor(n)
	if err != nil {
		return err
	}
	if err := b.activation(n, a); err != nil {
		return err
	}
	return b.setOut(n.out(0), b.d.clone())
}
