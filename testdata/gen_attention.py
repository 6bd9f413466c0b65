#!/usr/bin/env python3
"""Build the attention fixtures in testdata/attention/.

Keras part (this script, /opt/kvenv/bin/python, versions pinned in
testdata/requirements.txt and checked by gen_keras_zoo.check_versions): Keras 3
Functional models with MultiHeadAttention, random weights from a fixed seed (biases and
LayerNormalization parameters too), saved as .keras, exported with
importer/keras/keras2npz.py, and samples/x_<i> / samples/y = model.predict(...) added to
the npz. Token ids are stored as float32 whole numbers (the npz format's dtype).

  keras_encoder_cls   token ids + position ids (two Embeddings, Add), 2 post-norm
                      encoder blocks (MHA 4 heads, d_model 64, FFN gelu), average
                      pooling, softmax head; None time axis: run at 12 steps (npz
                      samples) and at 7 (<name>.L7.x_<i>.npy / .y.npy)
  keras_ts_causal     time-series encoder: Dense to 32, MHA use_causal_mask=True, FFN,
                      last-step readout
  keras_cross_mask    cross attention: query (6, 8), value (9, 5), key (9, 6),
                      attention_mask (6, 9) input; value_dim 3, output_shape 7,
                      use_bias=False

Torch part: gen_attention_torch.py (torch 1.13, /usr/bin/python3) writes the ONNX
models and their inputs; this script with --ort then adds ONNX Runtime's outputs
(one thread, graph optimizations off, so ORT runs the exported ops as written).

    /opt/kvenv/bin/python testdata/gen_attention.py [--ort]
"""

import json
import os
import sys
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("PYTHONHASHSEED", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "attention")
SRC = os.path.join(OUT, "src")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "importer", "keras"))
import gen_keras_zoo as zoo  # noqa: E402

SEED = 2468
SRC_LIMIT = 200_000
MODELS = []


def model(name, covers, samples, fw="k3"):
    def deco(fn):
        MODELS.append(dict(name=name, covers=covers, build=fn, samples=samples, fw=fw))
        return fn
    return deco


def _block(k, x, heads, key_dim, ff, causal=False, eps=1e-6):
    L = k.layers
    a = L.MultiHeadAttention(num_heads=heads, key_dim=key_dim, dropout=0.1)(x, x, use_causal_mask=causal)
    x = L.LayerNormalization(epsilon=eps)(L.Add()([x, L.Dropout(0.1)(a)]))
    f = L.Dense(ff, activation="gelu")(x)
    f = L.Dense(x.shape[-1])(f)
    return L.LayerNormalization(epsilon=eps)(L.Add()([x, f]))


def _enc_samples(rng, steps):
    tok = rng.integers(0, 50, (4, steps))
    tok[0, -1] = 49
    pos = np.tile(np.arange(steps), (4, 1))
    return [tok.astype(np.float32), pos.astype(np.float32)]


@model("keras_encoder_cls", ["Embedding(tokens) + Embedding(positions), Add",
                             "2 post-norm blocks: MultiHeadAttention 4 heads key_dim 16 "
                             "(d_model 64), residual Add, LayerNormalization, Dense gelu 128, Dense 64",
                             "GlobalAveragePooling1D, Dense softmax; None time axis"],
       lambda rng: _enc_samples(rng, 12))
def _encoder(k):
    L = k.layers
    tok = k.Input((None,), dtype="int32", name="tokens")
    pos = k.Input((None,), dtype="int32", name="positions")
    x = L.Add()([L.Embedding(50, 64)(tok), L.Embedding(16, 64)(pos)])
    for _ in range(2):
        x = _block(k, x, 4, 16, 128)
    x = L.GlobalAveragePooling1D()(x)
    y = L.Dense(3, activation="softmax")(x)
    return k.Model([tok, pos], y, name="keras_encoder_cls")


@model("keras_ts_causal", ["Dense 3 -> 32 on (10, 3) series", "MultiHeadAttention "
                           "use_causal_mask=True 4 heads key_dim 8, pre-norm residuals",
                           "Dense gelu FFN, Cropping1D to the last step, Dense"],
       lambda rng: [rng.standard_normal((3, 10, 3)).astype(np.float32)])
def _ts(k):
    L = k.layers
    x = k.Input((10, 3), name="series")
    h = L.Dense(32)(x)
    n = L.LayerNormalization()(h)
    a = L.MultiHeadAttention(num_heads=4, key_dim=8)(n, n, use_causal_mask=True)
    h = L.Add()([h, a])
    n = L.LayerNormalization()(h)
    f = L.Dense(32, activation="gelu")(L.Dense(64, activation="relu")(n))
    h = L.Add()([h, f])
    y = L.Dense(2)(L.Flatten()(L.Cropping1D((9, 0))(h)))
    return k.Model(x, y, name="keras_ts_causal")


