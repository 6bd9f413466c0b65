#!/usr/bin/env python3
"""A mutation fuzzer for keras2npz.py (stdlib random + numpy + h5py; no Keras, no atheris).

    python3 importer/keras/fuzz_keras2npz.py [--seconds 50] [--seed S] [--keep DIR]

Starts from valid .keras and .h5 files (the committed zoo sources, plus the small
models gen_hostile.py writes) and mutates one or a few things per run:

  * the config JSON structurally (config.json in a .keras, the model_config attribute
    of an .h5): a node replaced by a wrong type, a huge/negative/NaN number, a deep
    nesting, an unknown class_name or module, a key dropped, a list element repeated;
  * zip members of a .keras: dropped, duplicated, renamed, truncated, byte-flipped,
    stored instead of deflated, or an extra member;
  * HDF5 contents (the .h5, or model.weights.h5 inside a .keras): attributes rewritten
    (keras_version, layer_names, weight_names), a dataset replaced by one of another
    shape or dtype, a dataset claiming a huge shape with no data, a group deleted;
  * HDF5 bytes: flipped, zeroed ranges, truncated.

Every run calls keras2npz.main() in a forked child (stderr captured at fd 2) and must
end with exit 0 (then the npz must load with allow_pickle=False; stderr may hold only
"keras2npz: warning:" lines) or exit 2 with exactly one stderr line and no traceback,
within --timeout seconds (passed as --max-seconds) and --max-rss-mib above the seeds. A run
that breaks this is saved (the input, and a .txt with the mutation and the stderr) to
--keep (default: a temp dir) and the fuzzer exits 1 after the time budget, printing
each failure. --max-weights-bytes is set to 64M so that no mutation can make a run
allocate much.

CI runs it for 50 s (the exporter step of .ci/run); run it longer with --seconds.
"""

import argparse
import contextlib
import copy
import glob
import io
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import keras2npz  # noqa: E402  (sets up HDF5 before h5py is imported)
import gen_hostile  # noqa: E402
from keras2npz_guard import h5py  # noqa: E402

# A few small, varied seeds: Keras 3 and Keras 2 files, Sequential, Functional chain,
# DAG with nesting, quantized, recurrent, attention. All committed, all under 60 KB.
SEEDS = [
    "testdata/keras/src/functional_chain.keras",
    "testdata/keras/src/no_input_layer.keras",
    "testdata/keras/src/keras2_functional_chain.h5",
    "testdata/keras/src/no_input_layer.h5",
    "testdata/keras/src/keras2_gru.h5",
    "testdata/keras_quant/mlp_int8.keras",
    "testdata/keras_dag/src/se_block.keras",
    "testdata/keras_dag/src/seq_nests_functional.h5",
    "testdata/keras_dag/src/nested_shared.keras",
    "testdata/seq/src/varlen_embed_gru.keras",
    "testdata/attention/src/keras_dot_attention.keras",
]

WEIRD_VALUES = [
    None, True, False, 0, -1, 1, 2**31, 2**31 - 1, -2**31, 2**63, -2**63, 2**64 + 1, 10**30,
    1e308, -1e308, float("nan"), float("inf"), float("-inf"), 0.5, -0.0,
    "", "x" * 5000, "float16", "int64", "complex64", "channels_first", "same", "relu",
    "../../../etc/passwd", "\u0000", "\ud7ff", [], [None], [2**40, 2**40], [-1, -1, -1],
    [0], {}, {"class_name": "Lambda", "config": {}}, {"module": "os", "class_name": "system"},
    {"class_name": 7}, [[[]]], list(range(64)),
]
WEIRD_CLASSES = ["NoSuchLayer", "Lambda", "TFOpLambda", "", "Functional", "Sequential", "Model",
                 "InputLayer", "Dense", "Conv3D", "MultiHeadAttention", "Embedding", "GRU",
                 "QuantizedDense", "Bidirectional", "TimeDistributed", "__import__"]
