#!/usr/bin/env python3
"""Build the Keras Functional (DAG) fixtures in testdata/keras_dag/.

Sibling of gen_keras_zoo.py (same pinned versions, same seeded weights, same
byte-reproducible .keras normalisation, same float64 numpy reference from
importer/keras/test_keras2npz.py), for models that are graphs rather than chains: residual Adds, squeeze-and-excitation, several inputs and outputs, nested
models called twice (shared weights), Concatenate on a non-last axis, every merge
layer, channels_first branches, and MobileNetV2. Each source is exported with
importer/keras/keras2npz.py --samples 4 (npz format version 2) and checked: a fresh
keras.saving.load_model(...).predict(samples) must equal the stored outputs, and the
float64 reference (reading only the npz) must match them within 1e-5 + 1e-5*|y|.
MANIFEST.json lists every model. Run from the repository root:

    /opt/kvenv/bin/python testdata/gen_keras_dag.py [--only NAME ...]

Sources of models above SRC_LIMIT bytes (MobileNetV2) are not kept, so that the
repository stays small; everything is regenerated from this script.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_keras_zoo as zoo  # noqa: E402  (sets the deterministic TF environment)

import numpy as np  # noqa: E402

OUT = os.path.join(zoo.TESTDATA, "keras_dag")
SRC = os.path.join(OUT, "src")
SRC_LIMIT = 200_000

MODELS = []


def model(name, fw, formats, covers, backend="tensorflow", shared=False, bf16=False):
    """Register a builder (see gen_keras_zoo.model). shared: a layer or nested model is
    called more than once, so kinfer's per-node parameter count exceeds Keras's. bf16:
    round the seeded weights to bfloat16 precision (8 significant bits, kept as float32)
    so that the npz deflates to about half its size; the arithmetic stays float32."""

    def deco(fn):
        MODELS.append(dict(name=name, fw=fw, formats=formats, covers=covers, build=fn,
                           backend=backend, shared=shared, bf16=bf16, tol=None,
                           tol_reason=None))
        return fn

    return deco


@model("mobilenet_v2", "k3", ["keras"],
       ["keras.applications.MobileNetV2(alpha=0.35, weights=None, input_shape=(64, 64, 3), "
        "classes=10): inverted residuals (Add), DepthwiseConv2D, ZeroPadding2D, ReLU(6), "
        "BatchNormalization with random moving statistics; weights rounded to bfloat16 "
        "precision to halve the file"], bf16=True)
def _mobilenet(k):
    return k.applications.MobileNetV2(alpha=0.35, weights=None, input_shape=(64, 64, 3),
                                      classes=10)


@model("resnet_small", "k3", ["keras"],
       ["3-stage ResNet: residual Add with identity and 1x1 stride-2 projection shortcuts",
        "Conv2D + BatchNormalization + ReLU; GlobalAveragePooling2D; Dense softmax"])
def _resnet(k):
    L = k.layers
    x = k.Input((24, 24, 3))
    y = L.Conv2D(8, 3, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.ReLU()(y)
    for stage, f in enumerate((8, 12, 16)):
        s = 1 if stage == 0 else 2
        short = y
        if s != 1:
            short = L.Conv2D(f, 1, strides=s, use_bias=False)(y)
            short = L.BatchNormalization()(short)
        z = L.Conv2D(f, 3, strides=s, padding="same", use_bias=False)(y)
        z = L.BatchNormalization()(z)
        z = L.Activation("relu")(z)
        z = L.Conv2D(f, 3, padding="same")(z)
        z = L.BatchNormalization()(z)
        y = L.Add()([z, short])
        y = L.ReLU()(y)
    y = L.GlobalAveragePooling2D()(y)
    y = L.Dense(5, activation="softmax")(y)
    return k.Model(x, y, name="resnet_small")


@model("se_block", "k3", ["keras", "h5"],
       ["squeeze-and-excitation: GlobalAveragePooling2D -> Dense relu -> Dense sigmoid -> "
        "Reshape (1, 1, C) -> Multiply broadcasting (H, W, C) * (1, 1, C)",
        "residual Add around the SE block; Keras 3 legacy .h5 as well"])
def _se(k):
    L = k.layers
    x = k.Input((10, 10, 4))
    y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    s = L.GlobalAveragePooling2D()(y)
    s = L.Dense(2, activation="relu")(s)
    s = L.Dense(8, activation="sigmoid")(s)
    s = L.Reshape((1, 1, 8))(s)
    z = L.Multiply()([y, s])
    z = L.Add()([z, y])
    z = L.Conv2D(4, 1)(z)
    z = L.Flatten()(z)
    z = L.Dense(3)(z)
    return k.Model(x, z, name="se_block")


@model("wide_deep", "k3", ["keras", "h5"],
       ["two inputs (wide (6,), deep (10,)): deep MLP, Concatenate with the wide input, "
        "Dense sigmoid; Keras 3 legacy .h5 as well"])
def _wide_deep(k):
    L = k.layers
    wide = k.Input((6,), name="wide")
    deep = k.Input((10,), name="deep")
    d = L.Dense(16, activation="relu")(deep)
    d = L.Dense(8, activation="relu")(d)
    c = L.Concatenate()([wide, d])
    y = L.Dense(1, activation="sigmoid")(c)
    return k.Model([wide, deep], y, name="wide_deep")


@model("two_outputs", "k3", ["keras"],
       ["one input, two outputs (softmax class head (4,), linear regression head (2,)); "
        "an output that is also read by another layer"])
def _two_out(k):
    L = k.layers
    x = k.Input((7,))
    t = L.Dense(12, activation="tanh")(x)
    cls = L.Dense(4, activation="softmax", name="cls")(t)
    reg = L.Dense(2, name="reg")(L.Concatenate()([t, cls]))
    return k.Model(x, [cls, reg], name="two_outputs")


@model("nested_shared", "k3", ["keras"],
       ["a Sequential block used twice (shared weights)",
        "a nested Functional model with an inner Add, used twice",
        "a Dense layer called twice; Subtract of the two calls"], shared=True)
def _nested(k):
    L = k.layers
    block = k.Sequential([L.Dense(8, activation="relu"), L.BatchNormalization(),
                          L.Dense(8)], name="block")
    i = k.Input((8,))
    a = L.Dense(8, activation="elu")(i)
    b = L.Dense(8)(i)
    inner = k.Model(i, L.Add()([a, b]), name="inner")
    x = k.Input((5,))
    h = L.Dense(8)(x)
    h1 = block(h)
    h2 = block(h1)
    g1 = inner(h1)
    g2 = inner(h2)
    shared = L.Dense(8, activation="sigmoid", name="shared")
    d = L.Subtract()([shared(g1), shared(g2)])
    y = L.Dense(3)(d)
    return k.Model(x, y, name="nested_shared")


@model("concat_axes", "k3", ["keras"],
       ["Concatenate axis=1 (image height) and axis=2 (width) of conv branches",
        "Concatenate axis=1 (time) of sequences; Concatenate default axis -1"])
def _concat(k):
    L = k.layers
    x = k.Input((6, 5, 3))
    a = L.Conv2D(4, 3, padding="same")(x)
    b = L.Conv2D(4, 1)(x)
    h = L.Concatenate(axis=1)([a, b])          # (12, 5, 4)
    w = L.Concatenate(axis=2)([h, h])          # (12, 10, 4)
    c = L.Concatenate()([w, w])                # (12, 10, 8)
    c = L.Conv2D(2, 3, strides=2)(c)           # (5, 4, 2)
    s = L.Reshape((10, 4))(c)
    t = L.Concatenate(axis=1)([s, L.Dense(4)(s)])  # (20, 4)
    y = L.Flatten()(t)
    y = L.Dense(3)(y)
    return k.Model(x, y, name="concat_axes")


@model("merge_ops", "k3", ["keras"],
       ["Add of three inputs, Subtract, Multiply, Average, Maximum, Minimum",
        "Add broadcasting (4, 6) + (1, 6) and rank (4, 6) + (6,)"])
def _merges(k):
    L = k.layers
    x = k.Input((4, 6))
    a = L.Dense(6)(x)
    b = L.Dense(6, activation="tanh")(x)
    c = L.Dense(6, activation="relu")(x)
    m = [L.Add()([a, b, c]), L.Subtract()([a, b]), L.Multiply()([a, c]),
         L.Average()([a, b, c]), L.Maximum()([a, b]), L.Minimum()([b, c])]
    s = L.Concatenate()(m)                                   # (4, 36)
    p = L.Reshape((1, 36))(L.GlobalAveragePooling1D()(s))    # (1, 36)
    q = L.Add()([s, p])                                      # broadcast over time
    v = L.Flatten()(L.GlobalMaxPooling1D(keepdims=True)(q))  # (36,)
    r = L.Add()([q, v])                                      # rank 2 + rank 1
    y = L.Dense(3)(L.Flatten()(r))
    return k.Model(x, y, name="merge_ops")


@model("cf_branches", "k3", ["keras"],
       ["channels_first Conv2D branch merged (Add, Concatenate axis=1 = channels) with a "
        "channels_first pooling branch: layouts of merged branches must agree"],
       backend="jax")
def _cf(k):
    L = k.layers
    x = k.Input((3, 8, 7))
    a = L.Conv2D(4, 3, padding="same", data_format="channels_first")(x)
    b = L.Conv2D(4, 1, data_format="channels_first")(x)
    s = L.Add()([a, b])
    p = L.MaxPooling2D(2, data_format="channels_first")(s)            # (4, 4, 3)
    q = L.AveragePooling2D(2, data_format="channels_first")(a)        # (4, 4, 3)
    c = L.Concatenate(axis=1)([p, q])                                 # (8, 4, 3)
    d = L.Concatenate(axis=-1)([c, L.Permute((1, 3, 2))(L.Permute((1, 3, 2))(c))])
    y = L.Flatten()(d)
    y = L.Dense(3)(y)
    return k.Model(x, y, name="cf_branches")


@model("keras2_dag", "k2", ["h5"],
       ["tf.keras 2 Functional: two inputs, two outputs, a nested Sequential called twice "
        "(Keras 2 counts a nested model's own node 0), Add, Concatenate, Maximum"],
       shared=True)
def _k2(k):
    L = k.layers
    a = k.Input((4,), name="a")
    b = k.Input((3,), name="b")
    blk = k.Sequential([L.Dense(6, activation="relu"), L.Dense(6)], name="blk")
    x = L.Add()([L.Dense(6)(a), L.Dense(6)(b)])
    y1 = blk(x)
    y2 = blk(y1)
    o1 = L.Dense(2, activation="softmax", name="o1")(L.Concatenate()([y1, y2]))
    o2 = L.Maximum(name="o2")([y1, y2])
    return k.Model([a, b], [o1, o2], name="keras2_dag")


@model("seq_nests_functional", "k3", ["keras", "h5"],
       ["a Sequential whose middle layer is a Functional model (residual Add inside); "
        "Keras 3 legacy .h5 as well"])
def _seq_fn(k):
    L = k.layers
    i = k.Input((6,))
    a = L.Dense(6, activation="relu")(i)
    res = k.Model(i, L.Add()([i, L.Dense(6)(a)]), name="res")
    return k.Sequential([k.Input((4,)), L.Dense(6), res, L.Dense(2)], name="seq_nests_functional")


# ---------------------------------------------------------------- export and check


def predict(path, xs, fw, backend):
    if backend == "tensorflow":
        m = (fw.saving.load_model(path, compile=False) if hasattr(fw, "saving")
             and hasattr(fw.saving, "load_model") else fw.models.load_model(path, compile=False))
        y = m.predict(xs[0] if len(xs) == 1 else xs, verbose=0)
        return [np.asarray(a, dtype=np.float32) for a in (y if isinstance(y, list) else [y])]
    with tempfile.TemporaryDirectory() as td:
        for i, x in enumerate(xs):
            np.save(os.path.join(td, f"x{i}.npy"), x)
        code = ("import sys, numpy as np, keras\n"
                "m = keras.saving.load_model(sys.argv[1], compile=False)\n"
                "xs = [np.load(f'{sys.argv[2]}/x{i}.npy') for i in range(int(sys.argv[3]))]\n"
                "y = m.predict(xs[0] if len(xs) == 1 else xs, verbose=0)\n"
                "y = y if isinstance(y, list) else [y]\n"
                "[np.save(f'{sys.argv[2]}/y{j}.npy', np.asarray(a, dtype=np.float32)) for j, a in enumerate(y)]\n"
                "print(len(y))\n")
        n = int(subprocess.check_output([sys.executable, "-c", code, path, td, str(len(xs))],
                                        env=dict(os.environ, KERAS_BACKEND=backend)).split()[-1])
        return [np.load(os.path.join(td, f"y{j}.npy")) for j in range(n)]


def export(entry, src, npz_name, fw, keras2npz, ref):
    out = os.path.join(OUT, npz_name + ".npz")
    cli = [src, out, "--samples", str(zoo.N_SAMPLES), "--seed", str(zoo.SEED)]
    if entry["backend"] == "tensorflow":
        rc = keras2npz.main(cli)
    else:
        rc = subprocess.call([sys.executable, keras2npz.__file__] + cli,
                             env=dict(os.environ, KERAS_BACKEND=entry["backend"]))
    if rc != 0:
        raise RuntimeError(f"keras2npz failed on {src} (exit {rc})")
    z = np.load(out, allow_pickle=False)
    meta = json.loads(bytes(z["kinfer_meta"]).decode("utf-8"))
    single = "samples/x" in z.files
    xs = [z["samples/x"]] if single else [z[f"samples/x_{i}"] for i in range(
        sum(1 for f in z.files if f.startswith("samples/x_")))]
    ys = [z["samples/y"]] if single else [z[f"samples/y_{i}"] for i in range(
        sum(1 for f in z.files if f.startswith("samples/y_")))]
    ys2 = predict(src, xs, fw, entry["backend"])
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ys, ys2))
    if len(ys) != len(ys2) or diff > 1e-6:
        raise RuntimeError(f"{npz_name}: fresh model.predict differs from the samples by {diff}")
    arrays = {k: z[k] for k in z.files}
    yref = ref.reference_forward_graph(meta, arrays, xs)
    ratio = max(ref.error_ratio(a, b) for a, b in zip(yref, ys))
    maxabs = max(float(np.max(np.abs(a - b))) for a, b in zip(yref, ys))
    if ratio > 1.0:
        raise RuntimeError(f"{npz_name}: float64 reference error {ratio:.3g}x the bound")
    params = int(sum(int(np.prod(z[k].shape)) for ks in meta["weights"].values() for k in ks))
    print(f"  {npz_name:20s} v{meta['version']} inputs {[x.shape[1:] for x in xs]} outputs "
          f"{[y.shape[1:] for y in ys]} params {params} npz {os.path.getsize(out)} B")
    rec = {
        "name": npz_name,
        "file": npz_name + ".npz",
        "source": os.path.relpath(src, OUT),
        "source_kept": os.path.getsize(src) <= SRC_LIMIT,
        "source_format": meta["source_format"],
        "framework": "keras" if entry["fw"] == "k3" else "tf_keras",
        "samples_backend": entry["backend"],
        "keras_version": meta["keras_version"],
        "format_version": meta["version"],
        "input_shapes": [list(x.shape[1:]) for x in xs],
        "output_shapes": [list(y.shape[1:]) for y in ys],
        "weights": params,
        "covers": entry["covers"],
        "samples": int(xs[0].shape[0]),
        "sample_seed": zoo.SEED,
        "tolerance": dict(zoo.DEFAULT_TOL),
        "measured": {"float64_reference_max_abs_err": maxabs,
                     "float64_reference_err_over_default_bound": round(ratio, 4)},
    }
    if not entry["shared"]:
        rec["params"] = params  # per-node count equals Keras's when nothing is shared
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="build only these models (keeps others in MANIFEST)")
    args = ap.parse_args()
    versions = zoo.check_versions()

    import keras as k3
    import tensorflow as tf
    import tf_keras as k2

    tf.config.experimental.enable_op_determinism()
    sys.path.insert(0, os.path.join(zoo.ROOT, "importer", "keras"))
    import keras2npz
    import test_keras2npz as ref

    os.makedirs(SRC, exist_ok=True)
    mpath = os.path.join(OUT, "MANIFEST.json")
    old = {}
    if args.only and os.path.exists(mpath):
        with open(mpath) as f:
            old = {m["name"]: m for m in json.load(f)["models"]}
    records = []
    for entry in MODELS:
        names = [entry["name"]] + ([entry["name"] + "_h5"] if entry["fw"] == "k3"
                                   and "h5" in entry["formats"] else [])
        if args.only and not set(names) & set(args.only):
            records += [old[n] for n in names if n in old]
            continue
        print(entry["name"])
        fw = k3 if entry["fw"] == "k3" else k2
        m = zoo.build_one(entry, k3, k2, (zoo.SEED + zlib.crc32(entry["name"].encode())) % 2**31)
        if entry["bf16"]:
            for layer in zoo.iter_layers(m):
                ws = layer.get_weights()
                if ws:
                    layer.set_weights([
                        (np.asarray(w, np.float32).view(np.uint32) + 0x8000 & 0xFFFF0000)
                        .view(np.float32) for w in ws])
        for fmt in entry["formats"]:
            if entry["fw"] == "k3" and fmt == "keras":
                src, npz_name = os.path.join(SRC, entry["name"] + ".keras"), entry["name"]
            elif entry["fw"] == "k3":
                src, npz_name = os.path.join(SRC, entry["name"] + ".h5"), entry["name"] + "_h5"
            else:
                src, npz_name = os.path.join(SRC, entry["name"] + ".h5"), entry["name"]
            m.save(src)
            if src.endswith(".keras"):
                zoo.normalize_keras_zip(src)
            rec = export(entry, src, npz_name, fw, keras2npz, ref)
            if not rec["source_kept"]:
                os.remove(src)
            records.append(rec)
    manifest = {
        "generator": "testdata/gen_keras_dag.py",
        "exporter": "importer/keras/keras2npz.py",
        "format": "kinfer-npz version 2 (docs/npz-format.md)",
        "versions": versions,
        "default_tolerance": dict(zoo.DEFAULT_TOL, rule="|got - want| <= atol + rtol*|want|"),
        "sample_inputs": "standard normal, numpy default_rng(sample_seed), one array per "
                         "input in input order, shape (samples, *input_shape)",
        "params_note": "params (kinfer's per-node count) is omitted for models that call a "
                       "layer or nested model more than once; weights counts stored arrays",
        "models": records,
    }
    with open(mpath, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    total = 0
    for dp, _, fs in os.walk(zoo.TESTDATA):
        total += sum(os.path.getsize(os.path.join(dp, x)) for x in fs)
    print(f"{len(records)} models; testdata/ is {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
