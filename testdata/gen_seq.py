#!/usr/bin/env python3
"""Build the sequence fixtures in testdata/seq/: token-id inputs (Embedding), masking
(mask_zero and Masking) with padded inputs, a variable-length model run at three
lengths, a stateful model stepped chunk by chunk, and Normalization after adapt().

Models are built with Keras 3 (`keras`, saved as .keras and some also as .h5) or
tf.keras 2 (`tf_keras`, .h5), weights drawn from a fixed seed as in gen_keras_zoo.py,
exported with importer/keras/keras2npz.py (no --samples: the inputs here are token ids
and padded batches, not standard normal), then samples/x and samples/y =
model.predict(samples/x) are added to the npz. Token ids are stored as float32 whole
numbers in samples/x (the npz format's dtype); the same ids as int64 .npy files are
<name>.ids.npy, for the CLI.

Extra arrays, per model where it applies:
  <name>.L<n>.x.npy / .y.npy   variable-length model at length n (predict on (N, n, F))
  <name>.stream_x.npy          (chunks, batch, steps, F): consecutive chunks of one stream
  <name>.stream_y.npy          Keras's stateful predict of each chunk, in order
Pinned versions: testdata/requirements.txt (checked by gen_keras_zoo.check_versions).

    /opt/kvenv/bin/python testdata/gen_seq.py
    /opt/kvenv/bin/python testdata/gen_seq.py onnx    # ONNX sequence_lens models
"""

import json
import os
import sys
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "seq")
SRC = os.path.join(OUT, "src")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "importer", "keras"))

import gen_keras_zoo as zoo  # noqa: E402

SEED = 4321
MODELS = []


def model(name, fw, formats, covers, kind="ids", vocab=None, steps=None, feats=None):
    def deco(fn):
        MODELS.append(dict(name=name, fw=fw, formats=formats, covers=covers, build=fn,
                           kind=kind, vocab=vocab, steps=steps, feats=feats))
        return fn
    return deco


# ---------------------------------------------------------------- models

def _embed_lstm(k, vocab=50, steps=12):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 8),
                         k.layers.LSTM(16), k.layers.Dense(3, activation="softmax")])


def _embed_bilstm(k, vocab=40, steps=9):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 6),
                         k.layers.Bidirectional(k.layers.LSTM(8, return_sequences=True)),
                         k.layers.Bidirectional(k.layers.LSTM(5)), k.layers.Dense(2)])


def _embed_conv(k, vocab=60, steps=14):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 8),
                         k.layers.Conv1D(12, 3, activation="relu"),
                         k.layers.GlobalMaxPooling1D(), k.layers.Dense(4)])


def _mask_zero(k, vocab=30, steps=10):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 6, mask_zero=True),
                         k.layers.LSTM(7, return_sequences=True),
                         k.layers.LSTM(5, return_sequences=True), k.layers.Dense(2)])


def _mask_zero_bi(k, vocab=30, steps=10):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 5, mask_zero=True),
                         k.layers.Bidirectional(k.layers.LSTM(6, return_sequences=True)),
                         k.layers.LSTM(4, go_backwards=True), k.layers.Dense(2)])


def _mask_zero_bi_seq(k, vocab=25, steps=8):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 4, mask_zero=True),
                         k.layers.Bidirectional(k.layers.LSTM(3, return_sequences=True)),
                         k.layers.Dense(2)])


def _mask_zero_avg(k, vocab=30, steps=10):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 6, mask_zero=True),
                         k.layers.Dense(5, activation="relu"),
                         k.layers.GlobalAveragePooling1D(), k.layers.Dense(2)])


def _mask_zero_conv(k, vocab=30, steps=10):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 6, mask_zero=True),
                         k.layers.Conv1D(4, 3), k.layers.GlobalMaxPooling1D(), k.layers.Dense(2)])


def _masking(k, steps=10, feats=3):
    return k.Sequential([k.Input(shape=(steps, feats)), k.layers.Masking(0.0),
                         k.layers.LSTM(6, return_sequences=True), k.layers.Dense(2)])


model("embed_lstm", "k3", ["keras", "h5"], ["Embedding", "LSTM", "Dense softmax"],
      vocab=50, steps=12)(_embed_lstm)
