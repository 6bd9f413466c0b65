#!/usr/bin/env python3
"""Generates the int8 fixtures in testdata/quant/ for importer/onnx's quantization tests.

Small float32 models (an MLP and a small CNN, NCHW as torch exports them, random
weights) are built with onnx.helper, quantized with onnxruntime.quantization
(quantize_static with calibration data, QDQ and QOperator formats, uint8 and int8
activations, per-tensor and per-channel weights; quantize_dynamic), and run by ONNX
Runtime: each fixture is <name>.onnx, <name>.inputs.npy and <name>.outputs.npy.

    /opt/kvenv/bin/python testdata/gen_quant.py            # testdata/quant/
    /opt/kvenv/bin/python testdata/gen_quant.py --bench DIR # the bench-size models (not committed)
    /opt/kvenv/bin/python testdata/gen_quant.py --ext DIR   # testdata/onnx models quantized (not committed)

Pinned (testdata/requirements.txt): onnx==1.23.2 onnxruntime==1.31.1, numpy 2.x.
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                      quantize_dynamic, quantize_static)

HERE = os.path.dirname(os.path.abspath(__file__))
PINS = {"onnx": "1.23.2", "onnxruntime": "1.31.1"}


def check_pins():
    got = {"onnx": onnx.__version__, "onnxruntime": ort.__version__}
    if got != PINS:
        sys.exit(f"gen_quant.py: want {PINS}, have {got}")


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


def mlp(rng, sizes):
    nodes, inits = [], []
    x = "input"
    for i in range(len(sizes) - 1):
        w = rng.normal(0, 1 / np.sqrt(sizes[i]), (sizes[i + 1], sizes[i]))  # torch Linear: (out, in)
        b = rng.normal(0, 0.1, sizes[i + 1])
        inits += [init(f"w{i}", w), init(f"b{i}", b)]
        y = f"fc{i}"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y], transB=1, name=f"fc{i}"))
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [y], [y + "_relu"], name=f"relu{i}"))
            y += "_relu"
        x = y
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", sizes[0]])],
                          [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", sizes[-1]])], inits)
    return g, (sizes[0],)


def cnn(rng, hw, c1, c2, classes, pad):
    nodes, inits = [], []
    w1 = rng.normal(0, 1 / 3, (c1, 1, 3, 3))
    w2 = rng.normal(0, 1 / np.sqrt(9 * c1), (c2, c1, 3, 3))
    inits += [init("w1", w1), init("b1", rng.normal(0, 0.1, c1)), init("w2", w2), init("b2", rng.normal(0, 0.1, c2))]
    p = [pad] * 4
    nodes += [helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=p, name="conv1"),
              helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
              helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2], name="pool1"),
              helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=p, name="conv2"),
              helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
              helper.make_node("MaxPool", ["r2"], ["p2"], kernel_shape=[2, 2], strides=[2, 2], name="pool2"),
              helper.make_node("Flatten", ["p2"], ["f"], axis=1, name="flatten")]
    s = hw
    for _ in range(2):
        s = (s + 2 * pad - 2) // 2
    feat = c2 * s * s
    inits += [init("w3", rng.normal(0, 1 / np.sqrt(feat), (classes, feat))), init("b3", rng.normal(0, 0.1, classes))]
    nodes.append(helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1, name="fc"))
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, hw, hw])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])], inits)
    return g, (1, hw, hw)


def res(rng, hw, c, classes):
    """conv -> relu -> conv, + the skip, relu -> GlobalAveragePool -> Gemm (a residual block)."""
    inits = [init("w0", rng.normal(0, 1 / 3, (c, 1, 3, 3))), init("b0", rng.normal(0, 0.1, c)),
             init("w1", rng.normal(0, 1 / np.sqrt(9 * c), (c, c, 3, 3))), init("b1", rng.normal(0, 0.1, c)),
             init("w2", rng.normal(0, 1 / np.sqrt(9 * c), (c, c, 3, 3))), init("b2", rng.normal(0, 0.1, c)),
             init("w3", rng.normal(0, 1 / np.sqrt(c), (classes, c))), init("b3", rng.normal(0, 0.1, classes))]
    p = [1] * 4
    nodes = [helper.make_node("Conv", ["input", "w0", "b0"], ["c0"], kernel_shape=[3, 3], pads=p, name="stem"),
             helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
             helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=p, name="conv1"),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3], pads=p, name="conv2"),
             helper.make_node("Add", ["c2", "r0"], ["s"], name="add"),
             helper.make_node("Relu", ["s"], ["r2"], name="relu2"),
             helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], axis=1, name="flatten"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1, name="fc")]
    g = helper.make_graph(nodes, "res", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, hw, hw])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])], inits)
    return g, (1, hw, hw)


def misc(rng, hw, c, classes):
    """The ops ORT's QOperator format writes as com.microsoft QLinear*: LeakyRelu,
    AveragePool, Sigmoid, Concat, Mul, GlobalAveragePool."""
    inits = [init("w0", rng.normal(0, 1 / 3, (c, 1, 3, 3))), init("b0", rng.normal(0, 0.1, c)),
             init("w1", rng.normal(0, 1 / np.sqrt(9 * c), (c, c, 3, 3))), init("b1", rng.normal(0, 0.1, c)),
             init("w3", rng.normal(0, 1 / np.sqrt(2 * c), (classes, 2 * c))), init("b3", rng.normal(0, 0.1, classes))]
    p = [1] * 4
    nodes = [helper.make_node("Conv", ["input", "w0", "b0"], ["c0"], kernel_shape=[3, 3], pads=p, name="stem"),
             helper.make_node("LeakyRelu", ["c0"], ["l0"], alpha=0.1, name="leaky"),
             helper.make_node("AveragePool", ["l0"], ["a0"], kernel_shape=[2, 2], strides=[2, 2], name="avg"),
             helper.make_node("Conv", ["a0", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=p, name="conv1"),
             helper.make_node("Sigmoid", ["c1"], ["s1"], name="sig"),
             helper.make_node("Concat", ["s1", "a0"], ["cat"], axis=1, name="cat"),
             helper.make_node("Mul", ["cat", "cat"], ["sq"], name="mul"),
             helper.make_node("GlobalAveragePool", ["sq"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], axis=1, name="flatten"),
             helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], transB=1, name="fc")]
    g = helper.make_graph(nodes, "misc", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, hw, hw])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])], inits)
    return g, (1, hw, hw)


def lstm(rng, t, i, h, classes):
    """batch-first input -> Transpose -> LSTM -> last h -> Gemm, as torch exports it
    (quantize_dynamic turns the LSTM into com.microsoft DynamicQuantizeLSTM)."""
    inits = [init("W", rng.normal(0, 0.3, (1, 4 * h, i))), init("R", rng.normal(0, 0.3, (1, 4 * h, h))),
             init("B", rng.normal(0, 0.1, (1, 8 * h))), init("Wf", rng.normal(0, 0.3, (classes, h))),
             init("bf", rng.normal(0, 0.1, classes)), numpy_helper.from_array(np.array([0], np.int64), "ax")]
    nodes = [helper.make_node("Transpose", ["input"], ["xt"], perm=[1, 0, 2], name="tr"),
             helper.make_node("LSTM", ["xt", "W", "R", "B"], ["Y", "Yh"], hidden_size=h, name="lstm"),
             helper.make_node("Squeeze", ["Yh", "ax"], ["hl"], name="sq"),
             helper.make_node("Gemm", ["hl", "Wf", "bf"], ["logits"], transB=1, name="fc")]
    g = helper.make_graph(nodes, "lstm", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", t, i])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", classes])], inits)
    return g, (t, i)


def fp16_io(rng):
    """float16 input, initializers and output around float32 compute, as
    onnxconverter_common's float16 conversion with keep_io_types=False and ORT's CPU
    (which has no float16 Gemm) run it: Cast to float, Gemm, Relu, Gemm, Cast to
    float16."""
    def h(name, a):
        return numpy_helper.from_array(np.asarray(a, np.float16), name)
    inits = [h("w0", rng.normal(0, 0.3, (32, 16))), h("b0", rng.normal(0, 0.1, 32)),
             h("w1", rng.normal(0, 0.3, (10, 32))), h("b1", rng.normal(0, 0.1, 10))]
    nodes = [helper.make_node("Cast", ["input"], ["x"], to=TensorProto.FLOAT, name="in_cast")]
    for w in ("w0", "b0", "w1", "b1"):
        nodes.append(helper.make_node("Cast", [w], [w + "f"], to=TensorProto.FLOAT, name=w + "_cast"))
    nodes += [helper.make_node("Gemm", ["x", "w0f", "b0f"], ["h0"], transB=1, name="fc0"),
              helper.make_node("Relu", ["h0"], ["r0"], name="relu"),
              helper.make_node("Gemm", ["r0", "w1f", "b1f"], ["h1"], transB=1, name="fc1"),
              helper.make_node("Cast", ["h1"], ["logits"], to=TensorProto.FLOAT16, name="out_cast")]
    g = helper.make_graph(nodes, "fp16_io", [helper.make_tensor_value_info("input", TensorProto.FLOAT16, ["N", 16])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT16, ["N", 10])], inits)
    path = os.path.join(HERE, "quant", "fp16_io.onnx")
    save_float(g, path)
    x = rng.normal(0, 1, (8, 16)).astype(np.float16)
    y = run_ort(path, x)
    np.save(os.path.join(HERE, "quant", "fp16_io.inputs.npy"), x.astype(np.float32))
    np.save(os.path.join(HERE, "quant", "fp16_io.outputs.npy"), y.astype(np.float32))


class Reader(CalibrationDataReader):
    def __init__(self, xs):
        self.it = iter([{"input": x[None]} for x in xs])

    def get_next(self):
        return next(self.it, None)


def save_float(g, path):
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="kinfer gen_quant.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def quantize(kind, src, dst, calib, **kw):
    if kind == "dynamic":
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, **kw)
        return
    fmt = QuantFormat.QDQ if kind == "qdq" else QuantFormat.QOperator
    quantize_static(src, dst, Reader(calib), quant_format=fmt, weight_type=QuantType.QInt8, **kw)


def run_ort(path, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return s.run(None, {"input": x})[0]


def variants():
    u8 = dict(activation_type=QuantType.QUInt8)
    s8 = dict(activation_type=QuantType.QInt8, extra_options={"ActivationSymmetric": True})
    return [
        ("qdq_u8s8", "qdq", dict(**u8)),
        ("qdq_u8s8_pc", "qdq", dict(per_channel=True, **u8)),
        ("qdq_s8s8_sym", "qdq", dict(**s8)),
        ("qop_u8s8", "qop", dict(**u8)),
        ("qop_u8s8_pc", "qop", dict(per_channel=True, **u8)),
        ("dyn", "dynamic", {}),
    ]


EXT = ["keras_mlp_op17", "keras_cnn_op17", "keras_gap_op17", "keras_lstm_op17", "torch_mlp_op17", "torch_cnn_op17",
       "torch_lstm_op17", "tv_resnet18s_op17", "tv_mobilenet_v2_op17"]


def external(out):
    """Quantizes testdata/onnx models (static QDQ and QOperator, per-channel, calibrated
    on their sample inputs plus noise; dynamic) with ORT's outputs on their samples: the
    "models no int8 test was written for" of TestQuantExternal (not committed)."""
    os.makedirs(out, exist_ok=True)
    for n in EXT:
        p = os.path.join(HERE, "onnx", n + ".onnx")
        x = np.load(os.path.join(HERE, "onnx", n + ".inputs.npy"))
        iname = onnx.load(p).graph.input[0].name
        rng = np.random.default_rng(1)
        cal = (x[:1] + rng.normal(0, 1, (16,) + x.shape[1:])).astype(np.float32)

        class R(CalibrationDataReader):
            def __init__(self):
                self.it = iter([{iname: c[None]} for c in cal])

            def get_next(self):
                return next(self.it, None)

        for kind in ("qdq", "qop", "dyn"):
            q = os.path.join(out, f"{n}_{kind}.onnx")
            if kind == "dyn":
                quantize_dynamic(p, q, weight_type=QuantType.QInt8)
            else:
                quantize_static(p, q, R(), quant_format=QuantFormat.QDQ if kind == "qdq" else QuantFormat.QOperator,
                                per_channel=True, weight_type=QuantType.QInt8)
            so = ort.SessionOptions()
            so.intra_op_num_threads = 1
            y = ort.InferenceSession(q, so, providers=["CPUExecutionProvider"]).run(None, {iname: x})[0]
            np.save(q[:-5] + ".inputs.npy", x)
            np.save(q[:-5] + ".outputs.npy", y.astype(np.float32))
            print(n, kind)


def main():
    check_pins()
    bench = None
    if len(sys.argv) == 3 and sys.argv[1] == "--ext":
        external(sys.argv[2])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--bench":
        bench = sys.argv[2]
    out = bench or os.path.join(HERE, "quant")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(13)
    if bench:
        models = [("mlp", mlp(rng, [784, 512, 512, 10])), ("mnist_cnn", cnn(rng, 28, 32, 64, 10, 0))]
        kinds = [v for v in variants() if v[0] in ("qdq_u8s8_pc",)]
        batches = [1, 64]
    else:
        models = [("mlp", mlp(rng, [48, 64, 32, 10])), ("cnn", cnn(rng, 12, 8, 16, 10, 1)), ("res", res(np.random.default_rng(14), 8, 8, 10)),
                  ("misc", misc(np.random.default_rng(15), 8, 8, 10)),
                  ("lstm", lstm(np.random.default_rng(16), 12, 8, 16, 10)),
                  # valid convs: a one-channel first layer, an odd map the pool drops a
                  # row and column of (the int8 pool fusion and byte chain)
                  ("cnnv", cnn(np.random.default_rng(18), 16, 4, 8, 10, 0))]
        kinds = variants()
        batches = [8]
    for mname, (g, shape) in models:
        fpath = os.path.join(out, f"{mname}_f32.onnx")
        save_float(g, fpath)
        calib = rng.normal(0, 1, (32,) + shape).astype(np.float32)
        for vname, kind, kw in kinds:
            if kind == "dynamic" and mname not in ("mlp", "lstm", "cnn") or mname in ("res", "misc") and vname not in ("qdq_u8s8", "qop_u8s8") \
                    or mname == "lstm" and kind != "dynamic" or mname == "cnnv" and vname not in ("qdq_u8s8_pc", "qop_u8s8"):
                continue
            name = f"{mname}_{vname}"
            path = os.path.join(out, name + ".onnx")
            quantize(kind, fpath, path, calib, **kw)
            for b in batches:
                x = rng.normal(0, 1, (b,) + shape).astype(np.float32)
                y = run_ort(path, x)
                suffix = "" if not bench else f".b{b}"
                np.save(os.path.join(out, name + suffix + ".inputs.npy"), x)
                np.save(os.path.join(out, name + suffix + ".outputs.npy"), y)
            print(name, os.path.getsize(path), "bytes")
        if not bench:
            os.remove(fpath)
    if not bench:
        fp16_io(np.random.default_rng(17))


if __name__ == "__main__":
    main()
