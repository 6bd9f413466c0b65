#!/usr/bin/env python3
"""Write the corpus of broken model files in testdata/broken/.

Every file is derived from a zoo model in testdata/keras/ (run gen_keras_zoo.py first)
by one deliberate defect. testdata/broken/EXPECTED.json maps each file to the error a
reader must return (the layers package's sentinel errors: ErrBadFile, ErrUnsupported,
ErrShapeMismatch, ErrInvalid), and README.md explains each one. A reader must return
that error, never panic, and never allocate what a file merely claims.

The keras_src/ subfolder holds broken *source* files for importer/keras/keras2npz.py,
which must exit with status 2 and a message on stderr for each.

Needs numpy and h5py only (plus keras for the keras_src/ models that must be built).
Deterministic: the same inputs give the same bytes. Run from the repository root:

    /opt/kvenv/bin/python testdata/gen_broken.py
"""

import io
import json
import os
import shutil
import struct
import sys
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "testdata", "keras")
OUT = os.path.join(ROOT, "testdata", "broken")
sys.path.insert(0, os.path.join(ROOT, "importer", "keras"))

import keras2npz  # noqa: E402

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
EXPECTED = {}


def load(name):
    z = np.load(os.path.join(ZOO, name + ".npz"), allow_pickle=False)
    meta = json.loads(bytes(z["kinfer_meta"]).decode())
    arrays = {k: z[k] for k in z.files if k != "kinfer_meta"}
    return meta, arrays


def meta_array(meta):
    return np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


def write(fname, err, why, meta=None, arrays=None, raw=None):
    """Write OUT/fname from (meta, arrays) or raw bytes, and record the expectation."""
    path = os.path.join(OUT, fname)
    if raw is not None:
        with open(path, "wb") as f:
            f.write(raw)
    else:
        members = {}
        if meta is not None:
            members["kinfer_meta"] = meta if isinstance(meta, np.ndarray) else meta_array(meta)
        members.update(arrays or {})
        keras2npz.write_npz(path, members)
    EXPECTED[fname] = {"error": err, "why": why}


