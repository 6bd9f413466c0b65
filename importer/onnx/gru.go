package onnx

import (
	"github.com/kinfer/kinfer/layers"
)

// recNode is what opGRU and opRNN read the same way from an ONNX GRU or RNN node:
// directions, sizes, the W, R and B constants, the initial h per direction and which
// of Y / Y_h the graph uses.
type recNode struct {
	dir        string
	dirs       int
	layout     int
	t, in, h   int
	w, r, bias *tensor
	h0         [][]float32 // per direction, nil: zero
	acts       []string    // activations attribute (defaulted), perDir per direction
	useY       bool
	useH       bool // Y_h used (beside Y: read from Y's final steps, finalStates)
}

// readRecurrent parses the inputs and attributes GRU and RNN share. gates is 3 for a
// GRU, 1 for an RNN; defActs the default activations of one direction.
func readRecurrent(b *builder, n *node, gates int, defActs []string) (*recNode, error) {
	if n.in(0) != b.cur {
		return nil, n.errorf(layers.ErrUnsupported, "the data must be input X")
	}
	for _, a := range []string{"activation_alpha", "activation_beta", "clip"} {
		if n.has(a) {
			n.ignore(a)
			return nil, n.errorf(layers.ErrUnsupported, "attribute %s", a)
		}
	}
	rn := &recNode{dir: n.str("direction", "forward"), dirs: 1}
	switch rn.dir {
	case "forward", "reverse":
	case "bidirectional":
		rn.dirs = 2
	default:
		return nil, n.errorf(layers.ErrInvalid, "attribute direction=%q", rn.dir)
	}
	rn.layout = int(n.int("layout", 0))
	d := b.d
	if err := d.merged(n); err != nil {
		return nil, err
	}
	if len(d.shape) != 3 || rn.layout < 0 || rn.layout > 1 || (rn.layout == 0 && d.bAxis != 1) || (rn.layout == 1 && d.bAxis != 0) {
		return nil, n.errorf(layers.ErrUnsupported, "input of shape %v with the batch at axis %d, layout %d", d.shape, d.bAxis, rn.layout)
	}
	nb := d.nb()
	rn.t, rn.in = nb[0], nb[1]
	var err error
	if rn.w, err = b.constIn(n, 1); err != nil {
		return nil, err
	}
	if rn.r, err = b.constIn(n, 2); err != nil {
		return nil, err
	}
	w, r := rn.w, rn.r
	if w == nil || r == nil || w.isInt || r.isInt || len(w.dims) != 3 || len(r.dims) != 3 {
		return nil, n.errorf(layers.ErrBadFile, "W and R must be 3-D float constants")
	}
	h := int(n.int("hidden_size", int64(r.dims[2])))
	rn.h = h
	if h <= 0 || h > layers.MaxElements/gates || w.dims[0] != rn.dirs || w.dims[1] != gates*h || w.dims[2] != rn.in ||
		r.dims[0] != rn.dirs || r.dims[1] != gates*h || r.dims[2] != h {
		return nil, n.errorf(layers.ErrShapeMismatch, "W %v, R %v for %d directions, hidden size %d, %d input features", w.dims, r.dims, rn.dirs, h, rn.in)
	}
	if rn.bias, err = b.constIn(n, 3); err != nil {
		return nil, err
	}
	if bs := rn.bias; bs != nil && (bs.isInt || len(bs.dims) != 2 || bs.dims[0] != rn.dirs || bs.dims[1] != 2*gates*h) {
		return nil, n.errorf(layers.ErrShapeMismatch, "B %v", bs.dims)
	}
	if err := checkSeqLens(b, n, rn.t); err != nil {
		return nil, err
	}
	if rn.h0, err = initialState(b, n, 5, rn.dirs, h, rn.layout); err != nil {
		return nil, err
	}
	rn.acts = n.strs("activations")
	if rn.acts == nil {
		for k := 0; k < rn.dirs; k++ {
			rn.acts = append(rn.acts, defActs...)
		}
	}
	if len(rn.acts) != len(defActs)*rn.dirs {
		return nil, n.errorf(layers.ErrInvalid, "attribute activations %v for %d directions", rn.acts, rn.dirs)
	}
	rn.useY, rn.useH = b.used(n.out(0)), b.used(n.out(1))
	return rn, nil
}

// initialState reads the constant initial state input k: per direction the state (nil
// when zero), which must not vary along the batch axis.
func initialState(b *builder, n *node, k, dirs, h, layout int) ([][]float32, error) {
	st, err := b.constIn(n, k)
	if err != nil {
		return nil, n.errorf(layers.ErrUnsupported, "initial state must be absent or constant")
	}
	out := make([][]float32, dirs)
	if st == nil {
		return out, nil
	}
	bd := 1 // batch axis of the state
	if layout == 1 {
		bd = 0
	}
	dd := 1 - bd // direction axis of the state
	if len(st.dims) != 3 || st.isInt || st.dims[dd] != dirs || st.dims[2] != h {
		return nil, n.errorf(layers.ErrShapeMismatch, "initial state of shape %v", st.dims)
	}
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
					return nil, n.errorf(layers.ErrUnsupported, "initial state differs between batch entries")
				}
			}
		}
		if !zero {
			out[di] = v
		}
	}
	return out, nil
}

