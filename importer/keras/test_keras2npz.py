#!/usr/bin/env python3
"""An independent float64 numpy reference for kinfer npz files, and its tests.

`reference_forward(npz_path)` runs a model from its npz alone (config JSON + weight
arrays, no Keras) in float64. It checks two things at once: that the exporter wrote
everything a runtime needs (right weights under the right layer paths, in the right
order), and how close Keras's float32 outputs are to exact arithmetic, which is what
the per-model tolerances in testdata/keras/MANIFEST.json are based on.

Run the tests (numpy only; the zoo must have been generated):
    python3 importer/keras/test_keras2npz.py            # or: python3 -m pytest ...
"""

import glob
import json
import math
import os
import sys
import unittest
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ZOO = os.path.normpath(os.path.join(HERE, "..", "..", "testdata", "keras"))


# ---------------------------------------------------------------- loading


def load_npz(path):
    z = np.load(path, allow_pickle=False)
    meta = json.loads(bytes(z["kinfer_meta"]).decode("utf-8"))
    arrays = {k: z[k] for k in z.files}
    return meta, arrays


def layer_weights(meta, arrays, lpath):
    return [arrays[k] for k in meta["weights"].get(lpath, [])]


# ---------------------------------------------------------------- activations


# Knobs that switch the reference to a plausible WRONG reading of Keras. They are all
# off (faithful) except in test_zoo_catches_wrong_semantics, which turns each one on and
# checks that at least one zoo model then misses its tolerance, i.e. that the zoo
# really pins down that piece of Keras behaviour.
WRONG = {
    "hard_sigmoid_other_version": False,  # Keras 2 formula for Keras 3 files and vice versa
    "gelu_tanh": False,                  # tanh approximation for the 'gelu' string
    "leaky_relu_string_0.3": False,      # 'leaky_relu' activation string with slope 0.3
    "leaky_relu_layer_0.2": False,       # LeakyReLU layer default slope 0.2
    "same_pad_extra_first": False,       # odd 'same' padding: extra cell top/left
    "avgpool_same_full_window": False,   # 'same' average pooling divides by the full window
    "flatten_ignores_data_format": False,
    "flatten_cf_always": False,          # transposes channels_first even if Flatten says last
    "backwards_seq_time_order": False,   # go_backwards + return_sequences re-reversed
    "bidi_no_reverse": False,            # Bidirectional backward sequence not re-reversed
    "lstm_gates_ifoc": False,            # gate order i, f, o, c instead of i, f, c, o
    "bn_eps_1e-5": False,                # ONNX's default epsilon instead of the config's
    "relu_threshold_ignored": False,     # ReLU layer threshold ignored
    "selu_as_elu": False,
    "gru_update_swapped": False,         # h = (1-z)*h + z*hh (the ONNX sign read the Keras way)
    "gru_reset_after_ignored": False,    # reset_after=True run as reset before U_h
    "gru_bias_rows_swapped": False,      # (2, 3u) bias rows read as [recurrent; input]
    "rnn_bidi_backward_not_reversed": False,  # GRU/SimpleRNN backward sequence not re-reversed
}

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def hard_sigmoid(x, keras_version):
    k2 = keras_version.startswith("2.") or keras_version.startswith("1.")
    if WRONG["hard_sigmoid_other_version"]:
        k2 = not k2
    if k2:
        return np.clip(0.2 * x + 0.5, 0.0, 1.0)
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def activation(name, x, kv):
    if isinstance(name, dict):  # serialized activation object
        name = name.get("config", {}).get("name", name.get("class_name"))
    if name in (None, "linear"):
        return x
    if name == "relu":
        return np.maximum(x, 0)
    if name == "relu6":
        return np.clip(x, 0, 6)
    if name == "sigmoid":
        return _sigmoid(x)
    if name == "hard_sigmoid":
        return hard_sigmoid(x, kv)
    if name in ("hard_silu", "hard_swish"):
        return x * hard_sigmoid(x, "3")
    if name == "tanh":
        return np.tanh(x)
    if name == "softmax":
        return _softmax(x)
    if name == "softplus":
        return np.logaddexp(0, x)
    if name == "softsign":
        return x / (1 + np.abs(x))
    if name == "elu":
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if name == "selu" and WRONG["selu_as_elu"]:
        return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))
    if name == "selu":
        return SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(np.minimum(x, 0)))
    if name == "gelu" and WRONG["gelu_tanh"]:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "gelu":  # the string means the exact (erf) form in Keras 3 and tf.keras
        return 0.5 * x * (1 + _erf(x / math.sqrt(2)))
    if name in ("swish", "silu"):
        return x * _sigmoid(x)
    if name == "leaky_relu":
        return np.where(x > 0, x, (0.3 if WRONG["leaky_relu_string_0.3"] else 0.2) * x)
    if name == "exponential":
        return np.exp(x)
    if name == "mish":
        return x * np.tanh(np.logaddexp(0, x))
    raise NotImplementedError(f"activation {name!r}")


