#!/usr/bin/env python3
"""A second hostile corpus, aimed at code gen_hostile.py never saw: the ONNX ops added
since (Resize, Tile, Expand, ConstantOfShape, Range, Conv3D/Pool3D, int8 QDQ/QOperator
and dynamic quantization, attention patterns, float16, sequence ops, control flow,
opset 6-10 upgrades) and Keras npz v2 (DAG, nesting), MultiHeadAttention, Embedding,
GRU/SimpleRNN, Conv3D and quantized Dense/Embedding. Not committed (some files claim
gigabytes); testdata/measure_hostile2.py runs kinfer on each under strace and
/usr/bin/time, and sends hostile requests to a running `kinfer serve`.

    /opt/kvenv/bin/python testdata/gen_hostile2.py [OUT_DIR]   # default /tmp/kinfer-hostile2

MANIFEST.json lists each file: what it is, and the input shape for `kinfer run`.
Needs numpy and onnx (pinned in requirements.txt).
"""

import io
import json
import os
import sys
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/kinfer-hostile2"
MANIFEST = {}
F, I64, I8, U8, I32, F16 = (TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT8,
                             TensorProto.UINT8, TensorProto.INT32, TensorProto.FLOAT16)


def t(name, v, dtype=np.float32):
    return numpy_helper.from_array(np.array(v, dtype), name)


def i64(name, v):
    return t(name, v, np.int64)


def onnx_case(fname, what, nodes, inits, xshape, opset=13, xtype=F, inputs=None, outputs=None,
              run_shape=None, ir=8, extra_opsets=()):
    inputs = inputs or [helper.make_tensor_value_info("x", xtype, xshape)]
    outputs = outputs or [helper.make_tensor_value_info("y", F, None)]
    g = helper.make_graph(nodes, "h", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] +
                          [helper.make_opsetid(d, v) for d, v in extra_opsets])
    m.ir_version = ir
    path = os.path.join(OUT, fname)
    onnx.save(m, path)
    rs = run_shape or [1 if (d is None or isinstance(d, str)) else d for d in xshape]
    MANIFEST[fname] = {"what": what, "bytes": os.path.getsize(path), "input": rs,
                       "dtype": {F: "float32", I64: "int64", F16: "float16", I32: "int32"}.get(xtype, "float32")}


def N(op, ins, outs, **kw):
    return helper.make_node(op, ins, outs, **kw)


