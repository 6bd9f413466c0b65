#!/usr/bin/env python3
"""Generates testdata/keras_quant/: Keras 3 models after model.quantize("int8"), saved
as .keras and exported by importer/keras/keras2npz.py with 8 samples (Keras's own
predict outputs). Pinned: testdata/requirements.txt (keras 3.15.1, tensorflow 2.21.0).

    /opt/kvenv/bin/python testdata/gen_keras_quant.py
"""
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras  # noqa: E402

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
    }
    for name, m in models.items():
        m.quantize("int8")
        src = os.path.join(OUT, name + ".keras")
        m.save(src)
        subprocess.run([sys.executable, os.path.join(HERE, "..", "importer", "keras", "keras2npz.py"), src,
                        os.path.join(OUT, name + ".npz"), "--samples", "8", "--seed", "5"], check=True)
        print(name)


if __name__ == "__main__":
    main()
