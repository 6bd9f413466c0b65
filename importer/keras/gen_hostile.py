#!/usr/bin/env python3
"""Build the hostile corpus for keras2npz.py into a directory (numpy + h5py + zipfile only).

    python3 importer/keras/gen_hostile.py OUTDIR

The corpus is made at test time (test_hostile.py calls build()); nothing is committed.
OUTDIR/models/ gets the model files, OUTDIR/outside/ the files they try to reach
(secret.bin, secret.h5: what the exporter must never read), and each Lambda's bytecode,
if it ever ran, would create OUTDIR/markers/<case>. Every case starts from a small valid
model (base.h5, base.keras, which must export) and adds one attack or one malformation.

Case(name, file, flags, expect): exporting `file` with `flags` must exit 2 with one line
on stderr that contains `expect`.
"""

import base64
import io
import json
import marshal
import os
import shlex
import struct
import sys
import warnings
import zipfile
from dataclasses import dataclass, field

import h5py
import numpy as np

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
SECRET = b"SECRET-" * 293 + b"..."  # 2054 bytes; 2048 of them are taken as float32 weights


@dataclass
class Case:
    name: str
    file: str
    expect: str
    flags: list = field(default_factory=list)
    marker: str = None       # created if the file's code ever ran
    leaks: str = None        # an outside file a naive reader would read
    samples: bool = True     # also export with --samples (must be rejected the same way)


# ---------------------------------------------------------------- configs


def k2_input(shape):
    return {"class_name": "InputLayer",
            "config": {"batch_input_shape": [None] + shape, "dtype": "float32",
                       "sparse": False, "ragged": False, "name": "input_1"}}


