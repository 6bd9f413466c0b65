#!/usr/bin/env python3
"""Build the Keras test-model zoo in testdata/keras/.

Each model is a small Sequential, built with Keras 3 (saved as .keras, some also as a
Keras 3 legacy .h5) or with tf_keras 2.x (saved as .h5). Weights are not trained: every
weight is drawn from a fixed numpy seed (kernels ~ U(+-sqrt(3/fan_in)), biases and
BatchNormalization gamma/beta/moving stats all non-trivial), so the zoo is the same on
every machine. Each source file is exported with importer/keras/keras2npz.py
--samples 4 into testdata/keras/<name>.npz, then checked:
  * the npz loads with numpy, all weights float32, samples present;
  * samples/y equals a fresh keras.saving.load_model(...).predict(samples/x);
  * an independent float64 numpy reference that reads only the npz
    (importer/keras/test_keras2npz.py) reproduces samples/y within the model's
    tolerance (1e-5 abs + 1e-5 rel unless MANIFEST.json says otherwise, with a reason).
MANIFEST.json lists every model. Run from the repository root:

    /opt/kvenv/bin/python testdata/gen_keras_zoo.py [--only NAME ...] [--no-src]
"""

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # bit-stable CPU kernels
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "testdata")
OUT = os.path.join(TESTDATA, "keras")
SRC = os.path.join(OUT, "src")
sys.path.insert(0, os.path.join(ROOT, "importer", "keras"))

SEED = 1234
N_SAMPLES = 4
DEFAULT_TOL = {"atol": 1e-5, "rtol": 1e-5}


# ---------------------------------------------------------------- version pins


