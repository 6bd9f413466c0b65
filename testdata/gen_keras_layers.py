#!/usr/bin/env python3
"""Build testdata/keras_layers/: small Keras models for the layers that ResNet, MobileNet
and U-Net style models use (Conv2DTranspose, UpSampling2D, Cropping1D/2D,
LayerNormalization, per-channel PReLU, global pooling with keepdims, hard_swish).

A sibling of gen_keras_zoo.py with the same pins, weights recipe and exporter
(importer/keras/keras2npz.py --samples 4 --seed 1234: samples/y is Keras's own
model.predict). These models are kept apart from testdata/keras/ because
importer/keras/test_keras2npz.py's float64 numpy reference covers only the zoo's layer
kinds; kinfer's Go tests read both directories (internal/zoo). Run from the repository
root:

    /opt/kvenv/bin/python testdata/gen_keras_layers.py [--only NAME ...]
"""

import argparse
import json
import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_keras_zoo as zoo  # noqa: E402  (sets the TF environment first)
import numpy as np  # noqa: E402

OUT = os.path.join(HERE, "keras_layers")
SRC = os.path.join(OUT, "src")

MODELS = []


def model(name, fw, covers, backend="tensorflow"):
    def deco(fn):
        MODELS.append(dict(name=name, fw=fw, formats=["keras" if fw == "k3" else "h5"], covers=covers,
                           build=fn, tol=None, tol_reason=None, backend=backend))
        return fn
    return deco


def init_weights(m, rng):
    """As gen_keras_zoo.init_weights, plus PReLU slopes in [-0.3, 0.6] (some negative)."""
    for layer in zoo.iter_layers(m):
        ws = layer.get_weights()
        if not ws:
            continue
        names = [v.name.split("/")[-1].split(":")[0] for v in layer.weights]
        new = []
        for nm, w in zip(names, ws):
            s = w.shape
            if nm == "gamma":
                v = rng.uniform(0.6, 1.4, s)
            elif nm == "beta":
                v = rng.normal(0.0, 0.2, s)
            elif nm == "moving_mean":
                v = rng.normal(0.0, 0.3, s)
            elif nm == "moving_variance":
                v = rng.uniform(0.4, 1.6, s)
            elif nm == "bias":
                v = rng.uniform(-0.2, 0.2, s)
            elif nm == "alpha":
                v = rng.uniform(-0.3, 0.6, s)
            elif len(s) >= 2:
                a = np.sqrt(3.0 / int(np.prod(s[:-1])))
                v = rng.uniform(-a, a, s)
            else:
                raise RuntimeError(f"{layer.name}: unexpected weight {nm} {s}")
            new.append(v.astype(np.float32))
        layer.set_weights(new)


@model("conv_transpose_valid", "k3",
       ["Conv2DTranspose valid strides 2 output_padding 1 relu", "Conv2DTranspose valid stride 3 > kernel 2",
        "Conv2DTranspose valid (3, 2) strides (1, 2) use_bias=False"])
def _ct_valid(k):
    L = k.layers
    return k.Sequential([k.Input((2, 2, 3)),
                         L.Conv2DTranspose(4, 3, strides=2, padding="valid", output_padding=1, activation="relu"),
                         L.Conv2DTranspose(3, 2, strides=3, padding="valid"),
                         L.Conv2DTranspose(2, (3, 2), strides=(1, 2), padding="valid", use_bias=False)],
                        name="conv_transpose_valid")


@model("conv_transpose_same", "k3",
       ["Conv2DTranspose same kernel 1 stride 3 (stride > kernel)", "Conv2DTranspose same strides 2",
        "Conv2DTranspose same (3, 2) strides (1, 2) output_padding (0, 1)", "Conv2DTranspose same kernel 4 sigmoid"])
def _ct_same(k):
    L = k.layers
    return k.Sequential([k.Input((2, 2, 2)),
                         L.Conv2DTranspose(3, 1, strides=3, padding="same"),
                         L.Conv2DTranspose(4, 3, strides=2, padding="same"),
                         L.Conv2DTranspose(3, (3, 2), strides=(1, 2), padding="same", output_padding=(0, 1)),
                         L.Conv2DTranspose(2, 4, strides=1, padding="same", activation="sigmoid")],
                        name="conv_transpose_same")


@model("conv_transpose_cf", "k3",
       ["Conv2DTranspose channels_first same strides 2", "Conv2DTranspose channels_first valid output_padding (1, 0)",
        "Conv2DTranspose dilation_rate 2", "UpSampling2D channels_first bilinear", "Cropping2D channels_first",
        "LayerNormalization axis 1 (channels) on channels_first maps"], backend="jax")