model("embed_bilstm", "k3", ["keras"], ["Embedding", "Bidirectional(LSTM) x2"],
      vocab=40, steps=9)(_embed_bilstm)
model("embed_conv1d", "k3", ["keras"], ["Embedding", "Conv1D relu", "GlobalMaxPooling1D"],
      vocab=60, steps=14)(_embed_conv)
model("mask_zero_lstm", "k3", ["keras", "h5"],
      ["Embedding mask_zero", "LSTM return_sequences masked x2", "Dense on masked sequence"],
      vocab=30, steps=10)(_mask_zero)
model("mask_zero_bilstm", "k3", ["keras"],
      ["Embedding mask_zero", "Bidirectional(LSTM) masked (zero output at masked steps)",
       "LSTM go_backwards masked"], vocab=30, steps=10)(_mask_zero_bi)
model("mask_zero_bilstm_seq", "k3", ["keras"],
      ["Embedding mask_zero", "Bidirectional(LSTM return_sequences) output at masked steps"],
      vocab=25, steps=8)(_mask_zero_bi_seq)
model("keras2_mask_zero_bilstm_seq", "k2", ["h5"],
      ["Keras 2 Embedding mask_zero", "Bidirectional(LSTM return_sequences) output at masked steps"],
      vocab=25, steps=8)(_mask_zero_bi_seq)
model("mask_zero_avgpool", "k3", ["keras"],
      ["Embedding mask_zero", "Dense on masked sequence", "GlobalAveragePooling1D masked mean"],
      vocab=30, steps=10)(_mask_zero_avg)
model("keras2_mask_zero_avgpool", "k2", ["h5"],
      ["Keras 2 Embedding mask_zero", "GlobalAveragePooling1D masked mean"],
      vocab=30, steps=10)(_mask_zero_avg)
model("mask_zero_conv1d", "k3", ["keras"],
      ["Embedding mask_zero", "Conv1D (Keras 3 drops the mask)", "GlobalMaxPooling1D"],
      vocab=30, steps=10)(_mask_zero_conv)
model("masking_lstm", "k3", ["keras"], ["Masking(0.0)", "LSTM return_sequences masked"],
      kind="masking", steps=10, feats=3)(_masking)
model("keras2_embed_lstm", "k2", ["h5"], ["Keras 2 Embedding", "LSTM"],
      vocab=50, steps=12)(_embed_lstm)
model("keras2_embed_bilstm", "k2", ["h5"], ["Keras 2 Embedding", "Bidirectional(LSTM)"],
      vocab=40, steps=9)(_embed_bilstm)
model("keras2_embed_conv1d", "k2", ["h5"], ["Keras 2 Embedding", "Conv1D", "GlobalMaxPooling1D"],
      vocab=60, steps=14)(_embed_conv)
model("keras2_mask_zero_lstm", "k2", ["h5"], ["Keras 2 Embedding mask_zero", "LSTM masked x2"],
      vocab=30, steps=10)(_mask_zero)
model("keras2_mask_zero_bilstm", "k2", ["h5"],
      ["Keras 2 Embedding mask_zero", "Bidirectional(LSTM) masked", "LSTM go_backwards masked"],
      vocab=30, steps=10)(_mask_zero_bi)
model("keras2_masking_lstm", "k2", ["h5"], ["Keras 2 Masking", "LSTM masked"],
      kind="masking", steps=10, feats=3)(_masking)


# ---- GRU and SimpleRNN: masks, and TimeDistributed(Bidirectional) weights

def _mask_zero_gru(k, vocab=30, steps=10):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 5, mask_zero=True),
                         k.layers.GRU(6, return_sequences=True),
                         k.layers.GRU(5, reset_after=False, return_sequences=True),
                         k.layers.GRU(4, go_backwards=True), k.layers.Dense(2)])


def _mask_zero_bigru(k, vocab=30, steps=10):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 5, mask_zero=True),
                         k.layers.Bidirectional(k.layers.GRU(4, return_sequences=True)),
                         k.layers.Bidirectional(k.layers.SimpleRNN(3, return_sequences=True),
                                                merge_mode="sum"),
                         k.layers.Bidirectional(k.layers.GRU(3, reset_after=False), merge_mode="ave"),
                         k.layers.Dense(2)])


