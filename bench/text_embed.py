#!/usr/bin/env python3
"""kinfer vs ONNX Runtime on a text classifier, batch 1, one thread:
token ids (1, T) int64 -> Embedding 20000x128 -> LSTM 128 -> Linear 2, made on demand
(the 10 MB model is not committed).

    /opt/kvenv/bin/python bench/text_embed.py [--steps 50] [--rounds 5]

The model is built and exported by torch (Debian's /usr/bin/python3, torch 1.13,
opset 17) into a temporary directory; ONNX Runtime (1 intra-op thread) and
`kinfer bench` (one thread, the same .onnx) are timed in alternating rounds, and the
medians of the per-round medians are printed. The outputs of both engines on one input
are compared first.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXPORT = r'''
import sys, torch
from torch import nn
torch.manual_seed(0)
class M(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Embedding(20000, 128); s.lstm = nn.LSTM(128, 128, batch_first=True); s.fc = nn.Linear(128, 2)
    def forward(s, ids):
        y, _ = s.lstm(s.emb(ids))
        return s.fc(y[:, -1, :])
m = M().eval()
T = int(sys.argv[2])
torch.onnx.export(m, torch.zeros((1, T), dtype=torch.int64), sys.argv[1], opset_version=17,
                  input_names=["ids"], output_names=["y"], dynamic_axes={"ids": {0: "N"}, "y": {0: "N"}})
'''


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    import numpy as np
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as td:
        onnx_path = os.path.join(td, "text_embed.onnx")
        subprocess.run(["/usr/bin/python3", "-c", EXPORT, onnx_path, str(args.steps)], check=True,
                       stderr=subprocess.DEVNULL)
        exe = os.path.join(td, "kinfer")
        subprocess.run(["go", "build", "-o", exe, "./cmd/kinfer"], check=True, cwd=ROOT)
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        s = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        ids = np.random.default_rng(1).integers(0, 20000, (1, args.steps)).astype(np.int64)
        np.save(os.path.join(td, "ids.npy"), ids)
        np.save(os.path.join(td, "want.npy"), s.run(None, {"ids": ids})[0])
        subprocess.run([exe, "verify", onnx_path, "--input", os.path.join(td, "ids.npy"),
                        "--expect", os.path.join(td, "want.npy")], check=True)
        ort_r, kin_r = [], []
        for r in range(args.rounds):
            lat = []
            for _ in range(args.calls):
                t = time.perf_counter()
                s.run(None, {"ids": ids})
                lat.append(time.perf_counter() - t)
            ort_r.append(statistics.median(lat) * 1e6)
            out = subprocess.run([exe, "bench", onnx_path, "--input", os.path.join(td, "ids.npy"),
                                  "--iters", str(args.calls), "--json"], check=True,
                                 capture_output=True, text=True, env=dict(os.environ, GOMAXPROCS="1"))
            res = json.loads(out.stdout)
            kin_r.append(res["p50_us"] if "p50_us" in res else res["P50us"])
            print(f"round {r + 1}: ONNX Runtime {ort_r[-1]:.1f} us, kinfer {kin_r[-1]:.1f} us "
                  f"({res.get('isa', res.get('ISA'))}, allocs/call {res.get('allocs_per_run', res.get('AllocsPerRun'))})")
        o, k = statistics.median(ort_r), statistics.median(kin_r)
        print(f"median: ONNX Runtime {o:.1f} us, kinfer {k:.1f} us, ORT/kinfer {o / k:.2f}x "
              f"(T={args.steps}, batch 1, one thread)")


if __name__ == "__main__":
    sys.exit(main())
