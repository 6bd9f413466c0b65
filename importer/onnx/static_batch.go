package onnx

import (
	"errors"
	"fmt"

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

// errBatchVarying marks a failure that importing with the batch folded may fix.
var errBatchVarying = errors.New("varies along the batch axis")

// metaFoldedBatch names the graph metadata holding B for a folded import: the graph
// runs at batch 1 and each input and output carries the ONNX batch axis as its first
// per-sample axis (the same flat data as ONNX's (B, ...) tensor).
const metaFoldedBatch = "folded_batch"

// batchVarying is the error of a constant of shape dims varying along the data's
// batch axis.
func batchVarying(n *node, dims []int) error {
	return fmt.Errorf("node %q (%s): %w: constant of shape %v %w", n.GetName(), n.GetOpType(), layers.ErrUnsupported, dims, errBatchVarying)
}

// foldRetry reports whether a failed import (err) of a model with static batch
// staticBatch should be retried with the batch folded.
func foldRetry(err error, staticBatch int, opt Options) bool {
	return err != nil && !opt.foldBatch && staticBatch > 1 && errors.Is(err, errBatchVarying)
}
