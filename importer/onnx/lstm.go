package onnx

import (
	"github.com/kinfer/kinfer/layers"
)

// lstmAct maps an ONNX LSTM activation name.
func lstmAct(n *node, name string) (layers.Activation, error) {
	switch name {
	case "Sigmoid":
		return layers.Activation{Kind: layers.Sigmoid}, nil
	case "Tanh":
		return layers.Activation{Kind: layers.Tanh}, nil
	case "Relu":
		return layers.ActReLU, nil
	case "HardSigmoid":
		return layers.Activation{Kind: layers.HardSigmoid, Alpha: 0.2, Beta: 0.5}, nil
	case "Softsign":
		return layers.Activation{Kind: layers.Softsign}, nil
	case "Softplus":
		return layers.Activation{Kind: layers.Softplus}, nil
	case "Elu":
		return layers.Activation{Kind: layers.Elu, Alpha: 1}, nil
	}
	return layers.Activation{}, n.errorf(layers.ErrUnsupported, "attribute activations: %q", name)
}

// onnxGate gives, for Keras gate order i, f, c, o, the ONNX gate index (order i, o, f, c).
var onnxGate = [4]int{0, 2, 3, 1}

// opLSTM imports an ONNX LSTM as layers.LSTM (or Bidirectional), reordering the
// gates to Keras order and summing the two biases.
func opLSTM(b *builder, n *node) error {
	if n.in(0) != b.cur {
		return n.errorf(layers.ErrUnsupported, "the data must be input X")
	}
	for _, a := range []string{"activation_alpha", "activation_beta", "clip"} {
		if n.has(a) {
			n.ignore(a)
			return n.errorf(layers.ErrUnsupported, "attribute %s", a)
		}
	}
	if n.int("input_forget", 0) != 0 {
		return n.errorf(layers.ErrUnsupported, "attribute input_forget=1")
	}
	if n.in(7) != "" {
		return n.errorf(layers.ErrUnsupported, "peephole weights P")
	}
	dir := n.str("direction", "forward")
	dirs := 1
	switch dir {
	case "forward", "reverse":
	case "bidirectional":
		dirs = 2
	default:
		return n.errorf(layers.ErrInvalid, "attribute direction=%q", dir)
	}
	layout := n.int("layout", 0)
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	if len(d.shape) != 3 || (layout == 0 && d.bAxis != 1) || (layout == 1 && d.bAxis != 0) || layout > 1 || layout < 0 {
		return n.errorf(layers.ErrUnsupported, "input of shape %v with the batch at axis %d, layout %d", d.shape, d.bAxis, layout)
	}
	nb := d.nb()
	t, in := nb[0], nb[1]
	w, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	r, err := b.constIn(n, 2)
	if err != nil {
		return err
	}
	if w == nil || r == nil || w.isInt || r.isInt || len(w.dims) != 3 || len(r.dims) != 3 {
		return n.errorf(layers.ErrBadFile, "W and R must be 3-D float constants")
	}
	h := int(n.int("hidden_size", int64(r.dims[2])))
	if w.dims[0] != dirs || w.dims[1] != 4*h || w.dims[2] != in || r.dims[0] != dirs || r.dims[1] != 4*h || r.dims[2] != h || h <= 0 {
		return n.errorf(layers.ErrShapeMismatch, "W %v, R %v for %d directions, hidden size %d, %d input features", w.dims, r.dims, dirs, h, in)
	}
	bias, err := b.constIn(n, 3)
	if err != nil {
		return err
	}
	if bias != nil && (bias.isInt || len(bias.dims) != 2 || bias.dims[0] != dirs || bias.dims[1] != 8*h) {
		return n.errorf(layers.ErrShapeMismatch, "B %v", bias.dims)
	}
	if err := checkSeqLens(b, n, t); err != nil {
		return err
	}
	var init [2][][]float32 // initial h, c per direction (nil: zero)
	for k := 0; k < 2; k++ {
		st, err := b.constIn(n, 5+k)
		if err != nil {
			return n.errorf(layers.ErrUnsupported, "initial state %d must be absent or constant", k)
		}
		init[k] = make([][]float32, dirs)
		if st == nil {
			continue
		}
		bd := 1 // batch axis of the state
		if layout == 1 {
			bd = 0
		}
		dd := 1 - bd // direction axis of the state
		if len(st.dims) != 3 || st.isInt || st.dims[dd] != dirs || st.dims[2] != h {
			return n.errorf(layers.ErrShapeMismatch, "initial state of shape %v", st.dims)
		}
		// the state must not vary along the batch axis
		nbatch := st.dims[bd]
		for di := 0; di < dirs; di++ {
			v := make([]float32, h)
			zero := true
			for bi := 0; bi < nbatch; bi++ {
				for j := 0; j < h; j++ {
					var x float32
					if layout == 0 {
						x = st.f[(di*nbatch+bi)*h+j]
					} else {
						x = st.f[(bi*dirs+di)*h+j]
					}
					if bi == 0 {
						v[j] = x
						zero = zero && x == 0
					} else if x != v[j] {
						return n.errorf(layers.ErrUnsupported, "initial state differs between batch entries")
					}
				}
			}
			if !zero {
				init[k][di] = v
			}
		}
	}
	names := n.strs("activations")
	if names == nil {
		for k := 0; k < dirs; k++ {
			names = append(names, "Sigmoid", "Tanh", "Tanh")
		}
	}
	if len(names) != 3*dirs {
		return n.errorf(layers.ErrInvalid, "attribute activations %v for %d directions", names, dirs)
	}
	useY, useH := b.used(n.out(0)), b.used(n.out(1))
	if b.used(n.out(2)) {
		return n.errorf(layers.ErrUnsupported, "output Y_c (the final cell state)")
	}
	cells := make([]*layers.LSTM, dirs)
	for di := 0; di < dirs; di++ {
		f, err := lstmAct(n, names[3*di])
		if err != nil {
			return err
		}
		g, err := lstmAct(n, names[3*di+1])
		if err != nil {
			return err
		}
		hh, err := lstmAct(n, names[3*di+2])
		if err != nil {
			return err
		}
		if g != hh {
			return n.errorf(layers.ErrUnsupported, "attribute activations: cell activation %s differs from output activation %s", names[3*di+1], names[3*di+2])
		}
		u4 := 4 * h
		l := &layers.LSTM{In: in, Units: h, Act: g, RecAct: f, ReturnSequences: useY,
			W: make([]float32, in*u4), U: make([]float32, h*u4), H0: init[0][di], C0: init[1][di]}
		wd, rd := w.f[di*u4*in:], r.f[di*u4*h:]
		for kg, og := range onnxGate {
			for j := 0; j < h; j++ {
				row := og*h + j
				for k := 0; k < in; k++ {
					l.W[k*u4+kg*h+j] = wd[row*in+k]
				}
				for k := 0; k < h; k++ {
					l.U[k*u4+kg*h+j] = rd[row*h+k]
				}
			}
		}
		if bias != nil {
			l.B = make([]float32, u4)
			bd := bias.f[di*8*h:]
			for kg, og := range onnxGate {
				for j := 0; j < h; j++ {
					l.B[kg*h+j] = bd[og*h+j] + bd[4*h+og*h+j]
				}
			}
		}
		if dir == "reverse" || di == 1 {
			l.GoBackwards, l.KeepTimeOrder = true, true
		}
		cells[di] = l
	}
	rcs := make([]layers.Recurrent, dirs)
	for di, c := range cells {
		rcs[di] = c
	}
	rn := &recNode{dir: dir, dirs: dirs, layout: int(layout), t: t, in: in, h: h, useY: useY, useH: useH}
	return rn.finish(b, n, "LSTM", rcs)
}

