#!/usr/bin/env python3
"""A torch nn.TransformerEncoder (4 layers, d_model 128, 4 heads, FFN 512, sequence 64,
batch_first, post-norm, exported at opset 17 by torch 1.13) at batch 1 on one thread:
kinfer vs ONNX Runtime on the same ONNX file, outputs checked, interleaved rounds.

torch is Debian's python3-torch (/usr/bin/python3), used only to export the model; the
timing runs in the pinned venv (ONNX Runtime's Python binding, intra_op_num_threads=1,
all graph optimizations, which fuse attention and LayerNorm) and `kinfer bench`
(GOMAXPROCS=1, --threads 1). Weights and input are seeded.

    /opt/kvenv/bin/python bench/attention_vs_ort.py [--rounds 7] [--batch 1] [--threads 1] [--kinfer PATH]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gru_vs_ort as g  # noqa: E402  (the timing helpers)

REPO = os.path.dirname(HERE)
T, D = 64, 128

EXPORT = r'''
import sys, torch
torch.manual_seed(128)
layer = torch.nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=512, dropout=0.0,
                                         batch_first=True)
m = torch.nn.TransformerEncoder(layer, num_layers=4).eval()
with torch.no_grad():
    for p in m.parameters():
        if p.dim() == 1:
            p.copy_(torch.randn(p.shape) * 0.1)
x = torch.randn(1, 64, 128)
torch.onnx.export(m, (x,), sys.argv[1], opset_version=17, input_names=["x"], output_names=["y"],
                  dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
'''


def ort_session(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def kinfer_time(exe, model, xpath, seconds, threads):
    import json
    r = subprocess.run([exe, "bench", model, "--input", xpath, "--threads", str(threads),
                        "--duration", f"{int(seconds * 1000)}ms", "--json"],
                       env=dict(os.environ, GOMAXPROCS=str(threads)), capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="kinfer --threads and GOMAXPROCS; ORT intra_op_num_threads")
    ap.add_argument("--seconds", type=float, default=1.0, help="timed seconds per engine per round")
    ap.add_argument("--kinfer", help="kinfer binary (default: go build ./cmd/kinfer)")
    args = ap.parse_args()
    import onnxruntime as ort
    td = tempfile.mkdtemp(prefix="attention_vs_ort")
    exe = args.kinfer
    if not exe:
        exe = os.path.join(td, "kinfer")
        subprocess.run(["go", "build", "-o", exe, "./cmd/kinfer"], cwd=REPO, check=True)
    model = os.path.join(td, "encoder.onnx")
    subprocess.run(["/usr/bin/python3", "-c", EXPORT, model], check=True, capture_output=True)
    x = np.random.default_rng(64).standard_normal((args.batch, T, D)).astype(np.float32)
    xpath = os.path.join(td, "x.npy")
    np.save(xpath, x)
    sess = ort_session(model, args.threads)
    want = sess.run(None, {"x": x})[0]
    out = os.path.join(td, "y.npy")
    subprocess.run([exe, "run", model, xpath, "-o", out], check=True, capture_output=True)
    got = np.load(out).reshape(want.shape)
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    bound = float(np.max(np.abs(got - want) / (1e-5 + 1e-5 * np.abs(want))))
    print(f"onnxruntime {ort.__version__}; batch {args.batch}, {args.threads} thread(s); output max|kinfer - ORT| = {err:.2e} "
          f"({bound:.3f} of 1e-5+1e-5|want|)")
    ks, os_ = [], []
    for r in range(args.rounds):
        k = kinfer_time(exe, model, xpath, args.seconds, args.threads)
        o = g.ort_time(sess, x, args.seconds)
        ks.append(k["p50_us"])
        os_.append(o)
        print(f"round {r + 1}: kinfer {ks[-1]:.1f} us  onnxruntime {o:.1f} us  (kinfer isa {k.get('isa', '?')})")
    km, om = float(np.median(ks)), float(np.median(os_))
    print(f"median over {args.rounds} rounds: kinfer {km:.1f} us, onnxruntime {om:.1f} us, ORT/kinfer {om / km:.2f}")


if __name__ == "__main__":
    sys.exit(main())
