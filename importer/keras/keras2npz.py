#!/usr/bin/env python3
"""Export a Keras Sequential model to the kinfer npz format (version 1).

Usage:
    keras2npz.py MODEL.keras|MODEL.h5 OUT.npz [--samples N] [--seed S]

The export itself needs only numpy and h5py: it reads the model's config JSON and
its weight arrays straight from the file, never running Keras. The format is
described in docs/npz-format.md.

Accepted inputs:
  * Keras 3 `.keras` zips (config.json + metadata.json + model.weights.h5);
  * legacy HDF5 `.h5` files saved with `model.save()` by Keras 3 or by
    tf.keras / tf_keras 2.x (they carry a `model_config` attribute).
The model must be a Sequential (nested Sequentials are fine). A Functional model
that is a single chain (one input, one output, every layer fed by the previous
one) is accepted too: its weights are mapped along the chain, model_config stays the
Functional config exactly as saved, and the meta adds "converted_from": "Functional"
so that readers know to order the layers by following inbound_nodes.

With --samples N (needs keras, or tf_keras for files saved by Keras 2.x), the
model is also loaded by the framework that saved it, N inputs are drawn from a
standard normal distribution (numpy default_rng(seed)), and samples/x and
samples/y = model.predict(x) are stored. In that mode every exported weight is
also checked against the loaded model's layer.get_weights().

Exit status: 0 on success, 2 for bad or unsupported input (message on stderr),
1 for other failures (e.g. keras missing when --samples is asked for).
"""

import argparse
import io
import json
import os
import re
import sys
import zipfile

try:
    import numpy as np
except ImportError:  # pragma: no cover - reported at run time
    np = None

try:
    import h5py
except ImportError:  # pragma: no cover - reported at run time
    h5py = None

FORMAT = "kinfer-npz"
VERSION = 1

INPUT_CLASSES = ("InputLayer",)
NESTED_CLASSES = ("Sequential",)
# Keras class names of recurrent layers whose weights live in a `cell` sublayer.
RNN_CLASSES = ("LSTM", "GRU", "SimpleRNN", "RNN")
WRAPPER_CLASSES = ("Bidirectional",)

# Fixed timestamp for zip members, so the same model always gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


class BadInput(Exception):
    """The input file is not something this exporter can convert (exit status 2)."""


# ---------------------------------------------------------------- helpers


def _str(v):
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _str(v.item())
    return str(v)


def _str_list(v):
    if v is None:
        return []
    return [_str(x) for x in np.asarray(v).reshape(-1).tolist()]


