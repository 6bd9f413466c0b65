"""Reading an untrusted Keras model file without running or reading anything else.

keras2npz.py uses these guards before it looks at a model, and before it lets Keras
load one for --samples. Nothing here imports Keras. The rules (docs/exporter-safety.md):

  * a config naming code (Lambda and friends, custom objects, a `module` outside
    Keras's own namespaces) is rejected: it is never copied into the npz and never
    reaches Keras;
  * HDF5 files are audited link by link before any object is dereferenced: external
    links, soft links, external storage, virtual datasets and filters that are not
    compiled into HDF5/h5py are rejected, and no HDF5 filter plugin is ever loaded;
  * every size is bounded before the bytes are read (zip members by their header and
    again while inflating, HDF5 datasets by shape x itemsize, JSON by length and by
    nesting depth, scanned without recursion before json.loads).
"""

import os
import re
import struct
import tempfile
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass

# Disable HDF5's dynamic filter plugins before h5py initialises the library: a file
# must not make this process dlopen() anything. ("::" is HDF5's documented "off".)
os.environ["HDF5_PLUGIN_PRELOAD"] = "::"


def _no_uname_subprocess():
    """Importing h5py reads platform.uname() in full, and CPython fills its `processor`
    field by running `uname -p` in a child process. The exporter starts no process at
    all (that is tested under strace), so fill the field the way it would be on Linux."""
    import platform

    u = platform.uname()
    if "processor" not in getattr(u, "__dict__", {"processor": None}):
        u.__dict__["processor"] = ""


try:
    _no_uname_subprocess()
except (AttributeError, TypeError):  # pragma: no cover - other Python versions
    pass

import numpy as np  # noqa: E402

try:
    import h5py  # noqa: E402
except ImportError:  # pragma: no cover - reported at run time by keras2npz.main
    h5py = None

MiB = 1 << 20
GiB = 1 << 30


class BadInput(Exception):
    """The input file is not something this exporter can convert (exit status 2)."""


class ToolError(Exception):
    """A failure that is not the input file's fault, e.g. Keras missing (exit status 1).

    Not a RuntimeError: RecursionError and NotImplementedError are RuntimeErrors, and
    those raised while reading a file are the file's fault (exit status 2).
    """


@dataclass
class Limits:
    """Bounds on what a model file may make the exporter read or allocate.

    The defaults are far above any real Keras model (the largest Keras Applications
    model, ConvNeXtXLarge, has 350M parameters = 1.4 GB of float32 and a config.json
    well under 2 MB) and far below what breaks a machine.
    """

    config_bytes: int = 16 * MiB      # config.json / model_config attribute (JSON text)
    json_depth: int = 100             # [ and { nesting of any JSON document
    weights_bytes: int = 2 * GiB      # all weight arrays read, decompressed
    meta_bytes: int = 1 * MiB         # metadata.json
    h5_objects: int = 200_000         # groups + datasets in one HDF5 file
    h5_depth: int = 64                # group nesting in one HDF5 file
    attr_elements: int = 1_000_000    # elements of one HDF5 attribute (weight_names)
    read_seconds: float = 300         # reading the model file (a corrupt one can make libhdf5 spin)

    def file_bytes(self):
        """Largest model file accepted: weights + config + room for HDF5/zip overhead."""
        return self.weights_bytes + self.config_bytes + 64 * MiB

    def h5_member_bytes(self):
        """Largest model.weights.h5 inside a .keras zip (weights + HDF5 overhead)."""
        return self.weights_bytes + 64 * MiB


# ---------------------------------------------------------------- messages


def one_line(msg, limit=2000):
    """msg with control characters escaped and length capped: always one printable line."""
    out = []
    for c in str(msg):
        out.append(c if c.isprintable() else repr(c)[1:-1])
    s = "".join(out)
    if len(s) > limit:
        s = s[:limit] + "...(truncated)"
    return s


def _q(s, limit=80):
    """A string from the file, quoted and shortened for a message."""
    r = repr(s)
    return r if len(r) <= limit else r[:limit] + "...'"


# ---------------------------------------------------------------- JSON