def _mask_zero_gru_wide(k, vocab=30, steps=10):
    return k.Sequential([k.Input(shape=(steps,)), k.layers.Embedding(vocab, 6, mask_zero=True),
                         k.layers.GRU(40, return_sequences=True),
                         k.layers.GRU(5, activation="relu", return_sequences=True),
                         k.layers.SimpleRNN(36), k.layers.Dense(2)])


def _masking_rnn(k, steps=10, feats=3):
    return k.Sequential([k.Input(shape=(steps, feats)), k.layers.Masking(0.0),
                         k.layers.SimpleRNN(5, return_sequences=True),
                         k.layers.SimpleRNN(4, activation="relu", go_backwards=True,
                                            return_sequences=True),
                         k.layers.GRU(3, return_sequences=True), k.layers.Dense(2)])


def _td_bigru(k):
    return k.Sequential([k.Input(shape=(3, 5, 2)),
                         k.layers.TimeDistributed(k.layers.Bidirectional(
                             k.layers.GRU(4, return_sequences=True))),
                         k.layers.TimeDistributed(k.layers.Bidirectional(
                             k.layers.SimpleRNN(3), merge_mode="sum")),
                         k.layers.GRU(3), k.layers.Dense(2)])


model("mask_zero_gru", "k3", ["keras"],
      ["Embedding mask_zero", "GRU masked (reset_after True and False)", "GRU go_backwards masked"],
      vocab=30, steps=10)(_mask_zero_gru)
model("keras2_mask_zero_gru", "k2", ["h5"],
      ["Keras 2 Embedding mask_zero", "GRU masked (reset_after True and False)",
       "GRU go_backwards masked"], vocab=30, steps=10)(_mask_zero_gru)
model("mask_zero_bigru", "k3", ["keras"],
      ["Embedding mask_zero", "Bidirectional(GRU return_sequences) masked (zero output)",
       "Bidirectional(SimpleRNN) masked merge sum", "Bidirectional(GRU reset_after=False) ave"],
      vocab=30, steps=10)(_mask_zero_bigru)
model("keras2_mask_zero_bigru", "k2", ["h5"],
      ["Keras 2 Bidirectional(GRU) and Bidirectional(SimpleRNN) masked"],
      vocab=30, steps=10)(_mask_zero_bigru)
model("mask_zero_gru_wide", "k3", ["keras"],
      ["GRU(40) masked (wider than the whole-sequence kernels)", "GRU relu masked",
       "SimpleRNN(36) masked"], vocab=30, steps=10)(_mask_zero_gru_wide)
model("masking_rnn", "k3", ["keras"],
      ["Masking(0.0)", "SimpleRNN masked", "SimpleRNN relu go_backwards masked", "GRU masked"],
      kind="masking", steps=10, feats=3)(_masking_rnn)
model("keras2_masking_rnn", "k2", ["h5"], ["Keras 2 Masking", "SimpleRNN and GRU masked"],
      kind="masking", steps=10, feats=3)(_masking_rnn)
model("td_bigru", "k3", ["keras", "h5"],
      ["TimeDistributed(Bidirectional(GRU return_sequences)) (.keras weights: forward first)",
       "TimeDistributed(Bidirectional(SimpleRNN)) merge sum"], kind="td", steps=5, feats=2)(_td_bigru)


@model("varlen_lstm", "k3", ["keras"], ["Input (None, 4)", "LSTM x2", "Dense"],
       kind="varlen", steps=10, feats=4)
def _varlen(k):
    return k.Sequential([k.Input(shape=(None, 4)), k.layers.LSTM(8, return_sequences=True),
                         k.layers.LSTM(6), k.layers.Dense(2)])


@model("varlen_embed", "k3", ["keras"], ["Input (None,) ids", "Embedding mask_zero", "LSTM"],
       kind="varlen_ids", vocab=20, steps=10)
def _varlen_ids(k):
    return k.Sequential([k.Input(shape=(None,)), k.layers.Embedding(20, 4, mask_zero=True),
                         k.layers.LSTM(6), k.layers.Dense(2)])


@model("varlen_gru", "k3", ["keras"], ["Input (None, 4)", "GRU, SimpleRNN, GRU reset_after=False", "Dense"],
       kind="varlen", steps=10, feats=4)