def _cross_samples(rng):
    q = rng.standard_normal((3, 6, 8)).astype(np.float32)
    v = rng.standard_normal((3, 9, 5)).astype(np.float32)
    kk = rng.standard_normal((3, 9, 6)).astype(np.float32)
    m = (rng.random((3, 6, 9)) < 0.7).astype(np.float32)
    m[:, :, 0] = 1  # no fully masked row
    m[1, 2, :] = 0
    m[1, 2, 4] = 1  # a row attending to one key only
    return [q, v, kk, m]


@model("keras_cross_mask", ["cross attention: query (6, 8), value (9, 5), key (9, 6) by "
                            "keyword, attention_mask (6, 9) input", "value_dim 3, "
                            "output_shape 7, use_bias=False, 2 heads key_dim 4"],
       _cross_samples)
def _cross(k):
    L = k.layers
    q = k.Input((6, 8), name="query")
    v = k.Input((9, 5), name="value")
    kk = k.Input((9, 6), name="key")
    m = k.Input((6, 9), name="mask")
    a = L.MultiHeadAttention(num_heads=2, key_dim=4, value_dim=3, output_shape=7, use_bias=False)(
        query=q, value=v, key=kk, attention_mask=m)
    return k.Model([q, v, kk, m], a, name="keras_cross_mask")


def _dot_samples(rng):
    return [rng.standard_normal((3, 4, 6)).astype(np.float32),
            rng.standard_normal((3, 7, 5)).astype(np.float32),
            rng.standard_normal((3, 7, 6)).astype(np.float32)]


@model("keras_dot_attention", ["Attention (dot, use_scale=True) over [query, value, key]",
                               "Attention use_causal_mask=True as self-attention",
                               "Concatenate, Dense"], _dot_samples)
def _dot(k):
    L = k.layers
    q = k.Input((4, 6), name="query")
    v = k.Input((7, 5), name="value")
    kk = k.Input((7, 6), name="key")
    a = L.Attention(use_scale=True)([q, v, kk])
    b = L.Attention()([q, q], use_causal_mask=True)
    y = L.Dense(3)(L.Concatenate()([a, b]))
    return k.Model([q, v, kk], y, name="keras_dot_attention")


@model("keras_dot_layers", ["attention from Dense and Dot layers: Dot(axes=2) q k^T, "
                            "Softmax, Dot(axes=(2, 1)) p v", "Dot(axes=1) x^T v, "
                            "Dot(axes=(1, 2)), Flatten, Concatenate, Dense"],
       lambda rng: [rng.standard_normal((3, 5, 4)).astype(np.float32)])
def _dot_layers(k):
    L = k.layers
    x = k.Input((5, 4), name="x")
    q, kk, v = L.Dense(6)(x), L.Dense(6)(x), L.Dense(3)(x)
    p = L.Softmax()(L.Dot(axes=2)([q, kk]))
    o = L.Dot(axes=(2, 1))([p, v])
    g = L.Dot(axes=1)([x, v])  # (4, 3)
    h = L.Dot(axes=(1, 2))([v, p])  # v^T p^T: (3, 5)
    y = L.Concatenate()([L.Flatten()(o), L.Flatten()(g), L.Flatten()(h)])
    return k.Model(x, L.Dense(2)(y), name="keras_dot_layers")


def _k2_samples(rng):
    x = rng.standard_normal((3, 5, 8)).astype(np.float32)
    m = (rng.random((3, 5, 5)) < 0.6).astype(np.float32)
    m[:, :, 0] = 1
    return [x, m]


@model("keras2_mha_causal_mask", ["tf.keras 2 (.h5) MultiHeadAttention: value and "
                                  "attention_mask as keyword tensors, use_causal_mask=True "
                                  "combined with the mask, 2 heads key_dim 4"],
       _k2_samples, fw="k2")
def _k2(k):
    x = k.Input((5, 8), name="x")
    m = k.Input((5, 5), name="mask")
    y = k.layers.MultiHeadAttention(2, 4)(x, x, attention_mask=m, use_causal_mask=True)
    y = k.layers.Dense(3)(y)
    return k.Model([x, m], y, name="keras2_mha_causal_mask")