WEIRD_MODULES = ["os", "builtins", "subprocess", "keras.src.ops", "keras.layers", "keras_hub",
                 "keras.src.legacy.layers", "", "keras..layers", "tensorflow.python"]


# ---------------------------------------------------------------- JSON mutations


def _nodes(obj, path=()):
    """Every (path, value) of a JSON tree, iteratively."""
    out, stack = [], [(path, obj)]
    while stack:
        p, v = stack.pop()
        out.append((p, v))
        if isinstance(v, dict):
            stack.extend((p + (k,), c) for k, c in v.items())
        elif isinstance(v, list):
            stack.extend((p + (i,), c) for i, c in enumerate(v))
    return out


def _set(obj, path, value):
    if not path:
        return value
    cur = obj
    for k in path[:-1]:
        cur = cur[k]
    cur[path[-1]] = value
    return obj


def _deep(depth, leaf):
    if depth > 60:  # copy.deepcopy and json.dumps recurse: a marker, expanded in the text afterwards
        return f"__DEEP_{depth}__"
    v = leaf
    for i in range(depth):
        v = [v] if i % 2 else {"a": v}
    return v


def mutate_json(rng, obj):
    """One structural mutation of a parsed JSON document; returns (obj, description)."""
    obj = copy.deepcopy(obj)
    nodes = _nodes(obj)
    path, val = rng.choice(nodes)
    kind = rng.randrange(10)
    if kind == 0:
        new = rng.choice(WEIRD_VALUES)
        return _set(obj, path, copy.deepcopy(new)), f"{path}: -> {str(new)[:40]!r}"
    if kind == 1 and isinstance(val, (int, float)) and not isinstance(val, bool):
        new = rng.choice([val * 2**rng.randrange(8, 40), -val, -1, 0, 2**31, 2**62, val + 1, val - 1])
        return _set(obj, path, new), f"{path}: number {val} -> {new}"
    if kind == 2:
        d = rng.choice([50, 99, 100, 101, 500, 5000])
        return _set(obj, path, _deep(d, val if not isinstance(val, (dict, list)) else 1)), f"{path}: nested {d}"
    if kind == 3:
        # class_name / module of a dict that has one
        dicts = [(p, v) for p, v in nodes if isinstance(v, dict) and ("class_name" in v or "module" in v)]
        if dicts:
            p, v = rng.choice(dicts)
            if "module" in v and rng.random() < 0.5:
                v["module"] = rng.choice(WEIRD_MODULES)
                return obj, f"{p}: module -> {v['module']!r}"
            v["class_name"] = rng.choice(WEIRD_CLASSES)
            return obj, f"{p}: class_name -> {v['class_name']!r}"
    if kind == 4 and path:
        parent = obj
        for k in path[:-1]:
            parent = parent[k]
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
        return obj, f"{path}: deleted"
    if kind == 5 and isinstance(val, list) and val:
        i = rng.randrange(len(val))
        n = rng.choice([1, 2, 10])
        val[i:i] = [copy.deepcopy(val[i]) for _ in range(n)]
        return obj, f"{path}: element {i} repeated {n}x"
    if kind == 6 and isinstance(val, list) and len(val) > 1:
        rng.shuffle(val)
        return obj, f"{path}: shuffled"
    if kind == 7 and isinstance(val, str):
        new = rng.choice([val + "_x", val[:-1], val.upper(), "", val * 3, "input_1", "dense"])
        return _set(obj, path, new), f"{path}: string {val[:30]!r} -> {new[:30]!r}"
    if kind == 8 and isinstance(val, dict):
        val[rng.choice(["inbound_nodes", "layers", "config", "build_config", "shared_object_id",
                        "registered_name", "__passive_serialization__", "dtype", "quantization_mode"])] = \
            copy.deepcopy(rng.choice(WEIRD_VALUES))
        return obj, f"{path}: key added"
    # shapes and sizes: the numbers most likely to size an allocation
    nums = [(p, v) for p, v in nodes if isinstance(v, int) and not isinstance(v, bool)]
    if nums:
        p, v = rng.choice(nums)
        new = rng.choice([2**20, 2**31, 2**40, -5, 0, 10**18])
        return _set(obj, p, new), f"{p}: int {v} -> {new}"
    return obj, "no-op"


