#!/usr/bin/env python3
"""Generates testdata/keras_einsum/: Keras 3 EinsumDense models (float, and the same
models after model.quantize("int8")) and an int8 MultiHeadAttention model, saved as
.keras and exported by importer/keras/keras2npz.py with 8 samples (Keras's own predict
outputs); the MHA model's samples are token ids in NAME.ids.npy with Keras's outputs in
NAME.y.npy. Pinned: testdata/requirements.txt (keras 3.15.1, tensorflow 2.21.0).

    /opt/kvenv/bin/python testdata/gen_keras_einsum.py [NAME...]
"""
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "keras_einsum")
PIN = "3.15.1"


def models():
    L = keras.layers
    rb = {"bias_initializer": "random_normal"}  # nonzero biases, so a misplaced one shows
    return {
        # "ab,bc->ac" with and without bias
        "ed_2d": lambda: keras.Sequential([
            keras.Input((12,)),
            L.EinsumDense("ab,bc->ac", 8, bias_axes="c", activation="relu", **rb),
            L.EinsumDense("ab,bc->ac", 5)]),
        # MHA's projections: split into heads and merge back, bias on one or two axes,
        # a softmax over the last axis only
        "ed_heads": lambda: keras.Sequential([
            keras.Input((5, 12)),
            L.EinsumDense("abc,cd->abd", (5, 10), bias_axes="d", activation="tanh", **rb),
            L.EinsumDense("abc,cde->abde", (5, 3, 4), bias_axes="de", **rb),
            L.EinsumDense("abcd,cde->abe", (5, 6), bias_axes="e", **rb),
            L.EinsumDense("abc,cde->abde", (5, 2, 3), bias_axes="e", activation="softmax", **rb),
            L.EinsumDense("abcd,cde->abe", (5, 4))]),
        # kernels whose axes are not (contracted..., new...): permuted at import; a bias
        # on a leading new axis, broadcast over the last
        "ed_perm": lambda: keras.Sequential([
            keras.Input((4, 6)),
            L.EinsumDense("abc,dc->abd", (4, 5), bias_axes="d", **rb),
            L.EinsumDense("abc,ecd->abde", (4, 3, 2), bias_axes="d", **rb),
            L.EinsumDense("abcd,dce->abe", (4, 3))]),
    }


def mha():
    L = keras.layers
    x = keras.Input((10,), dtype="int32")
    # unit-scale embeddings and weights: outputs of order 1, so the bound bites
    e = L.Embedding(30, 16, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))(x)
    a = L.MultiHeadAttention(num_heads=2, key_dim=8, value_dim=6, bias_initializer="random_normal",
                             kernel_initializer=keras.initializers.RandomNormal(stddev=0.4))(e, e, use_causal_mask=True)
    p = L.GlobalAveragePooling1D()(a)
    return keras.Model(x, L.Dense(3, bias_initializer="random_normal")(p))


def export(name, m, ids=None):
    src = os.path.join(OUT, name + ".keras")
    m.save(src)
    args = [sys.executable, os.path.join(HERE, "..", "importer", "keras", "keras2npz.py"), src,
            os.path.join(OUT, name + ".npz")]
    if ids is None:
        args += ["--samples", "8", "--seed", "5"]
    subprocess.run(args, check=True)
    if ids is not None:  # the exporter's samples are random normal floats: token ids here
        np.save(os.path.join(OUT, name + ".ids.npy"), ids)
        np.save(os.path.join(OUT, name + ".y.npy"), np.asarray(m.predict(ids, verbose=0), np.float32))
    print(name)


def main():
    if keras.__version__ != PIN:
        sys.exit(f"gen_keras_einsum.py: want keras {PIN}, have {keras.__version__}")
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(31)
    only = sys.argv[1:]  # names to regenerate (all by default)
    for name, make in models().items():
        m = make()
        if not only or name in only:
            export(name, m)
        m.quantize("int8")
        if not only or name + "_int8" in only:
            export(name + "_int8", m)
    if not only or "mha_int8" in only:
        m = mha()
        m.quantize("int8")
        export("mha_int8", m, np.random.default_rng(5).integers(0, 30, (8, 10)).astype(np.int64))


if __name__ == "__main__":
    main()