def init_weights(m, rng):
    """Every weight (biases, embeddings and LayerNormalization parameters included)
    drawn from a seeded distribution, so that no term is trivially zero or one."""
    for layer in zoo.iter_layers(m):
        ws = layer.get_weights()
        if not ws:
            continue
        new = []
        for w in ws:
            if w.ndim >= 2:
                fan = w.shape[0]
                new.append(rng.uniform(-1, 1, w.shape).astype(np.float32) * np.float32(np.sqrt(3.0 / fan)))
            else:
                new.append(rng.normal(0, 0.2, w.shape).astype(np.float32))
        if type(layer).__name__ == "LayerNormalization":
            new = [1 + rng.normal(0, 0.2, w.shape).astype(np.float32) if i == 0 else new[i]
                   for i, w in enumerate(ws)]
        if type(layer).__name__ == "Embedding":
            new = [rng.uniform(-1, 1, ws[0].shape).astype(np.float32)]
        layer.set_weights(new)


def predict(m, xs):
    feed = [x.astype(np.int32) if "int" in str(getattr(inp.dtype, "name", inp.dtype)) else x
            for x, inp in zip(xs, m.inputs)]
    return np.asarray(m.predict(feed if len(feed) > 1 else feed[0], verbose=0), dtype=np.float32)


def keras_main():
    versions = zoo.check_versions()
    import keras as k3
    import tensorflow as tf
    import tf_keras as k2
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras2npz

    os.makedirs(SRC, exist_ok=True)
    records = []
    for e in MODELS:
        seed = (SEED + zlib.crc32(e["name"].encode())) % 2**31
        fw = k3 if e["fw"] == "k3" else k2
        fw.backend.clear_session()
        fw.utils.set_random_seed(seed)
        m = e["build"](fw)
        rng = np.random.default_rng(seed)
        init_weights(m, rng)
        src = os.path.join(SRC, e["name"] + (".keras" if fw is k3 else ".h5"))
        m.save(src)
        if fw is k3:
            zoo.normalize_keras_zip(src)
        out = os.path.join(OUT, e["name"] + ".npz")
        if keras2npz.main([src, out]) != 0:
            raise RuntimeError(f"keras2npz failed on {src}")
        m2 = k3.saving.load_model(src, compile=False) if fw is k3 else k2.models.load_model(src, compile=False)
        if os.path.getsize(src) > SRC_LIMIT:  # regenerated by this script; not kept
            os.remove(src)
        xs = e["samples"](np.random.default_rng(seed + 1))
        y = predict(m2, xs)
        arrays = dict(np.load(out))
        for i, x in enumerate(xs):
            arrays[f"samples/x_{i}" if len(xs) > 1 else "samples/x"] = x
        arrays["samples/y"] = y
        keras2npz.write_npz(out, arrays)
        rec = dict(name=e["name"], source=os.path.relpath(src, OUT),
                   framework="keras" if fw is k3 else "tf_keras",
                   keras_version=fw.__version__, covers=e["covers"],
                   input_shapes=[list(x.shape[1:]) for x in xs], output_shape=list(y.shape[1:]))
        if e["name"] == "keras_encoder_cls":
            xl = _enc_samples(np.random.default_rng(seed + 2), 7)
            for i, x in enumerate(xl):
                np.save(os.path.join(OUT, f"{e['name']}.L7.x_{i}.npy"), x)
            np.save(os.path.join(OUT, f"{e['name']}.L7.y.npy"), predict(m2, xl))
            rec["lengths"] = [12, 7]
        records.append(rec)
        print(f"  {e['name']:24s} {rec['output_shape']}")
    with open(os.path.join(OUT, "MANIFEST.json"), "w") as f:
        json.dump({"generator": "testdata/gen_attention.py", "versions": versions,
                   "models": records}, f, indent=1)
        f.write("\n")


def ort_main():
    """ONNX Runtime's outputs for the models gen_attention_torch.py exported."""
    import glob
    import onnx
    import onnxruntime as ort
    zoo.check_versions()
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    for path in sorted(glob.glob(os.path.join(OUT, "torch_*.onnx"))):
        name = os.path.basename(path)[:-5]
        onnx.checker.check_model(onnx.load(path))
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        feed = {}
        for i, inp in enumerate(s.get_inputs()):
            x = np.load(os.path.join(OUT, f"{name}.x_{i}.npy"))
            feed[inp.name] = x.astype(bool) if inp.type == "tensor(bool)" else x
        (y,) = s.run(None, feed)
        np.save(os.path.join(OUT, name + ".y.npy"), y.astype(np.float32))
        print(f"  {name:24s} {list(y.shape)}")


if __name__ == "__main__":
    if "--ort" in sys.argv[1:]:
        ort_main()
    else:
        keras_main()
