package onnx

import (
	"github.com/kinfer/kinfer/importer/onnx/onnxpb"
	"github.com/kinfer/kinfer/layers"
)

// opGather imports Gather: a lookup of the model's token-id input in a float
// initializer (an embedding table, axis 0) becomes layers.Embedding; any other Gather
// on the data path is a selection (opSelect).
func opGather(b *builder, n *node) error {
	if n.in(1) != b.cur || n.in(0) == b.cur {
		return opSelect(b, n)
	}
	if int(b.val) >= len(b.inShapes) || b.inTypes[b.val] != layers.Int32 {
		return n.errorf(layers.ErrUnsupported, "Gather with data-path indices other than the model's int32/int64 input")
	}
	table, ok := b.consts[n.in(0)]
	if !ok {
		return n.errorf(layers.ErrUnsupported, "Gather of the token ids from a computed table (must be an initializer)")
	}
	axis := n.int("axis", 0)
	if len(table.dims) != 2 || table.isInt || (axis != 0 && axis != -2) {
		return n.errorf(layers.ErrUnsupported, "Gather of token ids from a table of shape %v on axis %d (an embedding is a float (vocabulary, dim) table on axis 0)", table.dims, axis)
	}
	d := b.d
	if err := d.merged(n); err != nil {
		return err
	}
	if d.idx != nil || len(b.inShapes[b.val]) != 1 {
		return n.errorf(layers.ErrUnsupported, "token ids of shape %v (kinfer reads (batch, timesteps))", d.shape)
	}
	l := &layers.Embedding{Info: b.info(n.GetName(), "Gather"), InputDim: table.dims[0], OutputDim: table.dims[1], W: table.floats()}
	if err := b.emit(l); err != nil {
		return err
	}
	nd := &dyn{shape: append(append([]int(nil), d.shape...), table.dims[1]), bAxis: d.bAxis}
	return b.setOut(n.out(0), nd)
}

// idInput reports whether an input element type is read as token ids.
func idInput(t int32) bool {
	return t == int32(onnxpb.TensorProto_INT64) || t == int32(onnxpb.TensorProto_INT32)
}
