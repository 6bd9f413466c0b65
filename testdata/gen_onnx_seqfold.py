#!/usr/bin/env python3
"""Generates testdata/onnx_seqfold/: onnx.helper models (onnx==1.23.2) for the
sequence rewrite (importer/onnx/ops_sequence.go) and the folded static batch
(importer/onnx/static_batch.go), with ONNX Runtime (onnxruntime==1.31.1, one thread)
outputs; importer/onnx/seqfold_test.go runs them on every kernel path.

  /opt/kvenv/bin/python testdata/gen_onnx_seqfold.py

seq_op13 (dynamic batch): SplitToSequence with a list split, a scalar split and no
split (keepdims 0), SequenceAt at positive and negative constant positions,
SequenceConstruct read by ConcatFromSequence (new_axis 0 and 1) and SequenceLength.
fold_op13 (static batch 3): constants that differ per sample (Mul, Add after a
MatMul), a Gather and a Slice along the batch axis. err_*: models kinfer refuses
(TestSeqFoldErrors checks the error): err_seqinsert_op13 (SequenceInsert),
err_foldconv_op13 (a Conv on a folded batch), err_seqpos_op13 (a computed position).
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx_seqfold")
rng = np.random.default_rng(61)
f32 = lambda *s: rng.standard_normal(s).astype(np.float32)
N = helper.make_node


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def save(name, nodes, inits, x, xshape, opset, run=True):
    def build(yshape):
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, xshape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, yshape)], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx.helper")
        m.ir_version = 8
        return m
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    s = ort.InferenceSession(build(None).SerializeToString(), opts, providers=["CPUExecutionProvider"])
    (y,) = s.run(None, {"x": x})
    yshape = list(y.shape)
    if isinstance(xshape[0], str):
        yshape[0] = xshape[0]
    m = build(yshape)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, os.path.join(OUT, name + ".onnx"))
    np.save(os.path.join(OUT, name + ".inputs.npy"), x)
    np.save(os.path.join(OUT, name + ".outputs.npy"), y.astype(np.float32))
    print("wrote", name, x.shape, "->", y.shape)


def main():
    os.makedirs(OUT, exist_ok=True)
    i64 = lambda *v: np.array(v, np.int64)
    x = f32(2, 6, 4)
    nodes = [
        N("SplitToSequence", ["x", "parts"], ["seq"], axis=1),
        N("SequenceAt", ["seq", "last"], ["a"]),  # x[:, 2:6]
        N("SequenceAt", ["seq", "zero"], ["b"]),  # x[:, 0:2]
        N("Neg", ["b"], ["nb"]),
        N("SequenceConstruct", ["b", "nb"], ["sc"]),
        N("ConcatFromSequence", ["sc"], ["cat"], axis=1),  # (N, 4, 4)
        N("SequenceLength", ["sc"], ["len"]), N("Cast", ["len"], ["lenf"], to=TensorProto.FLOAT),
        N("SplitToSequence", ["x", "four"], ["seq4"], axis=1),
        N("SequenceAt", ["seq4", "zero"], ["c"]),  # x[:, 0:4]
        N("SplitToSequence", ["a"], ["cols"], axis=2, keepdims=0),
        N("SequenceAt", ["cols", "one"], ["e"]),  # a[:, :, 1]: (N, 4)
        N("Unsqueeze", ["e", "ax2"], ["eu"]),
        N("Add", ["a", "cat"], ["s1"]), N("Mul", ["s1", "lenf"], ["s2"]), N("Add", ["s2", "c"], ["s3"]),
        N("Add", ["s3", "eu"], ["s4"]), N("Tanh", ["s4"], ["t"]),
        N("SequenceConstruct", ["s4", "t"], ["pair"]),
        N("ConcatFromSequence", ["pair"], ["y"], axis=-1, new_axis=1),  # (N, 4, 4, 2)
    ]
    inits = [init("parts", i64(2, 4)), init("last", np.int64(-1)), init("zero", np.int64(0)),
             init("one", np.int64(1)), init("four", np.int64(4)), init("ax2", i64(2))]
    save("seq_op13", nodes, inits, x, ["N", 6, 4], 13)

    x = f32(3, 4)
    nodes = [
        N("Mul", ["x", "c"], ["m"]), N("MatMul", ["m", "w"], ["mm"]), N("Add", ["mm", "bias"], ["a"]),
        N("Relu", ["a"], ["r"]), N("Add", ["r", "x5"], ["r2"]),
        N("Gather", ["r2", "rows"], ["g"], axis=0),  # rows 2 and 0
        N("Slice", ["g", "st", "en", "axs"], ["s"]),  # the first row of them, columns 1..4
        N("Sigmoid", ["s"], ["y"]),
    ]
    inits = [init("c", f32(3, 4)), init("w", f32(4, 5)), init("bias", f32(3, 5)), init("x5", f32(1, 5)),
             init("rows", i64(2, 0)), init("st", i64(0, 1)), init("en", i64(1, 5)), init("axs", i64(0, 1))]
    save("fold_op13", nodes, inits, x, [3, 4], 13)

    # refused models (ONNX Runtime runs each; kinfer must name the node)
    x = f32(2, 6, 4)
    nodes = [N("SplitToSequence", ["x", "parts"], ["seq"], axis=1), N("SequenceInsert", ["seq", "x"], ["seq2"]),
             N("SequenceAt", ["seq2", "last"], ["y"])]
    save("err_seqinsert_op13", nodes, [init("parts", i64(2, 4)), init("last", np.int64(-1))], x, ["N", 6, 4], 13)
    x = f32(2, 3, 5, 5)
    nodes = [N("Mul", ["x", "c"], ["m"]), N("Conv", ["m", "k"], ["y"])]
    save("err_foldconv_op13", nodes, [init("c", f32(2, 3, 5, 5)), init("k", f32(4, 3, 3, 3))], x, [2, 3, 5, 5], 13)
    x = f32(2, 6, 4)
    nodes = [N("Shape", ["x"], ["sh"]), N("Gather", ["sh", "zero"], ["n"]), N("Sub", ["n", "one"], ["p"]),
             N("SplitToSequence", ["x", "parts"], ["seq"], axis=1), N("SequenceAt", ["seq", "p"], ["y"])]
    save("err_seqpos_op13", nodes, [init("parts", i64(2, 4)), init("zero", np.int64(0)), init("one", np.int64(1))],
         x, ["N", 6, 4], 13)


if __name__ == "__main__":
    main()
