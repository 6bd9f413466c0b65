#!/usr/bin/env python3
"""Write a hostile corpus for measuring kinfer's memory bounds (not committed: the
files are small but some expand to gigabytes, and no test reads them).

    /opt/kvenv/bin/python testdata/gen_hostile.py [OUT_DIR]   # default /tmp/kinfer-hostile

Then measure every file with the CLI (max RSS from /usr/bin/time -v):

    go build -o /tmp/kinfer ./cmd/kinfer && testdata/measure_hostile.sh /tmp/kinfer-hostile

Each file is small; what it claims or expands to is in MANIFEST.json, with the
kinfer command that reads it. Needs numpy and onnx (both pinned in requirements.txt).
"""

import io
import json
import os
import struct
import sys
import zipfile
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZOO = os.path.join(ROOT, "testdata", "keras")
OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/kinfer-hostile"
MANIFEST = {}
GiB = 1 << 30


def npy_header(descr, shape):
    sh = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, sh)
    h = h.encode()
    h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h


def npy(arr):
    b = io.BytesIO()
    np.save(b, arr)
    return b.getvalue()


def zeros_stream(zf, name, header, nbytes):
    """Write member name: header then nbytes of zeros, deflated, in chunks."""
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(zi, "w", force_zip64=True) as w:
        w.write(header)
        chunk = bytes(16 << 20)
        left = nbytes
        while left > 0:
            n = min(left, len(chunk))
            w.write(chunk[:n])
            left -= n


def put(zf, name, data):
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(zi, data)


def base():
    z = np.load(os.path.join(ZOO, "mlp_regressor.npz"), allow_pickle=False)
    meta = json.loads(bytes(z["kinfer_meta"]).decode())
    return meta, {k: z[k] for k in z.files if k != "kinfer_meta"}


def meta_npy(meta):
    return npy(np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))


def npz(fname, cmd, what, meta, arrays, bombs=(), corrupt=None):
    """Write an npz of meta + arrays, plus bombs [(member, header, nbytes)]."""
    path = os.path.join(OUT, fname)
    with zipfile.ZipFile(path, "w") as zf:
        put(zf, "kinfer_meta.npy", meta if isinstance(meta, bytes) else meta_npy(meta))
        for k, v in arrays.items():
            put(zf, k + ".npy", npy(v))
        for member, header, nbytes in bombs:
            zeros_stream(zf, member + ".npy", header, nbytes)
    if corrupt:
        flip_crc(path, corrupt + ".npy")
    MANIFEST[fname] = {"cmd": cmd, "what": what, "bytes": os.path.getsize(path)}


def flip_crc(path, member):
    data = bytearray(open(path, "rb").read())
    i = data.rfind(b"PK\x01\x02", 0)
    while i >= 0:
        nl = struct.unpack_from("<H", data, i + 28)[0]
        if data[i + 46:i + 46 + nl] == member.encode():
            struct.pack_into("<I", data, i + 16, struct.unpack_from("<I", data, i + 16)[0] ^ 0xDEADBEEF)
            break
        i = data.rfind(b"PK\x01\x02", 0, i)
    open(path, "wb").write(bytes(data))


def layer(meta, name):
    for l in meta["model_config"]["config"]["layers"]:
        if l["config"].get("name") == name:
            return l
    raise KeyError(name)