def zip_raw(members):
    """Zip {name: bytes} deterministically (stored), return the bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            zi = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return buf.getvalue()


def npy_bytes(arr):
    return keras2npz._npy_bytes(arr)


def npy_header(descr, shape, fortran=False):
    """A version 1.0 .npy header (magic, length, dict padded to 64 bytes)."""
    d = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False", repr(tuple(shape)))
    pad = 64 - (10 + len(d) + 1) % 64
    d = d + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode("latin1")


def all_members(meta, arrays):
    m = {"kinfer_meta.npy": npy_bytes(meta_array(meta))}
    for k, v in arrays.items():
        m[k + ".npy"] = npy_bytes(v)
    return m


def layer_cfg(meta, name):
    for l in meta["model_config"]["config"]["layers"]:
        if l["config"]["name"] == name:
            return l
    raise KeyError(name)


def first_dense(meta):
    for l in meta["model_config"]["config"]["layers"]:
        if l["class_name"] == "Dense":
            return l
    raise KeyError("Dense")


def gen_npz_corpus():
    base_meta, base = load("mlp_regressor")
    d0 = first_dense(base_meta)["config"]["name"]
    k0 = f"w/{d0}/0"

    with open(os.path.join(ZOO, "mlp_regressor.npz"), "rb") as f:
        good = f.read()
    write("truncated.npz", "ErrBadFile", "mlp_regressor.npz cut to half its length: the zip "
          "central directory is gone", raw=good[: len(good) // 2])
    write("truncated_member.npz", "ErrBadFile", "a stored zip whose last weight .npy holds fewer "
          "bytes than its header's shape needs (zip itself intact)",
          raw=zip_raw({**all_members(base_meta, base),
                       k0 + ".npy": npy_bytes(base[k0])[:-100]}))
    write("empty.npz", "ErrBadFile", "zero-byte file", raw=b"")
    write("not_a_zip.npz", "ErrBadFile", "plain text, not a zip",
          raw=b"this is not an npz file\n" * 4)

    a = dict(base)
    a[k0] = base[k0].astype(np.float64)
    write("float64_weights.npz", "ErrBadFile", f"weight {k0} stored as float64 (<f8); the format "
          "requires float32", base_meta, a)

    # Big-endian (>f4) weights are valid npy and read correctly (testdata/npy/,
    # gen_npy_variants.py), so they are not in this corpus.

    write("fortran_order.npz", "ErrBadFile", f"weight {k0} written with fortran_order: True "
          "(column-major); a reader must reject it (or transpose it correctly), never read it "
          "as row-major",
          raw=zip_raw({**all_members(base_meta, base),
                       k0 + ".npy": npy_header("<f4", base[k0].shape, fortran=True)
                       + np.asfortranarray(base[k0]).tobytes(order="F")}))

    a = dict(base)
    k = base[k0]
    a[k0] = np.concatenate([k, k[:1]], axis=0)  # one more input row than the model feeds it
    write("shape_mismatch_kernel.npz", "ErrShapeMismatch", f"{d0} kernel has shape "
          f"{a[k0].shape} but the layer's input has {k.shape[0]} features", base_meta, a)

    a = dict(base)
    b0 = f"w/{d0}/1"
    a[b0] = base[b0][:-1]
    write("shape_mismatch_bias.npz", "ErrShapeMismatch", f"{d0} bias has {a[b0].shape[0]} "
          f"entries for {k.shape[1]} units", base_meta, a)

    meta = json.loads(json.dumps(base_meta))
    a = dict(base)
    del a[f"w/{d0}/1"]
    meta["weights"][d0] = [k0]
    write("missing_bias_weight.npz", "ErrShapeMismatch", f"{d0} has use_bias=true but only its "
          "kernel is stored (weight count disagrees with the config)", meta, a)

    meta = json.loads(json.dumps(base_meta))
    a = dict(base)
    del a[f"w/{d0}/1"]
    write("listed_weight_absent.npz", "ErrBadFile", f"meta lists w/{d0}/1 but the zip has no "
          "such member", meta, a)

    meta = json.loads(json.dumps(base_meta))
    lm, la = load("text_lstm2")
    lstm_name = next(l["config"]["name"] for l in lm["model_config"]["config"]["layers"]
                     if l["class_name"] == "LSTM")
    la = dict(la)
    rk = f"w/{lstm_name}/1"
    la[rk] = la[rk][:, : la[rk].shape[1] - 4]
    write("shape_mismatch_lstm.npz", "ErrShapeMismatch", f"LSTM {lstm_name} recurrent_kernel "
          f"is {la[rk].shape}, not (units, 4*units)", lm, la)

    meta = json.loads(json.dumps(base_meta))
    layer_cfg(meta, d0)["class_name"] = "Foo"
    write("unknown_layer.npz", "ErrUnsupported", f"layer {d0} has class_name \"Foo\"", meta, base)

    meta = json.loads(json.dumps(base_meta))
    first_dense(meta)["config"]["activation"] = "not_an_activation"
    write("unknown_activation.npz", "ErrUnsupported", "Dense activation \"not_an_activation\"",
          meta, base)

    k2m, k2a = load("keras2_mlp")
    meta = json.loads(json.dumps(k2m))
    inp = meta["model_config"]["config"]["layers"][0]
    assert inp["class_name"] == "InputLayer"
    inp["config"]["batch_input_shape"] = [None, -3]
    for l in meta["model_config"]["config"]["layers"]:
        if "batch_input_shape" in l["config"]:
            l["config"]["batch_input_shape"] = [None, -3]
    write("negative_dim.npz", "ErrInvalid", "Keras 2 config whose batch_input_shape is "
          "[null, -3]", meta, k2a)

    meta = json.loads(json.dumps(base_meta))
    inp = meta["model_config"]["config"]["layers"][0]
    inp["config"]["batch_shape"] = [None, 0]
    write("zero_dim.npz", "ErrInvalid", "input batch_shape [null, 0]", meta, base)

    meta = json.loads(json.dumps(base_meta))
    first_dense(meta)["config"]["units"] = 1 << 40
    write("huge_units.npz", "ErrInvalid", f"{d0} has units = 2^40 (the stored kernel is small); "
          "a reader must fail without allocating 2^40 of anything (ErrShapeMismatch is also "
          "acceptable)", meta, base)

    meta = json.loads(json.dumps(base_meta))
    first_dense(meta)["config"]["units"] = -5
    write("negative_units.npz", "ErrInvalid", f"{d0} has units = -5", meta, base)

    cm, ca = load("conv_variants")
    meta = json.loads(json.dumps(cm))
    inp = meta["model_config"]["config"]["layers"][0]
    inp["config"]["batch_shape"] = [None, 1 << 31, 1 << 31, 1 << 31]
    write("overflow_input.npz", "ErrInvalid", "input batch_shape [null, 2^31, 2^31, 2^31]: "
          "the element count overflows int64; sizes must be checked before multiplying",
          meta, ca)

    meta = json.loads(json.dumps(cm))
    conv = next(l for l in meta["model_config"]["config"]["layers"] if l["class_name"] == "Conv2D")
    conv["config"]["strides"] = [0, 0]
    write("zero_stride.npz", "ErrInvalid", f"Conv2D {conv['config']['name']} strides [0, 0] "
          "(division by zero in shape inference)", meta, ca)

    pm, pa = load("pooling")
    meta = json.loads(json.dumps(pm))
    pool = next(l for l in meta["model_config"]["config"]["layers"]
                if l["class_name"] == "AveragePooling2D")
    pool["config"]["pool_size"] = [64, 64]
    write("pool_bigger_than_input.npz", "ErrShapeMismatch", f"{pool['config']['name']} valid "
          "pooling with a 64x64 window on a 13x11 input (output size would be negative)",
          meta, pa)

    write("bad_json.npz", "ErrBadFile", "kinfer_meta bytes are not JSON",
          np.frombuffer(b"{\"format\": \"kinfer-npz\", \"version\": 1, ", dtype=np.uint8), base)
    write("meta_not_utf8.npz", "ErrBadFile", "kinfer_meta is not UTF-8",
          np.frombuffer(b"\xff\xfe\x00{}", dtype=np.uint8), base)
    write("missing_meta.npz", "ErrBadFile", "npz has weights but no kinfer_meta", None, base)
    write("meta_wrong_dtype.npz", "ErrBadFile", "kinfer_meta stored as float32 instead of uint8",
          meta_array(base_meta).astype(np.float32), base)
    deep = "[" * 100000 + "]" * 100000
    write("deep_json.npz", "ErrBadFile", "kinfer_meta is 100000 nested JSON arrays (must not "
          "overflow a stack)", np.frombuffer(deep.encode(), dtype=np.uint8), base)

    meta = dict(base_meta, version=99)
    write("version_99.npz", "ErrUnsupported", "kinfer_meta version 99 (newer than the reader)",
          meta, base)
    meta = dict(base_meta, format="not-kinfer")
    write("wrong_format_tag.npz", "ErrBadFile", "kinfer_meta format is \"not-kinfer\"", meta, base)
    meta = dict(base_meta)
    del meta["model_config"]
    write("no_model_config.npz", "ErrBadFile", "kinfer_meta has no model_config", meta, base)

    meta = json.loads(json.dumps(base_meta))
    meta["model_config"] = {"class_name": "Functional", "config": {"name": "f", "layers": []}}
    write("functional_config.npz", "ErrUnsupported", "model_config class_name Functional "
          "without input_layers or output_layers", meta, base)

    write("huge_npy_header.npz", "ErrBadFile", f"weight {k0}.npy header claims shape (2^40,) "
          "float32 (4 TiB) but holds 64 bytes; a reader must compare the claim with the bytes "
          "present before allocating",
          raw=zip_raw({**all_members(base_meta, base),
                       k0 + ".npy": npy_header("<f4", (1 << 40,)) + b"\0" * 64}))
    write("huge_npy_2d.npz", "ErrBadFile", f"weight {k0}.npy header claims shape "
          "(2^33, 2^33): the element count overflows int64",
          raw=zip_raw({**all_members(base_meta, base),
                       k0 + ".npy": npy_header("<f4", (1 << 33, 1 << 33)) + b"\0" * 64}))
    write("bad_npy_magic.npz", "ErrBadFile", f"weight {k0}.npy does not start with \\x93NUMPY",
          raw=zip_raw({**all_members(base_meta, base), k0 + ".npy": b"NOTNUMPY" + b"\0" * 120}))
    write("bad_npy_header.npz", "ErrBadFile", f"weight {k0}.npy header is not a Python dict "
          "literal", raw=zip_raw({**all_members(base_meta, base),
                                  k0 + ".npy": b"\x93NUMPY\x01\x00\x10\x00{'descr': <f4 \n"}))
    gen_bounds_corpus(base_meta, base, k0)


def zip_deflated(members):
    """Zip {name: bytes} deterministically (deflated), return the bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            zi = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    return buf.getvalue()