# A JSON string (possibly unterminated: it then runs to the end, so the regex never
# retries from a later quote and stays linear). Possessive quantifiers: no backtracking.
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\[\s\S])*+(?:"|\\?\Z)')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]++")
_DEPTH_CHUNK = 8 * MiB


def json_depth(data):
    """Deepest [ / { nesting in JSON bytes, found without recursion.

    Strings are removed first (brackets inside them do not count), then only the
    bracket bytes are kept and summed (+1 for [ {, -1 for ] }) in chunks.
    """
    brackets = _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", data))
    arr = np.frombuffer(brackets, dtype=np.uint8)
    depth = deepest = 0
    for i in range(0, len(arr), _DEPTH_CHUNK):
        c = arr[i:i + _DEPTH_CHUNK]
        step = np.where((c == ord("[")) | (c == ord("{")), 1, -1).astype(np.int32)
        run = np.cumsum(step, dtype=np.int64) + depth
        deepest = max(deepest, int(run.max()))
        depth = int(run[-1])
    return deepest


def parse_json(data, what, limits, max_bytes=None):
    """Parse untrusted JSON bytes after checking their size and nesting depth."""
    import json

    max_bytes = limits.config_bytes if max_bytes is None else max_bytes
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise BadInput(f"{what} is {len(data)} bytes, more than the {max_bytes} allowed "
                       "(--max-config-bytes raises the limit)")
    d = json_depth(data)
    if d > limits.json_depth:
        raise BadInput(f"{what} nests JSON {d} levels deep, more than the {limits.json_depth} "
                       "allowed (--max-json-depth raises the limit)")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BadInput(f"{what} is not valid JSON: {one_line(e, 200)}")


# ---------------------------------------------------------------- config allowlist

# Keras's own namespaces that a Keras 3 config's "module" may name. A module outside
# this list is a custom object: deserialising it imports and runs that module.
# keras.utils (get_file downloads), keras.saving, keras.ops, ... are deliberately absent.
KERAS_MODULES = frozenset({
    "keras", "keras.layers", "keras.models", "keras.initializers", "keras.regularizers",
    "keras.constraints", "keras.activations", "keras.dtype_policies", "keras.optimizers",
    "keras.optimizers.schedules", "keras.losses", "keras.metrics",
    "keras.src.models.functional", "keras.src.models.sequential", "keras.src.models.model",
    # model.quantize("int8"): Int8QuantizationConfig and its AbsMaxQuantizer
    "keras.quantizers",
})
# Modules that Keras only consults for functions it looks up by name among its own
# built-ins (activations, losses, metrics).
FUNCTION_MODULES = frozenset({"builtins", "keras.activations", "keras.losses", "keras.metrics"})

# Keras classes whose config carries code or loads something from outside the file:
# marshalled Python bytecode (Lambda, tf_keras RNN cell wrappers' residual_fn), TF ops
# by name (TFOpLambda, SlicingOpLambda), foreign modules (TorchModuleWrapper, JaxLayer,
# FlaxLayer), a SavedModel path (TFSMLayer).
CODE_CLASSES = frozenset({
    "Lambda", "TFOpLambda", "SlicingOpLambda", "TorchModuleWrapper", "JaxLayer",
    "FlaxLayer", "TFSMLayer", "ResidualWrapper", "DropoutWrapper", "DeviceWrapper",
    "KerasLayer",
})
# Keras 3's special serialised values that carry data only. ("__lambda__" is
# marshalled bytecode and "__typespec__" imports a module: both rejected.)
DATA_CLASSES = frozenset({"__keras_tensor__", "__numpy__", "__tensor__", "__bytes__"})

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _check_object(o, path):
    cls = o["class_name"]
    if not isinstance(cls, str):
        raise BadInput(f"{path}: class_name is {type(cls).__name__}, not a string")
    if cls == "__lambda__" or cls in CODE_CLASSES:
        raise BadInput(
            f"{path}: {cls} carries Python code (or loads it from elsewhere); the exporter "
            "never runs code from a model file: rebuild the model without it")
    if cls.startswith("__"):
        if cls not in DATA_CLASSES:
            raise BadInput(f"{path}: special object {_q(cls)} is not allowed")
        return
    reg = o.get("registered_name")
    if ">" in cls or (isinstance(reg, str) and ">" in reg):
        raise BadInput(
            f"{path}: custom object {_q(reg if isinstance(reg, str) else cls)} (registered "
            "with register_keras_serializable); only Keras's own classes can be exported")
    if not _IDENT.match(cls):
        raise BadInput(f"{path}: class_name {_q(cls)} is not a Keras class name")
    if reg is not None and reg != cls and not (cls == "function" and reg == "function"):
        raise BadInput(f"{path}: registered_name {_q(reg)} of {cls} is not Keras's own")
    if "module" not in o:
        return  # Keras 2 style: resolved in Keras's own registry only
    mod = o["module"]
    if cls == "function":
        if mod not in FUNCTION_MODULES or not (isinstance(o.get("config"), str)
                                               and _IDENT.match(o["config"])):
            raise BadInput(f"{path}: function from module {_q(mod)} is not a Keras built-in")
        return
    if mod not in KERAS_MODULES:
        raise BadInput(
            f"{path}: object {cls} comes from module {_q(mod)}, which is not Keras's own; "
            "the exporter never imports modules named by a model file")