def to_snake_case(name):
    """keras.src.utils.naming.to_snake_case (used for .keras weight paths)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    return name


def _float32(arr, where):
    a = np.asarray(arr)
    if a.dtype.kind in "iu" and a.ndim == 0:
        # An integer scalar is a counter, not a quantized weight: Normalization
        # stores its adapt() sample count as int64 beside mean and variance.
        return a.astype(np.float32)
    if a.dtype.kind != "f":
        raise BadInput(
            f"{where}: weight has dtype {a.dtype}; only floating-point weights are "
            "supported (quantized models are not)"
        )
    if any(d < 0 for d in a.shape):
        raise BadInput(f"{where}: weight has negative dimension {a.shape}")
    return a.astype(np.float32, copy=False)


def _layers_of(config, where):
    """Layer list of a Sequential config (Keras 2/3 dict form or old bare list)."""
    if isinstance(config, list):  # very old Keras: Sequential config is a bare list
        return config
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise BadInput(f"{where}: Sequential config has no 'layers' list")
    return config["layers"]


def _layer_name(layer_cfg, where):
    if not isinstance(layer_cfg, dict) or "class_name" not in layer_cfg:
        raise BadInput(f"{where}: layer entry is not a {{class_name, config}} object")
    cfg = layer_cfg.get("config")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("name"), str):
        raise BadInput(f"{where}: layer {layer_cfg.get('class_name')!r} has no name")
    return cfg["name"]


# ---------------------------------------------------------------- functional chains


def _inbound_names(layer_cfg):
    """Names of the layers feeding this layer in a Functional config (Keras 2 or 3)."""
    nodes = layer_cfg.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise BadInput(
            f"layer {layer_cfg['config'].get('name')!r} is called more than once "
            "(shared layer); only single-chain models are supported"
        )
    if not nodes:
        return []
    node = nodes[0]
    names = []
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        def walk(o):
            if isinstance(o, dict):
                if o.get("class_name") == "__keras_tensor__":
                    names.append(o["config"]["keras_history"][0])
                    return
                for v in o.values():
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)

        walk(node.get("args", []))
        walk(node.get("kwargs", {}))
    elif isinstance(node, list):  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
        for t in node:
            if isinstance(t, list) and t and isinstance(t[0], str):
                names.append(t[0])
    return names


def functional_chain_to_sequential(model_config):
    """Turn a single-chain Functional config into a Sequential config, or raise BadInput."""
    cfg = model_config.get("config")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("layers"), list):
        raise BadInput("Functional model config has no layer list")

    def tensor_refs(v):
        # Keras 3: ["name", 0, 0] or [["name", 0, 0], ...]; Keras 2: [["name", 0, 0]]
        if isinstance(v, list) and v and isinstance(v[0], str):
            return [v]
        return list(v or [])

    ins = tensor_refs(cfg.get("input_layers"))
    outs = tensor_refs(cfg.get("output_layers"))
    if len(ins) != 1 or len(outs) != 1:
        raise BadInput(
            f"Functional model has {len(ins)} inputs and {len(outs)} outputs; only "
            "single-input single-output chains can be converted to a Sequential"
        )
    by_name = {}
    for l in cfg["layers"]:
        n = _layer_name(l, "Functional model")
        by_name[n] = l
    consumers = {}
    for l in cfg["layers"]:
        srcs = _inbound_names(l)
        if len(srcs) > 1:
            raise BadInput(
                f"layer {l['config']['name']!r} ({l['class_name']}) has {len(srcs)} "
                "inputs; branching Functional models are not supported"
            )
        for s in srcs:
            consumers.setdefault(s, []).append(l["config"]["name"])
    chain = [ins[0][0]]
    while True:
        nxt = consumers.get(chain[-1], [])
        if len(nxt) > 1:
            raise BadInput(
                f"output of layer {chain[-1]!r} feeds {len(nxt)} layers; branching "
                "Functional models are not supported"
            )
        if not nxt:
            break
        chain.append(nxt[0])
    if chain[-1] != outs[0][0] or len(chain) != len(by_name):
        raise BadInput(
            "Functional model is not a single chain from its input to its output; "
            "only Sequential-shaped models are supported"
        )
    layers = []
    for n in chain:
        l = dict(by_name[n])
        l.pop("inbound_nodes", None)
        if l["class_name"] == "InputLayer" and chain.index(n) != 0:
            raise BadInput("InputLayer in the middle of a chain")
        layers.append(l)
    if layers[0]["class_name"] != "InputLayer":
        raise BadInput("Functional model does not start with an InputLayer")
    return {
        "class_name": "Sequential",
        "config": {"name": cfg.get("name", "sequential"), "layers": layers},
    }


def normalize_model_config(model_config):
    """Return (sequential_config, converted_from) or raise BadInput."""
    if isinstance(model_config, list):  # very old Keras: bare list of layers
        return {"class_name": "Sequential", "config": {"layers": model_config}}, None
    if not isinstance(model_config, dict) or "class_name" not in model_config:
        raise BadInput("model config is not a {class_name, config} JSON object")
    cls = model_config["class_name"]
    if cls == "Sequential":
        _layers_of(model_config.get("config"), "model")
        return model_config, None
    if cls in ("Functional", "Model"):
        if not isinstance(model_config.get("config"), dict) or "layers" not in model_config["config"]:
            raise BadInput(
                f"model class {cls!r} has no layer graph in its config (a subclassed "
                "model?); only Sequential models can be exported"
            )
        return functional_chain_to_sequential(model_config), "Functional"
    raise BadInput(
        f"model class {cls!r} is not Sequential (a subclassed model?); only Sequential "
        "models, or Functional models that are a single chain, can be exported"
    )


# ---------------------------------------------------------------- .keras zips


def _vars_of(group, where):
    """Datasets vars/0..n-1 of a .keras weights group, in numeric order."""
    out = []
    if "vars" not in group:
        return out
    v = group["vars"]
    keys = list(v.keys())
    try:
        idx = sorted(int(k) for k in keys)
    except ValueError:
        raise BadInput(f"{where}: non-numeric variable names {keys} in {v.name}")
    if idx != list(range(len(idx))):
        raise BadInput(f"{where}: variables {idx} in {v.name} are not 0..n-1")
    for i in idx:
        out.append(_float32(v[str(i)][()], f"{where} ({v.name}/{i})"))
    return out


def _collect_keras_group(group, layer_cfg, where):
    """All weights of one layer, in get_weights() order, from its .keras group."""
    cls = layer_cfg["class_name"]
    if cls == "Bidirectional":
        ws = _vars_of(group, where)
        for sub in ("forward_layer", "backward_layer"):
            if sub not in group:
                raise BadInput(f"{where}: Bidirectional group {group.name} lacks {sub}")
            inner = (layer_cfg.get("config") or {}).get("layer") or {"class_name": "LSTM"}
            ws += _collect_keras_group(group[sub], inner, f"{where}/{sub}")
        return ws
    # Generic: own variables first, then sublayers (e.g. an RNN's `cell`) in the
    # order Keras walks them (sorted attribute names), as saving_lib does.
    ws = _vars_of(group, where)
    for k in sorted(group.keys(), key=lambda s: ("~" + s) if s.startswith("_") else s):
        if k == "vars" or not isinstance(group[k], h5py.Group):
            continue
        ws += _collect_keras_group(group[k], {"class_name": "?"}, f"{where}/{k}")
    return ws


def _keras_container_weights(layers_group, layers, prefix, out, where):
    """Fill out[path] = [arrays] for the layers of one (nested) Sequential.

    In a .keras file the weights of the i-th layer of a Sequential live under
    layers/<snake_case(class name)>[_N], N counting earlier layers of the same class
    in that container (the auto-created InputLayer is not counted). The group's
    vars/ carries a `name` attribute (the layer's name) that is used to check the
    mapping, and to find the layer when the class-name rule does not hold.
    """
    body = [l for l in layers if l.get("class_name") not in INPUT_CLASSES]
    used = {}
    consumed = set()
    by_saved_name = {}
    if layers_group is not None:
        for k in layers_group.keys():
            g = layers_group[k]
            if isinstance(g, h5py.Group) and "vars" in g and "name" in g["vars"].attrs:
                by_saved_name.setdefault(_str(g["vars"].attrs["name"]), []).append(k)
    for l in body:
        name = _layer_name(l, where)
        cls = l["class_name"]
        snake = to_snake_case(cls)
        if snake in used:
            used[snake] += 1
            key = f"{snake}_{used[snake]}"
        else:
            used[snake] = 0
            key = snake
        path = f"{prefix}{name}"
        g = None
        if layers_group is not None and key in layers_group:
            g = layers_group[key]
            saved = g["vars"].attrs.get("name") if "vars" in g else None
            if saved is not None and _str(saved) != name:
                g = None  # class-name rule disagrees with the saved name; look it up
        if g is None and layers_group is not None:
            cands = by_saved_name.get(name, [])
            if len(cands) == 1:
                g = layers_group[cands[0]]
            elif len(cands) > 1:
                raise BadInput(f"{where}: several weight groups claim layer {name!r}: {cands}")
        if g is not None:
            if g.name in consumed:
                raise BadInput(f"{where}: weight group {g.name} matches two layers")
            consumed.add(g.name)
        if cls in NESTED_CLASSES:
            inner_layers = _layers_of(l.get("config"), f"{where}/{name}")
            inner_group = g["layers"] if (g is not None and "layers" in g) else None
            _keras_container_weights(inner_group, inner_layers, path + "/", out, f"{where}/{name}")
            continue
        if cls in ("Functional", "Model"):
            raise BadInput(f"{where}: nested Functional model {name!r} is not supported")
        if g is None:
            continue  # weightless layer with no group at all
        ws = _collect_keras_group(g, l, f"{where}/{name}")
        if ws:
            out[path] = ws
    if layers_group is not None:
        for k in layers_group.keys():
            g = layers_group[k]
            if g.name not in consumed and _has_datasets(g):
                raise BadInput(
                    f"{where}: weights under {g.name} belong to no layer of the config "
                    "(config and weights disagree)"
                )


def _has_datasets(g):
    if isinstance(g, h5py.Dataset):
        return True
    return any(_has_datasets(g[k]) for k in g.keys())


def read_keras_zip(path):
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise BadInput(f"{path}: not a Keras .keras zip: {e}")
    with z:
        names = set(z.namelist())
        if "config.json" not in names:
            raise BadInput(f"{path}: zip has no config.json; not a Keras 3 .keras file")
        try:
            model_config = json.loads(z.read("config.json").decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadInput(f"{path}: config.json is not valid JSON: {e}")
        keras_version = None
        if "metadata.json" in names:
            try:
                keras_version = json.loads(z.read("metadata.json")).get("keras_version")
            except (ValueError, AttributeError):
                keras_version = None
        if not keras_version:
            keras_version = "3.0.0"
            print(f"keras2npz: warning: {path} has no keras_version in metadata.json; "
                  "assuming 3.0.0", file=sys.stderr)
        if "model.weights.h5" not in names:
            if any(n.startswith("model.weights") for n in names):
                raise BadInput(f"{path}: weights are not in model.weights.h5 "
                               f"(sharded or npz weight stores are not supported)")
            raise BadInput(f"{path}: zip has no model.weights.h5")
        weights_bytes = z.read("model.weights.h5")
    seq, converted = normalize_model_config(model_config)
    out = {}
    try:
        with h5py.File(io.BytesIO(weights_bytes), "r") as f:
            root = f["layers"] if "layers" in f else None
            _keras_container_weights(root, _layers_of(seq["config"], "model"), "", out, "model")
    except OSError as e:
        raise BadInput(f"{path}: model.weights.h5 is not a readable HDF5 file: {e}")
    return model_config, seq, converted, keras_version, out


# ---------------------------------------------------------------- legacy .h5


def _h5_group_weights(g, where):
    names = _str_list(g.attrs.get("weight_names"))
    ws = []
    for wn in names:
        if wn not in g:
            raise BadInput(f"{where}: weight {wn!r} listed in weight_names is missing")
        ws.append((wn, _float32(g[wn][()], f"{where} ({wn})")))
    return ws


def _split_by_layer(named, layers, where):
    """Assign the (weight_name, array) pairs of a nested Sequential to its layers.

    Weight names look like 'outer/inner/layer/kernel' (Keras 3) or 'layer/kernel:0'
    (tf.keras); each weight goes to the first path segment that is one of the
    container's layer names. Order within a layer is kept (tf.keras lists a model's
    trainable weights before its non-trainable ones, so per-layer order is all
    that can be relied on).
    """
    body = [l for l in layers if l.get("class_name") not in INPUT_CLASSES]
    names = [_layer_name(l, where) for l in body]
    nameset = set(names)
    assigned = {n: [] for n in names}
    for wn, arr in named:
        segs = wn.split("/")[:-1]
        hit = next((s for s in segs if s in nameset), None)
        if hit is None:
            raise BadInput(f"{where}: cannot tell which layer weight {wn!r} belongs to")
        assigned[hit].append((wn, arr))
    return body, assigned


def _h5_container(named, layers, prefix, out, where):
    body, assigned = _split_by_layer(named, layers, where)
    for l in body:
        name = l["config"]["name"]
        if l["class_name"] in NESTED_CLASSES:
            _h5_container(assigned[name], _layers_of(l.get("config"), where + "/" + name),
                          prefix + name + "/", out, where + "/" + name)
        elif assigned[name]:
            out[prefix + name] = [a for _, a in assigned[name]]


def read_legacy_h5(path):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise BadInput(f"{path}: not an HDF5 file: {e}")
    with f:
        if "model_config" not in f.attrs:
            raise BadInput(
                f"{path}: HDF5 file has no model_config attribute (saved with "
                "save_weights()?); save the whole model with model.save()"
            )
        try:
            model_config = json.loads(_str(f.attrs["model_config"]))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise BadInput(f"{path}: model_config attribute is not valid JSON: {e}")
        keras_version = _str(f.attrs.get("keras_version", b""))
        mw = f["model_weights"] if "model_weights" in f else f
        if not keras_version:
            keras_version = _str(mw.attrs.get("keras_version", b""))
        if not keras_version:
            raise BadInput(f"{path}: no keras_version attribute; cannot tell Keras 2 from 3")
        seq, converted = normalize_model_config(model_config)
        out = {}
        for l in _layers_of(seq["config"], "model"):
            if l.get("class_name") in INPUT_CLASSES:
                continue
            name = _layer_name(l, "model")
            if name not in mw:
                continue  # Keras writes a group for every layer; tolerate its absence
            named = _h5_group_weights(mw[name], name)
            if l["class_name"] in NESTED_CLASSES:
                _h5_container(named, _layers_of(l.get("config"), name), name + "/", out, name)
            elif named:
                out[name] = [a for _, a in named]
    return model_config, seq, converted, keras_version, out


# ---------------------------------------------------------------- reading any file


def read_model(path):
    """Return (model_config, seq_config, converted_from, keras_version, source_format, weights)."""
    if not os.path.isfile(path):
        raise BadInput(f"{path}: no such file")
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PK"):
        mc, seq, conv, kv, w = read_keras_zip(path)
        fmt = "keras"
    elif magic == b"\x89HDF\r\n\x1a\n":
        mc, seq, conv, kv, w = read_legacy_h5(path)
        fmt = "h5"
    else:
        raise BadInput(f"{path}: neither a .keras zip nor an HDF5 .h5 file")
    return mc, seq, conv, kv, fmt, w


# ---------------------------------------------------------------- writing


def _npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def write_npz(out_path, members):
    """Write members {name: array} as a deterministic deflated npz."""
    tmp = out_path + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        for name, arr in members.items():
            zi = zipfile.ZipInfo(name + ".npy", date_time=ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, _npy_bytes(arr))
    os.replace(tmp, out_path)


def build_members(model_config, converted, keras_version, source, source_format, weights):
    members = {}
    index = {}
    for lpath, ws in weights.items():
        keys = []
        for i, a in enumerate(ws):
            k = f"w/{lpath}/{i}"
            members[k] = a
            keys.append(k)
        index[lpath] = keys
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "keras_version": keras_version,
        "source": source,
        "source_format": source_format,
        "model_config": model_config,
        "weights": index,
    }
    if converted:
        meta["converted_from"] = converted
    js = json.dumps(meta, sort_keys=False, allow_nan=False).encode("utf-8")
    return {"kinfer_meta": np.frombuffer(js, dtype=np.uint8), **members}


# ---------------------------------------------------------------- samples


def _load_framework(keras_version):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if keras_version.startswith("2.") or keras_version.startswith("1."):
        try:
            import tf_keras as fw
        except ImportError:
            try:
                import tensorflow as tf

                fw = tf.keras
                if not tf.keras.__version__.startswith("2."):
                    raise ImportError("tf.keras is Keras 3")
            except ImportError as e:
                raise RuntimeError(
                    f"--samples: the model was saved by Keras {keras_version}; install "
                    f"tf_keras to run it ({e})"
                )
        return fw
    try:
        import keras as fw
    except ImportError as e:
        raise RuntimeError(f"--samples needs keras {keras_version} installed ({e})")
    return fw


def _walk_layers(model, prefix=""):
    for layer in model.layers:
        if type(layer).__name__ in INPUT_CLASSES:
            continue
        if type(layer).__name__ in NESTED_CLASSES + ("Functional",) and hasattr(layer, "layers"):
            yield from _walk_layers(layer, prefix + layer.name + "/")
        else:
            yield prefix + layer.name, layer


def make_samples(path, keras_version, weights, n, seed):
    fw = _load_framework(keras_version)
    if hasattr(fw, "saving") and hasattr(fw.saving, "load_model"):
        model = fw.saving.load_model(path, compile=False)
    else:
        model = fw.models.load_model(path, compile=False)
    # Cross-check the weight mapping against what Keras itself loaded.
    seen = set()
    for lpath, layer in _walk_layers(model):
        want = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
        got = weights.get(lpath, [])
        if len(want) != len(got) or any(
            a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(want, got)
        ):
            raise RuntimeError(
                f"weight mapping check failed for layer {lpath!r}: exported "
                f"{[a.shape for a in got]}, Keras has {[a.shape for a in want]}"
            )
        seen.add(lpath)
    extra = set(weights) - seen
    if extra:
        raise RuntimeError(f"weight mapping check failed: exported unknown layers {sorted(extra)}")
    shape = model.input_shape
    if isinstance(shape, list):
        raise BadInput(f"{path}: model has several inputs")
    if any(d is None for d in shape[1:]):
        raise BadInput(f"{path}: input shape {shape} has unknown dimensions; cannot draw samples")
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n,) + tuple(shape[1:])).astype(np.float32)
    y = model.predict(x, verbose=0)
    if isinstance(y, (list, tuple)):
        raise BadInput(f"{path}: model has several outputs")
    return x, np.asarray(y, dtype=np.float32)


# ---------------------------------------------------------------- main


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Export a Keras Sequential model (.keras or .h5) to kinfer npz v1."
    )
    ap.add_argument("model", help="MODEL.keras or MODEL.h5")
    ap.add_argument("out", help="OUT.npz")
    ap.add_argument("--samples", type=int, default=0,
                    help="also store N random inputs and Keras's outputs (needs keras)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the sample inputs")
    args = ap.parse_args(argv)
    if args.samples < 0:
        ap.error("--samples must be >= 0")
    if np is None:
        print("keras2npz: numpy is required (pip install numpy)", file=sys.stderr)
        return 1
    if h5py is None:
        print("keras2npz: h5py is required (pip install h5py)", file=sys.stderr)
        return 1
    try:
        model_config, _seq, converted, kv, fmt, weights = read_model(args.model)
        members = build_members(model_config, converted, kv, os.path.basename(args.model),
                                fmt, weights)
        if args.samples:
            x, y = make_samples(args.model, kv, weights, args.samples, args.seed)
            members["samples/x"] = x
            members["samples/y"] = y
        write_npz(args.out, members)
    except BadInput as e:
        print(f"keras2npz: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"keras2npz: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