def _ct_cf(k):
    L = k.layers
    cf = dict(data_format="channels_first")
    return k.Sequential([k.Input((3, 4, 5)),
                         L.Conv2DTranspose(4, 3, strides=2, padding="same", **cf),
                         L.Conv2DTranspose(3, (2, 3), strides=(2, 1), padding="valid", output_padding=(1, 0), **cf),
                         L.Conv2DTranspose(2, 3, dilation_rate=2, padding="valid", activation="tanh", **cf),
                         L.UpSampling2D(2, interpolation="bilinear", **cf),
                         L.Cropping2D(((1, 2), (3, 0)), **cf),
                         L.LayerNormalization(axis=1)],
                        name="conv_transpose_cf")


@model("prelu_cf", "k3", ["PReLU shared_axes [2, 3] on channels_first maps (alpha (C, 1, 1))",
                          "PReLU shared_axes [1] on channels_first maps (alpha (1, H, W))",
                          "Conv2DTranspose channels_first 2x2 stride 2"], backend="jax")
def _prelu_cf(k):
    L = k.layers
    cf = dict(data_format="channels_first")
    return k.Sequential([k.Input((3, 6, 5)), L.Conv2D(4, 3, **cf), L.PReLU(shared_axes=[2, 3]),
                         L.Conv2DTranspose(2, 2, strides=2, **cf), L.PReLU(shared_axes=[1]),
                         L.Flatten(**cf), L.Dense(3)],
                        name="prelu_cf")


@model("upsampling", "k3",
       ["UpSampling2D nearest size 2", "UpSampling2D bilinear size (2, 3)", "UpSampling2D nearest (3, 1)",
        "Cropping2D ((1, 0), (2, 1))", "Cropping2D 1"])
def _upsampling(k):
    L = k.layers
    return k.Sequential([k.Input((3, 4, 2)),
                         L.UpSampling2D(2),
                         L.Conv2D(3, 1),
                         L.UpSampling2D((2, 3), interpolation="bilinear"),
                         L.Cropping2D(((1, 0), (2, 1))),
                         L.UpSampling2D((3, 1)),
                         L.Cropping2D(1)],
                        name="upsampling")


@model("cropping1d", "k3", ["Cropping1D (2, 1)", "Cropping1D default (1, 1)", "Dense on sequences"])
def _crop1d(k):
    L = k.layers
    return k.Sequential([k.Input((10, 3)), L.Cropping1D((2, 1)), L.Dense(4), L.Cropping1D(), L.Flatten(), L.Dense(3)],
                        name="cropping1d")


@model("layernorm_dense", "k3", ["LayerNormalization on rank-2 input", "LayerNormalization center=False epsilon 0.1"])
def _ln_dense(k):
    L = k.layers
    return k.Sequential([k.Input((12,)), L.Dense(8), L.LayerNormalization(), L.Dense(6, activation="relu"),
                         L.LayerNormalization(center=False, epsilon=0.1), L.Dense(4)],
                        name="layernorm_dense")


@model("layernorm_seq", "k3",
       ["LayerNormalization axis -1 on (T, F)", "LayerNormalization axis [1, 2] on (T, F)",
        "LayerNormalization axis [2, 3] on (H, W, C), scale=False", "LayerNormalization axis [1, 2, 3]",
        "LayerNormalization axis 2 on (H, W, C) (a middle axis)"])
def _ln_seq(k):
    L = k.layers
    return k.Sequential([k.Input((4, 6)), L.LayerNormalization(), L.Dense(6), L.LayerNormalization(axis=[1, 2]),
                         L.Reshape((2, 2, 6)),
                         L.LayerNormalization(axis=[2, 3], scale=False),
                         L.LayerNormalization(axis=[1, 2, 3], epsilon=1e-2),
                         L.LayerNormalization(axis=2)],
                        name="layernorm_seq")


@model("prelu", "k3",
       ["PReLU shared_axes [1, 2] (per channel)", "PReLU per element", "PReLU on Dense output",
        "PReLU shared_axes [2] (per row and channel)", "Dense activation=hard_swish", "Activation hard_silu"])
def _prelu(k):
    L = k.layers
    return k.Sequential([k.Input((6, 6, 3)), L.Conv2D(4, 3), L.PReLU(shared_axes=[1, 2]),
                         L.Conv2D(4, 1), L.PReLU(shared_axes=[2]), L.Conv2D(2, 2, strides=2), L.PReLU(),
                         L.Flatten(), L.Dense(6, activation="hard_swish"), L.PReLU(), L.Activation("hard_silu")],
                        name="prelu")


