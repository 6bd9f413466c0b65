#!/usr/bin/env python3
"""Generates testdata/keras_quant/: Keras 3 models after model.quantize("int8"), saved
as .keras and exported by importer/keras/keras2npz.py with 8 samples (Keras's own
predict outputs); the Embedding model's samples are token ids in NAME.ids.npy with
Keras's outputs in NAME.y.npy. Pinned: testdata/requirements.txt (keras 3.15.1,
tensorflow 2.21.0). The .keras zips carry timestamps: regenerate only what changed.

    /opt/kvenv/bin/python testdata/gen_keras_quant.py [NAME...]
"""
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "keras_quant")
PIN = "3.15.1"


def main():
    if keras.__version__ != PIN:
        sys.exit(f"gen_keras_quant.py: want keras {PIN}, have {keras.__version__}")
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(21)
    L = keras.layers
    models = {
        "mlp_int8": keras.Sequential([keras.Input((24,)), L.Dense(32, activation="relu"),
                                      L.Dense(16, activation="tanh"), L.Dense(6, use_bias=False)]),
        "embed_int8": keras.Sequential([keras.Input((10,), dtype="int32"), L.Embedding(50, 12),
                                        L.GlobalAveragePooling1D(), L.Dense(8, activation="relu"), L.Dense(3)]),
    }
    only = sys.argv[1:]  # names to regenerate (all by default)
    for name, m in models.items():
        if only and name not in only:
            continue
        m.quantize("int8")
        src = os.path.join(OUT, name + ".keras")
        m.save(src)
        ids = name.startswith("embed")
        args = [sys.executable, os.path.join(HERE, "..", "importer", "keras", "keras2npz.py"), src,
                os.path.join(OUT, name + ".npz")]
        if not ids:
            args += ["--samples", "8", "--seed", "5"]
        subprocess.run(args, check=True)
        if ids:  # the exporter's samples are random normal floats: token ids here
            x = np.random.default_rng(5).integers(0, 50, (8, 10)).astype(np.int64)
            np.save(os.path.join(OUT, name + ".ids.npy"), x)
            np.save(os.path.join(OUT, name + ".y.npy"), np.asarray(m.predict(x, verbose=0), np.float32))
        print(name)


if __name__ == "__main__":
    main()