def keras_corpus():
    meta, arrs = base()
    no_samples = {k: v for k, v in arrs.items() if not k.startswith("samples/")}
    x_rows = GiB // 32  # (N, 8) float32 = 1 GiB
    npz("samples_bomb.npz", "info,run,verify", "samples/x deflated: (2^25, 8) float32 = 1 GiB of zeros",
        meta, no_samples, [("samples/x", npy_header("<f4", (x_rows, 8)), GiB)])
    npz("samples_bomb_y.npz", "info,verify", "samples/y deflated: (4, 2^28) float32 = 4 GiB of zeros "
        "(model output is (1,))", meta, {**no_samples, "samples/x": arrs["samples/x"]},
        [("samples/y", npy_header("<f4", (4, 1 << 28)), 4 * GiB)])
    w = {k: v for k, v in no_samples.items() if k != "w/dense/0"}
    npz("weight_bomb_shape.npz", "info", "w/dense/0 deflated: (2^28,) float32 = 1 GiB of zeros; "
        "config needs (8, 64)", meta, w, [("w/dense/0", npy_header("<f4", (1 << 28,)), GiB)])
    # A config that really needs a 1 GiB kernel, and the member's CRC is wrong.
    m2 = json.loads(json.dumps(meta))
    layer(m2, "dense")["config"]["units"] = 1 << 25
    m2["model_config"]["config"]["layers"] = m2["model_config"]["config"]["layers"][:2]
    m2["weights"] = {"dense": ["w/dense/0", "w/dense/1"]}
    npz("weight_bomb_crc.npz", "info", "Dense(8 -> 2^25): kernel 1 GiB of deflated zeros with a "
        "wrong CRC-32", m2, {"w/dense/1": np.zeros(1 << 25, np.float32)},
        [("w/dense/0", npy_header("<f4", (8, 1 << 25)), GiB)], corrupt="w/dense/0")
    # The same file intact is valid; a later layer of an unknown class makes it invalid.
    m3 = json.loads(json.dumps(m2))
    m3["model_config"]["config"]["layers"].append({"class_name": "NoSuchLayer", "config": {"name": "x"}})
    npz("weight_valid_then_bad_layer.npz", "info", "valid 1 GiB kernel (deflated zeros), then a layer "
        "of unknown class", m3, {"w/dense/1": np.zeros(1 << 25, np.float32)},
        [("w/dense/0", npy_header("<f4", (8, 1 << 25)), GiB)])
    # Huge ZeroPadding2D: 1.3 KB of config planning a multi-GiB arena.
    m4 = {"format": "kinfer-npz", "version": 1, "keras_version": "3.15.1", "source": "pad.keras",
          "source_format": "keras", "weights": {},
          "model_config": {"class_name": "Sequential", "config": {"name": "pad", "layers": [
              {"class_name": "InputLayer", "config": {"batch_shape": [None, 4, 4, 1], "name": "in"}},
              {"class_name": "ZeroPadding2D", "config": {"name": "zp", "padding": [[23000, 23000], [23000, 23000]],
                                                         "data_format": "channels_last"}},
              {"class_name": "Flatten", "config": {"name": "f"}}]}}}
    npz("huge_zeropad.npz", "info,run", "ZeroPadding2D 23000 a side on 4x4x1: 46004^2 floats = 7.9 GiB a sample",
        m4, {})
    m5 = json.loads(json.dumps(m4))
    m5["model_config"]["config"]["layers"][1]["config"]["padding"] = [[5000, 5000], [5000, 5000]]
    m5["model_config"]["config"]["layers"].insert(2, {"class_name": "Permute", "config": {"name": "p", "dims": [2, 1, 3]}})
    npz("zeropad_permute.npz", "info,run", "ZeroPadding2D 5000 a side then Permute: 381 MiB a sample, "
        "24 GiB at batch 64", m5, {})
    m6 = json.loads(json.dumps(meta))
    layer(m6, "dense")["config"]["units"] = 1 << 30
    npz("huge_units_claim.npz", "info", "Dense units 2^30 with the stored (8, 64) kernel", m6, no_samples)
    m7 = json.loads(json.dumps(meta))
    m7["model_config"]["config"]["layers"].insert(1, {"class_name": "Reshape", "config": {"name": "r", "target_shape": [1 << 30]}})
    npz("huge_reshape_claim.npz", "info", "Reshape of 8 values to (2^30,)", m7, no_samples)
    # kinfer_meta: 300 MiB of JSON claimed (deflated), and 15 MiB of real JSON arrays.
    npz("meta_bomb.npz", "info", "kinfer_meta deflated: a uint8 (300 MiB,) header over 300 MiB of zeros", b"", {}, [])
    path = os.path.join(OUT, "meta_bomb.npz")
    with zipfile.ZipFile(path, "w") as zf:
        zeros_stream(zf, "kinfer_meta.npy", npy_header("|u1", (300 << 20,)), 300 << 20)
    MANIFEST["meta_bomb.npz"]["bytes"] = os.path.getsize(path)
    m8 = json.loads(json.dumps(meta))
    m8["model_config"]["config"]["pad"] = [0] * ((15 << 20) // 3)  # "0, " is 3 bytes
    npz("meta_15mib_json.npz", "info", "kinfer_meta of 15 MiB: a 5.2M-element JSON array in model_config",
        m8, no_samples)


def npy_corpus():
    np.save(os.path.join(OUT, "x_4x4x1.npy"), np.ones((1, 4, 4, 1), np.float32))
    np.save(os.path.join(OUT, "x_8.npy"), np.ones((1, 8), np.float32))
    def raw(fname, what, data):
        open(os.path.join(OUT, fname), "wb").write(data)
        MANIFEST[fname] = {"cmd": "run-input", "what": what, "bytes": len(data)}
    raw("input_2p40.npy", "header claims (2^40,) float32, 64 bytes present", npy_header("<f4", (1 << 40,)) + bytes(64))
    raw("input_2p31.npy", "header claims (2^31 - 1,) float32, 64 bytes present", npy_header("<f4", ((1 << 31) - 1,)) + bytes(64))
    raw("input_2p20x2p20.npy", "header claims (2^20, 2^20) float64, 64 bytes present", npy_header("<f8", (1 << 20, 1 << 20)) + bytes(64))
    raw("input_keys_huge.npy", "keys reordered, shape (2^40, 8)", b"\x93NUMPY\x01\x00" + struct.pack("<H", 118) +
        ("{'shape': (1099511627776, 8), 'descr': '<f4', 'fortran_order': False}".ljust(117) + "\n").encode())


def onnx_corpus():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def save(fname, what, nodes, inits, xshape, opset=13):
        g = helper.make_graph(nodes, "h", [helper.make_tensor_value_info("x", TensorProto.FLOAT, xshape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 8
        path = os.path.join(OUT, fname)
        onnx.save(m, path)
        MANIFEST[fname] = {"cmd": "info", "what": what, "bytes": os.path.getsize(path)}

    i64 = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
    for p, tag in ((4000, "64M"), (2000, "16M"), (1400, "7.8M")):
        save(f"pad_{tag}.onnx", f"constant Pad of {p} a side on a 1x1 map: (2p+1)^2 = {tag} floats a sample",
             [helper.make_node("Pad", ["x", "pads"], ["y"])], [i64("pads", [0, 0, p, p, 0, 0, p, p])], ["N", 1, 1, 1])
    save("pad_then_transpose.onnx", "Pad of 2000 a side, then Transposes and Relus (index tables)",
         [helper.make_node("Pad", ["x", "pads"], ["p"]), helper.make_node("Transpose", ["p"], ["t"], perm=[0, 1, 3, 2]),
          helper.make_node("Relu", ["t"], ["r"]), helper.make_node("Transpose", ["r"], ["t2"], perm=[0, 2, 3, 1]),
          helper.make_node("Relu", ["t2"], ["y"])],
         [i64("pads", [0, 0, 2000, 2000, 0, 0, 2000, 2000])], ["N", 1, 1, 1])
    save("constofshape_2p26.onnx", "ConstantOfShape (2^26,) then Expand/Add on the data",
         [helper.make_node("ConstantOfShape", ["s"], ["c"], value=numpy_helper.from_array(np.array([1], np.float32))),
          helper.make_node("Add", ["x", "c"], ["y"])], [i64("s", [1 << 26])], ["N", 1])
    chain = [helper.make_node("ConstantOfShape", ["s"], ["c0"], value=numpy_helper.from_array(np.array([1], np.int64)))]
    for k in range(1, 8):
        chain.append(helper.make_node("Add", [f"c{k-1}", "c0"], [f"c{k}"]))
    chain += [helper.make_node("Cast", ["c7"], ["cf"], to=TensorProto.FLOAT), helper.make_node("Add", ["x", "cf"], ["y"])]
    save("constofshape_chain.onnx", "int64 ConstantOfShape (2^26,), seven folded Adds, Cast, Add on the data",
         chain, [i64("s", [1 << 26])], ["N", 1])
    save("expand_2p30.onnx", "Expand of a 1-element constant to (2^15, 2^15)",
         [helper.make_node("Expand", ["one", "s"], ["c"]), helper.make_node("Add", ["x", "c"], ["y"])],
         [numpy_helper.from_array(np.array([1], np.float32), "one"), i64("s", [1 << 15, 1 << 15])], ["N", 1])
    save("tile_2p26.onnx", "Tile of a constant by 2^26", [helper.make_node("Tile", ["one", "r"], ["c"]),
                                                         helper.make_node("Add", ["x", "c"], ["y"])],
         [numpy_helper.from_array(np.array([1], np.float32), "one"), i64("r", [1 << 26])], ["N", 1])
    save("reshape_2p30.onnx", "Reshape of 8 values to (N, 2^30)", [helper.make_node("Reshape", ["x", "s"], ["y"])],
         [i64("s", [-1, 1 << 30])], ["N", 8])
    big = onnx.TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 10], raw_data=bytes(64))
    save("init_claims_4gib.onnx", "initializer dims (2^20, 2^10) with 64 bytes of data",
         [helper.make_node("MatMul", ["x", "w"], ["y"])], [big], ["N", 1 << 20])


def main():
    os.makedirs(OUT, exist_ok=True)
    keras_corpus()
    npy_corpus()
    onnx_corpus()
    with open(os.path.join(OUT, "MANIFEST.json"), "w") as f:
        json.dump(MANIFEST, f, indent=1, sort_keys=True)
    for k, v in sorted(MANIFEST.items()):
        print(f"{v['bytes']:>10}  {k}: {v['what']}")


if __name__ == "__main__":
    main()
