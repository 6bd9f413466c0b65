#!/usr/bin/env python3
"""Build the 3-D convolution and pooling fixtures (volumetric / video models, NDHWC in
kinfer):

  testdata/keras_conv3d/   Keras models (Conv3D, MaxPooling3D, AveragePooling3D,
                           GlobalAverage/MaxPooling3D), same pins, weights recipe and
                           exporter as gen_keras_layers.py (importer/keras/keras2npz.py
                           --samples 4 --seed 1234: samples/y is Keras's own predict)
  testdata/onnx/conv3d_*   torch nn.Conv3d / MaxPool3d / AvgPool3d models exported with
                           torch.onnx.export (Debian python3-torch 1.13.0a0 under
                           /usr/bin/python3), and onnx.helper models for what torch does
                           not emit (auto_pad, GlobalMaxPool); outputs by ONNX Runtime
                           (onnxruntime==1.31.1, one thread)

Run from the repository root:

    /opt/kvenv/bin/python testdata/gen_conv3d.py [keras] [torch] [helper]
"""

import json
import os
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
KOUT = os.path.join(HERE, "keras_conv3d")
OOUT = os.path.join(HERE, "onnx")


# ---------------------------------------------------------------- Keras

def keras_models():
    import gen_keras_layers as gl
    import gen_keras_zoo as zoo
    import numpy as np  # noqa: F401

    models = []

    def model(name, fw, covers, backend="tensorflow"):
        def deco(fn):
            models.append(dict(name=name, fw=fw, formats=["keras" if fw == "k3" else "h5"], covers=covers,
                               build=fn, tol=None, tol_reason=None, backend=backend))
            return fn
        return deco

    @model("conv3d_video", "k3",
           ["Conv3D same relu", "MaxPooling3D (1, 2, 2)", "AveragePooling3D 3 strides (2, 1, 1) same",
            "Conv3D dilation_rate (1, 2, 2) tanh", "Conv3D (2, 3, 3) strides 2 same", "Conv3D 1x1x1",
            "GlobalAveragePooling3D", "Dense softmax"])
    def _video(k):
        L = k.layers
        return k.Sequential([k.Input((8, 16, 16, 3)),
                             L.Conv3D(8, 3, padding="same", activation="relu"),
                             L.MaxPooling3D((1, 2, 2)),
                             L.AveragePooling3D(3, strides=(2, 1, 1), padding="same"),
                             L.Conv3D(12, 3, dilation_rate=(1, 2, 2), activation="tanh"),
                             L.Conv3D(16, (2, 3, 3), strides=2, padding="same"),
                             L.Conv3D(6, 1, activation="relu"),
                             L.GlobalAveragePooling3D(),
                             L.Dense(4, activation="softmax")],
                            name="conv3d_video")

    @model("conv3d_pool", "k3",
           ["MaxPooling3D 3 strides 2 same (odd sizes)", "AveragePooling3D (2, 3, 2) valid strides (1, 2, 1)",
            "Conv3D use_bias=False strides (1, 2, 3) valid", "Conv3D groups 2", "BatchNormalization on volumes",
            "GlobalMaxPooling3D keepdims=True", "Flatten"])
    def _pool(k):
        L = k.layers
        return k.Sequential([k.Input((5, 7, 9, 4)),
                             L.MaxPooling3D(3, strides=2, padding="same"),
                             L.Conv3D(6, 2, padding="same", groups=2),
                             L.BatchNormalization(),
                             L.AveragePooling3D((2, 3, 2), strides=(1, 2, 1)),
                             L.Conv3D(5, (1, 1, 2), strides=(1, 2, 3), use_bias=False),
                             L.GlobalMaxPooling3D(keepdims=True),
                             L.Flatten()],
                            name="conv3d_pool")

    @model("conv3d_cf", "k3",
           ["Conv3D channels_first same", "MaxPooling3D channels_first", "AveragePooling3D channels_first same",
            "Conv3D channels_first softmax (over channels)", "GlobalAveragePooling3D channels_first keepdims",
            "Flatten channels_first"], backend="jax")
    def _cf(k):
        L = k.layers
        cf = dict(data_format="channels_first")
        return k.Sequential([k.Input((3, 6, 8, 7)),
                             L.Conv3D(4, 3, padding="same", activation="relu", **cf),
                             L.MaxPooling3D(2, **cf),
                             L.AveragePooling3D(2, strides=1, padding="same", **cf),
                             L.Conv3D(5, (1, 2, 2), activation="softmax", **cf),
                             L.Conv3D(3, 1, **cf),
                             L.GlobalAveragePooling3D(keepdims=True, **cf),
                             L.Flatten(**cf)],
                            name="conv3d_cf")

    @model("keras2_conv3d", "k2", ["Keras 2 Conv3D", "Keras 2 MaxPooling3D", "Keras 2 AveragePooling3D",
                                   "Keras 2 GlobalMaxPooling3D"])
    def _k2(k):
        L = k.layers
        return k.Sequential([L.InputLayer(input_shape=(4, 6, 6, 2)),
                             L.Conv3D(4, 3, padding="same", activation="relu"),
                             L.MaxPooling3D(2),
                             L.AveragePooling3D((1, 2, 2), padding="same"),
                             L.Conv3D(3, (2, 1, 1)),
                             L.GlobalMaxPooling3D(),
                             L.Dense(2)],
                            name="keras2_conv3d")

    versions = zoo.check_versions()
    import keras as k3
    import keras2npz
    import tensorflow as tf
    import test_keras2npz
    import tf_keras as k2
    tf.config.experimental.enable_op_determinism()

    src_dir = os.path.join(KOUT, "src")
    zoo.OUT, zoo.SRC = KOUT, src_dir  # export_and_verify writes under zoo.OUT
    os.makedirs(src_dir, exist_ok=True)
    zoo.init_weights = gl.init_weights
    records = []
    for entry in models:
        print(entry["name"])
        m = zoo.build_one(entry, k3, k2, (zoo.SEED + zlib.crc32(entry["name"].encode())) % 2**31)
        ext = ".keras" if entry["fw"] == "k3" else ".h5"
        src = os.path.join(src_dir, entry["name"] + ext)
        m.save(src)
        if ext == ".keras":
            zoo.normalize_keras_zip(src)
        rec = zoo.export_and_verify(entry, src, entry["name"], k3, k2, gl._Ref(test_keras2npz), keras2npz)
        del rec["measured"]
        records.append(rec)
    manifest = {
        "generator": "testdata/gen_conv3d.py",
        "exporter": "importer/keras/keras2npz.py",
        "format": "kinfer-npz version 1 (docs/npz-format.md)",
        "versions": versions,
        "default_tolerance": dict(zoo.DEFAULT_TOL, rule="|got - want| <= atol + rtol*|want|"),
        "sample_inputs": "standard normal, numpy default_rng(sample_seed), shape (samples, *input_shape)",
        "models": records,
    }
    with open(os.path.join(KOUT, "MANIFEST.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"{len(records)} Keras models")


# ---------------------------------------------------------------- ONNX

def torch_models(out):
    import numpy as np
    import torch
    from torch import nn

    torch.manual_seed(16)
    torch.set_num_threads(1)
    video = nn.Sequential(
        nn.Conv3d(3, 6, 3, padding=1), nn.BatchNorm3d(6), nn.ReLU(),
        nn.MaxPool3d((1, 2, 2)),
        nn.Conv3d(6, 8, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        nn.AvgPool3d(3, stride=1, padding=1),  # count_include_pad=True
        nn.Conv3d(8, 8, 3, groups=2, dilation=(1, 2, 2), padding=(1, 2, 2)), nn.Tanh(),
        nn.AvgPool3d(2, stride=(1, 2, 2), padding=1, count_include_pad=False),
        nn.MaxPool3d(2, stride=2, ceil_mode=True),
        nn.Conv3d(8, 5, 1),
        nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(5, 3))
    pool = nn.Sequential(
        nn.MaxPool3d(3, stride=2, padding=1),
        nn.Conv3d(2, 4, 2, bias=False),
        nn.MaxPool3d((2, 1, 2), dilation=(1, 1, 2)),
        nn.Conv3d(4, 4, 1, stride=(1, 2, 1)), nn.ReLU(),
        nn.AvgPool3d((1, 2, 1), stride=1))
    ceil = nn.Sequential(  # the last window overhangs W (kept) and would start in H's end padding (dropped)
        nn.AvgPool3d(2, stride=(1, 2, 2), padding=(0, 1, 0), ceil_mode=True, count_include_pad=False),
        nn.Conv3d(2, 3, 1))
    models = [
        ("video", video, (2, 3, 8, 12, 12), (13, 17)),
        ("pool", pool, (2, 2, 9, 10, 11), (13,)),
        ("avgceil", ceil, (2, 2, 5, 7, 9), (13,)),
    ]
    rng = np.random.default_rng(16)
    for name, m, shape, opsets in models:
        m.eval()
        with torch.no_grad():  # non-trivial BatchNorm statistics
            for mm in m.modules():
                if isinstance(mm, nn.BatchNorm3d):
                    mm.running_mean.uniform_(-0.3, 0.3)
                    mm.running_var.uniform_(0.5, 1.5)
                    mm.weight.uniform_(0.6, 1.4)
                    mm.bias.uniform_(-0.2, 0.2)
        x = rng.standard_normal(shape).astype(np.float32)
        for opset in opsets:
            fn = f"conv3d_torch_{name}_op{opset}"
            torch.onnx.export(m, torch.from_numpy(x), os.path.join(out, fn + ".onnx"),
                              opset_version=opset, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
            np.save(os.path.join(out, fn + ".inputs.npy"), x)
            print("wrote", fn)


def helper_models(out):
    """auto_pad SAME_UPPER / SAME_LOWER on 5-D Conv and pooling, AveragePool ceil_mode
    (count_include_pad=0) with and without overhang, GlobalMaxPool; BatchNormalization on
    5-D data."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(17)
    f32 = lambda *s: rng.standard_normal(s).astype(np.float32)

    def build(name, nodes, inits, x, yshape, opset):
        g = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + list(x.shape[1:]))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, yshape)],
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="onnx.helper")
        m.ir_version = 8
        return m

    def save(name, nodes, inits, x, opset):
        probe = build(name, nodes, inits, x, None, opset)
        s = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
        yshape = ["N"] + list(s.run(None, {"x": x})[0].shape[1:])
        m = build(name, nodes, inits, x, yshape, opset)
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, os.path.join(out, name + ".onnx"))
        np.save(os.path.join(out, name + ".inputs.npy"), x)
        print("wrote", name)

    x = f32(2, 3, 5, 6, 7)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], auto_pad="SAME_UPPER", strides=[2, 1, 2]),
        helper.make_node("MaxPool", ["c1"], ["p1"], kernel_shape=[2, 2, 2], auto_pad="SAME_LOWER", strides=[1, 2, 1]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], auto_pad="SAME_LOWER", strides=[1, 1, 2]),
        helper.make_node("AveragePool", ["c2"], ["p2"], kernel_shape=[2, 2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("AveragePool", ["p2"], ["p3"], kernel_shape=[1, 2, 2], ceil_mode=1, strides=[1, 1, 1]),
        # (3, 2, 1) -> (2, 1, 1): D's last window overhangs (kept), H's would start in the
        # end padding (dropped)
        helper.make_node("AveragePool", ["p3"], ["p4"], kernel_shape=[2, 2, 1], ceil_mode=1, strides=[2, 2, 2],
                         pads=[0, 0, 0, 0, 1, 0]),
        helper.make_node("GlobalMaxPool", ["p4"], ["y"]),
    ]
    inits = {"w1": f32(4, 3, 3, 2, 3) * 0.4, "b1": f32(4), "w2": f32(5, 4, 2, 3, 2) * 0.4}
    save("conv3d_helper_autopad_op13", nodes, inits, x, 13)
    # BatchNormalization on 5-D data before a Conv (an affine the padded conv cannot
    # absorb) and after it (folded into the conv)
    x = f32(2, 3, 4, 5, 6)
    nodes = [
        helper.make_node("BatchNormalization", ["x", "s1", "b1", "m1", "v1"], ["h"]),
        helper.make_node("Conv", ["h", "w"], ["c"], pads=[1, 1, 1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s2", "b2", "m2", "v2"], ["y"], epsilon=1e-3),
    ]
    inits = {"s1": f32(3), "b1": f32(3), "m1": f32(3), "v1": rng.uniform(0.5, 1.5, 3).astype(np.float32),
             "w": f32(4, 3, 3, 3, 3) * 0.3, "s2": f32(4), "b2": f32(4), "m2": f32(4),
             "v2": rng.uniform(0.5, 1.5, 4).astype(np.float32)}
    save("conv3d_helper_bn_op13", nodes, inits, x, 13)


def reference_outputs(out):
    import numpy as np
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    for f in sorted(os.listdir(out)):
        if not f.endswith(".onnx") or not f.startswith("conv3d_"):
            continue
        base = f[:-5]
        s = ort.InferenceSession(os.path.join(out, f), opts, providers=["CPUExecutionProvider"])
        x = np.load(os.path.join(out, base + ".inputs.npy"))
        (y,) = s.run(None, {s.get_inputs()[0].name: x})[:1]
        np.save(os.path.join(out, base + ".outputs.npy"), y.astype(np.float32))
        print(base, x.shape, "->", y.shape)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--torch":
        torch_models(sys.argv[2])
        return
    which = sys.argv[1:] or ["keras", "torch", "helper"]
    if "keras" in which:
        keras_models()
    if "torch" in which:
        subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--torch", OOUT], check=True)
    if "helper" in which:
        helper_models(OOUT)
    if "torch" in which or "helper" in which:
        reference_outputs(OOUT)


if __name__ == "__main__":
    main()