def read_pins():
    pins = {}
    with open(os.path.join(TESTDATA, "requirements.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                k, v = line.split("==", 1)
                pins[k.strip().lower().replace("_", "-")] = v.strip()
    return pins


def check_versions():
    import h5py
    import keras
    import tensorflow as tf
    import tf_keras

    have = {
        "tensorflow-cpu": tf.__version__,
        "keras": keras.__version__,
        "tf-keras": tf_keras.__version__,
        "h5py": h5py.__version__,
        "numpy": np.__version__,
        "jax": importlib.metadata.version("jax"),
        "jaxlib": importlib.metadata.version("jaxlib"),
    }
    pins = read_pins()
    bad = [f"{k}=={v} (pinned {pins.get(k)})" for k, v in have.items() if pins.get(k) != v]
    print("versions:", ", ".join(f"{k}=={v}" for k, v in have.items()),
          f"python {sys.version.split()[0]}")
    if bad:
        sys.exit("gen_keras_zoo: versions differ from testdata/requirements.txt: "
                 + "; ".join(bad) + "\nInstall the pins (see testdata/README.md).")
    return have


# ---------------------------------------------------------------- deterministic weights


def init_weights(model, rng):
    """Overwrite every weight with seeded, non-trivial values."""
    for layer in iter_layers(model):
        ws = layer.get_weights()
        if not ws:
            continue
        names = [v.name.split("/")[-1].split(":")[0] for v in layer.weights]
        if len(names) != len(ws):
            raise RuntimeError(f"{layer.name}: weights/get_weights disagree")
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
            elif nm == "depthwise_kernel":
                a = np.sqrt(3.0 / (s[0] * s[1]))
                v = rng.uniform(-a, a, s)
            elif len(s) >= 2:  # kernel, recurrent_kernel
                a = np.sqrt(3.0 / int(np.prod(s[:-1])))
                v = rng.uniform(-a, a, s)
            else:
                raise RuntimeError(f"{layer.name}: unexpected weight {nm} {s}")
            new.append(v.astype(np.float32))
        layer.set_weights(new)


def iter_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and type(layer).__name__ in ("Sequential", "Functional"):
            yield from iter_layers(layer)
        else:
            yield layer


# ---------------------------------------------------------------- the zoo

ZOO = []


def model(name, fw, formats, covers, tol=None, tol_reason=None, backend="tensorflow"):
    """Register a builder. fw: 'k3' (keras 3) or 'k2' (tf_keras). formats: 'keras', 'h5'.

    backend: the Keras 3 backend that runs the model for samples/y. TensorFlow's CPU
    kernels cannot run channels_first Conv2D/pooling ("The Conv2D op currently only
    supports the NHWC tensor format on the CPU"), so those models use backend="jax".
    """

    def deco(fn):
        ZOO.append(dict(name=name, fw=fw, formats=formats, covers=covers, build=fn,
                        tol=tol, tol_reason=tol_reason, backend=backend))
        return fn

    return deco


ALL_ACTIVATIONS = ["linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "tanh", "softmax",
                   "softplus", "softsign", "elu", "selu", "gelu", "swish", "silu",
                   "leaky_relu", "exponential"]


@model("mnist_cnn", "k3", ["keras", "h5"],
       ["Conv2D valid relu", "MaxPooling2D", "Flatten", "Dropout", "Dense softmax"])
def _mnist(k):
    L = k.layers
    return k.Sequential([
        k.Input((28, 28, 1)),
        L.Conv2D(8, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Conv2D(16, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dropout(0.25),
        L.Dense(32, activation="relu"),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ], name="mnist_cnn")


@model("cifar_cnn", "k3", ["keras"],
       ["Conv2D same stride 2 use_bias=False", "BatchNormalization (conv, center=False)",
        "ReLU layer", "MaxPooling2D same", "GlobalAveragePooling2D", "Dense softmax"])
def _cifar(k):
    L = k.layers
    return k.Sequential([
        k.Input((32, 32, 3)),
        L.Conv2D(16, 3, strides=2, padding="same", use_bias=False),
        L.BatchNormalization(),
        L.ReLU(),
        L.Conv2D(32, 3, padding="same"),
        L.BatchNormalization(),
        L.ReLU(),
        L.MaxPooling2D(3, strides=2, padding="same"),
        L.Conv2D(64, 3, strides=2, padding="same", use_bias=False),
        L.BatchNormalization(center=False),
        L.ReLU(),
        L.Conv2D(64, 3, padding="same"),
        L.BatchNormalization(),
        L.ReLU(),
        L.GlobalAveragePooling2D(),
        L.Dense(10, activation="softmax"),
    ], name="cifar_cnn")


@model("mlp_regressor", "k3", ["keras", "h5"],
       ["Dense relu/tanh/elu", "Dense linear output"])
def _mlp(k):
    L = k.layers
    return k.Sequential([
        k.Input((8,)),
        L.Dense(64, activation="relu"),
        L.Dense(32, activation="tanh"),
        L.Dense(16, activation="elu"),
        L.Dense(1),
    ], name="mlp_regressor")


@model("text_lstm2", "k3", ["keras", "h5"],
       ["LSTM return_sequences=True", "stacked LSTM", "Dense softmax"])
def _text_lstm2(k):
    L = k.layers
    return k.Sequential([
        k.Input((12, 8)),
        L.LSTM(16, return_sequences=True),
        L.LSTM(8),
        L.Dense(3, activation="softmax"),
    ], name="text_lstm2")


@model("timeseries_lstm", "k3", ["keras"], ["LSTM over 50 steps", "Dense"])
def _ts_lstm(k):
    L = k.layers
    return k.Sequential([
        k.Input((50, 3)),
        L.LSTM(12),
        L.Dense(1),
    ], name="timeseries_lstm")


@model("lstm_backwards", "k3", ["keras"],
       ["LSTM go_backwards=True return_sequences=True", "LSTM go_backwards=True"])
def _lstm_back(k):
    L = k.layers
    return k.Sequential([
        k.Input((10, 4)),
        L.LSTM(6, go_backwards=True, return_sequences=True),
        L.LSTM(5, go_backwards=True),
        L.Dense(2),
    ], name="lstm_backwards")


@model("lstm_backwards_seq", "k3", ["keras"],
       ["LSTM go_backwards=True return_sequences=True as the last LSTM (output order)",
        "Dense on rank-3 input"])
def _lstm_back_seq(k):
    L = k.layers
    return k.Sequential([
        k.Input((7, 3)),
        L.LSTM(5, go_backwards=True, return_sequences=True),
        L.Dense(2),
    ], name="lstm_backwards_seq")


@model("lstm_hard_sigmoid", "k3", ["keras"],
       ["LSTM recurrent_activation=hard_sigmoid (Keras 3 formula x/6+0.5)"])
def _lstm_hs3(k):
    L = k.layers
    return k.Sequential([
        k.Input((8, 5)),
        L.LSTM(7, recurrent_activation="hard_sigmoid", return_sequences=True),
        L.LSTM(4, recurrent_activation="hard_sigmoid"),
        L.Dense(1),
    ], name="lstm_hard_sigmoid")


@model("lstm_variants", "k3", ["keras"],
       ["LSTM activation=relu", "LSTM use_bias=False"])
def _lstm_var(k):
    L = k.layers
    return k.Sequential([
        k.Input((9, 4)),
        L.LSTM(6, activation="relu", return_sequences=True),
        L.LSTM(4, use_bias=False),
        L.Dense(2, activation="tanh"),
    ], name="lstm_variants")


@model("conv_variants", "k3", ["keras"],
       ["Conv2D valid", "Conv2D same stride (2,1) non-square kernel", "Conv2D dilation_rate=2 same",
        "Conv2D use_bias=False", "Conv2D valid stride 2", "Conv2D dilation valid", "odd sizes"])
def _conv_var(k):
    L = k.layers
    return k.Sequential([
        k.Input((17, 15, 3)),
        L.Conv2D(4, 3, padding="valid", activation="relu"),
        L.Conv2D(5, (3, 2), strides=(2, 1), padding="same"),
        L.Conv2D(6, 3, dilation_rate=2, padding="same", use_bias=False, activation="tanh"),
        L.Conv2D(4, (2, 3), strides=2, padding="valid"),
        L.Conv2D(3, 2, dilation_rate=(1, 2), padding="valid"),
        L.Flatten(),
        L.Dense(5),
    ], name="conv_variants")


@model("conv_channels_first", "k3", ["keras"],
       ["Conv2D data_format=channels_first", "MaxPooling2D channels_first",
        "Flatten (default data_format=channels_last) after channels_first: flattens (C,H,W)"],
       backend="jax")
def _conv_cf(k):
    L = k.layers
    cf = "channels_first"
    return k.Sequential([
        k.Input((3, 12, 10)),
        L.Conv2D(4, 3, padding="same", data_format=cf, activation="relu"),
        L.MaxPooling2D(2, data_format=cf),
        L.Conv2D(5, 3, strides=2, data_format=cf),
        L.Flatten(),
        L.Dense(4),
    ], name="conv_channels_first")


@model("conv_channels_first_flatten_cf", "k3", ["keras"],
       ["Conv2D channels_first strides/dilation", "AveragePooling2D same channels_first",
        "ZeroPadding2D channels_first", "BatchNormalization axis=1",
        "Flatten data_format=channels_first (transposes to (H,W,C) first)",
        "GlobalMaxPooling2D channels_first keepdims=True"],
       backend="jax")
def _conv_cf2(k):
    L = k.layers
    cf = "channels_first"
    return k.Sequential([
        k.Input((2, 11, 9)),
        L.ZeroPadding2D(((1, 0), (2, 1)), data_format=cf),
        L.Conv2D(4, 3, strides=(2, 1), dilation_rate=1, padding="same", data_format=cf),
        L.BatchNormalization(axis=1),
        L.AveragePooling2D(3, strides=2, padding="same", data_format=cf),
        L.Conv2D(3, 2, dilation_rate=2, padding="same", data_format=cf),
        L.Flatten(data_format=cf),
        L.Dense(6, activation="relu"),
        L.Reshape((2, 1, 3)),
        L.GlobalMaxPooling2D(data_format=cf, keepdims=True),
        L.Flatten(),
    ], name="conv_channels_first_flatten_cf")


@model("pooling", "k3", ["keras"],
       ["AveragePooling2D valid", "AveragePooling2D same (divides by valid cells)",
        "MaxPooling2D same (pads -inf)", "MaxPooling2D valid strides!=pool",
        "GlobalMaxPooling2D"])
def _pooling(k):
    L = k.layers
    return k.Sequential([
        k.Input((13, 11, 3)),
        L.Conv2D(4, 1),
        L.AveragePooling2D(2),
        L.AveragePooling2D(3, strides=2, padding="same"),
        L.MaxPooling2D(2, strides=1, padding="same"),
        L.MaxPooling2D((2, 1), strides=(1, 2)),
        L.GlobalMaxPooling2D(),
        L.Dense(3),
    ], name="pooling")


@model("reshape_misc", "k3", ["keras"],
       ["Reshape", "ZeroPadding2D asymmetric", "Rescaling scale+offset", "Activation swish",
        "Permute", "Flatten", "Softmax layer"])
def _reshape_misc(k):
    L = k.layers
    return k.Sequential([
        k.Input((6, 8)),
        L.Reshape((4, 4, 3)),
        L.ZeroPadding2D(((1, 2), (0, 3))),
        L.Rescaling(scale=0.5, offset=0.1),
        L.Conv2D(3, 2),
        L.Activation("swish"),
        L.Permute((2, 1, 3)),
        L.Flatten(),
        L.Dense(8),
        L.Softmax(),
    ], name="reshape_misc")


@model("relu_layers", "k3", ["keras"],
       ["ReLU(max_value, negative_slope, threshold)", "ReLU(max_value=6)", "ReLU()",
        "LeakyReLU default (0.3)", "LeakyReLU(negative_slope=0.05)", "Softmax layer",
        "Activation relu6"])
def _relu_layers(k):
    L = k.layers
    return k.Sequential([
        k.Input((16,)),
        L.Dense(32),
        L.ReLU(max_value=1.5, negative_slope=0.1, threshold=0.25),
        L.Dense(32),
        L.LeakyReLU(),
        L.Dense(16),
        L.LeakyReLU(negative_slope=0.05),
        L.Dense(16),
        L.ReLU(max_value=6.0),
        L.Dense(8),
        L.ReLU(),
        L.Dense(8),
        L.Activation("relu6"),
        L.Dense(6),
        L.Softmax(),
    ], name="relu_layers")


@model("batchnorm_dense", "k3", ["keras", "h5"],
       ["BatchNormalization after Dense", "BatchNormalization scale=False",
        "BatchNormalization center=False", "BatchNormalization epsilon=0.01",
        "Activation relu"])
def _bn_dense(k):
    L = k.layers
    return k.Sequential([
        k.Input((10,)),
        L.Dense(16),
        L.BatchNormalization(scale=False),
        L.Activation("relu"),
        L.Dense(16),
        L.BatchNormalization(center=False, epsilon=0.01),
        L.Dense(4),
        L.BatchNormalization(),
    ], name="batchnorm_dense")


@model("noise_dropout", "k3", ["keras"],
       ["Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout (identity at inference)"])
def _noise(k):
    L = k.layers
    return k.Sequential([
        k.Input((12, 12, 2)),
        L.Conv2D(4, 3),
        L.SpatialDropout2D(0.3),
        L.GaussianNoise(0.5),
        L.GaussianDropout(0.3),
        L.Flatten(),
        L.Dropout(0.5),
        L.Dense(3),
    ], name="noise_dropout")


@model("activations_all", "k3", ["keras"],
       [f"Dense activation={a}" for a in ALL_ACTIVATIONS])
def _acts3(k):
    L = k.layers
    return k.Sequential([k.Input((12,))] + [L.Dense(12, activation=a) for a in ALL_ACTIVATIONS],
                        name="activations_all")


@model("activation_layers", "k3", ["keras"],
       [f"Activation({a})" for a in ALL_ACTIVATIONS if a != "softmax"])
def _act_layers(k):
    L = k.layers
    ls = [k.Input((10,))]
    for a in ALL_ACTIVATIONS:
        if a == "softmax":
            continue
        ls += [L.Dense(10), L.Activation(a)]
    return k.Sequential(ls, name="activation_layers")


def _wide(k, first_input):
    """Dense -> x4 -> activation -> x0.25 per activation string: inputs reach |x| ~ 6,
    so saturating and tail regions (hard_sigmoid clip points, gelu's tails) are hit."""
    L = k.layers
    ls = list(first_input)
    # Compressing activations first, so that later ones are not washed out; the
    # formulas that differ between readings (hard_sigmoid, gelu) come last.
    order = ["softmax", "sigmoid", "tanh", "softsign", "linear", "relu", "relu6", "softplus",
             "elu", "selu", "swish", "silu", "leaky_relu", "hard_sigmoid", "gelu"]
    assert sorted(order + ["exponential"]) == sorted(ALL_ACTIVATIONS)
    for a in order:
        ls += [L.Dense(16), L.Rescaling(4.0), L.Activation(a), L.Rescaling(0.25)]
    ls += [L.Dense(16), L.Activation("exponential")]
    return ls


@model("activations_wide", "k3", ["keras"],
       [f"Activation({a}) on inputs of std ~4 (saturating regions)" for a in ALL_ACTIVATIONS]
       + ["Rescaling"])
def _acts_wide(k):
    return k.Sequential(_wide(k, [k.Input((16,))]), name="activations_wide")


@model("keras2_activations_wide", "k2", ["h5"],
       [f"Keras 2 Activation({a}) on inputs of std ~4" for a in ALL_ACTIVATIONS])
def _k2_acts_wide(k):
    return k.Sequential(_wide(k, [k.layers.InputLayer(input_shape=(16,))]),
                        name="keras2_activations_wide")


@model("nested_sequential", "k3", ["keras", "h5"],
       ["Sequential inside Sequential (two levels)", "BatchNormalization inside nested"])
def _nested(k):
    L = k.layers
    inner2 = k.Sequential([L.Dense(5, activation="tanh"), L.Dense(5)], name="inner2")
    inner = k.Sequential([L.Dense(6, activation="relu"), L.BatchNormalization(), inner2],
                         name="inner")
    return k.Sequential([
        k.Input((10,)),
        L.Dense(8),
        inner,
        L.Dense(3),
    ], name="nested_sequential")


@model("dense_rank3", "k3", ["keras"], ["Dense on rank-3 input (last axis)", "Flatten"])
def _dense3(k):
    L = k.layers
    return k.Sequential([
        k.Input((5, 7)),
        L.Dense(6, activation="relu"),
        L.Dense(4),
        L.Flatten(),
        L.Dense(2),
    ], name="dense_rank3")


@model("depthwise_cnn", "k3", ["keras"],
       ["DepthwiseConv2D depth_multiplier=2 same", "DepthwiseConv2D strides=2 use_bias=False",
        "Conv2D 1x1", "GlobalAveragePooling2D"])
def _dw(k):
    L = k.layers
    return k.Sequential([
        k.Input((10, 10, 4)),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        L.Conv2D(4, 1),
        L.DepthwiseConv2D(3, strides=2, use_bias=False),
        L.GlobalAveragePooling2D(),
        L.Dense(3),
    ], name="depthwise_cnn")


@model("bidirectional_lstm", "k3", ["keras", "h5"],
       ["Bidirectional(LSTM return_sequences=True) merge concat",
        "Bidirectional(LSTM) merge concat"])
def _bidi(k):
    L = k.layers
    return k.Sequential([
        k.Input((9, 4)),
        L.Bidirectional(L.LSTM(5, return_sequences=True)),
        L.Bidirectional(L.LSTM(3)),
        L.Dense(2),
    ], name="bidirectional_lstm")


@model("functional_chain", "k3", ["keras"],
       ["Functional model that is a single chain (model_config is the Functional config "
        "as saved, meta converted_from=Functional)"])
def _functional(k):
    L = k.layers
    x = k.Input((6,))
    y = L.Dense(8, activation="relu")(x)
    y = L.Dense(4, activation="sigmoid")(y)
    return k.Model(x, y, name="functional_chain")


@model("no_input_layer", "k3", ["keras", "h5"],
       ["Sequential built by calling it on a batch of 2 (no keras.Input): Keras adds an "
        "InputLayer whose batch_shape is [2, 6], a concrete batch size, not null; the "
        "batch dim must be treated as free (samples use batch 4)"])
def _no_input(k):
    L = k.layers
    m = k.Sequential([L.Dense(5, activation="relu"), L.Dense(3)], name="no_input_layer")
    m(np.zeros((2, 6), np.float32))
    return m


# ---- Keras 2 (tf_keras) models, saved as legacy .h5


@model("keras2_bidirectional", "k2", ["h5"],
       ["Keras 2 Bidirectional(LSTM return_sequences=True)", "Keras 2 Bidirectional(LSTM)"])
def _k2_bidi(k):
    L = k.layers
    return k.Sequential([
        L.Bidirectional(L.LSTM(4, return_sequences=True), input_shape=(7, 3)),
        L.Bidirectional(L.LSTM(3)),
        L.Dense(2),
    ], name="keras2_bidirectional")


@model("keras2_functional_chain", "k2", ["h5"],
       ["Keras 2 Functional single chain (Keras 2 inbound_nodes lists; model_config "
        "is the Functional config as saved, meta converted_from=Functional)"])
def _k2_functional(k):
    L = k.layers
    x = k.Input((5,))
    y = L.Dense(6, activation="tanh")(x)
    y = L.Dense(2)(y)
    return k.Model(x, y, name="keras2_functional_chain")


@model("keras2_no_input_layer", "k2", ["h5"],
       ["Keras 2 Sequential built by calling it on a batch of 2: InputLayer "
        "batch_input_shape [2, 6] (concrete batch, not null)"])
def _k2_no_input(k):
    L = k.layers
    m = k.Sequential([L.Dense(5, activation="relu"), L.Dense(3)], name="keras2_no_input_layer")
    m(np.zeros((2, 6), np.float32))
    return m


@model("keras2_mlp", "k2", ["h5"],
       ["Keras 2 config (batch_input_shape)", "Dense", "BatchNormalization (axis saved as [1])",
        "Dropout"])
def _k2_mlp(k):
    L = k.layers
    return k.Sequential([
        L.Dense(32, activation="relu", input_shape=(10,)),
        L.BatchNormalization(),
        L.Dropout(0.2),
        L.Dense(16, activation="tanh"),
        L.Dense(3, activation="softmax"),
    ], name="keras2_mlp")


@model("keras2_cnn", "k2", ["h5"],
       ["Keras 2 Conv2D valid/same/strides", "MaxPooling2D", "BatchNormalization",
        "LeakyReLU (alpha)", "Flatten", "Dense softmax"])
def _k2_cnn(k):
    L = k.layers
    return k.Sequential([
        L.Conv2D(8, 3, activation="relu", input_shape=(16, 16, 1)),
        L.MaxPooling2D(2),
        L.Conv2D(8, 3, strides=2, padding="same"),
        L.BatchNormalization(),
        L.LeakyReLU(alpha=0.1),
        L.AveragePooling2D(2, padding="same"),
        L.Flatten(),
        L.Dense(5, activation="softmax"),
    ], name="keras2_cnn")


@model("keras2_lstm", "k2", ["h5"],
       ["Keras 2 LSTM return_sequences=True", "Keras 2 LSTM", "Dense"])
def _k2_lstm(k):
    L = k.layers
    return k.Sequential([
        L.LSTM(8, return_sequences=True, input_shape=(10, 3)),
        L.LSTM(4),
        L.Dense(2),
    ], name="keras2_lstm")


@model("keras2_lstm_hard_sigmoid", "k2", ["h5"],
       ["Keras 2 LSTM recurrent_activation=hard_sigmoid (Keras 2 formula 0.2x+0.5)",
        "go_backwards=True"])
def _k2_lstm_hs(k):
    L = k.layers
    return k.Sequential([
        L.LSTM(6, recurrent_activation="hard_sigmoid", return_sequences=True,
               input_shape=(8, 4)),
        L.LSTM(5, recurrent_activation="hard_sigmoid", go_backwards=True),
        L.Dense(1),
    ], name="keras2_lstm_hard_sigmoid")


@model("keras2_activations_all", "k2", ["h5"],
       [f"Keras 2 Dense activation={a}" for a in ALL_ACTIVATIONS])
def _k2_acts(k):
    L = k.layers
    ls = [L.Dense(12, activation=ALL_ACTIVATIONS[0], input_shape=(12,))]
    ls += [L.Dense(12, activation=a) for a in ALL_ACTIVATIONS[1:]]
    return k.Sequential(ls, name="keras2_activations_all")


@model("keras2_nested_bn", "k2", ["h5"],
       ["Keras 2 nested Sequential with BatchNormalization (tf.keras lists the nested "
        "model's weights trainable-first in weight_names)"])
def _k2_nested(k):
    L = k.layers
    inner = k.Sequential([L.Dense(6, input_shape=(8,)), L.BatchNormalization(),
                          L.Dense(5, activation="relu"), L.BatchNormalization()], name="inner")
    return k.Sequential([L.InputLayer(input_shape=(8,)), inner, L.Dense(2)],
                        name="keras2_nested_bn")


# ---- GRU and SimpleRNN (Keras 3 and tf_keras 2)


@model("gru_seq", "k3", ["keras", "h5"],
       ["GRU return_sequences=True (reset_after=True, the default)", "GRU go_backwards=True",
        "stacked GRU"])
def _gru_seq(k):
    L = k.layers
    return k.Sequential([
        k.Input((9, 4)),
        L.GRU(8, return_sequences=True),
        L.GRU(5, go_backwards=True),
        L.Dense(2),
    ], name="gru_seq")


@model("gru_reset_before", "k3", ["keras"],
       ["GRU reset_after=False (bias (3u), reset applied before U_h)",
        "GRU reset_after=False use_bias=False recurrent_activation=hard_sigmoid (Keras 3 formula)"])
def _gru_rb(k):
    L = k.layers
    return k.Sequential([
        k.Input((7, 3)),
        L.GRU(6, reset_after=False, return_sequences=True),
        L.GRU(4, reset_after=False, use_bias=False, recurrent_activation="hard_sigmoid"),
        L.Dense(2),
    ], name="gru_reset_before")


@model("gru_activations", "k3", ["keras"],
       ["GRU activation=relu recurrent_activation=hard_sigmoid",
        "GRU activation=softsign recurrent_activation=tanh",
        "GRU activation=selu recurrent_activation=softplus",
        "GRU activation=softmax (over the units) recurrent_activation=sigmoid"])
def _gru_acts(k):
    L = k.layers
    return k.Sequential([
        k.Input((6, 3)),
        L.GRU(5, activation="relu", recurrent_activation="hard_sigmoid", return_sequences=True),
        L.GRU(4, activation="softsign", recurrent_activation="tanh", return_sequences=True),
        L.GRU(4, activation="selu", recurrent_activation="softplus", return_sequences=True),
        L.GRU(3, activation="softmax"),
        L.Dense(2),
    ], name="gru_activations")


@model("gru_backwards_seq", "k3", ["keras"],
       ["GRU go_backwards=True return_sequences=True as the last GRU (output order)",
        "TimeDistributed(Dense) after a GRU sequence"])
def _gru_back_seq(k):
    L = k.layers
    return k.Sequential([
        k.Input((7, 3)),
        L.GRU(5, go_backwards=True, return_sequences=True),
        L.TimeDistributed(L.Dense(2)),
    ], name="gru_backwards_seq")


@model("gru_forecaster", "k3", ["keras"],
       ["GRU forecaster on float inputs: GRU(16) x2 over 30 steps, Dense relu, Dense(1)"])
def _gru_forecast(k):
    L = k.layers
    return k.Sequential([
        k.Input((30, 3)),
        L.GRU(16, return_sequences=True),
        L.GRU(16),
        L.Dense(8, activation="relu"),
        L.Dense(1),
    ], name="gru_forecaster")


@model("gru_wide", "k3", ["keras"], ["GRU(48) over 12 steps (wider than the small-unit kernels)"])
def _gru_wide(k):
    L = k.layers
    return k.Sequential([
        k.Input((12, 6)),
        L.GRU(48),
        L.Dense(3),
    ], name="gru_wide")


@model("simple_rnn", "k3", ["keras", "h5"],
       ["SimpleRNN return_sequences=True", "SimpleRNN activation=relu go_backwards=True",
        "SimpleRNN use_bias=False"])
def _simple_rnn(k):
    L = k.layers
    return k.Sequential([
        k.Input((8, 3)),
        L.SimpleRNN(8, return_sequences=True),
        L.SimpleRNN(6, activation="relu", go_backwards=True, return_sequences=True),
        L.SimpleRNN(4, use_bias=False),
        L.Dense(2),
    ], name="simple_rnn")


@model("bidirectional_gru", "k3", ["keras", "h5"],
       ["Bidirectional(GRU return_sequences=True) merge sum",
        "Bidirectional(SimpleRNN return_sequences=True) merge mul",
        "Bidirectional(GRU reset_after=False return_sequences=True) merge concat",
        "Bidirectional(GRU) merge ave"])
def _bidi_gru(k):
    L = k.layers
    return k.Sequential([
        k.Input((7, 4)),
        L.Bidirectional(L.GRU(5, return_sequences=True), merge_mode="sum"),
        L.Bidirectional(L.SimpleRNN(4, return_sequences=True), merge_mode="mul"),
        L.Bidirectional(L.GRU(3, reset_after=False, return_sequences=True), merge_mode="concat"),
        L.Bidirectional(L.GRU(3), merge_mode="ave"),
        L.Dense(2),
    ], name="bidirectional_gru")


@model("gru_time_distributed", "k3", ["keras", "h5"],
       ["TimeDistributed(SimpleRNN return_sequences=True) over a leading axis",
        "TimeDistributed(GRU)", "GRU over the TimeDistributed outputs"])
def _gru_td(k):
    L = k.layers
    return k.Sequential([
        k.Input((4, 6, 3)),
        L.TimeDistributed(L.SimpleRNN(3, return_sequences=True)),
        L.TimeDistributed(L.GRU(5)),
        L.GRU(4),
        L.Dense(2),
    ], name="gru_time_distributed")


@model("keras2_gru", "k2", ["h5"],
       ["Keras 2 GRU reset_after=False recurrent_activation=hard_sigmoid (formula 0.2x+0.5) "
        "return_sequences=True", "Keras 2 GRU go_backwards=True (reset_after=True default)"])
def _k2_gru(k):
    L = k.layers
    return k.Sequential([
        L.GRU(6, reset_after=False, recurrent_activation="hard_sigmoid", return_sequences=True,
              input_shape=(8, 3)),
        L.GRU(4, go_backwards=True),
        L.Dense(2),
    ], name="keras2_gru")


@model("keras2_simple_rnn_bidi", "k2", ["h5"],
       ["Keras 2 SimpleRNN return_sequences=True",
        "Keras 2 Bidirectional(GRU reset_after=False return_sequences=True) merge ave",
        "Keras 2 Bidirectional(SimpleRNN) merge concat"])
def _k2_rnn_bidi(k):
    L = k.layers
    return k.Sequential([
        L.SimpleRNN(5, return_sequences=True, input_shape=(6, 3)),
        L.Bidirectional(L.GRU(4, reset_after=False, return_sequences=True), merge_mode="ave"),
        L.Bidirectional(L.SimpleRNN(3)),
        L.Dense(2),
    ], name="keras2_simple_rnn_bidi")


# ---------------------------------------------------------------- build, export, verify


def class_list(layers):
    out = []
    for l in layers:
        if l["class_name"] == "Sequential":
            out.append("Sequential[" + ",".join(class_list(l["config"]["layers"])) + "]")
        elif l["class_name"] == "Bidirectional":
            out.append(f"Bidirectional[{l['config']['layer']['class_name']}]")
        elif l["class_name"] != "InputLayer":
            out.append(l["class_name"])
    return out


def normalize_keras_zip(path):
    """Make a saved .keras file byte-reproducible without changing what it means.

    Keras writes Python object ids ("shared_object_id": 140213947683728) into
    config.json, the save date into metadata.json, and the current time into the zip
    headers. Ids are renumbered 1, 2, ... in order of first appearance (the same id
    keeps the same number, so shared objects stay shared), the date is fixed and the
    zip entries get a fixed timestamp. keras2npz then copies config.json as is.
    """
    with zipfile.ZipFile(path) as z:
        members = [(zi, z.read(zi.filename)) for zi in z.infolist()]
    ids = {}

    def renumber(m):
        return f'"shared_object_id": {ids.setdefault(m.group(1), len(ids) + 1)}'

    out = []
    for zi, data in members:
        if zi.filename == "config.json":
            data = re.sub(r'"shared_object_id": (\d+)', renumber, data.decode()).encode()
        elif zi.filename == "metadata.json":
            meta = json.loads(data)
            meta["date_saved"] = "2000-01-01@00:00:00"
            data = json.dumps(meta).encode()
        nzi = zipfile.ZipInfo(zi.filename, date_time=(1980, 1, 1, 0, 0, 0))
        nzi.compress_type = zi.compress_type
        nzi.external_attr = 0o644 << 16
        out.append((nzi, data))
    with zipfile.ZipFile(path + ".tmp", "w") as z:
        for zi, data in out:
            z.writestr(zi, data)
    os.replace(path + ".tmp", path)


def build_one(entry, k3, k2, rng_seed):
    fw = k3 if entry["fw"] == "k3" else k2
    fw.backend.clear_session()  # layer auto-names start from scratch for every model
    fw.utils.set_random_seed(rng_seed)
    m = entry["build"](fw)
    init_weights(m, np.random.default_rng(rng_seed))
    return m


def predict_in_subprocess(src_path, x, backend):
    """keras.saving.load_model(src).predict(x) under another Keras 3 backend."""
    with tempfile.TemporaryDirectory() as td:
        np.save(os.path.join(td, "x.npy"), x)
        code = ("import sys, numpy as np, keras\n"
                "m = keras.saving.load_model(sys.argv[1], compile=False)\n"
                "x = np.load(sys.argv[2])\n"
                "np.save(sys.argv[3], np.asarray(m.predict(x, verbose=0), dtype=np.float32))\n")
        subprocess.check_call([sys.executable, "-c", code, src_path,
                               os.path.join(td, "x.npy"), os.path.join(td, "y.npy")],
                              env=dict(os.environ, KERAS_BACKEND=backend))
        return np.load(os.path.join(td, "y.npy"))


def export_and_verify(entry, src_path, npz_name, k3, k2, ref, keras2npz):
    out = os.path.join(OUT, npz_name + ".npz")
    cli = [src_path, out, "--samples", str(N_SAMPLES), "--seed", str(SEED)]
    if entry["backend"] == "tensorflow":
        rc = keras2npz.main(cli)
    else:
        rc = subprocess.call([sys.executable, keras2npz.__file__] + cli,
                             env=dict(os.environ, KERAS_BACKEND=entry["backend"]))
    if rc != 0:
        raise RuntimeError(f"keras2npz failed on {src_path} (exit {rc})")
    meta, arrays = ref.load_npz(out)
    for lpath, keys in meta["weights"].items():
        for key in keys:
            assert arrays[key].dtype == np.float32, key
    x, y = arrays["samples/x"], arrays["samples/y"]
    if entry["backend"] == "tensorflow":
        fw = k3 if entry["fw"] == "k3" else k2
        fresh = (fw.saving.load_model(src_path, compile=False) if entry["fw"] == "k3"
                 else fw.models.load_model(src_path, compile=False))
        y2 = np.asarray(fresh.predict(x, verbose=0), dtype=np.float32)
    else:
        y2 = predict_in_subprocess(src_path, x, entry["backend"])
    keras_diff = float(np.max(np.abs(y2 - y)))
    if keras_diff > 1e-6:
        raise RuntimeError(f"{npz_name}: fresh model.predict differs from samples/y by {keras_diff}")
    yref = ref.reference_forward(meta, arrays, x)
    tol = {"atol": entry["tol"], "rtol": entry["tol"]} if entry["tol"] else dict(DEFAULT_TOL)
    ratio = ref.error_ratio(yref, y, tol["atol"], tol["rtol"])
    ratio_default = ref.error_ratio(yref, y)
    maxabs = float(np.max(np.abs(yref - y)))
    status = "ok" if ratio <= 1.0 else "OVER TOLERANCE"
    print(f"  {npz_name:34s} out {tuple(y.shape)} keras-rerun diff {keras_diff:.1e} "
          f"float64-ref max|d| {maxabs:.2e} ratio {ratio_default:.3f} {status}")
    if ratio > 1.0:
        raise RuntimeError(f"{npz_name}: float64 reference error {ratio:.3g}x the bound {tol}")
    seq_layers = (meta["model_config"]["config"]["layers"])
    rec = {
        "name": npz_name,
        "file": npz_name + ".npz",
        "source": os.path.relpath(src_path, OUT),
        "source_format": meta["source_format"],
        "framework": "keras" if entry["fw"] == "k3" else "tf_keras",
        "samples_backend": entry["backend"],
        "keras_version": meta["keras_version"],
        "input_shape": list(x.shape[1:]),
        "output_shape": list(y.shape[1:]),
        "params": int(sum(int(np.prod(arrays[k].shape)) for ks in meta["weights"].values()
                          for k in ks)),
        "layers": class_list(seq_layers),
        "covers": entry["covers"],
        "samples": int(x.shape[0]),
        "sample_seed": SEED,
        "tolerance": tol,
        "measured": {"float64_reference_max_abs_err": maxabs,
                     "float64_reference_err_over_default_bound": round(ratio_default, 4)},
    }
    if meta.get("converted_from"):
        rec["converted_from"] = meta["converted_from"]
    if entry["tol_reason"]:
        rec["tolerance"]["reason"] = entry["tol_reason"]
    return rec


def update_readme_table(records):
    """Rewrite the model table between the zoo-table markers of testdata/README.md."""
    path = os.path.join(TESTDATA, "README.md")
    if not os.path.exists(path):
        return
    with open(path) as f:
        text = f.read()
    begin, end = "<!-- zoo-table:begin -->", "<!-- zoo-table:end -->"
    if begin not in text or end not in text:
        return
    rows = ["| model | from | input | output | params | layers | covers |",
            "|---|---|---|---|---|---|---|"]
    for r in records:
        src = f"{r['framework']} {r['keras_version']} `.{r['source_format']}`"
        if r.get("samples_backend", "tensorflow") != "tensorflow":
            src += f" (y by {r['samples_backend']})"
        rows.append("| `{}` | {} | {} | {} | {} | {} | {} |".format(
            r["name"], src, tuple(r["input_shape"]), tuple(r["output_shape"]), r["params"],
            ", ".join(r["layers"]), "; ".join(r["covers"]).replace("|", "/")))
    new = text.split(begin)[0] + begin + "\n" + "\n".join(rows) + "\n" + end + text.split(end)[1]
    with open(path, "w") as f:
        f.write(new)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="build only these models (keeps others in MANIFEST)")
    ap.add_argument("--no-src", action="store_true", help="do not keep the source files")
    args = ap.parse_args()
    versions = check_versions()

    import keras as k3
    import tf_keras as k2
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    import keras2npz
    import test_keras2npz as ref

    os.makedirs(SRC, exist_ok=True)
    mpath = os.path.join(OUT, "MANIFEST.json")
    old = {}
    if args.only and os.path.exists(mpath):
        with open(mpath) as f:
            old = {m["name"]: m for m in json.load(f)["models"]}
    records = []
    for idx, entry in enumerate(ZOO):
        names = [entry["name"]] + ([entry["name"] + "_h5"] if entry["fw"] == "k3"
                                   and "h5" in entry["formats"] else [])
        if args.only and not set(names) & set(args.only):
            records += [old[n] for n in names if n in old]
            continue
        print(f"[{idx + 1}/{len(ZOO)}] {entry['name']}")
        # Seed from the name, so adding a model does not change the others.
        m = build_one(entry, k3, k2, (SEED + zlib.crc32(entry["name"].encode())) % 2**31)
        for fmt in entry["formats"]:
            if entry["fw"] == "k3" and fmt == "keras":
                src, npz_name = os.path.join(SRC, entry["name"] + ".keras"), entry["name"]
            elif entry["fw"] == "k3":
                src, npz_name = os.path.join(SRC, entry["name"] + ".h5"), entry["name"] + "_h5"
            else:
                src, npz_name = os.path.join(SRC, entry["name"] + ".h5"), entry["name"]
            m.save(src)
            if src.endswith(".keras"):
                normalize_keras_zip(src)
            records.append(export_and_verify(entry, src, npz_name, k3, k2, ref, keras2npz))
    manifest = {
        "generator": "testdata/gen_keras_zoo.py",
        "exporter": "importer/keras/keras2npz.py",
        "format": "kinfer-npz version 1 (docs/npz-format.md)",
        "versions": versions,
        "default_tolerance": dict(DEFAULT_TOL, rule="|got - want| <= atol + rtol*|want|"),
        "sample_inputs": "standard normal, numpy default_rng(sample_seed), shape (samples, *input_shape)",
        "models": records,
    }
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    update_readme_table(records)
    if args.no_src:
        shutil.rmtree(SRC)
    total = 0
    for dp, _, fs in os.walk(TESTDATA):
        total += sum(os.path.getsize(os.path.join(dp, x)) for x in fs)
    print(f"{len(records)} models; testdata/ is {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
