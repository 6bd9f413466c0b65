#!/usr/bin/env python3
"""GRU(128) over 100 steps of 32 features, then Dense 10, at batch 1 on one thread:
kinfer vs ONNX Runtime on the same ONNX file, outputs checked, interleaved rounds.

The model is an ONNX GRU node (linear_before_reset=1, torch's form) built with
onnx.helper, so ONNX Runtime runs its own GRU kernel (tf2onnx turns a Keras GRU into a
Loop, which would not be a fair comparison). Weights and input are seeded.

    /opt/kvenv/bin/python bench/gru_vs_ort.py [--rounds 7] [--kinfer PATH]

Prints per round the median latency of each engine and the median over rounds.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
T, IN, H, OUT = 100, 32, 128, 10


def build(path, rng):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    s = 1 / np.sqrt(H)
    W = rng.uniform(-s, s, (1, 3 * H, IN)).astype(np.float32)
    R = rng.uniform(-s, s, (1, 3 * H, H)).astype(np.float32)
    B = rng.uniform(-s, s, (1, 6 * H)).astype(np.float32)
    fc = rng.uniform(-s, s, (H, OUT)).astype(np.float32)
    fb = rng.uniform(-0.1, 0.1, OUT).astype(np.float32)
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
        helper.make_node("GRU", ["xt", "W", "R", "B"], ["", "Yh"], hidden_size=H, linear_before_reset=1),
        helper.make_node("Squeeze", ["Yh", "zero"], ["h"]),
        helper.make_node("MatMul", ["h", "fc"], ["m"]),
        helper.make_node("Add", ["m", "fb"], ["y"]),
    ]
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(W, "W"), (R, "R"), (B, "B"), (np.array([0], np.int64), "zero"), (fc, "fc"), (fb, "fb")]]
    g = helper.make_graph(nodes, "gru128", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", T, IN])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", OUT])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def ort_session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_time(sess, x, seconds):
    feed = {"x": x}
    for _ in range(20):
        sess.run(None, feed)
    ts = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        sess.run(None, feed)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e6


def kinfer_time(exe, model, xpath, seconds):
    r = subprocess.run([exe, "bench", model, "--input", xpath, "--threads", "1",
                        "--duration", f"{int(seconds * 1000)}ms", "--json"],
                       env=dict(os.environ, GOMAXPROCS="1"), capture_output=True, text=True, check=True)
    j = json.loads(r.stdout.strip().splitlines()[-1])
    return j


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per engine per round")
    ap.add_argument("--kinfer", help="kinfer binary (default: go build ./cmd/kinfer)")
    args = ap.parse_args()
    import onnxruntime as ort
    td = tempfile.mkdtemp(prefix="gru_vs_ort")
    exe = args.kinfer
    if not exe:
        exe = os.path.join(td, "kinfer")
        subprocess.run(["go", "build", "-o", exe, "./cmd/kinfer"], cwd=REPO, check=True)
    rng = np.random.default_rng(128)
    model = os.path.join(td, "gru128.onnx")
    build(model, rng)
    x = rng.standard_normal((1, T, IN)).astype(np.float32)
    xpath = os.path.join(td, "x.npy")
    np.save(xpath, x)
    sess = ort_session(model)
    want = sess.run(None, {"x": x})[0]
    out = os.path.join(td, "y.npy")
    subprocess.run([exe, "run", model, xpath, "-o", out], check=True, capture_output=True)
    got = np.load(out).reshape(want.shape)
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    bound = float(np.max(np.abs(got - want) / (1e-5 + 1e-5 * np.abs(want))))
    print(f"onnxruntime {ort.__version__}; output max|kinfer - ORT| = {err:.2e} ({bound:.3f} of 1e-5+1e-5|want|)")
    ks, os_ = [], []
    for r in range(args.rounds):
        k = kinfer_time(exe, model, xpath, args.seconds)
        o = ort_time(sess, x, args.seconds)
        ks.append(k["p50_us"])
        os_.append(o)
        print(f"round {r + 1}: kinfer {ks[-1]:.1f} us  onnxruntime {o:.1f} us  (kinfer isa {k.get('isa', '?')})")
    km, om = float(np.median(ks)), float(np.median(os_))
    print(f"median over {args.rounds} rounds: kinfer {km:.1f} us, onnxruntime {om:.1f} us, ORT/kinfer {om / km:.2f}")


if __name__ == "__main__":
    sys.exit(main())