def mutate_json_text(rng, text):
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return text, "unparsed (kept)"
    muts = []
    try:
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            obj, d = mutate_json(rng, obj)
            muts.append(d)
        try:
            text = json.dumps(obj, allow_nan=rng.random() < 0.9)
        except ValueError:
            text = json.dumps(obj)
    except RecursionError:  # the document is already deep (an earlier mutation)
        return text, "too deep to mutate (kept)"
    for d in (99, 100, 101, 500, 5000):
        text = text.replace(f'"__DEEP_{d}__"', "[" * d + "1" + "]" * d)
    return text, "; ".join(muts)


# ---------------------------------------------------------------- bytes and HDF5


def mutate_bytes(rng, data):
    data = bytearray(data)
    kind = rng.randrange(4)
    if kind == 0 and data:
        for _ in range(rng.choice([1, 4, 16])):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
        return bytes(data), "bit flips"
    if kind == 1 and data:
        i = rng.randrange(len(data))
        n = rng.choice([1, 8, 64, 512])
        data[i:i + n] = bytes(len(data[i:i + n])) if rng.random() < 0.5 else b"\xff" * len(data[i:i + n])
        return bytes(data), f"range at {i} overwritten"
    if kind == 2:
        n = rng.randrange(len(data) + 1)
        return bytes(data[:n]), f"truncated to {n}"
    # an 8-byte little-endian field set to a huge value (HDF5 sizes and addresses)
    if len(data) > 8:
        i = rng.randrange(len(data) - 8)
        data[i:i + 8] = rng.choice([2**63 - 1, 2**40, 2**32 + 7, 0xFFFFFFFFFFFFFFFF]).to_bytes(8, "little")
    return bytes(data), "u64 field overwritten"


def _datasets(f):
    out = []
    f.visititems(lambda name, o: out.append(name) if isinstance(o, h5py.Dataset) else None)
    return out


def mutate_h5_file(rng, path, json_attr=True):
    """Rewrite the HDF5 file at path in place (h5py, r+); returns a description."""
    with h5py.File(path, "r+") as f:
        kind = rng.randrange(6)
        if kind == 0 and json_attr and "model_config" in f.attrs:
            raw = f.attrs["model_config"]
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
            new, d = mutate_json_text(rng, text)
            f.attrs["model_config"] = new.encode() if rng.random() < 0.5 else new
            return "model_config: " + d
        if kind == 1:
            groups = [f]
            f.visititems(lambda n, o: groups.append(o) if isinstance(o, h5py.Group) else None)
            g = rng.choice(groups)
            name = rng.choice(["keras_version", "backend", "layer_names", "weight_names",
                               "training_config", "model_config"])
            val = rng.choice([b"", b"2.99.0", b"3.15.1", "0.0.1", np.array([b"nope", b"dense"]),
                              np.arange(4), np.array([1.5]), b"\xff\xfe", np.array([], dtype="S1"),
                              np.zeros((2, 2), dtype="S3")])
            try:
                g.attrs[name] = val
            except (TypeError, ValueError):
                return "attr write failed"
            return f"attr {g.name}@{name} = {val!r}"[:120]
        ds = _datasets(f)
        if not ds:
            return "no datasets"
        name = rng.choice(ds)
        old = f[name]
        shape = old.shape
        if old.size > 1 << 20 and kind in (2, 5):  # a huge claim from an earlier mutation
            return "kept a huge dataset"
        if kind == 2:
            del f[name]
            newshape = tuple(rng.choice([s, s + 1, max(s - 1, 0), 1]) for s in shape) or (1,)
            if rng.random() < 0.3:
                newshape = newshape + (2,)
            dtype = rng.choice(["<f4", ">f4", "<f8", "<f2", "<i8", "<i4", "u1", "i1", "c8", "?", "S4"])
            f.create_dataset(name, data=np.zeros(newshape, dtype=dtype))
            return f"{name}: {shape} -> {newshape} {dtype}"
        if kind == 3:
            # claims a huge shape: chunked and never written, so the file stays small
            del f[name]
            big = rng.choice([(2**31,), (2**20, 2**20), (2**40,), (3, 2**30)])
            f.create_dataset(name, shape=big, dtype="<f4", chunks=True)
            return f"{name}: huge {big} with no data"
        if kind == 4:
            parent = name.rsplit("/", 1)[0] if "/" in name else name
            del f[parent]
            return f"deleted {parent}"
        data = np.asarray(old[()])
        del f[name]
        if data.size:
            data = data.copy()
            data.flat[rng.randrange(data.size)] = rng.choice([np.nan, np.inf, -np.inf, 1e38]) \
                if data.dtype.kind == "f" else 0
        f.create_dataset(name, data=data, compression=rng.choice([None, "gzip", "lzf"]))
        return f"{name}: rewritten with a non-finite value / compression"


