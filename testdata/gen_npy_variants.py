#!/usr/bin/env python3
"""Write testdata/npy/: valid .npy and .npz files in the spellings numpy reads besides
the one it writes by default, for kinfer's readers to accept.

- `<model>_be.npz`: a zoo model with every weight and sample stored big-endian (>f4),
  written by numpy itself (np.savez);
- `<model>_keys.npz`: the same model with each member's header dictionary in another
  key order, some with the native byte order '=f4' (numpy reads both; its writer always
  emits descr, fortran_order, shape and '<' or '>');
- `x.npy` (little-endian float32, what numpy writes) and the same values as
  `x_be.npy` (>f4, by np.save), `x_be8.npy` (>f8, by np.save), `x_native.npy` ('=f4'),
  `x_keys.npy` (keys shape, fortran_order, descr), `x_keys_dq.npy` (double-quoted keys,
  no trailing comma, tabs).

Every hand-written header is read back with numpy.load and compared with the original
array before the file is kept. Needs numpy only; deterministic. From the repository
root, after gen_keras_zoo.py:

    /opt/kvenv/bin/python testdata/gen_npy_variants.py
"""

import io
import json
import os
import shutil
import struct
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "testdata", "keras")
OUT = os.path.join(ROOT, "testdata", "npy")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
MODEL = "mlp_regressor"


def header_npy(dict_text, payload):
    """A version 1.0 .npy with the given header dictionary text (padded as numpy pads)."""
    h = dict_text.encode("latin1")
    total = 10 + len(h) + 1
    h += b" " * ((64 - total % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + payload


def shape_text(shape):
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(d) for d in shape) + ")"


def variant(arr, i):
    """Rewrite float32 arr with a reordered header; every other one uses '=f4'."""
    a = np.ascontiguousarray(arr, dtype="<f4")
    descr = "=f4" if i % 2 else "<f4"
    orders = [
        "{{'shape': {s}, 'fortran_order': False, 'descr': '{d}', }}",
        "{{'fortran_order': False, 'descr': '{d}', 'shape': {s}}}",
        '{{"descr": "{d}", "shape": {s}, "fortran_order": False}}',
    ]
    text = orders[i % len(orders)].format(s=shape_text(a.shape), d=descr)
    return header_npy(text, a.tobytes())


def check(raw, want, what):
    got = np.load(io.BytesIO(raw), allow_pickle=False)
    assert got.shape == want.shape and np.array_equal(got.astype(np.float64), want.astype(np.float64)), what


def zip_members(path, members):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            zi = zipfile.ZipInfo(name + ".npy", date_time=ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, data)


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    z = np.load(os.path.join(ZOO, MODEL + ".npz"), allow_pickle=False)
    names = sorted(z.files)
    arrays = {k: z[k] for k in names}

    # numpy's own big-endian writer (np.savez: stored zip of np.save'd members).
    be = {k: (v if k == "kinfer_meta" else v.astype(">f4")) for k, v in arrays.items()}
    path = os.path.join(OUT, MODEL + "_be.npz")
    with open(path, "wb") as f:
        np.savez(f, **be)
    back = np.load(path, allow_pickle=False)
    for k, v in arrays.items():
        assert back[k].dtype.byteorder in (">", "|"), k
        assert np.array_equal(back[k], v), k
    # np.savez stamps the current time into the zip: rewrite it with a fixed date.
    with zipfile.ZipFile(path) as zr:
        raw = {n[:-4]: zr.read(n) for n in zr.namelist()}
    zip_members(path, raw)

    members = {}
    for i, k in enumerate(names):
        if k == "kinfer_meta":
            members[k] = raw[k]  # uint8, as written
            continue
        members[k] = variant(arrays[k], i)
        check(members[k], arrays[k], k)
    zip_members(os.path.join(OUT, MODEL + "_keys.npz"), members)

    x = np.asarray(np.random.default_rng(7).standard_normal((3, 8)), dtype="<f4")
    files = {}
    buf = io.BytesIO()
    np.save(buf, x)
    files["x.npy"] = buf.getvalue()
    for name, dt in (("x_be.npy", ">f4"), ("x_be8.npy", ">f8")):
        buf = io.BytesIO()
        np.save(buf, x.astype(dt))
        files[name] = buf.getvalue()
    files["x_native.npy"] = header_npy(
        "{'descr': '=f4', 'fortran_order': False, 'shape': (3, 8), }", x.tobytes())
    files["x_keys.npy"] = header_npy(
        "{'shape': (3, 8), 'fortran_order': False, 'descr': '<f4', }", x.tobytes())
    files["x_keys_dq.npy"] = header_npy(
        '{"fortran_order":\tFalse, "shape": (3, 8), "descr": "<f4"}', x.tobytes())
    for name, data in files.items():
        check(data, x, name)
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(__doc__.split("\n\n", 1)[0].replace('"""', "") + "\n\nGenerated by "
                "`testdata/gen_npy_variants.py`; every file here is read back by numpy.load "
                "and equals the zoo model's little-endian arrays (or `x.npy`).\n")
    print("wrote", len(files) + 2, "files to", OUT, "numpy", np.__version__)


if __name__ == "__main__":
    main()