def keras_relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """keras.activations.relu (ReLU layer), written as Keras 3 computes it."""
    negative_slope = negative_slope or 0.0
    threshold = threshold or 0.0
    if WRONG["relu_threshold_ignored"]:
        threshold = 0.0
    if negative_slope != 0.0:
        if max_value is None and threshold == 0:
            return np.where(x >= 0, x, negative_slope * x)
        neg = np.maximum(-x + threshold, 0)
    else:
        neg = 1
    clip_max = max_value is not None
    if threshold != 0:
        y = np.where(x > threshold, x, 0)
    else:
        y = np.maximum(x, 0)
    if clip_max:
        y = np.clip(y, 0, max_value)
    if negative_slope != 0.0:
        y = y - negative_slope * neg
    return y


# ---------------------------------------------------------------- conv / pooling


def _pair(v):
    if isinstance(v, (list, tuple)):
        return tuple(int(a) for a in v)
    return (int(v), int(v))


def _pads(n, k, s, d, padding):
    ke = (k - 1) * d + 1
    if padding == "same":
        out = -(-n // s)
        tot = max((out - 1) * s + ke - n, 0)
        if WRONG["same_pad_extra_first"]:
            return out, tot - tot // 2, tot // 2
        return out, tot // 2, tot - tot // 2
    if padding == "valid":
        return (n - ke) // s + 1, 0, 0
    raise NotImplementedError(f"padding {padding!r}")


def _nhwc(x, data_format):
    return x.transpose(0, 2, 3, 1) if data_format == "channels_first" else x


def _back(y, data_format):
    return y.transpose(0, 3, 1, 2) if data_format == "channels_first" else y


def _taps(x, kh, kw, sh, sw, dh, dw, padding, fill):
    """Yield (i, j, view of the input under tap (i, j)) for an NHWC input."""
    n, H, W, C = x.shape
    oh, pt, pb = _pads(H, kh, sh, dh, padding)
    ow, pl, pr = _pads(W, kw, sw, dw, padding)
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            yield i, j, xp[:, r0:r0 + (oh - 1) * sh + 1:sh, c0:c0 + (ow - 1) * sw + 1:sw, :]


def conv2d(x, c, w, kv):
    df = c.get("data_format") or "channels_last"
    x = _nhwc(x, df)
    k = w[0]
    kh, kw = k.shape[:2]
    (sh, sw), (dh, dw) = _pair(c.get("strides", 1)), _pair(c.get("dilation_rate", 1))
    if c.get("groups", 1) not in (1, None):
        raise NotImplementedError("grouped conv")
    y = None
    for i, j, v in _taps(x, kh, kw, sh, sw, dh, dw, c.get("padding", "valid"), 0.0):
        t = np.tensordot(v, k[i, j], axes=([3], [0]))
        y = t if y is None else y + t
    if c.get("use_bias", True):
        y = y + w[1]
    return _back(activation(c.get("activation"), y, kv), df)


def depthwise_conv2d(x, c, w, kv):
    df = c.get("data_format") or "channels_last"
    x = _nhwc(x, df)
    k = w[0]  # (kh, kw, cin, multiplier)
    kh, kw, cin, mult = k.shape
    (sh, sw), (dh, dw) = _pair(c.get("strides", 1)), _pair(c.get("dilation_rate", 1))
    y = None
    for i, j, v in _taps(x, kh, kw, sh, sw, dh, dw, c.get("padding", "valid"), 0.0):
        t = (v[..., :, None] * k[i, j]).reshape(v.shape[:3] + (cin * mult,))
        y = t if y is None else y + t
    if c.get("use_bias", True):
        y = y + w[1]
    return _back(activation(c.get("activation"), y, kv), df)


def pool2d(x, c, kind):
    df = c.get("data_format") or "channels_last"
    x = _nhwc(x, df)
    ph, pw = _pair(c.get("pool_size", 2))
    st = c.get("strides")
    sh, sw = _pair(st) if st is not None else (ph, pw)
    padding = c.get("padding", "valid")
    if kind == "max":
        y = None
        for _, _, v in _taps(x, ph, pw, sh, sw, 1, 1, padding, -np.inf):
            y = v.copy() if y is None else np.maximum(y, v)
    else:
        s = cnt = None
        ones = np.ones(x.shape[:3] + (1,))
        for (_, _, v), (_, _, o) in zip(_taps(x, ph, pw, sh, sw, 1, 1, padding, 0.0),
                                        _taps(ones, ph, pw, sh, sw, 1, 1, padding, 0.0)):
            s = v.copy() if s is None else s + v
            cnt = o.copy() if cnt is None else cnt + o
        y = s / (ph * pw if WRONG["avgpool_same_full_window"] else cnt)
    return _back(y, df)


def global_pool(x, c, kind):
    df = c.get("data_format") or "channels_last"
    axes = (2, 3) if df == "channels_first" else (1, 2)
    f = np.max if kind == "max" else np.mean
    return f(x, axis=axes, keepdims=bool(c.get("keepdims", False)))


# ---------------------------------------------------------------- LSTM


def lstm(x, c, w, kv, go_backwards=None):
    units = int(c["units"])
    kern, rec = w[0], w[1]
    bias = w[2] if c.get("use_bias", True) else np.zeros(4 * units)
    act = c.get("activation", "tanh")
    ract = c.get("recurrent_activation", "sigmoid")
    back = c.get("go_backwards", False) if go_backwards is None else go_backwards
    n, T, _ = x.shape
    h = np.zeros((n, units))
    cs = np.zeros((n, units))
    steps = range(T - 1, -1, -1) if back else range(T)
    outs = []
    xw = np.einsum("nti,ij->ntj", x, kern) + bias
    for t in steps:
        z = xw[:, t] + h @ rec
        gi, gf, gc, go = (0, 1, 2, 3) if not WRONG["lstm_gates_ifoc"] else (0, 1, 3, 2)
        i = activation(ract, z[:, gi * units:(gi + 1) * units], kv)
        f = activation(ract, z[:, gf * units:(gf + 1) * units], kv)
        g = activation(act, z[:, gc * units:(gc + 1) * units], kv)
        o = activation(ract, z[:, go * units:(go + 1) * units], kv)
        cs = f * cs + i * g
        h = o * activation(act, cs, kv)
        outs.append(h)
    if c.get("return_sequences", False):
        # go_backwards: output step k is the state after k reversed steps
        seq = np.stack(outs, axis=1)
        if back and WRONG["backwards_seq_time_order"] and go_backwards is None:
            seq = seq[:, ::-1]
        return seq
    return h


def gru(x, c, w, kv, go_backwards=None):
    """Keras GRU: gates z, r, h; reset_after applies r to (h U_h + b_rec_h)."""
    units = int(c["units"])
    kern, rec = w[0], w[1]
    after = c.get("reset_after", True)
    if c.get("use_bias", True):
        b = w[2]
        bx, bh = (b[0], b[1]) if after else (b, np.zeros(3 * units))
        if after and WRONG["gru_bias_rows_swapped"]:
            bx, bh = bh, bx
    else:
        bx = bh = np.zeros(3 * units)
    act = c.get("activation", "tanh")
    ract = c.get("recurrent_activation", "sigmoid")
    back = c.get("go_backwards", False) if go_backwards is None else go_backwards
    n, T, _ = x.shape
    h = np.zeros((n, units))
    steps = range(T - 1, -1, -1) if back else range(T)
    outs = []
    xw = np.einsum("nti,ij->ntj", x, kern) + bx
    u = units
    for t in steps:
        xz, xr, xh = xw[:, t, :u], xw[:, t, u:2 * u], xw[:, t, 2 * u:]
        if after and WRONG["gru_reset_after_ignored"]:
            xh = xh + bh[2 * u:]
            z = activation(ract, xz + bh[:u] + h @ rec[:, :u], kv)
            r = activation(ract, xr + bh[u:2 * u] + h @ rec[:, u:2 * u], kv)
            hh = activation(act, xh + (r * h) @ rec[:, 2 * u:], kv)
        elif after:
            hu = h @ rec + bh
            z = activation(ract, xz + hu[:, :u], kv)
            r = activation(ract, xr + hu[:, u:2 * u], kv)
            hh = activation(act, xh + r * hu[:, 2 * u:], kv)
        else:
            z = activation(ract, xz + h @ rec[:, :u], kv)
            r = activation(ract, xr + h @ rec[:, u:2 * u], kv)
            hh = activation(act, xh + (r * h) @ rec[:, 2 * u:], kv)
        h = (1 - z) * h + z * hh if WRONG["gru_update_swapped"] else z * h + (1 - z) * hh
        outs.append(h)
    if c.get("return_sequences", False):
        return np.stack(outs, axis=1)
    return h


def simple_rnn(x, c, w, kv, go_backwards=None):
    units = int(c["units"])
    kern, rec = w[0], w[1]
    bias = w[2] if c.get("use_bias", True) else np.zeros(units)
    act = c.get("activation", "tanh")
    back = c.get("go_backwards", False) if go_backwards is None else go_backwards
    n, T, _ = x.shape
    h = np.zeros((n, units))
    steps = range(T - 1, -1, -1) if back else range(T)
    outs = []
    xw = np.einsum("nti,ij->ntj", x, kern) + bias
    for t in steps:
        h = activation(act, xw[:, t] + h @ rec, kv)
        outs.append(h)
    if c.get("return_sequences", False):
        return np.stack(outs, axis=1)
    return h


RECURRENT = {"LSTM": lstm, "GRU": gru, "SimpleRNN": simple_rnn}


def bidirectional(x, c, w, kv):
    inner = c["layer"]
    ic = inner["config"]
    cell = RECURRENT.get(inner["class_name"])
    if cell is None:
        raise NotImplementedError(f"Bidirectional({inner['class_name']})")
    nw = len(w) // 2
    fwd = cell(x, ic, w[:nw], kv, go_backwards=bool(ic.get("go_backwards", False)))
    bwd = cell(x, ic, w[nw:], kv, go_backwards=not ic.get("go_backwards", False))
    no_reverse = WRONG["bidi_no_reverse"] if inner["class_name"] == "LSTM" else WRONG["rnn_bidi_backward_not_reversed"]
    if ic.get("return_sequences", False) and not no_reverse:
        bwd = bwd[:, ::-1]
    mode = c.get("merge_mode", "concat")
    if mode == "concat":
        return np.concatenate([fwd, bwd], axis=-1)
    if mode == "sum":
        return fwd + bwd
    if mode == "mul":
        return fwd * bwd
    if mode == "ave":
        return (fwd + bwd) / 2
    raise NotImplementedError(f"merge_mode {mode!r}")


# ---------------------------------------------------------------- the walk


IDENTITY = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
            "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization"}