def _varlen_gru(k):
    return k.Sequential([k.Input(shape=(None, 4)), k.layers.GRU(8, return_sequences=True),
                         k.layers.SimpleRNN(6, return_sequences=True),
                         k.layers.GRU(5, reset_after=False), k.layers.Dense(2)])


@model("varlen_embed_gru", "k3", ["keras"], ["Input (None,) ids", "Embedding mask_zero", "GRU"],
       kind="varlen_ids", vocab=20, steps=10)
def _varlen_ids_gru(k):
    return k.Sequential([k.Input(shape=(None,)), k.layers.Embedding(20, 4, mask_zero=True),
                         k.layers.GRU(6), k.layers.Dense(2)])


@model("varlen_bigru", "k3", ["keras"],
       ["Input (None, 4)", "Bidirectional(GRU return_sequences)",
        "Bidirectional(LSTM return_sequences) merge sum", "GRU go_backwards"],
       kind="varlen", steps=10, feats=4)
def _varlen_bigru(k):
    return k.Sequential([k.Input(shape=(None, 4)),
                         k.layers.Bidirectional(k.layers.GRU(5, return_sequences=True)),
                         k.layers.Bidirectional(k.layers.LSTM(4, return_sequences=True),
                                                merge_mode="sum"),
                         k.layers.GRU(3, go_backwards=True), k.layers.Dense(2)])


@model("varlen_embed_bilstm_seq", "k3", ["keras"],
       ["Input (None,) ids", "Embedding mask_zero", "Bidirectional(LSTM return_sequences) masked",
        "Dense on the sequence"], kind="varlen_ids", vocab=20, steps=10)
def _varlen_ids_bi(k):
    return k.Sequential([k.Input(shape=(None,)), k.layers.Embedding(20, 4, mask_zero=True),
                         k.layers.Bidirectional(k.layers.LSTM(3, return_sequences=True)),
                         k.layers.Dense(2)])


def _stateful(k):
    return k.Sequential([k.Input(batch_shape=(2, 3, 2)),
                         k.layers.LSTM(8, stateful=True, return_sequences=True),
                         k.layers.Dense(1)])


model("stateful_lstm", "k3", ["keras"], ["LSTM stateful=True", "Dense on sequence"],
      kind="stateful", steps=3, feats=2)(_stateful)
model("keras2_stateful_lstm", "k2", ["h5"], ["Keras 2 LSTM stateful=True"],
      kind="stateful", steps=3, feats=2)(_stateful)


@model("normalization_adapt", "k3", ["keras"], ["Normalization after adapt() (int64 count)"],
       kind="dense", feats=4)
def _norm(k):
    norm = k.layers.Normalization()
    norm.adapt(np.random.default_rng(7).normal(2.0, 3.0, (64, 4)).astype(np.float32))
    return k.Sequential([k.Input(shape=(4,)), norm, k.layers.Dense(2)])


# ---------------------------------------------------------------- inputs

def id_samples(vocab, steps, rng):
    """Five rows: no padding, post-padded, pre-padded, zeros inside, all zeros."""
    x = rng.integers(1, vocab, (5, steps))
    x[1, steps - 4:] = 0
    x[2, :3] = 0
    x[3, [2, 5, 6]] = 0
    x[4, :] = 0
    x[0, -1] = vocab - 1  # the largest id
    return x


def masking_samples(steps, feats, rng):
    x = rng.standard_normal((4, steps, feats))
    x[1, steps - 3:] = 0.0
    x[2, :2] = 0.0
    x[3, 4] = 0.0
    x[3, 6, 0] = 0.0  # one zero feature does not mask the step
    return x.astype(np.float32)


def init_weights(m, rng):
    for layer in zoo.iter_layers(m):
        if type(layer).__name__ == "Embedding":
            (w,) = layer.get_weights()
            layer.set_weights([rng.uniform(-1, 1, w.shape).astype(np.float32)])
        elif type(layer).__name__ != "Normalization":
            sub = type("M", (), {"layers": [layer]})
            zoo.init_weights(sub, rng)


def reset(m):
    for l in m.layers:
        if hasattr(l, "reset_states"):
            l.reset_states()