def k2_dense(name="dense", units=3):
    return {"class_name": "Dense",
            "config": {"name": name, "trainable": True, "dtype": "float32", "units": units,
                       "activation": "linear", "use_bias": True,
                       "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                       "bias_initializer": {"class_name": "Zeros", "config": {}}}}


def k2_seq(layers):
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


def k3_input(shape):
    return {"module": "keras.layers", "class_name": "InputLayer",
            "config": {"batch_shape": [None] + shape, "dtype": "float32", "sparse": False,
                       "name": "input_layer"}, "registered_name": None}


def k3_dense(name="dense", units=3, activation="linear"):
    return {"module": "keras.layers", "class_name": "Dense",
            "config": {"name": name, "trainable": True,
                       "dtype": {"module": "keras", "class_name": "DTypePolicy",
                                 "config": {"name": "float32"}, "registered_name": None},
                       "units": units, "activation": activation, "use_bias": True,
                       "kernel_initializer": {"module": "keras.initializers",
                                              "class_name": "GlorotUniform",
                                              "config": {"seed": None}, "registered_name": None}},
            "registered_name": None, "build_config": {"input_shape": [None, 4]}}


def k3_seq(layers, name="sequential"):
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": name, "trainable": True, "layers": layers},
            "registered_name": None, "build_config": {"input_shape": [None, 4]}}


def lambda_code(marker):
    """base64 marshalled bytecode of a lambda that runs a shell command creating marker."""
    cmd = "touch " + shlex.quote(marker)
    fn = eval(f"lambda x: (__import__('os').system({cmd!r}), x)[1]")
    return base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii") + "\n"


def k2_lambda(marker, name="lambda"):
    # tf_keras's Lambda.get_config for a Python lambda (generic_utils.func_dump).
    return {"class_name": "Lambda",
            "config": {"name": name, "trainable": True, "dtype": "float32",
                       "function": [lambda_code(marker), None, None], "function_type": "lambda",
                       "module": "__main__", "output_shape": None, "output_shape_type": "raw",
                       "output_shape_module": None, "arguments": {}}}


def k3_lambda_fn(marker):
    return {"class_name": "__lambda__",
            "config": {"code": lambda_code(marker), "defaults": None, "closure": None}}


def k3_lambda(marker, name="lambda"):
    return {"module": "keras.layers", "class_name": "Lambda",
            "config": {"name": name, "trainable": True, "function": k3_lambda_fn(marker),
                       "arguments": {}}, "registered_name": None}


# ---------------------------------------------------------------- writers


W_KERNEL = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
W_BIAS = np.array([0.1, -0.2, 0.3], np.float32)


def write_h5(path, model_config, keras_version="2.21.0", weights=True, config_raw=None,
             edit=None):
    """A legacy model.save() .h5 holding a Dense(3) named 'dense' on (4,) inputs."""
    with h5py.File(path, "w", libver="latest") as f:
        if config_raw is not None:
            f.attrs["model_config"] = config_raw
        elif model_config is not None:
            f.attrs["model_config"] = json.dumps(model_config)
        if keras_version is not None:
            f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = "tensorflow"
        mw = f.create_group("model_weights")
        if weights:
            g = mw.create_group("dense")
            g.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
            g.create_dataset("dense/kernel:0", data=W_KERNEL)
            g.create_dataset("dense/bias:0", data=W_BIAS)
        if edit:
            edit(f)


def weights_h5_bytes(edit=None, path=None):
    """model.weights.h5 of a .keras file: layers/dense/vars/{0,1}."""
    bio = io.BytesIO() if path is None else path
    with h5py.File(bio, "w", libver="latest") as f:
        v = f.create_group("layers/dense/vars")
        v.attrs["name"] = "dense"
        v.create_dataset("0", data=W_KERNEL)
        v.create_dataset("1", data=W_BIAS)
        if edit:
            edit(f)
    return None if path is not None else bio.getvalue()


def write_zip(path, members, compress=zipfile.ZIP_DEFLATED):
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as z:
        warnings.simplefilter("ignore")  # zip_duplicate.keras is meant to have two config.json
        for name, data in members:
            zi = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            zi.compress_type = compress
            z.writestr(zi, data)


def write_keras(path, config=None, config_raw=None, weights=None, extra=(), compress=zipfile.ZIP_DEFLATED):
    cfg = config_raw if config_raw is not None else json.dumps(config)
    members = [("metadata.json", json.dumps({"keras_version": "3.15.1"})), ("config.json", cfg),
               ("model.weights.h5", weights if weights is not None else weights_h5_bytes())]
    write_zip(path, members + list(extra), compress)


def patch_sizes(path, member, file_size=None, flag_bits=None):
    """Rewrite a member's uncompressed size / flags in both zip headers (a lying header)."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    name = member.encode()
    # local header: sig PK\3\4, flags at +6, uncompressed size at +22, name at +30
    i = 0
    while True:
        i = data.find(b"PK\x03\x04", i)
        if i < 0:
            break
        nlen = struct.unpack_from("<H", data, i + 26)[0]
        if bytes(data[i + 30:i + 30 + nlen]) == name:
            if file_size is not None:
                struct.pack_into("<I", data, i + 22, file_size)
            if flag_bits is not None:
                struct.pack_into("<H", data, i + 6, flag_bits)
        i += 4
    # central directory: sig PK\1\2, flags at +8, uncompressed size at +24, name at +46
    i = 0
    while True:
        i = data.find(b"PK\x01\x02", i)
        if i < 0:
            break
        nlen = struct.unpack_from("<H", data, i + 28)[0]
        if bytes(data[i + 46:i + 46 + nlen]) == name:
            if file_size is not None:
                struct.pack_into("<I", data, i + 24, file_size)
            if flag_bits is not None:
                struct.pack_into("<H", data, i + 8, flag_bits)
        i += 4
    with open(path, "wb") as f:
        f.write(bytes(data))


# ---------------------------------------------------------------- the corpus


def build(out):
    """Write the corpus under out/ and return the list of Cases."""
    models, outside, markers = (os.path.join(out, d) for d in ("models", "outside", "markers"))
    for d in (models, outside, markers):
        os.makedirs(d, exist_ok=True)
    secret_bin = os.path.join(outside, "secret.bin")
    with open(secret_bin, "wb") as f:
        f.write(SECRET)
    secret_h5 = os.path.join(outside, "secret.h5")
    with h5py.File(secret_h5, "w") as f:
        leak = np.frombuffer(SECRET[:48], np.float32).reshape(4, 3)
        f.create_dataset("kernel", data=leak)
        f.create_dataset("model_weights/dense/dense/kernel:0", data=leak)
        f.create_dataset("model_weights/dense/dense/bias:0", data=W_BIAS)
        f["model_weights/dense"].attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        f.create_dataset("layers/dense/vars/0", data=leak)
        f.create_dataset("layers/dense/vars/1", data=W_BIAS)
    cases = []

    def m(name):
        return os.path.join(models, name)

    def add(name, expect, **kw):
        cases.append(Case(name=name, file=m(name), expect=expect, **kw))

    def mk(name):
        return os.path.join(markers, name)

    k2_base = k2_seq([k2_input([4]), k2_dense()])
    k3_base = k3_seq([k3_input([4]), k3_dense()])
    write_h5(m("base.h5"), k2_base)
    write_keras(m("base.keras"), k3_base)

    # -- code in the config ------------------------------------------------------
    write_h5(m("lambda_keras2.h5"), k2_seq([k2_input([4]), k2_lambda(mk("lambda_keras2.h5")),
                                            k2_dense()]))
    add("lambda_keras2.h5", "Lambda carries Python code", marker=mk("lambda_keras2.h5"))
    write_h5(m("lambda_keras3.h5"), k2_seq([k2_input([4]), k2_lambda(mk("lambda_keras3.h5")),
                                            k2_dense()]), keras_version="3.15.1")
    add("lambda_keras3.h5", "Lambda carries Python code", marker=mk("lambda_keras3.h5"))
    write_keras(m("lambda.keras"), k3_seq([k3_input([4]), k3_lambda(mk("lambda.keras")), k3_dense()]))
    add("lambda.keras", "Lambda carries Python code", marker=mk("lambda.keras"))
    write_keras(m("lambda_nested.keras"), k3_seq([k3_input([4]), k3_seq(
        [k3_lambda(mk("lambda_nested.keras"))], name="inner"), k3_dense()]))
    add("lambda_nested.keras", "inner/lambda: Lambda", marker=mk("lambda_nested.keras"))
    d = k3_dense()
    d["config"]["activation"] = k3_lambda_fn(mk("lambda_activation.keras"))
    write_keras(m("lambda_activation.keras"), k3_seq([k3_input([4]), d]))
    add("lambda_activation.keras", "__lambda__ carries Python code", marker=mk("lambda_activation.keras"))
    bidi = {"class_name": "Bidirectional",
            "config": {"name": "bidi", "layer": k2_lambda(mk("lambda_in_wrapper.h5"), "inner")}}
    write_h5(m("lambda_in_wrapper.h5"), k2_seq([k2_input([4]), bidi]))
    add("lambda_in_wrapper.h5", "Lambda carries Python code", marker=mk("lambda_in_wrapper.h5"))
    for cls in ("TFOpLambda", "TFSMLayer", "TorchModuleWrapper"):
        write_h5(m(f"{cls}.h5"), k2_seq([k2_input([4]), {"class_name": cls, "config": {"name": "x"}}]))
        add(f"{cls}.h5", f"{cls} carries Python code")

    # My own module next to the model: importing it would create the marker.
    with open(os.path.join(models, "my_layers.py"), "w") as f:
        f.write(f"import os\nos.system({('touch ' + shlex.quote(mk('custom_module.keras')))!r})\n")
    d = k3_dense()
    d["module"], d["class_name"] = "my_layers", "MyDense"
    write_keras(m("custom_module.keras"), k3_seq([k3_input([4]), d]))
    add("custom_module.keras", "module 'my_layers'", marker=mk("custom_module.keras"))
    d = k3_dense()
    d["module"], d["class_name"], d["registered_name"] = "__main__", "MyDense", "Custom>MyDense"
    write_keras(m("custom_registered.keras"), k3_seq([k3_input([4]), d]))
    add("custom_registered.keras", "custom object 'Custom>MyDense'")
    d = k3_dense()
    d["config"]["kernel_initializer"] = {"module": "keras.utils", "class_name": "get_file",
                                         "config": {"origin": "http://127.0.0.1:9/x"},
                                         "registered_name": None}
    write_keras(m("keras_utils_get_file.keras"), k3_seq([k3_input([4]), d]))
    add("keras_utils_get_file.keras", "module 'keras.utils'")
    d = k3_dense()
    d["config"]["activation"] = {"module": "os", "class_name": "function", "config": "system",
                                 "registered_name": "function"}
    write_keras(m("function_from_os.keras"), k3_seq([k3_input([4]), d]))
    add("function_from_os.keras", "function from module 'os'")
    cfg = k3_seq([k3_input([4]), k3_dense()])
    cfg["compile_config"] = {"loss": {"module": "__main__", "class_name": "function",
                                      "config": "my_loss", "registered_name": "function"}}
    write_keras(m("custom_loss.keras"), cfg)
    add("custom_loss.keras", "function from module '__main__'")
    d = k2_dense()
    d["class_name"] = "Custom>MyDense"
    write_h5(m("keras2_custom.h5"), k2_seq([k2_input([4]), d]))
    add("keras2_custom.h5", "custom object 'Custom>MyDense'")
    d = k3_dense()
    d["config"]["bias_initializer"] = {"class_name": "__typespec__", "module": "tensorflow",
                                       "config": {}}
    write_keras(m("typespec.keras"), k3_seq([k3_input([4]), d]))
    add("typespec.keras", "special object '__typespec__'")

    # -- reading outside the file -------------------------------------------------
    def ext_storage(f, kernel_path, name=secret_bin):
        del f[kernel_path]
        f.create_dataset(kernel_path, shape=(4, 3), dtype="<f4", external=[(name, 0, 48)])

    write_h5(m("external_storage.h5"), k2_base,
             edit=lambda f: ext_storage(f, "model_weights/dense/dense/kernel:0"))
    add("external_storage.h5", "external file", leaks=secret_bin)
    write_h5(m("external_storage_rel.h5"), k2_base,
             edit=lambda f: ext_storage(f, "model_weights/dense/dense/kernel:0",
                                        os.path.join("..", "outside", "secret.bin")))
    add("external_storage_rel.h5", "external file", leaks=secret_bin)
    write_keras(m("external_storage.keras"), k3_base,
                weights=weights_h5_bytes(lambda f: ext_storage(f, "layers/dense/vars/0")))
    add("external_storage.keras", "external file", leaks=secret_bin)

    def ext_link(f, path, target):
        del f[path]
        f[path] = h5py.ExternalLink(secret_h5, target)

    write_h5(m("external_link.h5"), k2_base,
             edit=lambda f: ext_link(f, "model_weights", "/model_weights"))
    add("external_link.h5", "external link", leaks=secret_h5)
    write_h5(m("external_link_dataset.h5"), k2_base,
             edit=lambda f: ext_link(f, "model_weights/dense/dense/kernel:0", "/kernel"))
    add("external_link_dataset.h5", "external link", leaks=secret_h5)
    write_keras(m("external_link.keras"), k3_base,
                weights=weights_h5_bytes(lambda f: ext_link(f, "layers", "/layers")))
    add("external_link.keras", "external link", leaks=secret_h5)

    def soft_via_external(f, path):
        f["zz_leak"] = h5py.ExternalLink(secret_h5, "/")
        del f[path]
        f[path] = h5py.SoftLink("/zz_leak/kernel")

    write_h5(m("soft_link_external.h5"), k2_base,
             edit=lambda f: soft_via_external(f, "model_weights/dense/dense/kernel:0"))
    add("soft_link_external.h5", "link", leaks=secret_h5)

    def soft_inside(f, path, target):
        f.create_dataset("zz_other", data=W_KERNEL)
        del f[path]
        f[path] = h5py.SoftLink(target)

    write_h5(m("soft_link.h5"), k2_base,
             edit=lambda f: soft_inside(f, "model_weights/dense/dense/kernel:0", "/zz_other"))
    add("soft_link.h5", "soft link")
    write_keras(m("soft_link_dangling.keras"), k3_base,
                weights=weights_h5_bytes(lambda f: soft_inside(f, "layers/dense/vars/0", "/nowhere")))
    add("soft_link_dangling.keras", "soft link")

    def vds(f, path):
        lay = h5py.VirtualLayout(shape=(4, 3), dtype="<f4")
        lay[:] = h5py.VirtualSource(secret_h5, "kernel", shape=(4, 3))
        del f[path]
        f.create_virtual_dataset(path, lay)

    write_h5(m("virtual_dataset.h5"), k2_base,
             edit=lambda f: vds(f, "model_weights/dense/dense/kernel:0"))
    add("virtual_dataset.h5", "virtual", leaks=secret_h5)
    write_keras(m("virtual_dataset.keras"), k3_base,
                weights=weights_h5_bytes(lambda f: vds(f, "layers/dense/vars/0")))
    add("virtual_dataset.keras", "virtual", leaks=secret_h5)

    def cycle(f):
        f["layers/dense/vars/loop"] = f["layers"]

    write_keras(m("hardlink_cycle.keras"), k3_base, weights=weights_h5_bytes(cycle))
    add("hardlink_cycle.keras", "linked from two places")

    def alias(f):
        f["model_weights/dense/dense/bias:0_alias"] = f["model_weights/dense/dense/bias:0"]

    write_h5(m("hardlink_alias.h5"), k2_base, edit=alias)
    add("hardlink_alias.h5", "linked from two places")

    def plugin_filter(f):
        del f["layers/dense/vars/1"]
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((3,))
        dcpl.set_filter(32001, h5py.h5z.FLAG_OPTIONAL, (0, 0, 0, 0, 4, 1, 2))  # blosc
        sid = h5py.h5s.create_simple((3,))
        h5py.h5d.create(f["layers/dense/vars"].id, b"1", h5py.h5t.IEEE_F32LE, sid, dcpl=dcpl)

    try:
        write_keras(m("filter_plugin.keras"), k3_base, weights=weights_h5_bytes(plugin_filter))
        add("filter_plugin.keras", "filter 32001")
    except Exception as e:  # pragma: no cover - depends on the HDF5 build
        print(f"gen_hostile: skipping filter_plugin.keras ({e})", file=sys.stderr)

    def deep_groups(f):
        g = f["layers/dense"]
        for i in range(80):
            g = g.create_group(f"g{i}")

    write_keras(m("deep_groups.keras"), k3_base, weights=weights_h5_bytes(deep_groups))
    add("deep_groups.keras", "nest more than 64 deep")

    # -- sizes -----------------------------------------------------------------------
    def huge(f, path, shape):
        del f[path]
        f.create_dataset(path, shape=shape, dtype="<f4", chunks=(1 << 16,))

    write_h5(m("dataset_huge_shape.h5"), k2_base,
             edit=lambda f: huge(f, "model_weights/dense/dense/bias:0", (1 << 34,)))
    add("dataset_huge_shape.h5", "more than the 2147483648 allowed")
    write_keras(m("dataset_huge_shape.keras"), k3_base,
                weights=weights_h5_bytes(lambda f: huge(f, "layers/dense/vars/1", (1 << 34,))))
    add("dataset_huge_shape.keras", "more than the 2147483648 allowed")

    def gz(f, path, n):
        del f[path]
        f.create_dataset(path, data=np.zeros(n, np.float32), compression="gzip", chunks=(1 << 16,))

    write_h5(m("weights_over_limit.h5"), k2_base,
             edit=lambda f: gz(f, "model_weights/dense/dense/bias:0", 1 << 20))
    add("weights_over_limit.h5", "--max-weights-bytes", flags=["--max-weights-bytes", "1M"])

    def vlen(f):
        del f["layers/dense/vars/1"]
        f.create_dataset("layers/dense/vars/1", data=["a", "b", "c"], dtype=h5py.string_dtype())

    write_keras(m("weight_strings.keras"), k3_base, weights=weights_h5_bytes(vlen))
    add("weight_strings.keras", "weights are numbers")

    big_cfg = json.dumps(k3_base) + " " * (17 << 20)
    write_keras(m("config_bomb.keras"), config_raw=big_cfg)
    add("config_bomb.keras", "config.json inflates to")
    write_keras(m("config_bomb_header_1_5G.keras"), k3_base)
    patch_sizes(m("config_bomb_header_1_5G.keras"), "config.json", file_size=3 << 29)
    add("config_bomb_header_1_5G.keras", "config.json inflates to 1610612736 bytes")
    write_keras(m("config_header_lies.keras"), config_raw=json.dumps(k3_base) + " " * (20 << 20))
    patch_sizes(m("config_header_lies.keras"), "config.json", file_size=4096)
    add("config_header_lies.keras", "config.json")
    write_keras(m("weights_bomb_header_3G.keras"), k3_base)
    patch_sizes(m("weights_bomb_header_3G.keras"), "model.weights.h5", file_size=3 << 30)
    add("weights_bomb_header_3G.keras", "model.weights.h5 inflates to 3221225472 bytes")
    write_keras(m("weights_bomb.keras"), k3_base,
                weights=weights_h5_bytes() + b"\0" * (80 << 20))
    add("weights_bomb.keras", "model.weights.h5 inflates to", flags=["--max-weights-bytes", "1M"])
    write_keras(m("weights_header_lies.keras"), k3_base,
                weights=weights_h5_bytes() + b"\0" * (80 << 20))
    patch_sizes(m("weights_header_lies.keras"), "model.weights.h5", file_size=1 << 20)
    add("weights_header_lies.keras", "model.weights.h5")
    cfg = json.dumps(k3_base)
    write_h5(m("config_attr_fixed_big.h5"), None,
             config_raw=np.bytes_(cfg.encode() + b" " * 8192))
    add("config_attr_fixed_big.h5", "--max-config-bytes", flags=["--max-config-bytes", "4K"])
    write_h5(m("config_attr_vlen_big.h5"), None, config_raw=cfg + " " * 8192)
    add("config_attr_vlen_big.h5", "--max-config-bytes", flags=["--max-config-bytes", "4K"])

    # -- malformed JSON and configs -------------------------------------------------
    write_keras(m("deep_json.keras"), config_raw="[" * 100000 + "]" * 100000)
    add("deep_json.keras", "nests JSON 100000 levels deep")
    write_h5(m("deep_json.h5"), None, config_raw='{"a":' * 50000 + "1" + "}" * 50000)
    add("deep_json.h5", "nests JSON 50000 levels deep")
    write_keras(m("deep_json_unterminated.keras"), config_raw='"\\"' + "[" * 5000 + "]" * 5000)
    add("deep_json_unterminated.keras", "not valid JSON")
    write_keras(m("huge_int.keras"), config_raw='{"class_name": "Sequential", "config": '
                '{"layers": [], "x": ' + "9" * 100000 + "}}")
    add("huge_int.keras", "not valid JSON")
    write_keras(m("config_not_utf8.keras"), config_raw=b'{"a": "\xff\xfe"}')
    add("config_not_utf8.keras", "not valid JSON")
    for n, layers in (("layers_not_objects", [1, "x", None]), ("layers_no_class", [{"config": {}}]),
                      ("layers_class_list", [{"class_name": ["Dense"], "config": {}}])):
        cfg = k3_seq([k3_input([4]), k3_dense()])
        cfg["config"]["layers"] = layers
        write_keras(m(n + ".keras"), cfg)
        add(n + ".keras", "not a string" if n == "layers_class_list" else "is not a {class_name")
    cfg = k2_seq([k2_input([4]), k2_dense()])
    cfg["config"]["layers"] = [[1, 2], 3]
    write_h5(m("layers_not_objects.h5"), cfg)
    add("layers_not_objects.h5", "is not a {class_name")
    func = {"module": "keras.src.models.functional", "class_name": "Functional",
            "registered_name": "Functional",
            "config": {"name": "f", "input_layers": [["input_layer", 0, 0]],
                       "output_layers": [["dense", 0, 0]],
                       "layers": [dict(k3_input([4]), inbound_nodes=[]),
                                  dict(k3_dense(), inbound_nodes=[{"args": [
                                      {"class_name": "__keras_tensor__", "config": {}}]}])]}}
    write_keras(m("functional_bad_nodes.keras"), func)
    add("functional_bad_nodes.keras", "cannot read the model")
    write_h5(m("keras_version_bad.h5"), k2_base, keras_version="2\n\x1b[31mred")
    add("keras_version_bad.h5", "is not a version number")
    write_h5(m("keras_version_array.h5"), k2_base, keras_version=np.arange(3))
    add("keras_version_array.h5", "keras_version")
    write_h5(m("model_config_int.h5"), None, config_raw=np.int64(7))
    add("model_config_int.h5", "attribute model_config is int64, not a string")

    # -- zip structure --------------------------------------------------------------
    write_keras(m("zip_traversal.keras"), k3_base, extra=[("../../outside/evil", b"x")])
    add("zip_traversal.keras", "unexpected zip member '../../outside/evil'")
    write_keras(m("zip_assets.keras"), k3_base, extra=[("assets/vocab.txt", b"a\nb\n")])
    add("zip_assets.keras", "assets are not supported")
    write_keras(m("zip_duplicate.keras"), k3_base, extra=[("config.json", b"{}")])
    add("zip_duplicate.keras", "appears twice")
    write_keras(m("zip_encrypted.keras"), k3_base)
    patch_sizes(m("zip_encrypted.keras"), "config.json", flag_bits=1)
    add("zip_encrypted.keras", "encrypted")
    write_keras(m("zip_bzip2.keras"), k3_base, compress=zipfile.ZIP_BZIP2)
    add("zip_bzip2.keras", "compression method 12")
    write_zip(m("zip_many.keras"), [("config.json", "{}")] + [(f"f{i}", b"") for i in range(1000)])
    add("zip_many.keras", "1001 members")
    # No metadata.json (a warning on success) and broken weights: still one line (the
    # warning is held back; found by fuzz_keras2npz.py).
    write_zip(m("no_metadata_bad_weights.keras"), [("config.json", json.dumps(k3_base)),
                                                   ("model.weights.h5", b"not an HDF5 file")])
    add("no_metadata_bad_weights.keras", "model.weights.h5 is not a readable HDF5 file")
    return cases


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gen_hostile.py OUTDIR")
    for c in build(sys.argv[1]):
        print(f"{os.path.basename(c.file):34s} {' '.join(c.flags):24s} expects {c.expect!r}")