def mutate_h5(rng, data, tmp, json_attr=True):
    """Mutate the HDF5 bytes data, structurally (h5py) or byte-wise."""
    if rng.random() < 0.7:
        p = os.path.join(tmp, "m.h5")
        with open(p, "wb") as f:
            f.write(data)
        # In a forked child: on bytes an earlier mutation broke, libhdf5 itself can spin
        # or allocate gigabytes (what the exporter must survive, and this process too).
        seed = rng.getrandbits(64)
        d = _in_child(lambda: mutate_h5_file(random.Random(seed), p, json_attr), 5)
        if d is None:
            return mutate_bytes(rng, data)
        with open(p, "rb") as f:
            return f.read(), d
    return mutate_bytes(rng, data)


def _in_child(fn, timeout):
    """fn() in a forked child under a memory cap; its string result, or None if it
    failed, took over timeout seconds or was killed."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (2 << 30, resource.RLIM_INFINITY))
            os.write(w, str(fn()).encode()[:4096])
            code = 0
        except BaseException:  # noqa: BLE001 - a mutation h5py refuses
            pass
        finally:
            os._exit(code)
    os.close(w)
    t0 = time.monotonic()
    while True:
        wpid, status = os.waitpid(pid, os.WNOHANG)
        if wpid:
            break
        if time.monotonic() - t0 > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = -1
            break
        time.sleep(0.002)
    out = os.read(r, 4096).decode("utf-8", "replace")
    os.close(r)
    return out if status == 0 else None


def mutate_keras(rng, data, tmp):
    """Mutate a .keras zip (bytes); returns (bytes, description)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = [(i, z.read(i)) for i in z.infolist()]
    except Exception:  # noqa: BLE001 - an earlier mutation broke the zip: bytes only
        return mutate_bytes(rng, data)
    if not members:
        return mutate_bytes(rng, data)
    names = [i.filename for i, _ in members]
    kind = rng.randrange(10)
    desc = ""
    if kind <= 3 and "config.json" in names:
        j = names.index("config.json")
        new, desc = mutate_json_text(rng, members[j][1].decode("utf-8", "replace"))
        members[j] = (members[j][0], new.encode())
        desc = "config.json: " + desc
    elif kind <= 5 and "model.weights.h5" in names:
        j = names.index("model.weights.h5")
        new, desc = mutate_h5(rng, members[j][1], tmp, json_attr=False)
        members[j] = (members[j][0], new)
        desc = "model.weights.h5: " + desc
    elif kind == 6 and "metadata.json" in names:
        j = names.index("metadata.json")
        new, desc = mutate_json_text(rng, members[j][1].decode("utf-8", "replace"))
        members[j] = (members[j][0], new.encode())
        desc = "metadata.json: " + desc
    elif kind == 7:
        j = rng.randrange(len(members))
        op = rng.randrange(4)
        info, body = members[j]
        if op == 0:
            members.pop(j)
            desc = f"dropped {info.filename}"
        elif op == 1:
            members.append((info, body))
            desc = f"duplicated {info.filename}"
        elif op == 2:
            members[j] = (zipfile.ZipInfo(rng.choice(["../" + info.filename, info.filename.upper(),
                                                      "/" + info.filename, "x/" + info.filename]),
                                          gen_hostile.ZIP_DATE), body)
            desc = f"renamed {info.filename}"
        else:
            nb, d = mutate_bytes(rng, body)
            members[j] = (info, nb)
            desc = f"{info.filename}: {d}"
    elif kind == 8:
        members.append((zipfile.ZipInfo(rng.choice(["assets/x.bin", "variables.h5", "extra.json"]),
                                        gen_hostile.ZIP_DATE), bytes(rng.choice([0, 10, 1 << 16]))))
        desc = "extra member"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for info, body in members:
            zi = zipfile.ZipInfo(info.filename, gen_hostile.ZIP_DATE)
            zi.compress_type = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
            with warnings_off():
                z.writestr(zi, body)
    blob = out.getvalue()
    if kind == 9:
        blob, d = mutate_bytes(rng, blob)
        desc = "zip bytes: " + d
    return blob, desc or "re-zipped"