def gen_bounds_corpus(base_meta, base, k0):
    """Files whose claims are large: refused from headers, before payloads are read."""
    write("weight_bomb_small.npz", "ErrShapeMismatch", f"weight {k0}.npy is 16 MiB of zeros "
          "deflated to a few KB, shape (2^22,); the config needs (8, 64): the header's shape is "
          "compared with the config before the payload is read",
          raw=zip_deflated({**all_members(base_meta, base),
                            k0 + ".npy": npy_header("<f4", (1 << 22,)) + bytes(16 << 20)}))
    a = dict(base)
    a["samples/x"] = np.zeros((4, 9), np.float32)
    write("samples_wrong_shape.npz", "ErrShapeMismatch", "samples/x is (4, 9) for a model of "
          "input (8,): checked from its header before it is read", base_meta, a)


def _edit_config(path, edit):
    """Rewrite config.json of a .keras zip with edit(config) -> JSON text; fixed dates."""
    with zipfile.ZipFile(path) as z:
        members = [(zi.filename, z.read(zi.filename)) for zi in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members:
            if name == "config.json":
                data = edit(json.loads(data)).encode()
            elif name == "metadata.json":
                meta = json.loads(data)
                meta["date_saved"] = "2000-01-01@00:00:00"
                data = json.dumps(meta).encode()
            z.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), data)