def run_layers(layers, x, meta, arrays, prefix="", keras2=False):
    kv = meta["keras_version"]
    for l in layers:
        cls, c = l["class_name"], l["config"]
        if cls == "InputLayer":
            continue
        name = c["name"]
        w = [a.astype(np.float64) for a in layer_weights(meta, arrays, prefix + name)]
        if cls == "Sequential":
            x = run_layers(c["layers"], x, meta, arrays, prefix + name + "/", keras2)
        elif cls in ("Functional", "Model"):
            x = run_graph(c, [x], meta, arrays, prefix + name + "/", keras2)[0]
        elif cls in ("GlobalAveragePooling1D", "GlobalMaxPooling1D"):
            f = np.max if cls == "GlobalMaxPooling1D" else np.mean
            cf = c.get("data_format") == "channels_first"
            x = f(x, axis=2 if cf else 1, keepdims=bool(c.get("keepdims", False)))
        elif cls == "Dense":
            y = np.tensordot(x, w[0], axes=([x.ndim - 1], [0]))
            if c.get("use_bias", True):
                y = y + w[1]
            x = activation(c.get("activation"), y, kv)
        elif cls == "Conv2D":
            x = conv2d(x, c, w, kv)
        elif cls == "DepthwiseConv2D":
            x = depthwise_conv2d(x, c, w, kv)
        elif cls == "MaxPooling2D":
            x = pool2d(x, c, "max")
        elif cls == "AveragePooling2D":
            x = pool2d(x, c, "avg")
        elif cls == "GlobalAveragePooling2D":
            x = global_pool(x, c, "avg")
        elif cls == "GlobalMaxPooling2D":
            x = global_pool(x, c, "max")
        elif cls == "Flatten":
            cf = c.get("data_format") == "channels_first"
            if WRONG["flatten_ignores_data_format"]:
                cf = False
            if WRONG["flatten_cf_always"] and "channels_first" in json.dumps(meta["model_config"]):
                cf = True
            if cf and x.ndim > 2:
                x = np.moveaxis(x, 1, -1)
            x = x.reshape(x.shape[0], -1)
        elif cls == "Reshape":
            x = x.reshape((x.shape[0],) + tuple(c["target_shape"]))
        elif cls == "Permute":
            x = x.transpose((0,) + tuple(int(d) for d in c["dims"]))
        elif cls == "ZeroPadding2D":
            p = c["padding"]
            (t, b), (lft, r) = [(q, q) if isinstance(q, int) else tuple(q) for q in
                                ((p, p) if isinstance(p, int) else p)]
            if (c.get("data_format") or "channels_last") == "channels_first":
                x = np.pad(x, ((0, 0), (0, 0), (t, b), (lft, r)))
            else:
                x = np.pad(x, ((0, 0), (t, b), (lft, r), (0, 0)))
        elif cls == "Rescaling":
            x = x * np.asarray(c["scale"], dtype=np.float64) + np.asarray(c.get("offset", 0.0), dtype=np.float64)
        elif cls == "Activation":
            x = activation(c["activation"], x, kv)
        elif cls == "ReLU":
            x = keras_relu(x, c.get("negative_slope", 0.0), c.get("max_value"), c.get("threshold", 0.0))
        elif cls == "LeakyReLU":
            slope = c.get("negative_slope", c.get("alpha", 0.3))
            if WRONG["leaky_relu_layer_0.2"] and "negative_slope" in c and slope == 0.3:
                slope = 0.2
            x = np.where(x >= 0, x, slope * x)
        elif cls == "Softmax":
            x = _softmax(x, axis=c.get("axis", -1))
        elif cls == "BatchNormalization":
            axis = c.get("axis", -1)
            if isinstance(axis, list):
                if len(axis) != 1:
                    raise NotImplementedError("BatchNormalization over several axes")
                axis = axis[0]
            axis = axis % x.ndim
            i = 0
            gamma = beta = None
            if c.get("scale", True):
                gamma, i = w[i], i + 1
            if c.get("center", True):
                beta, i = w[i], i + 1
            mean, var = w[i], w[i + 1]
            shape = [1] * x.ndim
            shape[axis] = -1
            eps = 1e-5 if WRONG["bn_eps_1e-5"] else c.get("epsilon", 1e-3)
            y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
            if gamma is not None:
                y = y * gamma.reshape(shape)
            if beta is not None:
                y = y + beta.reshape(shape)
            x = y
        elif cls in RECURRENT:
            x = RECURRENT[cls](x, c, w, kv)
        elif cls == "TimeDistributed" and c["layer"]["class_name"] in list(RECURRENT) + ["Bidirectional"]:
            n, outer = x.shape[:2]
            ic = c["layer"]["config"]
            flat = x.reshape((n * outer,) + x.shape[2:])
            if c["layer"]["class_name"] == "Bidirectional":
                y = bidirectional(flat, ic, w, kv)
            else:
                y = RECURRENT[c["layer"]["class_name"]](flat, ic, w, kv)
            x = y.reshape((n, outer) + y.shape[1:])
        elif cls == "TimeDistributed" and c["layer"]["class_name"] == "Dense":
            ic = c["layer"]["config"]
            y = np.tensordot(x, w[0], axes=([x.ndim - 1], [0]))
            if ic.get("use_bias", True):
                y = y + w[1]
            x = activation(ic.get("activation"), y, kv)
        elif cls == "Bidirectional":
            x = bidirectional(x, c, w, kv)
        elif cls in IDENTITY:
            pass
        else:
            raise NotImplementedError(f"layer class {cls!r}")
    return x