def check_config(config, what):
    """Reject a model config that names code, custom objects or foreign modules.

    Walks every JSON object (iteratively: depth is already bounded) and checks each
    one that has a class_name, wherever it is (layers, initializers, compile_config).
    """
    stack = [(config, what)]
    while stack:
        o, path = stack.pop()
        if isinstance(o, dict):
            if "class_name" in o:
                name = o["config"].get("name") if isinstance(o.get("config"), dict) else None
                if isinstance(name, str):
                    path = f"{path}/{_q(name)[1:-1]}"
                _check_object(o, path)
            for k, v in o.items():
                if isinstance(v, (dict, list)):
                    stack.append((v, path if k in ("config", "layers") else f"{path}.{k}"))
        elif isinstance(o, list):
            for v in o:
                if isinstance(v, (dict, list)):
                    stack.append((v, path))


_VERSION = re.compile(r"[0-9]+(\.[0-9]+)*([.+\-][A-Za-z0-9.+\-]*)?\Z")


def check_keras_version(v, what):
    if not isinstance(v, str) or len(v) > 64 or not _VERSION.match(v):
        raise BadInput(f"{what}: keras_version {_q(v)} is not a version number")
    return v


# ---------------------------------------------------------------- zip


KERAS_ZIP_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")
MAX_ZIP_MEMBERS = 64


def _bounded_copy(src, dst, limit, what):
    """Copy at most limit bytes from src to dst; BadInput if there are more."""
    n = 0
    while True:
        buf = src.read(min(MiB, limit + 1 - n))
        if not buf:
            return n
        n += len(buf)
        if n > limit:
            raise BadInput(f"{what} holds more than {limit} bytes (limit; see --help)")
        dst.write(buf)


MAX_CENTRAL_DIRECTORY = 4 * MiB  # 64 entries with names of up to 64 KiB each


def _check_central_directory(path, display):
    """Bound the zip's entry count and central directory size from its end record,
    before zipfile builds a ZipInfo object for every entry (a file of millions of tiny
    entries would otherwise cost gigabytes)."""
    try:
        with open(path, "rb") as fh:
            rec = zipfile._EndRecData(fh)  # handles zip64; private but stable since 2.x
    except AttributeError:  # pragma: no cover - a Python without it: ZipFile still works
        return
    except (OSError, struct.error) as e:
        raise BadInput(f"{display}: not a Keras .keras zip: {one_line(e, 200)}")
    if rec is None:
        raise BadInput(f"{display}: not a Keras .keras zip: no end of central directory")
    entries, size = rec[zipfile._ECD_ENTRIES_TOTAL], rec[zipfile._ECD_SIZE]
    if entries > MAX_ZIP_MEMBERS or size > MAX_CENTRAL_DIRECTORY:
        raise BadInput(f"{display}: zip has {entries} members ({size} bytes of directory); "
                       "a .keras file has 3")


