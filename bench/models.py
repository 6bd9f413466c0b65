"""The benchmark set: five Keras Sequential models (and two opt-in Functional CNNs,
resnet18 and mobilenet_v2) with deterministic weights and inputs, exported to every
engine's format.

Run by bench/run.py in its own process (TensorFlow threading does not matter here):

    python bench/models.py --cache DIR [--models a,b] [--batches 1,8,64]

For each model NAME it writes, under DIR/NAME/:
  model.keras           the Keras 3 model (random weights from a fixed seed; BatchNorm
                        statistics set to non-trivial values so BN is not an identity)
  model.npz             kinfer's format, written by importer/keras/keras2npz.py
  model.onnx            tf2onnx conversion of a tf.function around model(x), dynamic batch
  model_b{B}.tflite     TFLiteConverter, one file per batch size (fixed shapes)
                        (per-batch files are added when a new batch size is asked for)
  x_b{B}.npy            the input used by every engine at batch B (standard normal)
  ref_b{B}.npy          Keras model(x) output for x_b{B} (the agreement reference)
and DIR/manifest.json describing them. A model is rebuilt only when its recipe, this
file, or the framework versions change.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
KERAS2NPZ = os.path.join(REPO, "importer", "keras", "keras2npz.py")


# name -> (seed, description, input shape without batch, builder). Builders take keras.
def _mnist_cnn(keras):
    L = keras.layers
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        L.Conv2D(32, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Conv2D(64, 3, activation="relu"),
        L.MaxPooling2D(2),
        L.Flatten(),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ], name="mnist_cnn")


def _cifar_cnn(keras):
    L = keras.layers
    layers = [keras.Input((32, 32, 3))]
    for f in (32, 64, 128):
        for _ in range(2):
            layers += [L.Conv2D(f, 3, padding="same"), L.BatchNormalization(), L.ReLU()]
        layers.append(L.MaxPooling2D(2))
    layers += [L.Flatten(), L.Dense(320), L.BatchNormalization(), L.ReLU(),
               L.Dropout(0.3), L.Dense(10)]
    return keras.Sequential(layers, name="cifar_cnn")


def _mlp(keras):
    L = keras.layers
    return keras.Sequential([
        keras.Input((784,)),
        L.Dense(512, activation="relu"),
        L.Dense(512, activation="relu"),
        L.Dense(10, activation="softmax"),
    ], name="mlp")


def _text_lstm(keras):
    # Pre-embedded tokens: kinfer has no Embedding layer, so the sequence of 64-dim
    # token vectors is the input (the lookup itself is a gather, not what is measured).
    L = keras.layers
    return keras.Sequential([
        keras.Input((50, 64)),
        L.LSTM(128, return_sequences=True),
        L.LSTM(128),
        L.Dense(5, activation="softmax"),
    ], name="text_lstm")


def _lstm256(keras):
    L = keras.layers
    return keras.Sequential([
        keras.Input((100, 32)),
        L.LSTM(256),
        L.Dense(10),
    ], name="lstm256")


def _resnet18(keras):
    # ResNet-18 (He et al. 2016, torchvision's layout) as a Keras Functional model at
    # 128x128x3: explicit ZeroPadding2D before the 7x7/2 stem and the 3x3/2 max pool, as
    # keras.applications.ResNet50 does, so the padding is symmetric like torch's.
    L = keras.layers
    x = inp = keras.Input((128, 128, 3))
    x = L.ZeroPadding2D(3)(x)
    x = L.Conv2D(64, 7, strides=2, use_bias=False)(x)
    x = L.ReLU()(L.BatchNormalization()(x))
    x = L.ZeroPadding2D(1)(x)
    x = L.MaxPooling2D(3, strides=2)(x)
    cin = 64
    for stage, f in enumerate((64, 128, 256, 512)):
        for block in range(2):
            s = 2 if stage > 0 and block == 0 else 1
            y = L.Conv2D(f, 3, strides=s, padding="same", use_bias=False)(x)
            y = L.ReLU()(L.BatchNormalization()(y))
            y = L.Conv2D(f, 3, padding="same", use_bias=False)(y)
            y = L.BatchNormalization()(y)
            if s != 1 or cin != f:  # 1x1 projection shortcut where the shape changes
                x = L.BatchNormalization()(L.Conv2D(f, 1, strides=s, use_bias=False)(x))
            x = L.ReLU()(L.Add()([x, y]))
            cin = f
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(1000)(x)
    return keras.Model(inp, x, name="resnet18")


def _mobilenet_v2(keras):
    # Logits, not softmax: with random weights the 1000 probabilities are all near 1e-3,
    # and the agreement bound 1e-5 + 1e-5*|want| would then pass almost any error.
    return keras.applications.MobileNetV2(input_shape=(128, 128, 3), alpha=1.0,
                                          weights=None, include_top=True, classes=1000,
                                          classifier_activation=None)


MODELS = {
    "mlp": dict(seed=11, build=_mlp, desc="MLP 784-512-512-10, ReLU, softmax"),
    "mnist_cnn": dict(seed=12, build=_mnist_cnn,
                      desc="MNIST CNN: 2x(Conv3x3+ReLU+MaxPool), Dense softmax, 28x28x1"),
    "cifar_cnn": dict(seed=13, build=_cifar_cnn,
                      desc="CIFAR CNN: 6x(Conv3x3 same+BN+ReLU), 3 MaxPool, Dense 320+BN+ReLU, Dense 10, 32x32x3"),
    "text_lstm": dict(seed=14, build=_text_lstm,
                      desc="text LSTM: 2 stacked LSTM(128) over 50 steps of 64-dim embeddings, Dense softmax"),
    "lstm256": dict(seed=15, build=_lstm256, desc="LSTM(256) over 100 steps x 32 features, Dense 10"),
    # Opt-in (run.py --models cnn): larger CNNs whose full-mode run takes several minutes.
    "resnet18": dict(seed=16, build=_resnet18,
                     desc="ResNet-18 (Functional): 7x7/2 conv, maxpool, 4x2 basic blocks with 1x1 projections, GAP, Dense 1000; 128x128x3"),
    "mobilenet_v2": dict(seed=17, build=_mobilenet_v2,
                         desc="keras.applications.MobileNetV2, alpha 1.0, weights=None, 1000 logits (no softmax); 128x128x3"),
}
ORDER = ["mlp", "mnist_cnn", "cifar_cnn", "text_lstm", "lstm256", "resnet18", "mobilenet_v2"]


def versions():
    import keras
    import onnx
    import tensorflow as tf
    import tf2onnx
    return {"tensorflow": tf.__version__, "keras": keras.__version__,
            "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__, "numpy": np.__version__}


def recipe_key(name):
    h = hashlib.sha256()
    with open(__file__, "rb") as f:
        h.update(f.read())
    with open(KERAS2NPZ, "rb") as f:
        h.update(f.read())
    h.update(json.dumps([name, versions()], sort_keys=True).encode())
    return h.hexdigest()[:16]


def randomize(model, rng):
    """Keras initializes biases to zero, which would hide bias bugs: draw them instead,
    and give BatchNormalization non-trivial statistics."""
    for layer in model.layers:
        for v in layer.weights:
            if v.path.endswith("bias"):
                v.assign(rng.normal(0, 0.1, tuple(v.shape)).astype(np.float32))
        if layer.__class__.__name__ == "BatchNormalization":
            gamma, beta, mean, var = layer.get_weights()
            n = gamma.shape[0]
            layer.set_weights([
                rng.uniform(0.5, 1.5, n).astype(np.float32),
                rng.normal(0, 0.1, n).astype(np.float32),
                rng.normal(0, 0.2, n).astype(np.float32),
                rng.uniform(0.5, 2.0, n).astype(np.float32),
            ])


BASE_FILES = ["model.keras", "model.npz", "model.onnx"]


def batch_files(b):
    return [f"model_b{b}.tflite", f"x_b{b}.npy", f"ref_b{b}.npy"]


def build_one(name, d, batches, log, reuse):
    """Builds the model and its exports into d; with reuse, loads the cached model.keras
    and adds only the per-batch files that are missing."""
    import keras
    import tensorflow as tf

    spec = MODELS[name]
    os.makedirs(d, exist_ok=True)
    kpath = os.path.join(d, "model.keras")
    if reuse:
        model = keras.saving.load_model(kpath)
    else:
        keras.utils.set_random_seed(spec["seed"])
        model = spec["build"](keras)
        randomize(model, np.random.default_rng(spec["seed"]))
        model.save(kpath)
    in_shape = tuple(model.input_shape[1:])

    if not reuse:
        import tf2onnx
        t = time.time()
        subprocess.run([sys.executable, KERAS2NPZ, kpath, os.path.join(d, "model.npz")],
                       check=True)
        log(f"  {name}: keras2npz {time.time() - t:.1f}s")

        # ONNX: tf2onnx.convert.from_keras fails on Keras 3 models (KeyError on
        # keras_tensor names), so convert a tf.function around the inference call instead.
        t = time.time()
        sig = (tf.TensorSpec((None,) + in_shape, tf.float32, name="x"),)
        fn = tf.function(lambda x: model(x, training=False))
        tf2onnx.convert.from_function(fn, input_signature=sig, opset=17,
                                      output_path=os.path.join(d, "model.onnx"))
        log(f"  {name}: tf2onnx {time.time() - t:.1f}s")

    t = time.time()
    for b in batches:
        if reuse and all(os.path.exists(os.path.join(d, f)) for f in batch_files(b)):
            continue
        # A fixed-batch functional clone sharing the weights: from_keras_model freezes
        # the variables (from_concrete_functions leaves READ_VARIABLE ops that fail).
        inp = keras.Input(in_shape, batch_size=b)
        fixed = keras.Model(inp, model(inp))
        conv = tf.lite.TFLiteConverter.from_keras_model(fixed)
        with open(os.path.join(d, f"model_b{b}.tflite"), "wb") as f:
            f.write(conv.convert())
        rng = np.random.default_rng([spec["seed"], b])
        x = rng.standard_normal((b,) + in_shape).astype(np.float32)
        np.save(os.path.join(d, f"x_b{b}.npy"), x)
        np.save(os.path.join(d, f"ref_b{b}.npy"), model(x, training=False).numpy())
    log(f"  {name}: tflite + inputs + Keras outputs {time.time() - t:.1f}s")

    return {
        "name": name, "desc": spec["desc"], "params": int(model.count_params()),
        "input_shape": list(in_shape), "output_shape": list(model.output_shape[1:]),
        "layers": [l.__class__.__name__ for l in model.layers],
        "recurrent": any(l.__class__.__name__ == "LSTM" for l in model.layers),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True)
    ap.add_argument("--models", default=",".join(ORDER))
    ap.add_argument("--batches", default="1,8,64")
    args = ap.parse_args()
    names = [m for m in args.models.split(",") if m]
    batches = sorted({int(b) for b in args.batches.split(",")} | {8})  # 8: agreement batch
    for n in names:
        if n not in MODELS:
            sys.exit(f"unknown model {n!r}; have {', '.join(ORDER)}")
    os.makedirs(args.cache, exist_ok=True)
    mpath = os.path.join(args.cache, "manifest.json")
    manifest = {}
    if os.path.exists(mpath):
        with open(mpath) as f:
            manifest = json.load(f)
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    for n in names:
        key = recipe_key(n)
        d = os.path.join(args.cache, n)
        have = manifest.get(n)
        reuse = bool(have and have.get("key") == key and all(
            os.path.exists(os.path.join(d, f)) for f in BASE_FILES))
        if reuse and all(os.path.exists(os.path.join(d, f)) for b in batches for f in batch_files(b)):
            log(f"  {n}: cached")
            continue
        t = time.time()
        info = build_one(n, d, batches, log, reuse)
        info["key"] = key
        manifest[n] = info
        log(f"  {n}: {info['params']} params, {'updated' if reuse else 'built'} in {time.time() - t:.1f}s")
        with open(mpath, "w") as f:
            json.dump(manifest, f, indent=1)
    manifest["_versions"] = versions()
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