def gen_keras_src():
    """Broken inputs for keras2npz.py (each must give exit status 2)."""
    d = os.path.join(OUT, "keras_src")
    os.makedirs(d, exist_ok=True)
    exp = {}
    with open(os.path.join(d, "not_keras.keras"), "wb") as f:
        f.write(b"hello, not a model\n")
    exp["not_keras.keras"] = "neither a .keras zip nor an HDF5 file"
    with zipfile.ZipFile(os.path.join(d, "zip_without_config.keras"), "w") as z:
        z.writestr(zipfile.ZipInfo("readme.txt", date_time=ZIP_DATE), "no config.json here")
    exp["zip_without_config.keras"] = "zip without config.json"
    with zipfile.ZipFile(os.path.join(d, "config_not_json.keras"), "w") as z:
        z.writestr(zipfile.ZipInfo("config.json", date_time=ZIP_DATE), b"\x00{not json")
        z.writestr(zipfile.ZipInfo("metadata.json", date_time=ZIP_DATE), '{"keras_version": "3.15.1"}')
    exp["config_not_json.keras"] = "config.json is not JSON"

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import h5py
    import keras

    L = keras.layers
    keras.utils.set_random_seed(7)
    # Functional graphs export as npz v2; these two have configs edited to be no graph.
    x = keras.Input((6,))
    a = L.Dense(4, name="a")(x)
    b = L.Dense(4, name="b")(x)
    m = keras.Model(x, L.Add()([a, b]), name="branching")
    src = os.path.join(d, "graph_reads_missing_layer.keras")
    m.save(src)
    _edit_config(src, lambda c: json.dumps(c).replace('"keras_history": ["b", 0, 0]',
                                                      '"keras_history": ["nope", 0, 0]'))
    exp["graph_reads_missing_layer.keras"] = "Functional graph: Add reads layer 'nope', which the model does not have"

    x1, x2 = keras.Input((3,), name="x1"), keras.Input((3,), name="x2")
    m = keras.Model([x1, x2], L.Concatenate()([x1, x2]), name="two_inputs")
    src = os.path.join(d, "graph_output_not_a_layer.keras")
    m.save(src)
    _edit_config(src, lambda c: json.dumps(c).replace('"output_layers": [["concatenate", 0, 0]]',
                                                      '"output_layers": [["missing", 0, 0]]')
                 .replace('"output_layers": ["concatenate", 0, 0]', '"output_layers": ["missing", 0, 0]'))
    exp["graph_output_not_a_layer.keras"] = "Functional graph whose output_layers names no layer"

    @keras.saving.register_keras_serializable(package="broken")
    class MyModel(keras.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.d = L.Dense(2)

        def call(self, x):
            return self.d(x)

    m = MyModel()
    m(np.zeros((1, 3), np.float32))
    m.save(os.path.join(d, "subclassed.keras"))
    exp["subclassed.keras"] = "subclassed model: config has no layer list"

    s = keras.Sequential([keras.Input((3,)), L.Dense(2)])
    s.save_weights(os.path.join(d, "weights_only.weights.h5"))
    exp["weights_only.weights.h5"] = "save_weights() HDF5: no model_config attribute"

    with h5py.File(os.path.join(d, "bad_model_config.h5"), "w") as f:
        f.attrs["model_config"] = "{not json"
        f.attrs["keras_version"] = "3.15.1"
    exp["bad_model_config.h5"] = "HDF5 whose model_config attribute is not JSON"

    # The .keras files carry a save date; fix it so the corpus is reproducible.
    for fn in os.listdir(d):
        if fn.endswith(".keras") and zipfile.is_zipfile(os.path.join(d, fn)):
            _fix_dates(os.path.join(d, fn))
    return exp


def _fix_dates(path):
    import re

    with zipfile.ZipFile(path) as z:
        items = [(zi.filename, zi.compress_type, z.read(zi.filename)) for zi in z.infolist()]
    ids = {}
    with zipfile.ZipFile(path + ".tmp", "w") as z:
        for name, ct, data in items:
            if name == "metadata.json":
                meta = json.loads(data)
                meta["date_saved"] = "2000-01-01@00:00:00"
                data = json.dumps(meta).encode()
            elif name == "config.json":
                data = re.sub(rb'"shared_object_id": (\d+)',
                              lambda m: b'"shared_object_id": %d' % ids.setdefault(m.group(1), len(ids) + 1),
                              data)
            zi = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            zi.compress_type = ct
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)
    os.replace(path + ".tmp", path)


