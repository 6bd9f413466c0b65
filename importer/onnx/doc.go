// Package onnx imports ONNX models (tf2onnx, Keras 3 model.export(format="onnx"),
// torch.onnx.export) into kinfer's frozen graph form (package layers): a DAG, which
// for a model without branches is a chain.
//
// The imported graph's inputs and outputs are the ONNX graph's (same order and names)
// without their batch axis, in the model's own layout: a PyTorch model taking N, C, H,
// W input takes the same arrays in kinfer as in ONNX Runtime, and a spatial output
// comes back in N, C, H, W too. Inside, the
// layers run channels-last: the importer tracks how the layers' buffer maps onto each
// ONNX tensor, turns Transposes, Reshapes, Squeezes and split-and-concat subgraphs
// into that bookkeeping, and emits a Permute only where a layer needs the data moved
// (a cancelling Transpose pair costs nothing). A Flatten after an NCHW convolution
// permutes the next Dense's weight rows instead of the data.
//
// What it imports (default domain, opsets MinOpset to MaxOpset; below 11 rewritten
// first, see docs/onnx-opsets.md):
//   - constant and shape subgraphs, folded at import: Constant, Shape, Size, Gather,
//     Unsqueeze, Squeeze, Concat, ConstantOfShape, Slice, Cast, Reshape, Expand,
//     Transpose, Flatten, Range, Where, ReduceProd and element-wise arithmetic; the
//     batch size stays symbolic, so dynamic-batch exports fold too;
//   - Gemm (transB, alpha, beta) and MatMul with a constant matrix -> Dense (on the
//     last axis); a following Add/Sub/Mul/Div by a per-unit constant folds into it;
//   - Conv (1-D and 2-D; pads, auto_pad, strides, dilations, groups) -> Conv2D;
//     MaxPool (ceil_mode, dropping a last window that would start in the end padding,
//     as ONNX Runtime does), AveragePool (count_include_pad; ceil_mode only where it
//     changes nothing), GlobalAveragePool, GlobalMaxPool, Pad (constant zero, spatial;
//     negative pads crop);
//   - the same on 5-D (N, C, D, H, W) data (ops_conv3d.go): Conv -> Conv3D, MaxPool /
//     AveragePool -> Pool3D, GlobalAveragePool / GlobalMaxPool -> GlobalPool3D, the
//     data laid out (D, H, W, C); AveragePool's ceil_mode also where it changes the
//     size when count_include_pad=0 (the overhang padded, uncounted); a constant zero Pad of D, H and W (torch's
//     count_include_pad AvgPool3d) -> two ZeroPad2D over free reshapes;
//   - ConvTranspose (1-D and 2-D; groups, strides, dilations, pads, output_padding,
//     output_shape and auto_pad placed as ONNX Runtime does) -> ConvTranspose2D;
//   - Resize (opset 11+; nearest with round_prefer_floor/ceil, floor, ceil, or linear;
//     half_pixel, pytorch_half_pixel, asymmetric, align_corners; constant scales or
//     sizes, batch and channels unscaled) -> Resize2D; Upsample (opsets 7-9) and
//     Resize-10 as Resize with asymmetric coordinates and nearest_mode floor;
//   - LayerNormalization (opset 17; in the data's own layout when each physical run
//     holds one normalized block, so NHWC data normalized over C, H, W needs no
//     transpose); ReduceMean, ReduceMax, ReduceSum (and ReduceMin, ReduceProd,
//     ReduceSumSquare, ReduceL1, ReduceL2, ReduceLogSum, ReduceLogSumExp) over constant
//     axes without the
//     batch (a mean or max over H and W is a GlobalPool2D); PRelu with constant slopes
//     (laid out like the data, stored at their smallest period);
//   - BatchNormalization (folded into the preceding Conv/Dense, else Affine);
//   - Relu, LeakyRelu, Sigmoid, HardSigmoid, Tanh, Elu, Selu, Softplus, Softsign, Exp,
//     Clip, Gelu, HardSwish, Softmax, LogSoftmax and Hardmax (opset < 13 flatten
//     semantics),
//     and element-wise subgraphs matched numerically against known activations
//     (the erf form of GELU, x*sigmoid(x), x*hardsigmoid(x));
//   - LSTM (forward, reverse, bidirectional; constant initial states; Y, Y_h or both:
//     Y_h is then a Remap of Y's final steps) with
//     the Squeeze/Transpose/Gather/Slice/Reshape patterns around it; picking the last
//     time step of Y makes the LSTM return its final state;
//   - GRU (linear_before_reset 0 and 1, forward, reverse, bidirectional; constant
//     initial h; Y or Y_h) and RNN the same way, as layers.GRU / layers.SimpleRNN;
//   - Identity, Dropout, Cast of an int graph input to INT32/INT64 (torch casts
//     sequence lengths), Cast to float (or double: DOUBLE graph inputs and outputs are
//     held as float32, listed in the graph's "float64_io" metadata);
//   - the element-wise family (ops_elementwise.go, one table): Neg, Abs, Sign, Sqrt,
//     Log, Reciprocal, Floor, Ceil, Round, trigonometric and hyperbolic ops, Erf, Not,
//     Shrink -> layers.Unary; Pow, Max, Min with a constant and constant/x -> Unary or
//     ConstBinary; Div and Pow
//     of computed tensors -> Merge; InstanceNormalization; torch's ReduceMean/Sub/Pow/
//     Sqrt/Div layer normalization below opset 17 matched as one LayerNorm
//     (patterns_layernorm.go; gamma and beta folded in), node by node otherwise;
//   - data movement no transpose expresses (ops_remap.go): Slice and Gather on any
//     axis but the batch's, Split, Tile, Pad in constant (any value), reflect, edge and
//     wrap modes, Where with a constant condition between the data and a constant ->
//     layers.Remap; a Squeeze of a static batch of 1;
//   - sequence_lens of LSTM, GRU and RNN: a graph input of int lengths (one per batch
//     entry) masks the layer (layers.MaskLengths; Y zero past each length, Y_h the last
//     kept step's h); a constant one must equal the step count;
//   - an int32/int64 model input (token ids) read by Gather from a float (vocabulary,
//     dim) initializer on axis 0 -> Embedding (the input becomes a layers.Int32 input;
//     ids outside the table are a run-time error, negative ids included);
//   - a dynamic sequence axis (input axis 1) with Options.SeqLen, its maximum length
//     (runtime.Model.RunSeqInto runs shorter sequences);
//   - attention (ops_attention.go): the subgraph around a Softmax fed by a MatMul of
//     two computed tensors and read by another (torch's nn.MultiheadAttention and
//     TransformerEncoderLayer: packed or separate input projections, the head split
//     with the batch merged into the heads, a scalar scale, Where(bool input, -inf, 0)
//     key padding masks, a constant additive mask such as the causal one, the output
//     projection) -> layers.MultiHeadAttention, once
//     evaluating the region on index tensors at a probe batch has proven which rows,
//     heads and columns each product reads; the ReduceMean/Sub/Pow/Sqrt/Div form of
//     layer normalization (patterns_layernorm.go) -> LayerNorm; elsewhere MatMul of two
//     computed tensors of one rank, batch first -> layers.MatMul (per sample, leading
//     axes broadcast); bool inputs are taken as 0/1 floats;
//   - on branching graphs (dag.go): a value read by several nodes, several graph
//     inputs and outputs, Add, Sub, Mul, Max, Min, Mean and Sum of computed tensors
//     -> layers.Merge with ONNX broadcasting, Concat of computed tensors ->
//     layers.Concatenate. The operands are brought to one physical layout, the one
//     the largest already has (NHWC for convolution outputs) applied to each
//     operand's axes, so a (N, C, 1, 1) gate is held as (1, 1, C) and no data moves;
//     the Concat axis is mapped through that layout. A layer is fused into (an
//     activation or affine folded into a Conv, a reshape retargeted) only when
//     nothing else reads its output;
//   - quantized models (ops_quant.go, ops_quant_op.go, ops_quant_dyn.go):
//     DequantizeLinear and QuantizeLinear of constants folded; QuantizeLinear of data
//     -> layers.FakeQuant (omitted where the value is already on that grid),
//     DequantizeLinear of data the identity; DQ -> Conv/MatMul/Gemm (-> Relu) -> Q,
//     QLinearConv, QLinearMatMul and com.microsoft QGemm ->
//     layers.QConv2D / layers.QDense when the int8 weights round-trip exactly;
//     DynamicQuantizeLinear + MatMulInteger -> Cast -> Mul [-> Add] ->
//     layers.DynQDense; com.microsoft QLinearAdd, QLinearMul, QLinearConcat,
//     QLinearLeakyRelu, QLinearSigmoid, QLinearAveragePool and
//     QLinearGlobalAveragePool (and QLinearSoftmax) as their float op and a
//     FakeQuant; DynamicQuantizeLinear + ConvInteger -> layers.DynQConv2D (grouped:
//     DynFakeQuant + float Conv); DynamicQuantizeLSTM as a float LSTM over its
//     dequantized weights; Cast to float16 of data -> layers.RoundHalf, float16
//     inputs read as float32;
//   - sequences whose elements and read positions are constants at import
//     (ops_sequence.go): SequenceAt of SplitToSequence (constant split or none) ->
//     Gather/Slice, SequenceAt, ConcatFromSequence and SequenceLength of
//     SequenceConstruct -> Identity, Concat, a constant;
//   - a constant that differs per sample of a static batch, or a Gather/Slice along
//     it (static_batch.go): with every input's batch static, the model is imported
//     again with the batch folded into the data (the graph runs at batch 1, each input
//     and output ONNX's whole tensor, "folded_batch" metadata); element-wise ops,
//     Merge, MatMul on the last axis, Gather/Slice take it, the rest refuse it.
//
// Not imported (ErrUnsupported naming node, op and attribute): constants mixed with
// computed tensors in Max/Min/Mean/Sum/Concat, Y and Y_h both used with sequence_lens, a constant
// that differs per sample of a dynamic batch, other sequence ops, control flow, other domains, Resize cubic /
// tf_crop_and_resize / antialias, LSTM Y_c, peepholes, clip, activation_alpha/beta,
// non-constant initial states, constant sequence lengths shorter than the sequence, additive attention masks computed from inputs, MatMul of computed
// tensors of different ranks or with the batch elsewhere, external data.
// Truncated or inconsistent files fail with ErrBadFile;
// sizes are checked against the bytes present before anything is allocated.
//
// onnxpb holds the Go types generated from onnx.proto3 (see gen.sh).
package onnx
