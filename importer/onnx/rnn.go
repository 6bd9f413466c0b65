package onnx

import (
	"github.com/kinfer/kinfer/layers"
)

// opRNN imports an ONNX RNN (Ht = f(Xt Wi^T + Ht-1 Ri^T + Wbi + Rbi)) as
// layers.SimpleRNN (or Bidirectional over two), the two biases summed.
func opRNN(b *builder, n *node) error {
	rn, err := readRecurrent(b, n, 1, []string{"Tanh"})
	if err != nil {
		return err
	}
	h, in := rn.h, rn.in
	cells := make([]layers.Recurrent, rn.dirs)
	for di := 0; di < rn.dirs; di++ {
		f, err := lstmAct(n, rn.acts[di])
		if err != nil {
			return err
		}
		l := &layers.SimpleRNN{In: in, Units: h, Act: f, ReturnSequences: rn.useY,
			W: kerasLayout(rn.w.f, di, h, in), U: kerasLayout(rn.r.f, di, h, h), H0: rn.h0[di]}
		if rn.bias != nil {
			bd := rn.bias.f[di*2*h : (di+1)*2*h]
			l.B = make([]float32, h)
			for j := range l.B {
				l.B[j] = bd[j] + bd[h+j]
			}
		}
		if rn.backward(di) {
			l.GoBackwards, l.KeepTimeOrder = true, true
		}
		cells[di] = l
	}
	return rn.finish(b, n, "RNN", cells)
}

// lastStepOnly makes a recurrent layer return its final state instead of its
// sequence (the pick of one time step of Y that is the final state); false for other
// layers.
func lastStepOnly(l layers.Layer) bool {
	switch l := l.(type) {
	case *layers.LSTM:
		l.ReturnSequences = false
	case *layers.GRU:
		l.ReturnSequences = false
	case *layers.SimpleRNN:
		l.ReturnSequences = false
	default:
		return false
	}
	return true
}