def write_readme(src):
    lines = [
        "# Broken model files",
        "",
        "Generated by `testdata/gen_broken.py` (do not edit by hand; edit the script and",
        "rerun `/opt/kvenv/bin/python testdata/gen_broken.py` after `testdata/gen_keras_zoo.py`).",
        "Each `.npz` is a zoo model from `testdata/keras/` with one deliberate defect.",
        "",
        "A reader must return the listed error (the sentinels in `layers/errors.go`, checked",
        "with `errors.Is`), never panic, and never allocate what a file merely claims. The",
        "same table is in machine-readable form in `EXPECTED.json` (`npz` key).",
        "",
        "Error classes: **ErrBadFile** the bytes are not a well-formed kinfer npz (zip, npy,",
        "JSON, dtype, the format's own rules); **ErrUnsupported** well-formed but uses",
        "something kinfer does not implement (layer class, activation, newer format",
        "version); **ErrShapeMismatch** weights disagree with the config, or a layer does",
        "not fit its input; **ErrInvalid** the config itself is impossible (negative,",
        "zero or overflowing sizes).",
        "",
        "| file | error | defect |",
        "|---|---|---|",
    ]
    for fn in sorted(EXPECTED):
        e = EXPECTED[fn]
        lines.append(f"| `{fn}` | {e['error']} | {e['why'].replace('|', '/')} |")
    lines += [
        "",
        "## keras_src/: broken inputs for the exporter",
        "",
        "`importer/keras/keras2npz.py FILE out.npz` must print a one-line reason on stderr",
        "and exit with status 2 for each (the script checks this when it runs):",
        "",
        "| file | defect |",
        "|---|---|",
    ]
    for fn in sorted(src):
        lines.append(f"| `keras_src/{fn}` | {src[fn]} |")
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    gen_npz_corpus()
    src = gen_keras_src()
    with open(os.path.join(OUT, "EXPECTED.json"), "w") as f:
        json.dump({"npz": EXPECTED, "keras2npz_exit_2": src}, f, indent=1, sort_keys=True)
        f.write("\n")
    write_readme(src)
    # keras2npz must refuse each broken source with exit status 2.
    import subprocess

    for fn in sorted(src):
        p = subprocess.run([sys.executable, keras2npz.__file__, os.path.join(OUT, "keras_src", fn),
                            os.path.join("/tmp", "broken_out.npz")], capture_output=True, text=True)
        msg = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""
        print(f"  keras2npz {fn:28s} exit {p.returncode}: {msg}")
        if p.returncode != 2:
            sys.exit(f"gen_broken: keras2npz {fn} exited {p.returncode}, want 2")
    print(f"{len(EXPECTED)} broken npz files, {len(src)} broken sources in {OUT}")


if __name__ == "__main__":
    main()