class KerasZip:
    """The members of a .keras zip, read with every size checked before and while reading."""

    def __init__(self, path, limits, display):
        self.path, self.limits, self.display = path, limits, display
        _check_central_directory(path, display)
        try:
            self.z = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as e:
            raise BadInput(f"{display}: not a Keras .keras zip: {one_line(e, 200)}")
        infos = self.z.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise BadInput(f"{display}: zip has {len(infos)} members; a .keras file has 3")
        self.infos = {}
        for zi in infos:
            if zi.filename in self.infos:
                raise BadInput(f"{display}: zip member {_q(zi.filename)} appears twice")
            self.infos[zi.filename] = zi
        names = set(self.infos)
        if "config.json" not in names:
            raise BadInput(f"{display}: zip has no config.json; not a Keras 3 .keras file")
        if "model.weights.h5" not in names:
            if any(n.startswith("model.weights") for n in names):
                raise BadInput(f"{display}: weights are not in model.weights.h5 "
                               f"(sharded or npz weight stores are not supported)")
        extra = sorted(names - set(KERAS_ZIP_MEMBERS))
        if extra:
            why = "assets are not supported; " if extra[0].startswith("assets/") else ""
            raise BadInput(f"{display}: unexpected zip member {_q(extra[0])} ({why}a .keras "
                           f"file for kinfer holds only {', '.join(KERAS_ZIP_MEMBERS)})")
        for zi in self.infos.values():
            if zi.flag_bits & 0x1:
                raise BadInput(f"{display}: zip member {zi.filename} is encrypted")
            if zi.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise BadInput(f"{display}: zip member {zi.filename} uses compression method "
                               f"{zi.compress_type}; only stored and deflate are accepted")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.z.close()

    def _limit(self, name):
        return {"config.json": self.limits.config_bytes, "metadata.json": self.limits.meta_bytes,
                "model.weights.h5": self.limits.h5_member_bytes()}[name]

    def _open(self, name):
        zi = self.infos[name]
        limit = self._limit(name)
        if zi.file_size > limit:
            flag = "--max-weights-bytes" if name == "model.weights.h5" else "--max-config-bytes"
            raise BadInput(f"{self.display}: {name} inflates to {zi.file_size} bytes, more than "
                           f"the {limit} allowed ({flag} raises the limit)")
        return zi, limit

    def has(self, name):
        return name in self.infos

    def read(self, name):
        """A small member's bytes (config.json, metadata.json)."""
        import io

        zi, limit = self._open(name)
        out = io.BytesIO()
        try:
            with self.z.open(zi) as fh:
                n = _bounded_copy(fh, out, min(limit, zi.file_size), f"{self.display}: {name}")
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise BadInput(f"{self.display}: zip member {name} is corrupt: {one_line(e, 200)}")
        if n != zi.file_size:
            raise BadInput(f"{self.display}: zip member {name} holds {n} bytes, its header "
                           f"says {zi.file_size}")
        return out.getvalue()

    def extract(self, name, dest_dir):
        """Copy a member into dest_dir (a private directory) and return the file's path."""
        if name not in self.infos:
            raise BadInput(f"{self.display}: zip has no {name}")
        zi, limit = self._open(name)
        dest = os.path.join(dest_dir, "member.bin")
        try:
            with self.z.open(zi) as fh, open(dest, "wb") as out:
                n = _bounded_copy(fh, out, min(limit, zi.file_size), f"{self.display}: {name}")
        except (zipfile.BadZipFile, EOFError, ValueError) as e:
            raise BadInput(f"{self.display}: zip member {name} is corrupt: {one_line(e, 200)}")
        if n != zi.file_size:
            raise BadInput(f"{self.display}: zip member {name} holds {n} bytes, its header "
                           f"says {zi.file_size}")
        return dest