def predict(m, x):
    return np.asarray(m.predict(x, verbose=0), dtype=np.float32)


def main():
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
    only = set(sys.argv[1:])
    for e in MODELS:
        if only and e["name"] not in only:
            continue
        fw = k3 if e["fw"] == "k3" else k2
        seed = (SEED + zlib.crc32(e["name"].encode())) % 2**31
        fw.backend.clear_session()
        fw.utils.set_random_seed(seed)
        m = e["build"](fw)
        rng = np.random.default_rng(seed)
        init_weights(m, rng)
        for fmt in e["formats"]:
            npz_name = e["name"] + ("_h5" if fmt == "h5" and e["fw"] == "k3" else "")
            src = os.path.join(SRC, e["name"] + "." + fmt)
            m.save(src)
            if fmt == "keras":
                zoo.normalize_keras_zip(src)
            out = os.path.join(OUT, npz_name + ".npz")
            if keras2npz.main([src, out]) != 0:
                raise RuntimeError(f"keras2npz failed on {src}")
            if e["fw"] == "k3":
                m2 = k3.saving.load_model(src, compile=False)
            else:
                m2 = k2.models.load_model(src, compile=False)
            rec = write_samples(e, m2, out, npz_name, np.random.default_rng(seed + 1), keras2npz)
            rec.update(name=npz_name, source=os.path.relpath(src, OUT),
                       framework="keras" if e["fw"] == "k3" else "tf_keras",
                       keras_version=fw.__version__, covers=e["covers"])
            records.append(rec)
            print(f"  {npz_name:28s} {rec}")
    mpath = os.path.join(OUT, "MANIFEST.json")
    if only and os.path.exists(mpath):  # keep the models not rebuilt
        with open(mpath) as f:
            kept = [r for r in json.load(f)["models"] if r["name"] not in {x["name"] for x in records}]
        order = [e["name"] + sfx for e in MODELS for sfx in ("", "_h5")]
        records = sorted(kept + records, key=lambda r: order.index(r["name"]))
    with open(mpath, "w") as f:
        json.dump({"generator": "testdata/gen_seq.py", "versions": versions,
                   "models": records}, f, indent=1)
        f.write("\n")


def write_samples(e, m, out, npz_name, rng, keras2npz):
    rec = {}
    base = os.path.join(OUT, npz_name)
    kind = e["kind"]
    if kind in ("ids", "varlen_ids"):
        ids = id_samples(e["vocab"], e["steps"], rng)
        x = ids.astype(np.float32)
        np.save(base + ".ids.npy", ids.astype(np.int64))
    elif kind in ("masking",):
        x = masking_samples(e["steps"], e["feats"], rng)
    elif kind == "td":
        x = rng.standard_normal((3, 3, e["steps"], e["feats"])).astype(np.float32)
    elif kind == "varlen":
        x = rng.standard_normal((3, e["steps"], e["feats"])).astype(np.float32)
    elif kind == "dense":
        x = rng.normal(2.0, 3.0, (4, e["feats"])).astype(np.float32)
    elif kind == "stateful":
        x = None
    if kind == "stateful":
        chunks = rng.standard_normal((4, 2, e["steps"], e["feats"])).astype(np.float32)
        reset(m)
        ys = []
        for c in chunks:
            ys.append(predict(m, c))
        ys = np.stack(ys)
        np.save(base + ".stream_x.npy", chunks)
        np.save(base + ".stream_y.npy", ys)
        reset(m)  # samples: the first chunk from a fresh state
        x = chunks[0]
        rec["stream"] = list(chunks.shape)
    y = predict(m, x)
    if kind == "stateful":
        if not np.array_equal(y, ys[0]):
            raise RuntimeError(f"{npz_name}: predict after reset_states differs from the first chunk")
        reset(m)
    if kind in ("varlen", "varlen_ids"):
        lengths = [3, 6]
        for n in lengths:
            xl = x[:, :n]
            np.save(f"{base}.L{n}.x.npy", xl)
            np.save(f"{base}.L{n}.y.npy", predict(m, xl))
        rec["lengths"] = lengths + [e["steps"]]
    arrays = dict(np.load(out))
    arrays["samples/x"] = x
    arrays["samples/y"] = y
    keras2npz.write_npz(out, arrays)
    rec.update(input_shape=list(x.shape[1:]), output_shape=list(y.shape[1:]), samples=int(x.shape[0]))
    return rec


