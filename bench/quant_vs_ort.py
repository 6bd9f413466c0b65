#!/usr/bin/env python3
"""Times ONNX Runtime (one thread) on the int8 and float32 bench models that
`testdata/gen_quant.py --bench DIR` writes, as thread CPU time per call (the machines
are shared: wall time under load says little). Pair it with kinfer's
`KINFER_QBENCH=DIR go test ./runtime -run XXX -bench BenchmarkQuant` (cpu-ns/op),
alternating the two (A B A B) and quoting medians.

    /opt/kvenv/bin/python bench/quant_vs_ort.py DIR [rounds]
"""
import os
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    d = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    for model in ("mlp", "mnist_cnn"):
        for batch in (1, 64):
            x = np.load(os.path.join(d, f"{model}_qdq_u8s8_pc.b{batch}.inputs.npy"))
            for kind in ("f32", "qdq_u8s8_pc"):
                so = ort.SessionOptions()
                so.intra_op_num_threads = 1
                so.inter_op_num_threads = 1
                so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                s = ort.InferenceSession(os.path.join(d, f"{model}_{kind}.onnx"), so, providers=["CPUExecutionProvider"])
                feed = {"input": x}
                for _ in range(20):
                    s.run(None, feed)
                n = max(20, 20000 // (batch * (10 if model == "mnist_cnn" else 1)))
                per = []
                for _ in range(rounds):
                    t0 = time.thread_time_ns()
                    for _ in range(n):
                        s.run(None, feed)
                    per.append((time.thread_time_ns() - t0) / n)
                print(f"ort {model}/{kind}/b{batch} median {statistics.median(per)/1e3:.1f} us cpu/call ({rounds} rounds of {n})")


if __name__ == "__main__":
    main()