def private_copy(path, dest_dir, name, limits, display):
    """Copy the model file into a private directory (for Keras to load exactly what was
    checked: nobody else can change it between the check and the load)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise BadInput(f"{display}: cannot open: {e.strerror}")
    with os.fdopen(fd, "rb") as src:
        import stat

        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            raise BadInput(f"{display}: not a regular file")
        dest = os.path.join(dest_dir, name)
        with open(dest, "wb") as out:
            _bounded_copy(src, out, limits.file_bytes(), display)
    return dest


def private_dir():
    """A fresh directory only this user can read (mode 0700)."""
    return tempfile.TemporaryDirectory(prefix="keras2npz-")


# ---------------------------------------------------------------- HDF5


# Filters built into libhdf5 or h5py itself; anything else would need a plugin.
H5_FILTERS = frozenset({1, 2, 3, 4, 5, 6, 32000})  # deflate shuffle fletcher32 szip nbit scaleoffset lzf


class H5Budget:
    """Bytes of weights read so far, checked before each dataset is read."""

    def __init__(self, limits, display):
        self.left, self.limits, self.display = limits.weights_bytes, limits, display

    def read(self, ds, where):
        """Read a float dataset whole, after checking its dtype and size."""
        dt = ds.dtype
        # An integer scalar is a counter, not a quantized weight (Normalization stores
        # its adapt() sample count as int64); the exporter converts it to float32.
        # int8 arrays are model.quantize("int8") kernels (the importer checks the layer).
        if dt.kind != "f" and not (dt.kind in "iu" and ds.shape == ()) and dt != "int8":
            raise BadInput(
                f"{where}: weight has dtype {dt}; only floating-point weights are "
                "supported (quantized models are not)")
        n = dataset_nbytes(ds)
        if n > self.left:
            raise BadInput(
                f"{self.display}: {where}: weights add up to more than the "
                f"{self.limits.weights_bytes} bytes allowed (--max-weights-bytes raises the limit)")
        self.left -= n
        return ds[()]


def dataset_nbytes(ds):
    n = ds.dtype.itemsize
    for d in ds.shape or ():
        n *= int(d)
    return n


def read_str_attr(obj, name, limits, what):
    """A string attribute (str, bytes or a 0-d array of one), or None when absent."""
    v = read_attr(obj, name, limits, what)
    if isinstance(v, np.ndarray) and v.shape == ():
        v = v.item()
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput(f"{what}: attribute {name} is not UTF-8 text")
    raise BadInput(f"{what}: attribute {name} is {type(v).__name__}, not a string")


@contextmanager
def memory_cap(extra):
    """Cap this process's data segment (RLIMIT_DATA: heap and private mappings) at its
    current size plus `extra` bytes for the block, so that an allocation libhdf5 sizes
    from a corrupt file fails (an HDF5 error, or MemoryError) instead of taking the
    machine. A no-op where the limit cannot be set."""
    try:
        import resource

        with open("/proc/self/statm") as f:
            data = int(f.read().split()[5]) * resource.getpagesize()
        old = resource.getrlimit(resource.RLIMIT_DATA)
        cap = data + extra
        if old[1] != resource.RLIM_INFINITY:
            cap = min(cap, old[1])
        resource.setrlimit(resource.RLIMIT_DATA, (cap, old[1]))
    except (ImportError, OSError, ValueError, IndexError):
        yield
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, old)


def read_attr(obj, name, limits, what):
    """Read an HDF5 attribute after bounding its element count and, when the type has a
    fixed size, its bytes. A variable-length string cannot be sized before HDF5 reads
    it, and a corrupt global heap can claim any length, so it is read under a memory
    cap (callers check its length before parsing)."""
    if name not in obj.attrs:
        return None
    aid = obj.attrs.get_id(name)
    shape = aid.shape or ()
    n = 1
    for d in shape:
        n *= int(d)
    if n > limits.attr_elements:
        raise BadInput(f"{what}: attribute {name} has {n} elements")
    dt = aid.dtype
    if dt.kind not in "OSUfiub" or dt.fields is not None:
        raise BadInput(f"{what}: attribute {name} has unsupported type {dt}")
    if dt.kind == "O" and h5py.check_string_dtype(dt) is None:
        raise BadInput(f"{what}: attribute {name} is not a string")
    if dt.kind != "O" and n * dt.itemsize > limits.config_bytes:
        raise BadInput(f"{what}: attribute {name} is {n * dt.itemsize} bytes, more than "
                       f"the {limits.config_bytes} allowed (--max-config-bytes)")
    if dt.kind != "O":
        return obj.attrs[name]
    cap = 4 * limits.config_bytes + 256 * MiB
    try:
        with memory_cap(cap):
            return obj.attrs[name]
    except (MemoryError, OSError) as e:
        raise BadInput(f"{what}: attribute {name} cannot be read in {cap >> 20} MiB "
                       f"(a corrupt HDF5 heap?): {type(e).__name__}: {one_line(e, 200)}")


def _link_error(display, path, lnk):
    if isinstance(lnk, h5py.ExternalLink):
        return BadInput(
            f"{display}: HDF5 object {path} is an external link to {_q(lnk.filename)}; "
            "the exporter reads nothing outside the model file")
    if isinstance(lnk, h5py.SoftLink):
        return BadInput(
            f"{display}: HDF5 object {path} is a soft link to {_q(lnk.path)}; Keras never "
            "writes links and the exporter follows none")
    return BadInput(f"{display}: HDF5 object {path} is a user-defined link; not followed")


def _check_dataset(ds, path, limits, display):
    if ds.is_virtual:
        raise BadInput(f"{display}: HDF5 dataset {path} is virtual (its data lives in "
                       "other files); the exporter reads nothing outside the model file")
    dcpl = ds.id.get_create_plist()
    if dcpl.get_external_count() > 0:
        name = dcpl.get_external(0)[0]
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
        raise BadInput(f"{display}: HDF5 dataset {path} keeps its data in the external file "
                       f"{_q(name)}; the exporter reads nothing outside the model file")
    for i in range(dcpl.get_nfilters()):
        fid = dcpl.get_filter(i)[0]
        if fid not in H5_FILTERS:
            raise BadInput(f"{display}: HDF5 dataset {path} uses filter {fid}, which needs a "
                           "plugin; only filters built into HDF5 and h5py are accepted")
    dt = ds.dtype
    if dt.kind not in "fiub" or dt.fields is not None or dt.subdtype is not None:
        raise BadInput(f"{display}: HDF5 dataset {path} has type {dt}; weights are numbers")
    n = dataset_nbytes(ds)
    if n > limits.weights_bytes:
        raise BadInput(f"{display}: HDF5 dataset {path} {tuple(ds.shape)} {dt} is {n} bytes, "
                       f"more than the {limits.weights_bytes} allowed (--max-weights-bytes)")


def audit_h5(f, limits, display):
    """Check every link and object of an open HDF5 file before anything is read.

    Links are inspected with get(name, getlink=True), which never follows them; only
    hard links (objects inside this file) are then opened. Each object may be reached
    once (a hard-link cycle would otherwise make walkers loop). Call this first, before
    any name lookup: `name in group` on an external link would open the other file.
    """
    seen = set()
    stack = [(f, "/", 0)]
    count = 0
    while stack:
        g, path, depth = stack.pop()
        if depth > limits.h5_depth:
            raise BadInput(f"{display}: HDF5 groups nest more than {limits.h5_depth} deep at {path}")
        for name in g:
            p = path + name
            try:
                lnk = g.get(name, getlink=True)
            except (KeyError, TypeError, ValueError, OSError) as e:
                raise BadInput(f"{display}: HDF5 link {p} cannot be inspected: {one_line(e, 200)}")
            if not isinstance(lnk, h5py.HardLink):
                raise _link_error(display, p, lnk)
            count += 1
            if count > limits.h5_objects:
                raise BadInput(f"{display}: HDF5 file has more than {limits.h5_objects} objects")
            obj = g[name]
            info = h5py.h5o.get_info(obj.id)
            key = (info.fileno, info.addr)
            if key in seen:
                raise BadInput(f"{display}: HDF5 object {p} is linked from two places (an "
                               "alias or a cycle); Keras never writes those")
            seen.add(key)
            if isinstance(obj, h5py.Dataset):
                _check_dataset(obj, p, limits, display)
            elif isinstance(obj, h5py.Group):
                stack.append((obj, p + "/", depth + 1))
            elif not isinstance(obj, h5py.Datatype):
                raise BadInput(f"{display}: HDF5 object {p} has an unknown type")