@contextlib.contextmanager
def warnings_off():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ---------------------------------------------------------------- running


def run_exporter(model, out, timeout):
    """keras2npz.main([model, out]) in a forked child (numpy and h5py already imported,
    so a run costs milliseconds), its fd 2 captured. A C-level hang in libhdf5 cannot be
    interrupted in-process; the child can be killed.

    Returns (exit code or "timeout"/"crash", stderr text, seconds, child max RSS in MiB)."""
    err = tempfile.TemporaryFile()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 4
        try:
            os.dup2(err.fileno(), 2)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
            with warnings_off():
                code = keras2npz.main([model, out, "--max-weights-bytes", "64M",
                                       "--max-seconds", str(timeout)])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 5
        except BaseException:  # noqa: BLE001 - escaped the exporter: a traceback
            traceback.print_exc()
            code = 3
        finally:
            sys.stderr.flush()
            os._exit(code if isinstance(code, int) else 5)
    rc = None
    while True:
        wpid, status, ru = os.wait4(pid, os.WNOHANG)
        if wpid:
            break
        if time.monotonic() - t0 > timeout + 10:  # the exporter's own bound did not hold
            os.kill(pid, signal.SIGKILL)
            _, status, ru = os.wait4(pid, 0)
            rc = "timeout"
            break
        time.sleep(0.002)
    dt = time.monotonic() - t0
    if rc is None:
        rc = os.waitstatus_to_exitcode(status)
        rc = {3: "crash", 4: "crash", 5: "crash"}.get(rc, rc)
    err.seek(0)
    text = err.read().decode("utf-8", "replace")
    err.close()
    return rc, text, dt, ru.ru_maxrss / 1024


def check(rc, err, out):
    """Why this run breaks the exporter's contract, or None."""
    lines = err.splitlines()
    if rc == "timeout":
        return "timed out"
    if "Traceback" in err:
        return "traceback on stderr"
    if rc == 0:
        if any(not ln.startswith("keras2npz: warning: ") for ln in lines):
            return "exit 0 with stderr other than warnings"
        try:
            with np.load(out, allow_pickle=False) as z:
                for k in z.files:
                    z[k]
        except Exception as e:  # noqa: BLE001
            return f"exit 0 but the npz does not load: {type(e).__name__}: {e}"
        return None
    if rc == 2:
        if len(lines) != 1:
            return f"exit 2 with {len(lines)} stderr lines"
        if not lines[0].startswith("keras2npz: "):
            return "exit 2 without the keras2npz: prefix"
        return None
    return f"exit status {rc}"


