#!/usr/bin/env python3
"""Export a Keras Sequential or Functional model to the kinfer npz format (version 1 or 2).

Usage:
    keras2npz.py MODEL.keras|MODEL.h5 OUT.npz [--samples N] [--seed S]

The export itself needs only numpy and h5py: it reads the model's config JSON and
its weight arrays straight from the file, never running Keras. The format is
described in docs/npz-format.md.

Accepted inputs:
  * Keras 3 `.keras` zips (config.json + metadata.json + model.weights.h5);
  * legacy HDF5 `.h5` files saved with `model.save()` by Keras 3 or by
    tf.keras / tf_keras 2.x (they carry a `model_config` attribute).
A Sequential model (nested Sequentials are fine), or a Functional model that is a
single chain (one input, one output, every layer fed by the previous one), is
written as version 1: for the chain, model_config stays the Functional config exactly
as saved, and the meta adds "converted_from": "Functional" so that readers know to
order the layers by following inbound_nodes. Any other Functional graph (several
inputs or outputs, branches, merges, shared layers, nested Functional or Sequential
models, possibly called more than once) is written as version 2: model_config as
saved, weights under "<model>/<layer>" paths for nested models.

With --samples N (needs keras, or tf_keras for files saved by Keras 2.x), the
model is also loaded by the framework that saved it, N inputs are drawn from a
standard normal distribution (numpy default_rng(seed)), and samples/x and
samples/y = model.predict(x) are stored (samples/x_<i> and samples/y_<j>, in the
model's input and output order, when it has several inputs or outputs). In that mode every exported weight is
also checked against the loaded model's layer.get_weights().

Untrusted files are safe to export (docs/exporter-safety.md; the checks are in
keras2npz_guard.py and keras2npz_samples.py, which must sit next to this script): nothing from the file is
executed (Lambda layers, custom objects and modules outside Keras are rejected before
Keras sees the file, and --samples loads a private copy in Keras's safe mode), nothing
outside it is read (HDF5 external links, soft links, external storage and virtual
datasets are rejected), and every size is bounded (--max-config-bytes,
--max-json-depth, --max-weights-bytes).

Exit status: 0 on success, 2 for bad or unsupported input (one line on stderr, never
a traceback), 1 for other failures (e.g. keras missing when --samples is asked for).
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
except ImportError:  # reported as one line, like a missing h5py
    print("keras2npz: numpy is required (pip install numpy)", file=sys.stderr)
    sys.exit(1)

# The guard module sets up HDF5 (no filter plugins) before h5py is imported.
from keras2npz_guard import (  # noqa: E402
    BadInput,
    H5Budget,
    KerasZip,
    Limits,
    ToolError,
    audit_h5,
    check_config,
    check_keras_version,
    h5py,
    one_line,
    parse_json,
    private_copy,
    private_dir,
    read_attr,
    read_str_attr,
)

from keras2npz_samples import make_samples  # noqa: E402
from keras2npz_watchdog import Watchdog  # noqa: E402


FORMAT = "kinfer-npz"
VERSION = 1

INPUT_CLASSES = ("InputLayer",)
NESTED_CLASSES = ("Sequential", "Functional", "Model")
# Keras class names of recurrent layers whose weights live in a `cell` sublayer.
RNN_CLASSES = ("LSTM", "GRU", "SimpleRNN", "RNN")
WRAPPER_CLASSES = ("Bidirectional",)

# Fixed timestamp for zip members, so the same model always gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


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
    if a.dtype == np.int8:
        # model.quantize("int8") kernels: int8 values are exact in float32; the layer's
        # QuantizedDTypePolicy tells the importer what they are
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
        layers = config
    elif not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise BadInput(f"{where}: Sequential config has no 'layers' list")
    else:
        layers = config["layers"]
    for i, l in enumerate(layers):
        if not isinstance(l, dict) or not isinstance(l.get("class_name"), str):
            raise BadInput(f"{where}: layers[{i}] is not a {{class_name, config}} object")
    return layers


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


# ---------------------------------------------------------------- functional graphs


def _graph_refs(v, what, model):
    """input_layers / output_layers: one [name, node, tensor] or a list of them."""
    if isinstance(v, list) and v and isinstance(v[0], str):
        v = [v]
    if not isinstance(v, list) or not v:
        raise BadInput(f"model {model!r}: {what} is not a list of [layer, node, tensor]")
    for r in v:
        if not (isinstance(r, list) and len(r) >= 3 and isinstance(r[0], str)
                and all(isinstance(i, int) and i >= 0 for i in r[1:3])):
            raise BadInput(f"model {model!r}: {what} entry {r!r} is not [layer, node, tensor]")
    return v


def _node_tensors(node, where):
    """Layer names one inbound node (one call) reads, Keras 3 or Keras 2 form."""
    names = []
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        def walk(o, depth):
            if depth > 16:
                raise BadInput(f"{where}: inbound node nests too deep")
            if isinstance(o, dict):
                if o.get("class_name") == "__keras_tensor__":
                    h = (o.get("config") or {}).get("keras_history")
                    if not (isinstance(h, list) and len(h) == 3 and isinstance(h[0], str)):
                        raise BadInput(f"{where}: keras tensor without a valid keras_history")
                    names.append(h[0])
                    return
                for v in o.values():
                    walk(v, depth + 1)
            elif isinstance(o, list):
                for v in o:
                    walk(v, depth + 1)

        walk(node.get("args", []), 0)
        walk(node.get("kwargs", {}), 0)
    elif isinstance(node, list):  # Keras 2: [[name, node_index, tensor_index, kwargs], ...]
        for t in node:
            if not (isinstance(t, list) and len(t) >= 3 and isinstance(t[0], str)):
                raise BadInput(f"{where}: inbound tensor {t!r} is not [layer, node, tensor, kwargs]")
            names.append(t[0])
    else:
        raise BadInput(f"{where}: inbound node is neither a Keras 3 object nor a Keras 2 list")
    return names


def check_graph(model_config, depth=0):
    """Check that a Functional config is a graph a reader can rebuild, or raise BadInput.

    Every layer read by an inbound node, and every input and output, must be a layer of
    the same model; nested Functional and Sequential models are checked too. Layer
    paths of nested models are "<model>/<layer>" (see docs/npz-format.md), so names
    must not contain '/'.
    """
    if depth > 32:
        raise BadInput("models nest more than 32 deep")
    cfg = model_config.get("config")
    name = cfg.get("name", "?") if isinstance(cfg, dict) else "?"
    if not isinstance(cfg, dict) or not isinstance(cfg.get("layers"), list):
        raise BadInput(f"Functional model {name!r} has no layer list")
    names = set()
    for l in cfg["layers"]:
        n = _layer_name(l, f"model {name!r}")
        if "/" in n:
            raise BadInput(f"layer {n!r} of model {name!r}: names with '/' are ambiguous")
        if n in names:
            raise BadInput(f"model {name!r} has two layers named {n!r}")
        names.add(n)
    for what in ("input_layers", "output_layers"):
        for r in _graph_refs(cfg.get(what), what, name):
            if r[0] not in names:
                raise BadInput(f"model {name!r}: {what} names layer {r[0]!r}, which it does not have")
    for l in cfg["layers"]:
        n, cls = l["config"]["name"], l["class_name"]
        where = f"layer {n!r} ({cls}) of model {name!r}"
        nodes = l.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise BadInput(f"{where}: inbound_nodes is not a list")
        for node in nodes:
            for src in _node_tensors(node, where):
                if src not in names:
                    raise BadInput(f"{where}: reads layer {src!r}, which the model does not have")
        if cls in ("Functional", "Model"):
            check_graph(l, depth + 1)
        elif cls == "Sequential":
            _check_nested_sequential(l, depth + 1)


def _check_nested_sequential(layer_cfg, depth):
    if depth > 32:
        raise BadInput("models nest more than 32 deep")
    for l in _layers_of(layer_cfg.get("config"), "nested Sequential"):
        _layer_name(l, "Sequential")
        if l["class_name"] in ("Functional", "Model"):
            check_graph(l, depth + 1)
        elif l["class_name"] == "Sequential":
            _check_nested_sequential(l, depth + 1)


def format_version(config):
    """2 when the config is or nests a Functional graph, else 1 (a chain of layers)."""
    def has_graph(c):
        if isinstance(c, list):
            return any(has_graph(l) for l in c)
        if not isinstance(c, dict):
            return False
        if c.get("class_name") in ("Functional", "Model"):
            return True
        if c.get("class_name") == "Sequential":
            inner = c.get("config")
            return has_graph(inner if isinstance(inner, list) else (inner or {}).get("layers", []))
        return False

    return 2 if has_graph(config) else VERSION


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
        try:
            return functional_chain_to_sequential(model_config), "Functional"
        except BadInput:
            # Not a single chain: exported as a graph (format version 2).
            check_graph(model_config)
            return model_config, None
    raise BadInput(
        f"model class {cls!r} is not Sequential (a subclassed model?); only Sequential "
        "models, or Functional models that are a single chain, can be exported"
    )


# ---------------------------------------------------------------- .keras zips


def _vars_of(group, where, budget):
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
        ds = v[str(i)]
        if not isinstance(ds, h5py.Dataset):
            raise BadInput(f"{where}: {v.name}/{i} is not a dataset")
        w = f"{where} ({v.name}/{i})"
        out.append(_float32(budget.read(ds, w), w))
    return out


def _collect_keras_group(group, layer_cfg, where, budget):
    """All weights of one layer, in get_weights() order, from its .keras group."""
    cls = layer_cfg["class_name"]
    if cls == "Bidirectional":
        ws = _vars_of(group, where, budget)
        for sub in ("forward_layer", "backward_layer"):
            if sub not in group:
                raise BadInput(f"{where}: Bidirectional group {group.name} lacks {sub}")
            inner = (layer_cfg.get("config") or {}).get("layer") or {"class_name": "LSTM"}
            ws += _collect_keras_group(group[sub], inner, f"{where}/{sub}", budget)
        return ws
    if cls == "MultiHeadAttention":
        # get_weights() order (query, key, value, output), not the sorted group names.
        ws = []
        for sub in ("query_dense", "key_dense", "value_dense", "output_dense"):
            if sub not in group:
                raise BadInput(f"{where}: MultiHeadAttention group {group.name} lacks {sub}")
            ws += _vars_of(group[sub], f"{where}/{sub}", budget)
        return ws
    # Generic: own variables first, then sublayers (e.g. an RNN's `cell`) in the
    # order Keras walks them (sorted attribute names), as saving_lib does.
    ws = _vars_of(group, where, budget)
    for k in sorted(group.keys(), key=lambda s: ("~" + s) if s.startswith("_") else s):
        if k == "vars" or not isinstance(group[k], h5py.Group):
            continue
        # A wrapper's `layer` group (TimeDistributed) is its wrapped layer: descend
        # with that layer's config, so a wrapped Bidirectional keeps forward first.
        sub = {"class_name": "?"}
        if k == "layer" and isinstance((layer_cfg.get("config") or {}).get("layer"), dict):
            sub = layer_cfg["config"]["layer"]
        ws += _collect_keras_group(group[k], sub, f"{where}/{k}", budget)
    return ws


def _keras_container_weights(layers_group, layers, prefix, out, where, budget):
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
                saved = read_attr(g["vars"], "name", budget.limits, where)
                by_saved_name.setdefault(_str(saved), []).append(k)
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
            saved = read_attr(g["vars"], "name", budget.limits, where) if "vars" in g else None
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
            _keras_container_weights(inner_group, inner_layers, path + "/", out, f"{where}/{name}",
                                     budget)
            continue
        if g is None:
            continue  # weightless layer with no group at all
        ws = _collect_keras_group(g, l, f"{where}/{name}", budget)
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


# Warnings wait here until the export succeeds: a rejected file gets exactly one line.
_WARNINGS = []


def _warn(msg):
    _WARNINGS.append(msg)


def read_keras_zip(path, limits, display):
    with KerasZip(path, limits, display) as z:
        model_config = parse_json(z.read("config.json"), f"{display}: config.json", limits)
        check_config(model_config, f"{display}: model")
        keras_version = None
        if z.has("metadata.json"):
            try:
                meta = parse_json(z.read("metadata.json"), f"{display}: metadata.json", limits,
                                  max_bytes=limits.meta_bytes)
            except BadInput:
                meta = None  # metadata.json is optional; a broken one is ignored
            if isinstance(meta, dict):
                keras_version = meta.get("keras_version")
        if not keras_version:
            keras_version = "3.0.0"
            _warn(f"{one_line(display)} has no keras_version in metadata.json; assuming 3.0.0")
        check_keras_version(keras_version, f"{display}: metadata.json")
        seq, converted = normalize_model_config(model_config)
        out = {}
        with private_dir() as td:
            weights_path = z.extract("model.weights.h5", td)
            try:
                f = h5py.File(weights_path, "r")
            except OSError as e:
                raise BadInput(f"{display}: model.weights.h5 is not a readable HDF5 file: "
                               f"{one_line(e, 200)}")
            with f:
                audit_h5(f, limits, f"{display}: model.weights.h5")
                root = f["layers"] if "layers" in f else None
                if root is not None and not isinstance(root, h5py.Group):
                    raise BadInput(f"{display}: model.weights.h5 /layers is not a group")
                _keras_container_weights(root, _layers_of(seq["config"], "model"), "", out,
                                         "model", H5Budget(limits, display))
    return model_config, seq, converted, keras_version, out


# ---------------------------------------------------------------- legacy .h5


def _h5_group_weights(g, where, limits, budget):
    names = _str_list(read_attr(g, "weight_names", limits, where))
    ws = []
    for wn in names:
        if wn not in g:
            raise BadInput(f"{where}: weight {wn!r} listed in weight_names is missing")
        ds = g[wn]
        if not isinstance(ds, h5py.Dataset):
            raise BadInput(f"{where}: weight {wn!r} is not a dataset")
        ws.append((wn, _float32(budget.read(ds, f"{where} ({wn})"), f"{where} ({wn})")))
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


def read_legacy_h5(path, limits, display):
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise BadInput(f"{display}: not an HDF5 file: {one_line(e, 200)}")
    with f:
        audit_h5(f, limits, display)  # before any lookup by name
        if "model_config" not in f.attrs:
            raise BadInput(
                f"{display}: HDF5 file has no model_config attribute (saved with "
                "save_weights()?); save the whole model with model.save()"
            )
        text = read_str_attr(f, "model_config", limits, display)
        model_config = parse_json(text, f"{display}: model_config attribute", limits)
        check_config(model_config, f"{display}: model")
        keras_version = read_str_attr(f, "keras_version", limits, display)
        mw = f["model_weights"] if "model_weights" in f else f
        if not isinstance(mw, h5py.Group):
            raise BadInput(f"{display}: /model_weights is not a group")
        if not keras_version:
            keras_version = read_str_attr(mw, "keras_version", limits, display)
        if not keras_version:
            raise BadInput(f"{display}: no keras_version attribute; cannot tell Keras 2 from 3")
        check_keras_version(keras_version, display)
        seq, converted = normalize_model_config(model_config)
        out = {}
        budget = H5Budget(limits, display)
        for l in _layers_of(seq["config"], "model"):
            if l.get("class_name") in INPUT_CLASSES:
                continue
            name = _layer_name(l, "model")
            if name not in mw:
                continue  # Keras writes a group for every layer; tolerate its absence
            if not isinstance(mw[name], h5py.Group):
                raise BadInput(f"{display}: weights of layer {name!r} are not an HDF5 group")
            named = _h5_group_weights(mw[name], name, limits, budget)
            if l["class_name"] in NESTED_CLASSES:
                _h5_container(named, _layers_of(l.get("config"), name), name + "/", out, name)
            elif named:
                out[name] = [a for _, a in named]
    return model_config, seq, converted, keras_version, out


# ---------------------------------------------------------------- reading any file


def sniff_format(path, limits, display=None):
    """"keras" or "h5" from the file's first bytes, after checking it is a regular file
    of acceptable size."""
    display = path if display is None else display
    if not os.path.isfile(path):
        raise BadInput(f"{display}: no such file")
    size = os.path.getsize(path)
    if size > limits.file_bytes():
        raise BadInput(f"{display}: file is {size} bytes, more than the {limits.file_bytes()} "
                       "allowed (--max-weights-bytes raises the limit)")
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic.startswith(b"PK"):
        return "keras"
    if magic == b"\x89HDF\r\n\x1a\n":
        return "h5"
    raise BadInput(f"{display}: neither a .keras zip nor an HDF5 .h5 file")


def read_model(path, limits=None, display=None):
    """Return (model_config, seq_config, converted_from, keras_version, source_format, weights).

    display names the file in messages (the user's path when path is a private copy).
    """
    limits = Limits() if limits is None else limits
    display = path if display is None else display
    fmt = sniff_format(path, limits, display)
    try:
        if fmt == "keras":
            mc, seq, conv, kv, w = read_keras_zip(path, limits, display)
        else:
            mc, seq, conv, kv, w = read_legacy_h5(path, limits, display)
    except BadInput as e:
        if str(e).startswith(f"{display}: "):
            raise
        raise BadInput(f"{display}: {e}") from None
    return mc, seq, conv, kv, fmt, w


# ---------------------------------------------------------------- writing


def _npy_bytes(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def write_npz(out_path, members):
    """Write members {name: array} as a deterministic deflated npz."""
    tmp = out_path + ".tmp"
    try:
        with zipfile.ZipFile(tmp, "w") as z:
            for name, arr in members.items():
                zi = zipfile.ZipInfo(name + ".npy", date_time=ZIP_DATE)
                zi.compress_type = zipfile.ZIP_DEFLATED
                zi.external_attr = 0o644 << 16
                z.writestr(zi, _npy_bytes(arr))
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def build_members(model_config, converted, keras_version, source, source_format, weights,
                  version=VERSION):
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
        "version": version,
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


def sample_members(xs, ys):
    """samples/x, samples/y for one input and one output; else samples/x_<i>, y_<j>."""
    if len(xs) == 1 and len(ys) == 1:
        return {"samples/x": xs[0], "samples/y": ys[0]}
    out = {f"samples/x_{i}": x for i, x in enumerate(xs)}
    out.update({f"samples/y_{j}": y for j, y in enumerate(ys)})
    return out


# ---------------------------------------------------------------- main


def _size(text):
    """An argparse type: bytes as an integer, optionally with a K/M/G suffix (powers of 2)."""
    m = re.fullmatch(r"\s*([0-9]+)\s*([KMG]?)i?B?\s*", text, re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 4096, 64M, 3G)")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2).upper()]


def _export(args, limits):
    display = args.model
    # The time bound covers reading the file (not Keras's predict for --samples).
    watchdog = Watchdog(limits.read_seconds, f"{one_line(display)}: reading the model took "
                        f"more than {limits.read_seconds:g} s (a corrupt HDF5 file?; --max-seconds)")
    if not args.samples:
        with watchdog:
            model_config, _seq, converted, kv, fmt, weights = read_model(args.model, limits)
        members = build_members(model_config, converted, kv, os.path.basename(args.model),
                                fmt, weights, version=format_version(_seq))
    else:
        # Keras loads a private copy, so what it reads is exactly what was checked, and
        # under the name that makes it pick the same format (it dispatches on the suffix).
        with private_dir() as td:
            with watchdog:
                fmt = sniff_format(args.model, limits)
                copy = private_copy(args.model, td, "model." + ("keras" if fmt == "keras" else "h5"),
                                    limits, display)
                model_config, _seq, converted, kv, fmt, weights = read_model(copy, limits, display)
            members = build_members(model_config, converted, kv, os.path.basename(args.model),
                                    fmt, weights, version=format_version(_seq))
            xs, ys = make_samples(copy, kv, weights, args.samples, args.seed, display)
        members.update(sample_members(xs, ys))
    return members


def main(argv=None):
    d = Limits()
    ap = argparse.ArgumentParser(
        description="Export a Keras Sequential or Functional model (.keras or .h5) to kinfer npz. "
        "Nothing in the model file is executed, and nothing outside it is read.",
        epilog="Sizes take K/M/G suffixes (powers of 2). Exit status: 0 done, 2 bad or "
        "unsupported input (one line on stderr), 1 other failures.",
    )
    ap.add_argument("model", help="MODEL.keras or MODEL.h5")
    ap.add_argument("out", help="OUT.npz")
    ap.add_argument("--samples", type=int, default=0,
                    help="also store N random inputs and Keras's outputs (needs keras)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the sample inputs")
    ap.add_argument("--max-config-bytes", type=_size, default=d.config_bytes, metavar="N",
                    help=f"largest model config JSON (default {d.config_bytes >> 20}M)")
    ap.add_argument("--max-json-depth", type=int, default=d.json_depth, metavar="N",
                    help=f"deepest JSON nesting (default {d.json_depth})")
    ap.add_argument("--max-weights-bytes", type=_size, default=d.weights_bytes, metavar="N",
                    help=f"total float weights, decompressed (default {d.weights_bytes >> 30}G); "
                    "the model file may be this plus the config plus 64M")
    ap.add_argument("--max-seconds", type=float, default=d.read_seconds, metavar="S",
                    help=f"longest time reading the model file may take (default {d.read_seconds:g}); "
                    "then one line on stderr and exit 2")
    args = ap.parse_args(argv)
    if args.samples < 0:
        ap.error("--samples must be >= 0")
    if args.max_json_depth < 1:
        ap.error("--max-json-depth must be >= 1")
    if h5py is None:
        print("keras2npz: h5py is required (pip install h5py)", file=sys.stderr)
        return 1
    limits = Limits(config_bytes=args.max_config_bytes, json_depth=args.max_json_depth,
                    weights_bytes=args.max_weights_bytes, read_seconds=args.max_seconds)
    _WARNINGS.clear()
    try:
        members = _export(args, limits)
    except BadInput as e:
        print(f"keras2npz: {one_line(e)}", file=sys.stderr)
        return 2
    except ToolError as e:  # keras missing for --samples, or the weight cross-check
        print(f"keras2npz: {one_line(e)}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - MemoryError, RecursionError, h5py's own, ...
        # Anything else raised while reading the untrusted file is still that file's
        # fault: one line, exit 2, never a traceback.
        print(f"keras2npz: {one_line(args.model)}: cannot read the model: "
              f"{type(e).__name__}: {one_line(e, 300)}", file=sys.stderr)
        return 2
    try:
        write_npz(args.out, members)
    except OSError as e:
        print(f"keras2npz: {one_line(args.out)}: cannot write: {e.strerror or e}", file=sys.stderr)
        return 1
    for w in _WARNINGS:
        print(f"keras2npz: warning: {w}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