// kerasLayout returns direction di's ONNX weight block (gates*h rows of cols) as Keras's
// (cols, gates*h) with the gates in the same order.
func kerasLayout(w []float32, di, rows, cols int) []float32 {
	blk := w[di*rows*cols : (di+1)*rows*cols]
	out := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = blk[r*cols+c]
		}
	}
	return out
}

// finish emits the layer (a Bidirectional over the two cells when there are two) and
// sets the node's used output: Y (t, dirs, batch, h) or Y_h (dirs, batch, h), or
// their layout=1 forms.
func (rn *recNode) finish(b *builder, n *node, class string, cells []layers.Recurrent) error {
	d := b.d
	if err := b.materialize(nil, []int{rn.t, rn.in}, n.GetName()); err != nil {
		return err
	}
	info := b.info(n.GetName(), class)
	var layer layers.Layer
	if rn.dirs == 1 {
		*cells[0].LayerInfo() = info
		layer = cells[0]
	} else {
		*cells[0].LayerInfo() = layers.Info{Name: info.Name + "/forward", Class: class}
		*cells[1].LayerInfo() = layers.Info{Name: info.Name + "/backward", Class: class}
		layer = &layers.Bidirectional{Info: info, Fwd: cells[0], Bwd: cells[1], Merge: "concat"}
	}
	if err := b.emitRecurrent(layer, cells, rn.t, info.Name); err != nil {
		return err
	}
	batch := d.shape[d.bAxis]
	nd := &dyn{}
	out := n.out(0)
	t, dirs, h := rn.t, rn.dirs, rn.h
	switch {
	case rn.useY && rn.layout == 0:
		nd.shape, nd.bAxis = []int{t, dirs, batch, h}, 2
	case rn.useY:
		nd.shape, nd.bAxis = []int{batch, t, dirs, h}, 0
	case rn.layout == 0:
		nd.shape, nd.bAxis, out = []int{dirs, batch, h}, 1, n.out(1)
	default:
		nd.shape, nd.bAxis, out = []int{batch, dirs, h}, 0, n.out(1)
	}
	if err := b.setOut(out, nd); err != nil || !(rn.useY && rn.useH) {
		return err
	}
	if b.seqLens != nil {
		// Y is zero past each length, so its last step is not Y_h there
		return n.errorf(layers.ErrUnsupported, "both Y and Y_h used with sequence_lens")
	}
	return b.finalStates(n, rn.dir == "reverse", dirs, int64(rn.layout))
}

// backward reports whether direction di steps from the last input to the first.
func (rn *recNode) backward(di int) bool { return rn.dir == "reverse" || di == 1 }

// opGRU imports an ONNX GRU as layers.GRU (or Bidirectional over two). Gate order z,
// r, h is Keras's; linear_before_reset=1 (torch's export) is Keras's reset_after, with
// Rb kept as the recurrent bias; with 0, Rb adds outside the reset and folds into the
// input bias.
func opGRU(b *builder, n *node) error {
	rn, err := readRecurrent(b, n, 3, []string{"Sigmoid", "Tanh"})
	if err != nil {
		return err
	}
	lbr := n.int("linear_before_reset", 0)
	if lbr != 0 && lbr != 1 {
		return n.errorf(layers.ErrInvalid, "attribute linear_before_reset=%d", lbr)
	}
	h, in := rn.h, rn.in
	h3 := 3 * h
	cells := make([]layers.Recurrent, rn.dirs)
	for di := 0; di < rn.dirs; di++ {
		f, err := lstmAct(n, rn.acts[2*di])
		if err != nil {
			return err
		}
		g, err := lstmAct(n, rn.acts[2*di+1])
		if err != nil {
			return err
		}
		l := &layers.GRU{In: in, Units: h, Act: g, RecAct: f, ResetAfter: lbr == 1, ReturnSequences: rn.useY,
			W: kerasLayout(rn.w.f, di, h3, in), U: kerasLayout(rn.r.f, di, h3, h), H0: rn.h0[di]}
		if rn.bias != nil {
			bd := rn.bias.f[di*2*h3 : (di+1)*2*h3]
			l.B = append([]float32(nil), bd[:h3]...)
			if l.ResetAfter {
				l.RB = append([]float32(nil), bd[h3:]...)
			} else {
				for j := range l.B {
					l.B[j] += bd[h3+j]
				}
			}
		}
		if rn.backward(di) {
			l.GoBackwards, l.KeepTimeOrder = true, true
		}
		cells[di] = l
	}
	return rn.finish(b, n, "GRU", cells)
}