# ---------------------------------------------------------------- ONNX sequence_lens

ONNX_LENS = [  # name, op, direction, use Y, linear_before_reset, hidden size
    ("lens_gru_fwd", "GRU", "forward", False, 1, 4),
    ("lens_gru_bidi_seq", "GRU", "bidirectional", True, 0, 4),
    ("lens_gru_wide_seq", "GRU", "forward", True, 1, 40),
    ("lens_rnn_rev_seq", "RNN", "reverse", True, None, 4),
    ("lens_lstm_bidi", "LSTM", "bidirectional", False, None, 5),
]


def onnx_seq_lens():
    """ONNX LSTM/GRU/RNN nodes (onnx.helper, opset 17) whose sequence_lens is a graph
    input: x (N, 6, 3) float, lens (N,) int32 (0, 1, short, full); outputs from ONNX
    Runtime. Files testdata/seq/onnx/<name>.onnx, .x.npy, .lens.npy, .y.npy."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto as TP
    from onnx import helper as H
    from onnx import numpy_helper as nh
    zoo.check_versions()
    out = os.path.join(OUT, "onnx")
    T, F = 6, 3
    for name, op, direction, use_y, lbr, hd in ONNX_LENS:
        rng = np.random.default_rng(SEED + zlib.crc32(name.encode()))
        dirs = 2 if direction == "bidirectional" else 1
        g = {"GRU": 3, "RNN": 1, "LSTM": 4}[op]
        sc = 0.5 / np.sqrt(hd / 4)
        inits = [nh.from_array(rng.uniform(-sc, sc, (dirs, g * hd, F)).astype(np.float32), "W"),
                 nh.from_array(rng.uniform(-sc, sc, (dirs, g * hd, hd)).astype(np.float32), "R"),
                 nh.from_array(rng.uniform(-sc, sc, (dirs, 2 * g * hd)).astype(np.float32), "B")]
        attrs = dict(hidden_size=hd, direction=direction)
        if lbr is not None:
            attrs["linear_before_reset"] = lbr
        nodes = [H.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
                 H.make_node(op, ["xt", "W", "R", "B", "lens"], ["Y", "Y_h"], **attrs)]
        if use_y:  # Y (T, dirs, N, H) -> (N, T, dirs*H)
            nodes.append(H.make_node("Transpose", ["Y"], ["Yt"], perm=[2, 0, 1, 3]))
            shp, yshape = [0, T, dirs * hd], ["N", T, dirs * hd]
        else:  # Y_h (dirs, N, H) -> (N, dirs*H)
            nodes.append(H.make_node("Transpose", ["Y_h"], ["Yt"], perm=[1, 0, 2]))
            shp, yshape = [0, dirs * hd], ["N", dirs * hd]
        nodes.append(H.make_node("Reshape", ["Yt", "shp"], ["y"]))
        inits.append(nh.from_array(np.array(shp, np.int64), "shp"))
        graph = H.make_graph(nodes, name, [H.make_tensor_value_info("x", TP.FLOAT, ["N", T, F]),
                                           H.make_tensor_value_info("lens", TP.INT32, ["N"])],
                             [H.make_tensor_value_info("y", TP.FLOAT, yshape)], inits)
        m = H.make_model(graph, opset_imports=[H.make_opsetid("", 17)], producer_name="gen_seq.py")
        m.ir_version = 8
        onnx.checker.check_model(m)
        x = rng.standard_normal((5, T, F)).astype(np.float32)
        lens = np.array([T, 3, 1, 0, 5], np.int32)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
        y = sess.run(None, {"x": x, "lens": lens})[0].astype(np.float32)
        onnx.save(m, os.path.join(out, name + ".onnx"))
        np.save(os.path.join(out, name + ".x.npy"), x)
        np.save(os.path.join(out, name + ".lens.npy"), lens)
        np.save(os.path.join(out, name + ".y.npy"), y)
        print(f"  {name:28s} onnxruntime {ort.__version__} y {y.shape}")


if __name__ == "__main__":
    if sys.argv[1:] == ["onnx"]:
        onnx_seq_lens()
    else:
        main()
