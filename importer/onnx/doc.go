// Package onnx imports ONNX models (tf2onnx, Keras 3 model.export(format="onnx"),
// torch.onnx.export) into kinfer's frozen Sequential graph form (package layers).
//
// The imported graph's input is the ONNX input without its batch axis, in the model's
// own layout: a PyTorch model taking N, C, H, W input takes the same arrays in kinfer
// as in ONNX Runtime, and a spatial output comes back in N, C, H, W too. Inside, the
// layers run channels-last: the importer tracks how the layers' buffer maps onto each
// ONNX tensor, turns Transposes, Reshapes, Squeezes and split-and-concat subgraphs
// into that bookkeeping, and emits a Permute only where a layer needs the data moved
// (a cancelling Transpose pair costs nothing). A Flatten after an NCHW convolution
// permutes the next Dense's weight rows instead of the data.
//
// What it imports (default domain, opsets MinOpset to MaxOpset):
//   - constant and shape subgraphs, folded at import: Constant, Shape, Size, Gather,
//     Unsqueeze, Squeeze, Concat, ConstantOfShape, Slice, Cast, Reshape, Expand,
//     Transpose, Flatten, Range, Where, ReduceProd and element-wise arithmetic; the
//     batch size stays symbolic, so dynamic-batch exports fold too;
//   - Gemm (transB, alpha, beta) and MatMul with a constant matrix -> Dense (on the
//     last axis); a following Add/Sub/Mul/Div by a per-unit constant folds into it;
//   - Conv (1-D and 2-D; pads, auto_pad, strides, dilations, groups) -> Conv2D;
//     MaxPool, AveragePool (count_include_pad; ceil_mode only where it changes
//     nothing), GlobalAveragePool, GlobalMaxPool, Pad (constant zero, spatial);
//   - BatchNormalization (folded into the preceding Conv/Dense, else Affine);
//   - Relu, LeakyRelu, Sigmoid, HardSigmoid, Tanh, Elu, Selu, Softplus, Softsign, Exp,
//     Clip, Gelu, HardSwish, Softmax and LogSoftmax (opset < 13 flatten semantics),
//     and element-wise subgraphs matched numerically against known activations
//     (the erf form of GELU, x*sigmoid(x), x*hardsigmoid(x));
//   - LSTM (forward, reverse, bidirectional; constant initial states; Y or Y_h) with
//     the Squeeze/Transpose/Gather/Slice/Reshape patterns around it; picking the last
//     time step of Y makes the LSTM return its final state;
//   - Identity, Dropout, Cast to float;
//   - an int32/int64 model input (token ids) read by Gather from a float (vocabulary,
//     dim) initializer on axis 0 -> Embedding (the input becomes a layers.Int32 input;
//     ids outside the table are a run-time error, negative ids included);
//   - a dynamic sequence axis (input axis 1) with Options.SeqLen, its maximum length
//     (runtime.Model.RunSeqInto runs shorter sequences).
//
// Not imported (ErrUnsupported naming node, op and attribute): graphs that branch
// (residual adds, several inputs or outputs), control flow, other domains, LSTM Y_c,
// peepholes, clip, non-constant initial states or sequence lengths (constant ones
// shorter than the sequence too), GRU/RNN,
// attention, external data. Truncated or inconsistent files fail with ErrBadFile;
// sizes are checked against the bytes present before anything is allocated.
//
// onnxpb holds the Go types generated from onnx.proto3 (see gen.sh).
package onnx
