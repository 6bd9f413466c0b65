package onnx

import (
	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

func opIdentity(b *builder, n *node) error {
	switch n.GetOpType() {
	case "Dropout":
		n.ignore("seed", "ratio")
		if t, err := b.constIn(n, 2); err != nil || (t != nil && t.ints()[0] != 0) {
			return n.errorf(layers.ErrUnsupported, "training_mode must be a constant false")
		}
		if err := b.onlyOutput(n, 0); err != nil {
			return err
		}
	case "Cast":
		to := onnxpb.TensorProto_DataType(n.int("to", 0))
		n.ignore("saturate", "round_mode")
		if to == onnxpb.TensorProto_FLOAT16 {
			return opCastHalf(b, n) // ops_quant_op.go
		}
		if (to == onnxpb.TensorProto_INT32 || to == onnxpb.TensorProto_INT64) && b.intInput() {
			break // ids or lengths stay the integers they are (torch casts sequence_lens)
		}
		if to != onnxpb.TensorProto_FLOAT && to != onnxpb.TensorProto_DOUBLE { // DOUBLE data is held as float32
			return n.errorf(layers.ErrUnsupported, "cast of the data to %v", to)
		}
	}
	return b.setOut(n.out(0), b.d.clone())
}

func opExpand(b *builder, n *node) error {
	s, err := b.constIn(n, 1)
	if err != nil {
		return err
	}
	dims, _, err := shapeArg(n, s)
	if err != nil {
		return err
	}
	out, ok := broadcastDims(b.d.shape, dims)
	if !ok || len(out) != len(b.d.shape) {
		return n.errorf(layers.ErrUnsupported, "expanding the data from %v by %v", b.d.shape, dims)
	}
	for k := range out {
		if k != b.d.bAxis && out[k] != b.d.shape[k] {
			return n.errorf(layers.ErrUnsupported, "expanding the data from %v by %v", b.d.shape, dims)
		}
	}
	return b.setOut(n.out(0), b.d.clone())
}

// opSelect imports Gather and Slice on the data path: selections that keep every
// element (no-ops), and the pick of an LSTM's last time step, which becomes the LSTM
// returning its final state.
func opSelect(b *builder, n *node) error {
	d := b.d
	if n.in(0) != b.cur {
		return n.errorf(layers.ErrUnsupported, "the data as indices (embedding lookups)")
	}
	cins := make([]*tensor, len(n.GetInput())) // the constant inputs
	for k := 1; k < len(cins); k++ {
		var err error
		if cins[k], err = b.constIn(n, k); err != nil {
			return err
		}
	}
	if b.foldB > 1 && d.inner() > 1 {
		return b.selectFolded(n, cins)
	}
	if err := d.merged(n); err != nil {
		return err
	}
	// iota over the data's shape (batch held at size 1) tracks which elements survive
	dims := append([]int(nil), d.shape...)
	dims[d.bAxis] = 1
	io := &tensor{dims: dims, isInt: true, bAxis: d.bAxis, i: make([]int64, shapeSize(dims))}
	for k := range io.i {
		io.i[k] = int64(k)
	}
	var res *tensor
	var err error
	if n.GetOpType() == "Gather" {
		if len(cins) < 2 || cins[1] == nil {
			return n.errorf(layers.ErrBadFile, "missing indices")
		}
		res, err = gather(n, io, cins[1], n.int("axis", 0))
	} else {
		var sp sliceSpec
		sp, err = sliceArgs(n, cins, dims)
		if err == nil {
			res, err = sliceTensor(n, io, sp)
		}
	}
	if err == nil && res.bAxis < 0 {
		err = n.errorf(layers.ErrUnsupported, "selecting along the batch axis")
	}
	if err != nil && selectsBatch(n, d, cins, b.staticBatch) {
		err = batchErr{err} // importing with the static batch folded may take it
	}
	if err != nil {
		return err
	}
	nd := &dyn{shape: res.dims, bAxis: res.bAxis}
	nd.shape[nd.bAxis] = d.shape[d.bAxis]
	sel := res.i
	if len(sel) == d.size() {
		same := true
		for k, v := range sel {
			if int(v) != k {
				same = false
				break
			}
		}
		if same {
			nd.idx = d.idx
			return b.setOut(n.out(0), nd)
		}
	}
	var inv []int32
	if d.idx != nil {
		inv = invert(d.idx)
	}
	pos := make([]int, len(sel))
	for k, v := range sel {
		pos[k] = int(v)
		if inv != nil {
			pos[k] = int(inv[v])
		}
	}
	switch l := b.fresh().(type) {
	case *layers.LSTM, *layers.GRU, *layers.SimpleRNN:
		o := l.(layers.Recurrent).Recurrence()
		if !o.ReturnSequences {
			break
		}
		t, u := b.valShape(b.lin[b.producer][0])[0], o.Units
		start := (t - 1) * u
		if o.GoBackwards {
			start = 0
		}
		if len(pos) != u {
			break
		}
		idx := make([]int32, u)
		seen := make([]bool, u)
		ok := true
		for k, p := range pos {
			if p < start || p >= start+u || seen[p-start] {
				ok = false
				break
			}
			seen[p-start] = true
			idx[p-start] = int32(k)
		}
		if !ok {
			break
		}
		// the views after the recurrent layer on this path are left unused (Build drops them)
		lastStepOnly(l)
		b.shapes[b.producer] = layers.Shape{u}
		b.val, b.phys = b.layerValue(b.producer), layers.Shape{u}
		nd.idx = normIdx(idx)
		return b.setOut(n.out(0), nd)
	case *layers.Bidirectional:
		return n.errorf(layers.ErrUnsupported, "selecting one time step of a bidirectional recurrent layer's sequence output (use its final states Y_h instead)")
	}
	nd.shape = append([]int(nil), res.dims...)
	nd.shape[nd.bAxis] = 1
	if err := b.checkRemapSize(n, nd.shape); err != nil {
		return err
	}
	nd.shape[nd.bAxis] = d.shape[d.bAxis]
	src := make([]int32, len(sel)) // logical input index of each output element
	for k, v := range sel {
		src[k] = int32(v)
	}
	return b.remap(n, n.out(0), nd.shape, src, 0)
}

// intInput reports whether the data is an integer graph input as it came in (token ids
// or sequence lengths, held as int32), no layer having run on it.
func (b *builder) intInput() bool {
	v := int(b.val)
	return v >= 0 && v < len(b.inTypes) && b.inTypes[v] == layers.Int32
}