// finalStates imports Y_h beside Y (both used): the final state of each direction is
// one time step of Y (the last for a forward direction, the first for a backward one,
// Y keeping time order), picked by a Remap from the recurrent layer's output.
func (b *builder) finalStates(n *node, backward bool, dirs int, layout int64) error {
	b.states[n.out(0)].excl = false // Y has another reader now: nothing may retarget it
	b.excl = false
	d := b.d
	tAx, dAx := 0, 1
	if layout != 0 {
		tAx, dAx = 1, 2
	}
	t := d.shape[tAx]
	dims := append([]int(nil), d.shape...)
	dims[tAx] = 1
	err := b.remapBy(n, n.out(1), dims, 0, func(oc, ic []int) bool {
		copy(ic, oc)
		if ic[tAx] = t - 1; oc[dAx] == 1 || backward {
			ic[tAx] = 0
		}
		return true
	})
	if err != nil {
		return err
	}
	// drop the size-1 time axis: (1, dirs, N, h) -> (dirs, N, h), (N, 1, dirs, h) -> (N, dirs, h)
	nd := b.d.clone()
	nd.shape = append(append([]int(nil), nd.shape[:tAx]...), nd.shape[tAx+1:]...)
	if nd.bAxis > tAx {
		nd.bAxis--
	}
	return b.setOut(n.out(1), nd)
}