@model("gap_keepdims", "k3", ["GlobalAveragePooling2D keepdims=True", "GlobalMaxPooling2D keepdims=True",
                              "Conv2D 1x1 on (1, 1, C)"])
def _gap_keep(k):
    L = k.layers
    return k.Sequential([k.Input((6, 5, 3)), L.Conv2D(4, 3, activation="relu"),
                         L.GlobalAveragePooling2D(keepdims=True), L.Conv2D(5, 1), L.UpSampling2D(2),
                         L.GlobalMaxPooling2D(keepdims=True), L.Flatten()],
                        name="gap_keepdims")


@model("unet_tiny", "k3", ["a U-Net decoder chain: Conv2D, MaxPooling2D, Conv2DTranspose same 2x2 stride 2, "
                           "UpSampling2D bilinear, BatchNormalization, Cropping2D"])
def _unet(k):
    L = k.layers
    return k.Sequential([k.Input((12, 12, 2)), L.Conv2D(8, 3, padding="same", activation="relu"),
                         L.MaxPooling2D(2), L.Conv2D(16, 3, padding="same", activation="relu"),
                         L.Conv2DTranspose(8, 2, strides=2, padding="same"), L.BatchNormalization(),
                         L.ReLU(), L.UpSampling2D(2, interpolation="bilinear"), L.Cropping2D(2),
                         L.Conv2D(1, 1, activation="sigmoid")],
                        name="unet_tiny")


@model("keras2_upsample_ln", "k2", ["Keras 2 Conv2DTranspose same stride 2", "Keras 2 UpSampling2D bilinear",
                                    "Keras 2 LayerNormalization", "Keras 2 PReLU shared_axes [1, 2]",
                                    "Keras 2 Cropping2D"])
def _k2(k):
    L = k.layers
    return k.Sequential([k.layers.InputLayer(input_shape=(4, 4, 2)),
                         L.Conv2DTranspose(4, 3, strides=2, padding="same"), L.PReLU(shared_axes=[1, 2]),
                         L.UpSampling2D(2, interpolation="bilinear"), L.Cropping2D(((1, 2), (0, 1))),
                         L.LayerNormalization(), L.Conv2D(2, 3)],
                        name="keras2_upsample_ln")


class _Ref:
    """gen_keras_zoo.export_and_verify's float64 reference does not know these layers:
    the Go tests are the check (kinfer's reference pass against samples/y)."""

    def __init__(self, ref):
        self.ref = ref

    def load_npz(self, p):
        return self.ref.load_npz(p)

    def reference_forward(self, meta, arrays, x):
        return arrays["samples/y"]

    def error_ratio(self, *a, **kw):
        return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    versions = zoo.check_versions()
    import keras as k3
    import tensorflow as tf
    import tf_keras as k2
    tf.config.experimental.enable_op_determinism()
    import keras2npz
    import test_keras2npz

    zoo.OUT, zoo.SRC = OUT, SRC  # export_and_verify writes under zoo.OUT
    os.makedirs(SRC, exist_ok=True)
    mpath = os.path.join(OUT, "MANIFEST.json")
    old = {}
    if args.only and os.path.exists(mpath):
        with open(mpath) as f:
            old = {m["name"]: m for m in json.load(f)["models"]}
    zoo.init_weights = init_weights  # build_one calls it
    records = []
    for entry in MODELS:
        if args.only and entry["name"] not in args.only:
            if entry["name"] in old:
                records.append(old[entry["name"]])
            continue
        print(entry["name"])
        m = zoo.build_one(entry, k3, k2, (zoo.SEED + zlib.crc32(entry["name"].encode())) % 2**31)
        ext = ".keras" if entry["fw"] == "k3" else ".h5"
        src = os.path.join(SRC, entry["name"] + ext)
        m.save(src)
        if ext == ".keras":
            zoo.normalize_keras_zip(src)
        rec = zoo.export_and_verify(entry, src, entry["name"], k3, k2, _Ref(test_keras2npz), keras2npz)
        del rec["measured"]
        records.append(rec)
    manifest = {
        "generator": "testdata/gen_keras_layers.py",
        "exporter": "importer/keras/keras2npz.py",
        "format": "kinfer-npz version 1 (docs/npz-format.md)",
        "versions": versions,
        "default_tolerance": dict(zoo.DEFAULT_TOL, rule="|got - want| <= atol + rtol*|want|"),
        "sample_inputs": "standard normal, numpy default_rng(sample_seed), shape (samples, *input_shape)",
        "models": records,
    }
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"{len(records)} models")


if __name__ == "__main__":
    main()