def _merge(cls, c, xs):
    if cls == "Concatenate":
        return np.concatenate(xs, axis=c.get("axis", -1))
    nd = max(x.ndim for x in xs)  # Keras 3: lower ranks get axes after the batch axis
    xs = [x.reshape((x.shape[0],) + (1,) * (nd - x.ndim) + x.shape[1:]) for x in xs]
    if cls == "Subtract":
        return xs[0] - xs[1]
    if cls == "Multiply":
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y
    f = {"Add": np.add, "Average": np.add, "Maximum": np.maximum, "Minimum": np.minimum}[cls]
    y = xs[0]
    for x in xs[1:]:
        y = f(y, x)
    return y / len(xs) if cls == "Average" else y


MERGES = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}


def _refs(v):
    return [v] if v and isinstance(v[0], str) else v


def run_graph(cfg, xs, meta, arrays, prefix="", keras2=False):
    """Run one Functional config on inputs xs (float64); return its outputs."""
    by = {l["config"]["name"]: l for l in cfg["layers"]}
    have = {}
    for r, x in zip(_refs(cfg["input_layers"]), xs):
        have[(r[0], 0, 0)] = x

    def offset(name):
        l = by[name]
        inner = (l.get("config") or {}).get("layers") or []
        return 1 if keras2 and l["class_name"] in ("Functional", "Model", "Sequential") \
            and inner and inner[0]["class_name"] == "InputLayer" else 0

    def node_refs(node):
        if isinstance(node, list):
            return [(t[0], t[1] - offset(t[0]), t[2]) for t in node]
        out = []

        def walk(o):
            if isinstance(o, dict):
                if o.get("class_name") == "__keras_tensor__":
                    out.append(tuple(o["config"]["keras_history"]))
                    return
                for v in o.values():
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)

        walk(node.get("args", []))
        return out

    pending = [(l, k, node_refs(n)) for l in cfg["layers"] if l["class_name"] != "InputLayer"
               for k, n in enumerate(l.get("inbound_nodes") or [])]
    while pending:
        rest = []
        for l, k, refs in pending:
            if not all(r in have for r in refs):
                rest.append((l, k, refs))
                continue
            ins = [have[r] for r in refs]
            cls, name = l["class_name"], l["config"]["name"]
            if cls in ("Functional", "Model"):
                outs = run_graph(l["config"], ins, meta, arrays, prefix + name + "/", keras2)
            elif cls in MERGES:
                outs = [_merge(cls, l["config"], ins)]
            else:
                outs = [run_layers([l], ins[0], meta, arrays, prefix)]
            for i, y in enumerate(outs):
                have[(name, k, i)] = y
        if len(rest) == len(pending):
            raise ValueError("graph has a cycle or a missing tensor")
        pending = rest
    return [have[(r[0], r[1] - offset(r[0]), r[2])] for r in _refs(cfg["output_layers"])]