def onnx_corpus():
    c = onnx_case
    # -- Resize: scales and sizes
    for tag, scales in (("huge", [1, 1, 1e5, 1e5]), ("neg", [1, 1, -2, -2]), ("nan", [1, 1, float("nan"), 2]),
                        ("inf", [1, 1, float("inf"), 1]), ("zero", [1, 1, 0, 0]), ("short", [2, 2]),
                        ("batch", [64, 1, 1, 1])):
        c(f"resize_scales_{tag}.onnx", f"Resize scales {scales}",
          [N("Resize", ["x", "", "s"], ["y"], mode="nearest")], [t("s", scales)], ["N", 1, 4, 4])
    for tag, sizes in (("huge", [1, 1, 1 << 20, 1 << 20]), ("neg", [1, 1, -4, 4]), ("overflow", [1, 1, 1 << 62, 1 << 62]),
                       ("zero", [1, 1, 0, 4]), ("rank", [1 << 20])):
        c(f"resize_sizes_{tag}.onnx", f"Resize sizes {sizes}",
          [N("Resize", ["x", "", "", "s"], ["y"], mode="linear")], [i64("s", sizes)], ["N", 1, 4, 4])
    c("resize_both.onnx", "Resize with both scales and sizes",
      [N("Resize", ["x", "", "sc", "s"], ["y"])], [t("sc", [1, 1, 2, 2]), i64("s", [1, 1, 8, 8])], ["N", 1, 4, 4])
    c("resize_roi_bad.onnx", "Resize tf_crop_and_resize with a 1-element roi",
      [N("Resize", ["x", "roi", "s"], ["y"], coordinate_transformation_mode="tf_crop_and_resize")],
      [t("roi", [0.5]), t("s", [1, 1, 2, 2])], ["N", 1, 4, 4])
    c("upsample_op9_huge.onnx", "opset 9 Upsample scales 1e6",
      [N("Upsample", ["x", "s"], ["y"], mode="nearest")], [t("s", [1, 1, 1e6, 1e6])], ["N", 1, 4, 4], opset=9)
    c("upsample_op7_attr.onnx", "opset 7 Upsample scales attribute 1e6 (legacy attribute)",
      [N("Upsample", ["x"], ["y"], mode="nearest", scales=[1.0, 1.0, 1e6, 1e6])], [], ["N", 1, 4, 4], opset=7)
    # -- Tile / Expand / ConstantOfShape / Range on the data path
    for tag, reps in (("huge", [1, 1 << 30]), ("neg", [1, -3]), ("overflow", [1 << 40, 1 << 40]), ("rank", [2])):
        c(f"tile_{tag}.onnx", f"Tile of the input by {reps}", [N("Tile", ["x", "r"], ["y"])],
          [i64("r", reps)], ["N", 8])
    for tag, shape in (("huge", [1, 1 << 31]), ("neg", [-1, 8]), ("overflow", [1 << 62, 1 << 62, 8]),
                       ("rank9", [1] * 9 + [8]), ("zero", [0, 8])):
        c(f"expand_{tag}.onnx", f"Expand of the input to {shape}", [N("Expand", ["x", "s"], ["y"])],
          [i64("s", shape)], ["N", 8])
    for tag, shape in (("neg", [-5]), ("overflow", [1 << 62, 1 << 62]), ("huge2d", [1 << 16, 1 << 16]),
                       ("zero", [0])):
        c(f"constofshape_{tag}.onnx", f"ConstantOfShape {shape} added to the input",
          [N("ConstantOfShape", ["s"], ["c"], value=t("v", [1.0])), N("Add", ["x", "c"], ["y"])],
          [i64("s", shape)], ["N", 1])
    c("constofshape_value_long.onnx", "ConstantOfShape whose value has 1000 elements",
      [N("ConstantOfShape", ["s"], ["c"], value=t("v", np.ones(1000))), N("Add", ["x", "c"], ["y"])],
      [i64("s", [4])], ["N", 4])
    c("constofshape_value_string.onnx", "ConstantOfShape whose value is a string tensor",
      [N("ConstantOfShape", ["s"], ["c"], value=numpy_helper.from_array(np.array([b"x"], dtype=object), "v")),
       N("Add", ["x", "c"], ["y"])], [i64("s", [4])], ["N", 4])
    for tag, (a, b, d) in (("huge", (0, 1 << 40, 1)), ("zero_delta", (0, 10, 0)), ("neg_count", (10, 0, 1)),
                           ("float_huge", (0.0, 3e38, 1e-30)), ("nan", (0.0, float("nan"), 1.0)),
                           ("overflow", (-(1 << 62), 1 << 62, 1))):
        dt = np.float32 if isinstance(a, float) else np.int64
        nodes = [N("Range", ["a", "b", "d"], ["r"])]
        if dt is np.int64:
            nodes.append(N("Cast", ["r"], ["rf"], to=F))
        else:
            nodes.append(N("Identity", ["r"], ["rf"]))
        nodes.append(N("Add", ["x", "rf"], ["y"]))
        c(f"range_{tag}.onnx", f"Range({a}, {b}, {d}) added to the input", nodes,
          [t("a", a, dt), t("b", b, dt), t("d", d, dt)], ["N", 1])
    # -- Conv3D / Pool3D
    w3 = t("w", np.ones((2, 1, 3, 3, 3)))
    for tag, kw in (("pads_huge", dict(pads=[1 << 20] * 6)), ("pads_neg", dict(pads=[-5] * 6)),
                    ("strides_zero", dict(strides=[0, 1, 1])), ("strides_neg", dict(strides=[-1, 1, 1])),
                    ("dil_huge", dict(dilations=[1 << 30, 1, 1])), ("pads_short", dict(pads=[1, 1])),
                    ("group_bad", dict(group=3)), ("pads_overflow", dict(pads=[1 << 62] * 6))):
        c(f"conv3d_{tag}.onnx", f"Conv 3-D {kw}", [N("Conv", ["x", "w"], ["y"], **kw)], [w3], ["N", 1, 4, 4, 4])
    c("conv3d_kernel_huge.onnx", "Conv 3-D kernel dims (1, 1, 2^20, 2^20, 2^20) with 4 bytes of data",
      [N("Conv", ["x", "w"], ["y"])],
      [onnx.TensorProto(name="w", data_type=F, dims=[1, 1, 1 << 20, 1 << 20, 1 << 20], raw_data=bytes(4))],
      ["N", 1, 4, 4, 4])
    c("conv3d_w_rank6.onnx", "Conv with a rank-6 weight on a rank-5 input",
      [N("Conv", ["x", "w"], ["y"])], [t("w", np.ones((1, 1, 1, 1, 1, 1)))], ["N", 1, 4, 4, 4])
    for op in ("MaxPool", "AveragePool"):
        for tag, kw in (("kernel_huge", dict(kernel_shape=[1 << 30, 1, 1])),
                        ("pads_huge", dict(kernel_shape=[2, 2, 2], pads=[1 << 24] * 6)),
                        ("strides_zero", dict(kernel_shape=[2, 2, 2], strides=[0, 0, 0])),
                        ("kernel_zero", dict(kernel_shape=[0, 2, 2])),
                        ("pads_ge_kernel", dict(kernel_shape=[2, 2, 2], pads=[5, 5, 5, 5, 5, 5])),
                        ("ceil_dil", dict(kernel_shape=[2, 2, 2], ceil_mode=1, dilations=[1 << 20, 1, 1]))):
            c(f"{op.lower()}3d_{tag}.onnx", f"{op} 3-D {kw}", [N(op, ["x"], ["y"], **kw)], [], ["N", 1, 4, 4, 4])
    c("globalpool_rank9.onnx", "GlobalAveragePool on a rank-9 input",
      [N("GlobalAveragePool", ["x"], ["y"])], [], ["N"] + [2] * 8)
    # -- int8: QDQ, QOperator, dynamic
    def qlinear_conv(tag, xs, xz, ws, wz, ys, yz, what):
        c(f"qlinearconv_{tag}.onnx", f"QLinearConv: {what}",
          [N("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
           N("QLinearConv", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["yq"]),
           N("DequantizeLinear", ["yq", "ys", "yz"], ["y"])],
          [xs, xz, t("w", np.ones((2, 1, 3, 3)), np.int8), ws, wz, ys, yz], ["N", 1, 5, 5])
    ok = dict(xs=t("xs", 0.1), xz=t("xz", 0, np.uint8), ws=t("ws", [0.1, 0.1]), wz=t("wz", [0, 0], np.int8),
              ys=t("ys", 0.2), yz=t("yz", 0, np.uint8))
    for tag, over, what in (
            ("wscale_len", dict(ws=t("ws", np.ones(1000) * 0.1)), "weight scale of 1000 for 2 channels"),
            ("wscale_2d", dict(ws=t("ws", np.ones((2, 2)) * 0.1)), "weight scale of shape (2, 2)"),
            ("wzp_dtype", dict(wz=t("wz", [0, 0], np.uint8)), "uint8 weight zero point for int8 weights"),
            ("xzp_vec", dict(xz=t("xz", [0, 0, 0], np.uint8)), "input zero point of 3 elements"),
            ("scale_zero", dict(ys=t("ys", 0.0)), "output scale 0"),
            ("scale_neg_nan", dict(xs=t("xs", float("nan"))), "input scale NaN"),
            ("scale_int", dict(xs=t("xs", 1, np.int64)), "input scale stored as int64"),
            ("zp_empty", dict(yz=t("yz", np.zeros(0), np.uint8)), "empty output zero point")):
        qlinear_conv(tag, **{**ok, **over}, what=what)
    c("qlinearmatmul_bad_scale.onnx", "QLinearMatMul with b scale of shape (7,) for 3 columns",
      [N("QuantizeLinear", ["x", "as", "az"], ["xq"]),
       N("QLinearMatMul", ["xq", "as", "az", "b", "bs", "bz", "ys", "yz"], ["yq"]),
       N("DequantizeLinear", ["yq", "ys", "yz"], ["y"])],
      [t("as", 0.1), t("az", 0, np.uint8), t("b", np.ones((4, 3)), np.uint8), t("bs", np.ones(7) * 0.1),
       t("bz", 0, np.uint8), t("ys", 0.1), t("yz", 0, np.uint8)], ["N", 4])
    c("qlinearmatmul_zp_dtype.onnx", "QLinearMatMul with an int32 a zero point",
      [N("QuantizeLinear", ["x", "as", "az8"], ["xq"]),
       N("QLinearMatMul", ["xq", "as", "az", "b", "bs", "bz", "ys", "yz"], ["yq"]),
       N("DequantizeLinear", ["yq", "ys", "yz"], ["y"])],
      [t("as", 0.1), t("az8", 0, np.uint8), t("az", 0, np.int32), t("b", np.ones((4, 3)), np.uint8),
       t("bs", 0.1), t("bz", 0, np.uint8), t("ys", 0.1), t("yz", 0, np.uint8)], ["N", 4])
    c("matmulinteger_zp_shape.onnx", "MatMulInteger with a b zero point of shape (2, 2, 2)",
      [N("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
       N("MatMulInteger", ["xq", "b", "xz", "bz"], ["yi"]), N("Cast", ["yi"], ["yf"], to=F),
       N("Mul", ["yf", "xs"], ["y"])],
      [t("b", np.ones((4, 3)), np.uint8), t("bz", np.zeros((2, 2, 2)), np.uint8)], ["N", 4])
    c("matmulinteger_huge_claim.onnx", "MatMulInteger b dims (2^20, 2^20) with 16 bytes",
      [N("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
       N("MatMulInteger", ["xq", "b", "xz"], ["yi"]), N("Cast", ["yi"], ["y"], to=F)],
      [onnx.TensorProto(name="b", data_type=U8, dims=[1 << 20, 1 << 20], raw_data=bytes(16))], ["N", 1 << 20],
      run_shape=[1, 4])
    for axis in (5, -6, 1 << 40):
        c(f"dequant_axis_{axis}.onnx".replace("-", "m"), f"DequantizeLinear of a (3, 4) int8 weight, axis {axis}",
          [N("DequantizeLinear", ["wq", "s", "z"], ["w"], axis=axis), N("MatMul", ["x", "w"], ["y"])],
          [t("wq", np.ones((3, 4)), np.int8), t("s", [0.1] * 4), t("z", [0] * 4, np.int8)], ["N", 3])
    c("dequant_block_bad.onnx", "DequantizeLinear opset 21 block_size 1000 on (3, 4)",
      [N("DequantizeLinear", ["wq", "s"], ["w"], axis=0, block_size=1000), N("MatMul", ["x", "w"], ["y"])],
      [t("wq", np.ones((3, 4)), np.int8), t("s", np.ones((1, 4)) * 0.1)], ["N", 3], opset=21, ir=10)
    c("quant_axis_scale_len.onnx", "QuantizeLinear per-axis scale of 9 for 4 channels",
      [N("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1), N("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)],
      [t("s", [0.1] * 9), t("z", [0] * 9, np.int8)], ["N", 4])
    # -- attention patterns with wrong head counts
    def mha(tag, heads_split, what, d=8, h=2, extra=()):
        # q = k = v = x (B, T, d); reshape to (B, T, h, d/h) with the split given, transpose, matmul, softmax
        nodes = [N("Reshape", ["x", "sh"], ["r"]), N("Transpose", ["r"], ["q"], perm=[0, 2, 1, 3]),
                 N("Transpose", ["r"], ["kt"], perm=[0, 2, 3, 1]), N("MatMul", ["q", "kt"], ["s"]),
                 N("Div", ["s", "sc"], ["s2"]), N("Softmax", ["s2"], ["p"], axis=-1), N("MatMul", ["p", "q"], ["o"]),
                 N("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]), N("Reshape", ["ot", "sh2"], ["y"])]
        c(f"attn_{tag}.onnx", f"attention pattern: {what}", nodes,
          [i64("sh", heads_split), t("sc", np.sqrt(d / h)), i64("sh2", [0, 0, d])] + list(extra), ["N", 5, d])
    mha("heads_huge", [0, 0, 1 << 30, -1], "Reshape to 2^30 heads of an 8-wide model")
    mha("heads_zero", [0, 0, 0, -1], "Reshape to 0 heads")
    mha("heads_mismatch", [0, 0, 3, -1], "Reshape to 3 heads of an 8-wide model")
    mha("heads_neg", [0, 0, -2, -4], "Reshape to -2 heads")
    c("mha_contrib_heads.onnx", "com.microsoft MultiHeadAttention num_heads 1000 on width 8",
      [N("MultiHeadAttention", ["x", "x", "x"], ["y"], domain="com.microsoft", num_heads=1000)], [], ["N", 5, 8],
      extra_opsets=[("com.microsoft", 1)])
    # -- float16 tensors with short raw_data
    c("f16_short_raw.onnx", "float16 initializer dims (64, 64) with 6 bytes of raw_data",
      [N("Cast", ["x"], ["xh"], to=F16), N("MatMul", ["xh", "w"], ["yh"]), N("Cast", ["yh"], ["y"], to=F)],
      [onnx.TensorProto(name="w", data_type=F16, dims=[64, 64], raw_data=bytes(6))], ["N", 64])
    c("f16_odd_raw.onnx", "float16 initializer (3,) with 5 bytes of raw_data",
      [N("Cast", ["x"], ["xh"], to=F16), N("Add", ["xh", "w"], ["yh"]), N("Cast", ["yh"], ["y"], to=F)],
      [onnx.TensorProto(name="w", data_type=F16, dims=[3], raw_data=bytes(5))], ["N", 3])
    c("f16_int32_data_short.onnx", "float16 initializer (1000,) with 2 int32_data values",
      [N("Cast", ["x"], ["xh"], to=F16), N("Add", ["xh", "w"], ["yh"]), N("Cast", ["yh"], ["y"], to=F)],
      [onnx.TensorProto(name="w", data_type=F16, dims=[1000], int32_data=[1, 2])], ["N", 1000])
    c("f16_input_huge.onnx", "float16 graph input (N, 2^40) with an Identity",
      [N("Cast", ["x"], ["y"], to=F)], [], ["N", 1 << 40], xtype=F16, run_shape=[1, 4])
    # -- sequence ops with huge positions
    for tag, pos in (("huge", 1 << 40), ("neg", -(1 << 40)), ("out", 5)):
        c(f"seq_at_{tag}.onnx", f"SequenceAt position {pos} of a 2-element sequence",
          [N("SequenceConstruct", ["x", "x"], ["sq"]), N("SequenceAt", ["sq", "p"], ["y"])],
          [i64("p", pos)], ["N", 4])
        c(f"seq_insert_{tag}.onnx", f"SequenceInsert at {pos}, then ConcatFromSequence",
          [N("SequenceConstruct", ["x"], ["sq"]), N("SequenceInsert", ["sq", "x", "p"], ["s2"]),
           N("ConcatFromSequence", ["s2"], ["y"], axis=0)], [i64("p", pos)], ["N", 4])
    c("seq_split_huge.onnx", "SplitToSequence of the input into 2^40-sized parts",
      [N("SplitToSequence", ["x", "sp"], ["sq"], axis=1), N("SequenceAt", ["sq", "z"], ["y"])],
      [i64("sp", 1 << 40), i64("z", 0)], ["N", 4])
    c("seq_split_zero.onnx", "SplitToSequence with split 0",
      [N("SplitToSequence", ["x", "sp"], ["sq"], axis=1), N("SequenceAt", ["sq", "z"], ["y"])],
      [i64("sp", 0), i64("z", 0)], ["N", 4])
    c("concat_from_seq_axis.onnx", "ConcatFromSequence axis 1000, new_axis 1",
      [N("SequenceConstruct", ["x", "x"], ["sq"]), N("ConcatFromSequence", ["sq"], ["y"], axis=1000, new_axis=1)],
      [], ["N", 4])
    # -- control flow
    body_if = helper.make_graph([N("Identity", ["x"], ["o"])], "b", [], [helper.make_tensor_value_info("o", F, None)])
    c("if_node.onnx", "If with a constant condition",
      [N("If", ["cond"], ["y"], then_branch=body_if, else_branch=body_if)], [t("cond", True, np.bool_)], ["N", 4])
    loop_body = helper.make_graph([N("Identity", ["c"], ["co"]), N("Add", ["v", "v"], ["vo"])], "lb",
                                  [helper.make_tensor_value_info("i", I64, []), helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                                   helper.make_tensor_value_info("v", F, None)],
                                  [helper.make_tensor_value_info("co", TensorProto.BOOL, []), helper.make_tensor_value_info("vo", F, None)])
    c("loop_huge_trip.onnx", "Loop with trip count 2^62",
      [N("Loop", ["m", "cond", "x"], ["y"], body=loop_body)], [i64("m", 1 << 62), t("cond", True, np.bool_)], ["N", 4])
    scan_body = helper.make_graph([N("Add", ["s", "e"], ["so"]), N("Identity", ["so"], ["eo"])], "sb",
                                  [helper.make_tensor_value_info("s", F, None), helper.make_tensor_value_info("e", F, None)],
                                  [helper.make_tensor_value_info("so", F, None), helper.make_tensor_value_info("eo", F, None)])
    c("scan_node.onnx", "Scan over the input",
      [N("Scan", ["init", "x"], ["fin", "y"], body=scan_body, num_scan_inputs=1)], [t("init", np.zeros(4))], ["N", 4])
    deep = helper.make_graph([N("Identity", ["x"], ["o"])], "d", [], [helper.make_tensor_value_info("o", F, None)])
    for _ in range(30):  # protobuf's own decoder stops at depth 100
        deep = helper.make_graph([N("If", ["cond"], ["o"], then_branch=deep, else_branch=body_if)], "d", [],
                                 [helper.make_tensor_value_info("o", F, None)])
    m = helper.make_model(helper.make_graph([N("If", ["cond"], ["y"], then_branch=deep, else_branch=body_if)], "h",
                                            [helper.make_tensor_value_info("x", F, ["N", 4])],
                                            [helper.make_tensor_value_info("y", F, None)], [t("cond", True, np.bool_)]),
                          opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    raw = m.SerializeToString()
    open(os.path.join(OUT, "if_nested_30.onnx"), "wb").write(raw)
    MANIFEST["if_nested_30.onnx"] = {"what": "If nested 30 deep", "bytes": len(raw),
                                      "input": [1, 4], "dtype": "float32"}
    # -- opset 6-10 with legacy attributes
    c("op6_batchnorm_spatial0.onnx", "opset 6 BatchNormalization spatial=0, is_test, consumed_inputs",
      [N("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], spatial=0, is_test=1, consumed_inputs=[0, 0, 0, 1, 1])],
      [t(n, np.ones(3)) for n in "sbmv"], ["N", 3, 4, 4], opset=6)
    c("op7_dropout_ratio.onnx", "opset 7 Dropout ratio 5.0 with is_test", [N("Dropout", ["x"], ["y"], ratio=5.0, is_test=1)],
      [], ["N", 4], opset=7)
    c("op8_maxpool_storage_order.onnx", "opset 8 MaxPool storage_order=1 with huge kernel",
      [N("MaxPool", ["x"], ["y"], kernel_shape=[1 << 31, 2], storage_order=1)], [], ["N", 1, 4, 4], opset=8)
    c("op9_slice_attrs_huge.onnx", "opset 9 Slice starts/ends attributes out of int range",
      [N("Slice", ["x"], ["y"], starts=[-(1 << 62)], ends=[1 << 62], axes=[1 << 40])], [], ["N", 4], opset=9)
    c("op10_topk_huge.onnx", "opset 10 TopK k 2^40", [N("TopK", ["x", "k"], ["y", "i"])], [i64("k", [1 << 40])],
      ["N", 4], opset=10, outputs=[helper.make_tensor_value_info("y", F, None), helper.make_tensor_value_info("i", I64, None)])
    c("op6_reshape_attr.onnx", "opset 4 Reshape with the legacy shape attribute 2^40",
      [N("Reshape", ["x"], ["y"], shape=[1, 1 << 40])], [], ["N", 4], opset=4)
    c("op9_pad_attr_huge.onnx", "opset 9 Pad pads attribute 2^30 a side",
      [N("Pad", ["x"], ["y"], pads=[0, 1 << 30, 0, 1 << 30])], [], ["N", 4], opset=9)
    c("op6_gemm_broadcast.onnx", "opset 6 Gemm broadcast=1 with a (1000,) C for 3 outputs",
      [N("Gemm", ["x", "w", "cc"], ["y"], broadcast=1)], [t("w", np.ones((4, 3))), t("cc", np.ones(1000))], ["N", 4], opset=6)
    c("op10_resize_op10_huge.onnx", "opset 10 Resize scales 1e7",
      [N("Resize", ["x", "s"], ["y"])], [t("s", [1, 1, 1e7, 1e7])], ["N", 1, 4, 4], opset=10)
    c("op99.onnx", "opset 99", [N("Relu", ["x"], ["y"])], [], ["N", 4], opset=99)
    c("opset_neg.onnx", "opset -1", [N("Relu", ["x"], ["y"])], [], ["N", 4], opset=-1)


# ---------------------------------------------------------------- Keras npz v2


def load_npz(rel):
    z = np.load(os.path.join(ROOT, rel), allow_pickle=False)
    meta = json.loads(bytes(z["kinfer_meta"]).decode())
    return meta, {k: z[k] for k in z.files if k != "kinfer_meta" and not k.startswith("samples/")}, \
        {k: z[k] for k in z.files if k.startswith("samples/")}


def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def keras_case(fname, what, meta, arrays, input_shape, dtype="float32"):
    path = os.path.join(OUT, fname)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        text = meta if isinstance(meta, str) else json.dumps(meta)
        zf.writestr("kinfer_meta.npy", npy_bytes(np.frombuffer(text.encode(), np.uint8)))
        for k, v in arrays.items():
            zf.writestr(k + ".npy", npy_bytes(v))
    MANIFEST[fname] = {"what": what, "bytes": os.path.getsize(path), "input": input_shape, "dtype": dtype}


def layers(meta):
    return meta["model_config"]["config"]["layers"]


def find(meta, cls):
    for lyr in layers(meta):
        if lyr["class_name"] == cls:
            return lyr
    raise KeyError(cls)


def edit(rel, fname, what, fn, arrays_fn=None, inp=None, dtype="float32"):
    meta, arrs, samples = load_npz(rel)
    fn(meta)
    if arrays_fn:
        arrays_fn(arrs)
    x = samples.get("samples/x", samples.get("samples/x_0"))
    shape = inp or ([1] + list(x.shape[1:]) if x is not None else [1, 1])
    keras_case(fname, what, meta, arrs, shape, dtype if x is None or x.dtype.kind == "f" else str(x.dtype))


def keras_corpus():
    dag = "testdata/keras_dag/se_block.npz"

    def cycle(m):
        ls = layers(m)
        # make the first conv read from the last layer: a cycle through the whole graph
        conv = [lyr for lyr in ls if lyr["class_name"] == "Conv2D"][0]
        conv["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = [ls[-1]["name"], 0, 0]
    edit(dag, "v2_cycle.npz", "npz v2: the first Conv2D reads the last layer (a cycle)", cycle)

    def self_loop(m):
        lyr = layers(m)[2]
        lyr["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = [lyr["name"], 0, 0]
    edit(dag, "v2_self_loop.npz", "npz v2: a layer reads its own output", self_loop)

    def dangling(m):
        layers(m)[1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["no_such_layer", 0, 0]
    edit(dag, "v2_dangling.npz", "npz v2: an inbound node names a layer that does not exist", dangling)

    def node_index(m):
        layers(m)[1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][1] = 1 << 40
    edit(dag, "v2_node_index_huge.npz", "npz v2: keras_history node index 2^40", node_index)

    def tensor_index(m):
        layers(m)[1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"][2] = -(1 << 40)
    edit(dag, "v2_tensor_index_neg.npz", "npz v2: keras_history tensor index -2^40", tensor_index)

    def many_nodes(m):
        lyr = layers(m)[1]
        lyr["inbound_nodes"] = lyr["inbound_nodes"] * 100000
    edit(dag, "v2_inbound_100k.npz", "npz v2: a layer called 100000 times (shared)", many_nodes)

    def outputs_bad(m):
        m["model_config"]["config"]["output_layers"] = [["no_such", 0, 0]] * 3
    edit(dag, "v2_outputs_dangling.npz", "npz v2: output_layers name no layer", outputs_bad)

    def inputs_huge(m):
        m["model_config"]["config"]["input_layers"] = [["input_layer", 0, 0]] * 100000
    edit(dag, "v2_inputs_100k.npz", "npz v2: input_layers lists one input 100000 times", inputs_huge)

    def nest(m, depth):
        inner = m["model_config"]
        for i in range(depth):
            inner = {"module": "keras", "class_name": "Sequential",
                     "config": {"name": f"s{i}", "layers": [
                         {"class_name": "InputLayer", "config": {"batch_shape": [None, 10, 10, 4], "name": f"in{i}"}},
                         inner]}}
        m["model_config"] = inner
        m["version"] = 2
    edit(dag, "v2_nested_60.npz", "npz v2: the model nested in 60 Sequentials", lambda m: nest(m, 60))
    meta, arrs, _ = load_npz(dag)
    inner = json.dumps(meta["model_config"])
    pre, post = [], []
    for i in range(2000):  # by text: json.dumps recurses
        pre.append('{"class_name": "Sequential", "config": {"name": "s%d", "layers": [{"class_name": '
                   '"InputLayer", "config": {"batch_shape": [null, 10, 10, 4], "name": "in%d"}}, ' % (i, i))
        post.append("]}}")
    meta["model_config"] = "@@"
    meta["version"] = 2
    text = json.dumps(meta).replace('"@@"', "".join(reversed(pre)) + inner + "".join(post))
    keras_case("v2_nested_2000.npz", "npz v2: the model nested in 2000 Sequentials", text, arrs, [1, 10, 10, 4])

    mha = "testdata/attention/keras_cross_mask.npz"
    for tag, kw in (("heads_huge", dict(num_heads=1 << 30)), ("keydim_huge", dict(key_dim=1 << 30)),
                    ("both_huge", dict(num_heads=1 << 16, key_dim=1 << 16)), ("heads_zero", dict(num_heads=0)),
                    ("heads_neg", dict(num_heads=-2)), ("valuedim_huge", dict(value_dim=1 << 40)),
                    ("heads_float", dict(num_heads=2.5)), ("axes_bad", dict(attention_axes=[7, 9]))):
        edit(mha, f"mha_{tag}.npz", f"MultiHeadAttention {kw} (weights for the original)",
             lambda m, kw=kw: find(m, "MultiHeadAttention")["config"].update(kw))

    emb = "testdata/seq/varlen_embed_gru.npz"
    for tag, dim in (("huge", 1 << 40), ("i32max", (1 << 31) - 1), ("neg", -1)):
        edit(emb, f"embed_input_dim_{tag}.npz", f"Embedding input_dim {dim} with a tiny table",
             lambda m, d=dim: find(m, "Embedding")["config"].update(input_dim=d))
    edit(emb, "embed_output_dim_huge.npz", "Embedding output_dim 2^30 with a tiny table",
         lambda m: find(m, "Embedding")["config"].update(output_dim=1 << 30))

    def big_ids(a):
        pass
    gru = "testdata/keras/gru_seq.npz"
    for tag, fn in (
            ("units_huge", lambda a: None), ("kernel_short", None), ("recurrent_swapped", None), ("bias_wrong", None)):
        pass
    meta, arrs, samples = load_npz(gru)
    gname = find(meta, "GRU")["config"]["name"]
    keys = meta["weights"][gname]
    x = samples["samples/x"]
    shape = [1] + list(x.shape[1:])

    def gru_case(tag, what, mfn=None, afn=None):
        m = json.loads(json.dumps(meta))
        a = dict(arrs)
        if mfn:
            mfn(m)
        if afn:
            afn(a)
        keras_case(f"gru_{tag}.npz", f"GRU: {what}", m, a, shape)
    gru_case("units_huge", "units 2^30 with the stored weights",
             lambda m: find(m, "GRU")["config"].update(units=1 << 30))
    gru_case("kernel_short", "kernel with one column fewer", afn=lambda a: a.update({keys[0]: a[keys[0]][:, :-1]}))
    gru_case("recurrent_swapped", "kernel and recurrent kernel swapped",
             afn=lambda a: a.update({keys[0]: a[keys[1]], keys[1]: a[keys[0]]}))
    gru_case("bias_1d", "reset_after bias stored as 1-D", afn=lambda a: a.update({keys[2]: a[keys[2]].reshape(-1)}))
    gru_case("bias_huge_claim", "bias (2, 2^28): 2 GiB", afn=lambda a: a.update({keys[2]: np.zeros((2, 1 << 8), np.float32)}))
    gru_case("reset_after_flip", "reset_after flipped with the stored (2, 3u) bias",
             lambda m: find(m, "GRU")["config"].update(reset_after=not find(m, "GRU")["config"].get("reset_after", True)))
    srn = "testdata/keras/simple_rnn.npz"
    edit(srn, "simplernn_units_huge.npz", "SimpleRNN units 2^31", lambda m: find(m, "SimpleRNN")["config"].update(units=1 << 31))

    c3 = "testdata/keras_conv3d/conv3d_pool.npz"
    for tag, kw in (("kernel_huge", dict(kernel_size=[1 << 20, 1 << 20, 1 << 20])),
                    ("kernel_zero", dict(kernel_size=[0, 3, 3])),
                    ("strides_zero", dict(strides=[0, 1, 1])),
                    ("dilation_huge", dict(dilation_rate=[1 << 30, 1, 1])),
                    ("filters_huge", dict(filters=1 << 40)),
                    ("groups_bad", dict(groups=7))):
        edit(c3, f"conv3d_{tag}.npz", f"Conv3D {kw}", lambda m, kw=kw: find(m, "Conv3D")["config"].update(kw))
    edit(c3, "maxpool3d_huge.npz", "MaxPooling3D pool_size 2^30",
         lambda m: find(m, "MaxPooling3D")["config"].update(pool_size=[1 << 30, 1, 1], strides=[1, 1, 1]))

    q = "testdata/keras_quant/mlp_int8.npz"
    meta, arrs, samples = load_npz(q)
    qshape = [1] + list(samples["samples/x"].shape[1:])
    dense = [lyr for lyr in layers(meta) if lyr["class_name"] == "Dense"][0]
    dkeys = meta["weights"][dense["config"]["name"]]
    for tag, fn, what in (
            ("scale_long", lambda a, k: np.ones(a[k].size * 7 + 1, np.float32), "kernel scale with 7x+1 entries"),
            ("scale_2d", lambda a, k: np.ones((3, 5), np.float32), "kernel scale of shape (3, 5)"),
            ("scale_int8", lambda a, k: a[k].astype(np.int8), "kernel scale stored as int8"),
            ("scale_empty", lambda a, k: np.zeros(0, np.float32), "empty kernel scale"),
            ("scale_nan", lambda a, k: np.full(a[k].shape, np.nan, np.float32), "NaN kernel scales")):
        for k in dkeys:
            if arrs[k].dtype == np.float32 and arrs[k].ndim <= 2 and "scale" in json.dumps(k) or k == dkeys[-1]:
                pass
        a = dict(arrs)
        sk = [k for k in dkeys if a[k].dtype != np.int8 and a[k].ndim == 1 and a[k].shape[0] != a[dkeys[1]].shape[0]]
        sk = sk or [dkeys[-1]]
        a[sk[-1]] = fn(a, sk[-1])
        keras_case(f"qdense_{tag}.npz", f"quantized Dense: {what} ({sk[-1]})", meta, a, qshape)
    a = dict(arrs)
    a[dkeys[0]] = a[dkeys[0]].astype(np.float32)
    keras_case("qdense_kernel_float.npz", "quantized Dense with a float32 kernel", meta, a, qshape)
    m = json.loads(json.dumps(meta))
    m["model_config"]["config"]["layers"][[i for i, l in enumerate(layers(meta)) if l is dense][0]]["config"][
        "quantization_mode"] = "int4"
    keras_case("qdense_mode_int4.npz", "quantization_mode int4", m, arrs, qshape)
    qe = "testdata/keras_quant/embed_int8.npz"
    me, ae, se = load_npz(qe)
    ek = me["weights"][find(me, "Embedding")["config"]["name"]]
    x = np.load(os.path.join(ROOT, "testdata/keras_quant/embed_int8.ids.npy"))
    for tag, fn in (("scale_short", lambda v: v[:1]), ("table_short", None)):
        a = dict(ae)
        if fn:
            a[ek[-1]] = fn(a[ek[-1]])
        else:
            a[ek[0]] = a[ek[0]][:2]
        keras_case(f"qembed_{tag}.npz", f"quantized Embedding: {tag}", me, a, [1] + list(x.shape[1:]), str(x.dtype))


def main():
    os.makedirs(OUT, exist_ok=True)
    onnx_corpus()
    keras_corpus()
    with open(os.path.join(OUT, "MANIFEST.json"), "w") as f:
        json.dump(MANIFEST, f, indent=1, sort_keys=True)
    total = sum(v["bytes"] for v in MANIFEST.values())
    print(f"{len(MANIFEST)} files, {total} bytes, in {OUT}")


if __name__ == "__main__":
    main()
