#!/usr/bin/env python3
"""Generates ONNX fixtures exported at the old opsets 7 to 10 (docs/onnx-opsets.md)
in testdata/onnx/ (names torcho_*), beside gen_onnx.py's; TestONNXZooEveryISA runs
them against ONNX Runtime like every other fixture there.

  /opt/kvenv/bin/python testdata/gen_onnx_opsets.py
    - spawns `/usr/bin/python3 testdata/gen_onnx_opsets.py --torch DIR` (Debian
      python3-torch 1.13.0a0, python3-torchvision 0.14.1a0, torch.onnx.export)
    - converts the bench CNNs (Keras 3, tensorflow backend) with tf2onnx 1.17.0 at
      opsets 9 and 10 (torcho_keras_*)
    - runs ONNX Runtime (onnxruntime==1.31.1, one thread) on the new fixtures

torch writes at these opsets the old node forms: BatchNormalization with spatial
(< 9), Dropout, Clip with min/max attributes (ReLU6), Upsample (7-9) / Resize-10,
Pad with pads/value attributes, Slice with attributes, Softmax's 2-D coercion.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx")
PREFIX = "torcho_"


def torch_models(out):
    import numpy as np
    import torch
    import torchvision
    from torch import nn
    from torchvision.ops.misc import Conv2dNormActivation

    torch.manual_seed(21)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(22)

    class Crop(nn.Module):  # a Slice on H and W
        def forward(self, x):
            return x[:, :, 1:-1, 2:]

    cnn = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(), nn.MaxPool2d(2),
        nn.Dropout(0.3), nn.Conv2d(8, 8, 3, groups=8, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"), nn.ZeroPad2d((1, 2, 0, 1)), Crop(),
        nn.Conv2d(8, 6, 3, stride=2), nn.Hardtanh(-0.5, 1.5), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(6 * 3 * 3, 10), nn.Softmax(dim=1))
    # torch 1.13 cannot export Upsample below opset 9: the opset-7 model keeps the rest
    cnn_noup = nn.Sequential(*[mm for mm in cnn if not isinstance(mm, nn.Upsample)])
    cnn_noup[-2] = nn.Linear(6, 10)
    mv2 = torchvision.models.mobilenet_v2(weights=None, width_mult=0.25, num_classes=10)
    mv2.features[-1] = Conv2dNormActivation(mv2.features[-1][0].in_channels, 96, kernel_size=1,
                                            activation_layer=nn.ReLU6)
    mv2.classifier[-1] = nn.Linear(96, 10)
    models = [
        ("cnn", cnn, (2, 3, 14, 14), (9, 10)),
        ("cnn_noup", cnn_noup, (2, 3, 14, 14), (7, 8)),
        ("mobilenet_v2", mv2, (2, 3, 32, 32), (9,)),
    ]
    rng = np.random.default_rng(23)
    for name, m, shape, opsets in models:
        with torch.no_grad():  # random statistics so that BatchNorm is not an identity
            for mm in m.modules():
                if isinstance(mm, nn.BatchNorm2d):
                    c = mm.num_features
                    mm.running_mean.copy_(torch.rand(c, generator=gen) * 0.6 - 0.3)
                    mm.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
                    mm.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                    mm.bias.copy_(torch.rand(c, generator=gen) * 0.6 - 0.3)
                if isinstance(mm, nn.Linear):
                    mm.weight.normal_(0, mm.in_features ** -0.5, generator=gen)
        m.eval()
        x = rng.standard_normal(shape).astype(np.float32)
        for opset in opsets:
            fn = f"{PREFIX}{name}_op{opset}"
            torch.onnx.export(m, torch.from_numpy(x), os.path.join(out, fn + ".onnx"),
                              opset_version=opset, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
            np.save(os.path.join(out, fn + ".inputs.npy"), x)
            print("wrote", fn, os.path.getsize(os.path.join(out, fn + ".onnx")), "bytes")


def keras_models(out):
    """The bench CNNs (bench/models.py: mnist_cnn as benchmarked, cifar_cnn's structure
    at 1/4 width to stay small) converted by tf2onnx at opsets 9 and 10, as older
    tf2onnx exports in circulation are."""
    import numpy as np
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf
    import tf2onnx
    sys.path.insert(0, os.path.join(HERE, "..", "bench"))
    import models as bench

    def cifar_small(keras):
        L = keras.layers
        layers = [keras.Input((32, 32, 3))]
        for f in (8, 16, 32):
            for _ in range(2):
                layers += [L.Conv2D(f, 3, padding="same"), L.BatchNormalization(), L.ReLU()]
            layers.append(L.MaxPooling2D(2))
        layers += [L.Flatten(), L.Dense(40), L.BatchNormalization(), L.ReLU(),
                   L.Dropout(0.3), L.Dense(10)]
        return keras.Sequential(layers, name="cifar_cnn_small")

    for name, build, seed in (("mnist_cnn", bench._mnist_cnn, 12), ("cifar_cnn_small", cifar_small, 13)):
        keras.utils.set_random_seed(seed)
        model = build(keras)
        bench.randomize(model, np.random.default_rng(seed))
        in_shape = tuple(model.input_shape[1:])
        x = np.random.default_rng(seed + 100).standard_normal((2,) + in_shape).astype(np.float32)
        sig = (tf.TensorSpec((None,) + in_shape, tf.float32, name="x"),)
        fn = tf.function(lambda x: model(x, training=False))
        for opset in (9, 10):
            fn_name = f"{PREFIX}keras_{name}_op{opset}"
            tf2onnx.convert.from_function(fn, input_signature=sig, opset=opset,
                                          output_path=os.path.join(out, fn_name + ".onnx"))
            np.save(os.path.join(out, fn_name + ".inputs.npy"), x)
            print("wrote", fn_name, os.path.getsize(os.path.join(out, fn_name + ".onnx")), "bytes")


def reference_outputs(out):
    import numpy as np
    import onnx
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    for f in sorted(os.listdir(out)):
        if not f.endswith(".onnx") or not f.startswith(PREFIX):
            continue
        base = f[:-5]
        m = onnx.load(os.path.join(out, f))
        ops = sorted({n.op_type for n in m.graph.node})
        s = ort.InferenceSession(os.path.join(out, f), opts, providers=["CPUExecutionProvider"])
        x = np.load(os.path.join(out, base + ".inputs.npy"))
        (y,) = s.run(None, {s.get_inputs()[0].name: x})[:1]
        np.save(os.path.join(out, base + ".outputs.npy"), y.astype(np.float32))
        print(base, "opset", m.opset_import[0].version, x.shape, "->", y.shape, ops)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--torch":
        torch_models(sys.argv[2])
        return
    which = sys.argv[1:] or ["torch", "keras"]
    if "torch" in which:
        subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--torch", OUT], check=True)
    if "keras" in which:
        keras_models(OUT)
    reference_outputs(OUT)


if __name__ == "__main__":
    main()