def reference_forward_graph(meta, arrays, xs):
    """Float64 reference of a version-2 npz: a list of outputs for a list of inputs."""
    mc = meta["model_config"]
    xs = [np.asarray(x, dtype=np.float64) for x in xs]
    keras2 = meta["keras_version"].startswith("2.")
    if mc["class_name"] == "Sequential":
        return [run_layers(mc["config"]["layers"], xs[0], meta, arrays, keras2=keras2)]
    return run_graph(mc["config"], xs, meta, arrays, "", keras2)


def reference_forward(meta, arrays, x):
    mc = meta["model_config"]
    if meta.get("converted_from") == "Functional":
        sys.path.insert(0, HERE)
        import keras2npz  # numpy-only at import

        layers = keras2npz.functional_chain_to_sequential(mc)["config"]["layers"]
    elif isinstance(mc, list):
        layers = mc
    else:
        layers = mc["config"]["layers"]
    return run_layers(layers, np.asarray(x, dtype=np.float64), meta, arrays)


def error_ratio(got, want, atol=1e-5, rtol=1e-5):
    """max |got-want| / (atol + rtol*|want|): <= 1 means within the bound."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    return float(np.max(np.abs(got - want) / (atol + rtol * np.abs(want))))


# ---------------------------------------------------------------- tests


def _zoo_files():
    return sorted(glob.glob(os.path.join(ZOO, "*.npz")))


class ZooTest(unittest.TestCase):
    def test_zoo_present(self):
        self.assertGreaterEqual(len(_zoo_files()), 22, f"run testdata/gen_keras_zoo.py ({ZOO})")

    def test_format(self):
        for p in _zoo_files():
            with self.subTest(model=os.path.basename(p)):
                with zipfile.ZipFile(p) as z:
                    self.assertIn("kinfer_meta.npy", z.namelist())
                meta, arrays = load_npz(p)
                self.assertEqual(meta["format"], "kinfer-npz")
                self.assertEqual(meta["version"], 1)
                self.assertIn(meta["source_format"], ("keras", "h5"))
                self.assertEqual(arrays["kinfer_meta"].dtype, np.uint8)
                listed = set()
                for lpath, keys in meta["weights"].items():
                    for i, k in enumerate(keys):
                        self.assertEqual(k, f"w/{lpath}/{i}")
                        self.assertEqual(arrays[k].dtype, np.float32, k)
                        listed.add(k)
                extra = {k for k in arrays if k.startswith("w/")} - listed
                self.assertFalse(extra, "weights not listed in meta")
                self.assertEqual(arrays["samples/x"].dtype, np.float32)
                self.assertEqual(arrays["samples/y"].dtype, np.float32)

    def test_reference_matches_keras(self):
        manifest = {}
        mpath = os.path.join(ZOO, "MANIFEST.json")
        if os.path.exists(mpath):
            with open(mpath) as f:
                manifest = {m["name"]: m for m in json.load(f)["models"]}
        for p in _zoo_files():
            name = os.path.basename(p)[:-4]
            with self.subTest(model=name):
                meta, arrays = load_npz(p)
                tol = manifest.get(name, {}).get("tolerance", {"atol": 1e-5, "rtol": 1e-5})
                y = reference_forward(meta, arrays, arrays["samples/x"])
                self.assertEqual(y.shape, arrays["samples/y"].shape)
                r = error_ratio(y, arrays["samples/y"], tol["atol"], tol["rtol"])
                self.assertLessEqual(r, 1.0, f"{name}: error {r:.3g} x the bound {tol}")


BLOCK_KERAS = (
    "import sys\n"
    "for m in ('keras', 'tensorflow', 'tf_keras', 'jax'):\n"
    "    sys.modules[m] = None  # importing them now raises ImportError\n"
    "sys.path.insert(0, sys.argv[1])\n"
    "import keras2npz\n"
    "sys.exit(keras2npz.main(sys.argv[2:]))\n"
)


def _run_exporter_without_keras(*args):
    import subprocess

    return subprocess.run([sys.executable, "-c", BLOCK_KERAS, HERE] + list(args),
                          capture_output=True, text=True)


class ExporterTest(unittest.TestCase):
    """keras2npz.py with keras, tensorflow and tf_keras made unimportable."""

    def setUp(self):
        try:
            import h5py  # noqa: F401
        except ImportError:
            self.skipTest("h5py not installed")

    def test_export_needs_only_numpy_h5py(self):
        import tempfile

        srcs = sorted(glob.glob(os.path.join(ZOO, "src", "*")))
        if not srcs:
            self.skipTest("no testdata/keras/src")
        by_source = {}
        for p in _zoo_files():
            meta, _ = load_npz(p)
            by_source[os.path.join(ZOO, "src", meta["source"])] = p
        with tempfile.TemporaryDirectory() as td:
            for src in srcs:
                with self.subTest(src=os.path.basename(src)):
                    out = os.path.join(td, "out.npz")
                    r = _run_exporter_without_keras(src, out)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    got_meta, got = load_npz(out)
                    want_meta, want = load_npz(by_source[src])
                    self.assertEqual(got_meta, want_meta)
                    self.assertEqual(set(got), {k for k in want if not k.startswith("samples/")})
                    for k in got:
                        np.testing.assert_array_equal(got[k], want[k])

    def test_samples_without_keras_is_exit_1(self):
        src = os.path.join(ZOO, "src", "mlp_regressor.keras")
        if not os.path.exists(src):
            self.skipTest("no zoo sources")
        r = _run_exporter_without_keras(src, os.devnull + ".npz", "--samples", "2")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("keras", r.stderr)

    def test_broken_sources_exit_2(self):
        d = os.path.join(ZOO, "..", "broken", "keras_src")
        files = sorted(glob.glob(os.path.join(d, "*")))
        if not files:
            self.skipTest("no testdata/broken/keras_src")
        for p in files + [os.path.join(d, "does_not_exist.keras")]:
            with self.subTest(src=os.path.basename(p)):
                r = _run_exporter_without_keras(p, "/nonexistent/out.npz")
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertTrue(r.stderr.startswith("keras2npz: "), r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


DAG_ZOO = os.path.normpath(os.path.join(HERE, "..", "..", "testdata", "keras_dag"))


class DagExportTest(unittest.TestCase):
    """Functional (DAG) fixtures: npz version 2, re-exported without Keras."""

    def setUp(self):
        try:
            import h5py  # noqa: F401
        except ImportError:
            self.skipTest("h5py not installed")
        self.files = sorted(glob.glob(os.path.join(DAG_ZOO, "*.npz")))
        if not self.files:
            self.skipTest("no testdata/keras_dag (run testdata/gen_keras_dag.py)")

    def test_format_v2(self):
        for p in self.files:
            with self.subTest(model=os.path.basename(p)):
                meta, arrays = load_npz(p)
                self.assertEqual(meta["version"], 2)
                single = "samples/x" in arrays
                xs = ["samples/x"] if single else sorted(k for k in arrays if k.startswith("samples/x_"))
                ys = ["samples/y"] if single else sorted(k for k in arrays if k.startswith("samples/y_"))
                self.assertTrue(xs and ys)
                self.assertEqual(len({arrays[k].shape[0] for k in xs + ys}), 1)
                for lpath, keys in meta["weights"].items():
                    for i, k in enumerate(keys):
                        self.assertEqual(k, f"w/{lpath}/{i}")

    def test_reference_matches_keras(self):
        for p in self.files:
            name = os.path.basename(p)[:-4]
            with self.subTest(model=name):
                meta, arrays = load_npz(p)
                single = "samples/x" in arrays
                n_in = 1 if single else sum(1 for k in arrays if k.startswith("samples/x_"))
                n_out = 1 if single else sum(1 for k in arrays if k.startswith("samples/y_"))
                xs = [arrays["samples/x"]] if single else [arrays[f"samples/x_{i}"] for i in range(n_in)]
                ys = [arrays["samples/y"]] if single else [arrays[f"samples/y_{j}"] for j in range(n_out)]
                got = reference_forward_graph(meta, arrays, xs)
                self.assertEqual(len(got), len(ys))
                for g, y in zip(got, ys):
                    self.assertEqual(g.shape, y.shape)
                    r = error_ratio(g, y)
                    self.assertLessEqual(r, 1.0, f"{name}: error {r:.3g} x the bound")

    def test_reexport_without_keras(self):
        import tempfile

        by_source = {}
        for p in self.files:
            meta, _ = load_npz(p)
            by_source[os.path.join(DAG_ZOO, "src", meta["source"])] = p
        srcs = [s for s in by_source if os.path.exists(s)]
        self.assertTrue(srcs)
        with tempfile.TemporaryDirectory() as td:
            for src in srcs:
                with self.subTest(src=os.path.basename(src)):
                    out = os.path.join(td, "out.npz")
                    r = _run_exporter_without_keras(src, out)
                    self.assertEqual(r.returncode, 0, r.stderr)
                    got_meta, got = load_npz(out)
                    want_meta, want = load_npz(by_source[src])
                    self.assertEqual(got_meta, want_meta)
                    self.assertEqual(set(got), {k for k in want if not k.startswith("samples/")})
                    for k in got:
                        np.testing.assert_array_equal(got[k], want[k])


class ZooCatchesWrongSemantics(unittest.TestCase):
    def test_zoo_catches_wrong_semantics(self):
        files = _zoo_files()
        if not files:
            self.skipTest("no zoo")
        loaded = [(os.path.basename(p)[:-4],) + load_npz(p) for p in files]
        for knob in WRONG:
            with self.subTest(knob=knob):
                WRONG[knob] = True
                try:
                    caught = []
                    for name, meta, arrays in loaded:
                        y = reference_forward(meta, arrays, arrays["samples/x"])
                        if error_ratio(y, arrays["samples/y"]) > 1.0:
                            caught.append(name)
                finally:
                    WRONG[knob] = False
                self.assertTrue(caught, f"no zoo model notices the wrong semantics {knob!r}")
                print(f"  wrong {knob:30s} caught by {', '.join(caught)}", file=sys.stderr)


class ExporterMends(unittest.TestCase):
    """Normalization after adapt() (an int64 count) exports; a missing numpy is a message."""

    def test_normalization_adapt(self):
        import tempfile

        src = os.path.join(HERE, "..", "..", "testdata", "seq", "src", "normalization_adapt.keras")
        if not os.path.exists(src):
            self.skipTest("no testdata/seq/src")
        with tempfile.TemporaryDirectory() as td:
            out = os.path.join(td, "out.npz")
            r = _run_exporter_without_keras(src, out)
            self.assertEqual(r.returncode, 0, r.stderr)
            meta, arrays = load_npz(out)
            (keys,) = [v for k, v in meta["weights"].items() if "normalization" in k]
            self.assertEqual(len(keys), 3)  # mean, variance, count
            self.assertEqual(arrays[keys[2]].dtype, np.float32)
            self.assertEqual(arrays[keys[2]].size, 1)

    def test_time_distributed_bidirectional(self):
        # the .keras and the legacy .h5 of one model export the same weights: a
        # Bidirectional inside TimeDistributed keeps forward before backward in .keras
        import tempfile

        srcs = [os.path.join(HERE, "..", "..", "testdata", "seq", "src", "td_bigru." + ext)
                for ext in ("keras", "h5")]
        if not all(os.path.exists(p) for p in srcs):
            self.skipTest("no testdata/seq/src")
        got = []
        with tempfile.TemporaryDirectory() as td:
            for i, src in enumerate(srcs):
                out = os.path.join(td, f"{i}.npz")
                r = _run_exporter_without_keras(src, out)
                self.assertEqual(r.returncode, 0, r.stderr)
                meta, arrays = load_npz(out)
                got.append([arrays[k] for _, keys in sorted(meta["weights"].items()) for k in keys])
        self.assertEqual(len(got[0]), len(got[1]))
        for a, b in zip(*got):
            np.testing.assert_array_equal(a, b)

    def test_missing_numpy(self):
        import subprocess

        code = ("import sys\nsys.modules['numpy'] = None\nsys.path.insert(0, sys.argv[1])\n"
                "import keras2npz\nsys.exit(keras2npz.main(sys.argv[2:]))\n")
        r = subprocess.run([sys.executable, "-c", code, HERE, "in.keras", "out.npz"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.strip(), "keras2npz: numpy is required (pip install numpy)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1].endswith(".npz"):
        for p in sys.argv[1:]:
            meta, arrays = load_npz(p)
            y = reference_forward(meta, arrays, arrays["samples/x"])
            print(os.path.basename(p), "error ratio vs samples/y (1e-5+1e-5|y|):",
                  error_ratio(y, arrays["samples/y"]))
        sys.exit(0)
    unittest.main()
