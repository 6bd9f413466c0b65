package runtime

import "github.com/kinfer/kinfer/layers"

// Micro-batching: a batch larger than one sample runs the leading convolution and
// pooling steps a few samples at a time, so each step's input and output stay in L2
// between steps, instead of streaming the whole batch's feature maps (megabytes at
// batch 64) through memory layer by layer; the first step after that prefix (Dense,
// which wants every row of the batch in one GEMM) and the rest run on the whole batch.
//
// The arena plan allows it by keeping the model input and the prefix's last output live
// through the whole prefix; the prefix's intermediate buffers are reused per micro-batch
// from their start. Results are bit-identical to layer-at-a-time execution (every kernel
// is per sample and the GEMM's sums do not depend on the row count).

// microBudget is the most floats a prefix step's input plus output may take for one
// micro-batch.
var microBudget = 1 << 17

// microPlan chooses the prefix [0, end] of steps to micro-batch and the samples per
// micro-batch n, or end = -1; per is the largest input+output floats per sample of a
// prefix step. cs are the compiled steps, inPer and outPer their floats per sample.
// The prefix ends before the first Dense or recurrent layer and must hold a convolution.
func microPlan(cs []compiled, inPer, outPer []int, maxBatch int) (end, n, per int) {
	end = -1
	conv := false
	for i, c := range cs {
		if !microOK(c.k) {
			break
		}
		switch k := c.k.(type) {
		case *fastConv, *fastWinograd, *fastDepthwise:
			conv = true
		case refKernel:
			if _, ok := k.l.(*layers.Conv2D); ok {
				conv = true
			}
		}
		per = max(per, inPer[i]+outPer[i])
		if !c.inPlace {
			end = i
		}
	}
	if end < 0 || !conv {
		return -1, 0, 0
	}
	n = max(1, microBudget/max(per, 1))
	if n >= maxBatch {
		return -1, 0, 0
	}
	return end, n, per
}

// microOK reports whether a step may run per micro-batch: anything but Dense and the
// recurrent layers, which gain from the whole batch in one GEMM.
func microOK(k kernel) bool {
	switch k := k.(type) {
	case *fastDense, *fastLSTM, *fastBidirectional:
		return false
	case refKernel:
		switch k.l.(type) {
		case *layers.Dense, *layers.LSTM, *layers.Bidirectional:
			return false
		}
	}
	return true
}
