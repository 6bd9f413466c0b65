package onnx

import (
	"errors"

	"github.com/kinfer/kinfer/layers"
)

// A model whose graph inputs all have the same static batch B > 1 may hold constants
// that differ per sample (torch exports at a fixed batch broadcast a (B, ...) weight
// against the data). kinfer's layers hold per-sample constants, so such a model is
// imported a second time with the batch folded: the ONNX batch axis becomes an
// ordinary data axis of B rows under a unit kinfer batch. The dyn bookkeeping for
// that already exists (a batch axis merged with bInner rows, see dyn), so the folded
// import is the ordinary one with each input's batch axis merged with B rows, the
// kinfer batch fixed at 1, constants allowed to vary along the merged axis and
// outputs allowed to keep it. Ops that cannot take merged rows (Conv, pooling, ...)
// refuse it with their usual error. The common path (dynamic batch, or a static batch
// whose constants do not vary along it) never takes the second import.

// batchErr marks a failure that importing with the batch folded may fix: a constant
// varying along a static batch, or a selection along it.
type batchErr struct{ error }

func (e batchErr) Unwrap() error { return e.error }

// metaFoldedBatch names the graph metadata holding B for a folded import: the graph
// runs at batch 1 and each input and output is ONNX's whole tensor (the same flat
// data): its per-sample shape is ONNX's shape, or ONNX's without a leading 1.
const metaFoldedBatch = "folded_batch"

// batchVarying is the error of a constant of shape dims varying along the data's
// batch axis.
func batchVarying(n *node, dims []int) error {
	return batchErr{n.errorf(layers.ErrUnsupported, "constant of shape %v varies along the batch axis", dims)}
}

// foldRetry reports whether a failed import (err) of a model with static batch
// staticBatch should be retried with the batch folded.
func foldRetry(err error, staticBatch int, opt Options) bool {
	var be batchErr
	return err != nil && !opt.foldBatch && staticBatch > 1 && errors.As(err, &be)
}

// selectsBatch reports whether the Gather or Slice n (on the data d, static batch
// batch) selects along the batch axis.
func selectsBatch(n *node, d *dyn, ins []*tensor, batch int) bool {
	if batch < 2 || d.inner() > 1 {
		return false
	}
	if n.GetOpType() == "Gather" {
		ax, err := normAxis(n, n.int("axis", 0), len(d.shape))
		return err == nil && ax == d.bAxis
	}
	dims := append([]int(nil), d.shape...)
	dims[d.bAxis] = batch
	sp, err := sliceArgs(n, ins, dims)
	return err == nil && (sp.start[d.bAxis] != 0 || sp.step[d.bAxis] != 1 || sp.count[d.bAxis] != batch)
}

// selectFolded imports Gather or Slice on data with a folded batch (its rows an
// ordinary axis of the one sample): a row-major Remap of the selected elements. The
// result's leading axis holds its rows (any axis may, at batch 1).
func (b *builder) selectFolded(n *node, ins []*tensor) error {
	d := b.d
	full := d.nb() // the logical shape, the batch axis holding its rows
	io := &tensor{dims: full, isInt: true, bAxis: -1, i: make([]int64, shapeSize(full))}
	for k := range io.i {
		io.i[k] = int64(k)
	}
	var res *tensor
	var err error
	if n.GetOpType() == "Gather" {
		if len(ins) < 2 || ins[1] == nil {
			return n.errorf(layers.ErrBadFile, "missing indices")
		}
		res, err = gather(n, io, ins[1], n.int("axis", 0))
	} else {
		var sp sliceSpec
		if sp, err = sliceArgs(n, ins, full); err == nil {
			res, err = sliceTensor(n, io, sp)
		}
	}
	if err != nil {
		return err
	}
	if len(res.dims) == 0 {
		return n.errorf(layers.ErrUnsupported, "a scalar selected from data with a folded batch")
	}
	if err := b.checkRemapSize(n, append([]int{1}, res.dims...)); err != nil {
		return err
	}
	var inv []int32
	if d.idx != nil {
		inv = invert(d.idx)
	}
	pos := make([]int32, len(res.i))
	for k, v := range res.i {
		pos[k] = int32(v)
		if inv != nil {
			pos[k] = inv[v]
		}
	}
	l := &layers.Remap{Info: b.info(n.GetName(), n.GetOpType()), Idx: pos, InSize: d.size(), Out: layers.Shape(append([]int(nil), res.dims...))}
	if err := b.emit(l); err != nil {
		return err
	}
	shape := append([]int(nil), res.dims...)
	inner := shape[0]
	shape[0] = 1
	return b.setOut(n.out(0), &dyn{shape: shape, bAxis: 0, bInner: inner})
}