def load_seeds(tmp):
    seeds = []
    for rel in SEEDS:
        p = os.path.join(ROOT, rel)
        if os.path.exists(p):
            seeds.append((os.path.basename(p), open(p, "rb").read()))
    g = gen_hostile
    g.write_h5(os.path.join(tmp, "base.h5"), g.k2_seq([g.k2_input([4]), g.k2_dense()]))
    g.write_keras(os.path.join(tmp, "base.keras"), g.k3_seq([g.k3_input([4]), g.k3_dense()]))
    for name in ("base.h5", "base.keras"):
        seeds.append((name, open(os.path.join(tmp, name), "rb").read()))
    return seeds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=50, help="time budget (default 50)")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from time)")
    ap.add_argument("--timeout", type=float, default=5,
                    help="per-run bound in seconds, given as --max-seconds (default 5)")
    ap.add_argument("--max-rss-mib", type=float, default=512,
                    help="largest RSS a run may use above the seeds' (default 512)")
    ap.add_argument("--keep", default=None, help="directory for failing inputs (default: a temp dir)")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="kinfer-fuzz-")
    keep = args.keep or os.path.join(tmp, "failures")
    os.makedirs(keep, exist_ok=True)
    seeds = load_seeds(tmp)
    base_rss = 0.0
    # Every seed must export as is, or the fuzzer would be mutating files that fail anyway.
    for name, blob in seeds:
        p = os.path.join(tmp, name)
        open(p, "wb").write(blob)
        rc, err, _, rss = run_exporter(p, os.path.join(tmp, "out.npz"), args.timeout)
        base_rss = max(base_rss, rss)
        if rc != 0:
            print(f"fuzz_keras2npz: seed {name} does not export: {rc} {err.strip()}", file=sys.stderr)
            return 1
    counts = {0: 0, 2: 0}
    failures = []
    slowest = (0.0, "")
    max_rss = 0.0
    spins = 0  # runs ended by the exporter's --max-seconds watchdog
    runs = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        name, blob = rng.choice(seeds)
        descs = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            if name.endswith(".keras"):
                blob, d = mutate_keras(rng, blob, tmp)
            else:
                blob, d = mutate_h5(rng, blob, tmp)
            descs.append(d)
        model = os.path.join(tmp, "in_" + name)
        with open(model, "wb") as f:
            f.write(blob)
        out = os.path.join(tmp, "out.npz")
        if os.path.exists(out):
            os.unlink(out)
        rc, err, dt, rss = run_exporter(model, out, args.timeout)
        runs += 1
        max_rss = max(max_rss, rss)
        if dt > slowest[0]:
            slowest = (dt, f"{name}: {' | '.join(descs)}"[:160])
        why = check(rc, err, out)
        if why is None and rss - base_rss > args.max_rss_mib:
            why = f"max RSS {rss:.0f} MiB, {rss - base_rss:.0f} MiB over the seeds' {base_rss:.0f} MiB"
        if why is None:
            counts[rc] += 1
            if rc == 2 and "reading the model took more than" in err:
                spins += 1
            continue
        k = len(failures)
        dst = os.path.join(keep, f"fail{k:03d}_{name}")
        shutil.copy(model, dst)
        with open(dst + ".txt", "w") as f:
            f.write(f"{why}\nexit: {rc}\nmutations: {' | '.join(descs)}\nstderr:\n{err}")
        failures.append((why, dst, descs, err))
    print(f"fuzz_keras2npz: seed {seed}: {runs} runs in {args.seconds:.0f} s ({runs / args.seconds:.1f}/s), "
          f"{counts[0]} exported, {counts[2]} rejected (exit 2, one line; {spins} by --max-seconds), "
          f"{len(failures)} failures; "
          f"max RSS {max_rss:.0f} MiB (seeds {base_rss:.0f} MiB); slowest {slowest[0]:.2f} s ({slowest[1]})")
    for why, dst, descs, err in failures[:20]:
        last = err.strip().splitlines()[-1] if err.strip() else ""
        print(f"  FAIL {why}: {dst}\n    mutations: {' | '.join(descs)[:300]}\n    last stderr line: {last[:300]}")
    if not failures:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
