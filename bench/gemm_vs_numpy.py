#!/usr/bin/env python3
"""Square SGEMM, one thread: kinfer's packed GEMM against numpy's OpenBLAS, interleaved.

Usage: python bench/gemm_vs_numpy.py [--rounds 5]

Each round runs numpy (one thread) then kinfer's BenchmarkGemm for 256, 512 and 1024
square, so machine drift hits both alike; the report gives medians and the ratio.
kinfer's number includes the bias add and clamp its kernel fuses; numpy's is a bare
matmul. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are unset for numpy (they pin an old
kernel on this machine), and the kernel OpenBLAS picks is printed.
"""
import argparse, json, os, re, statistics, subprocess, sys, time

SIZES = (256, 512, 1024)
NUMPY_SNIPPET = r"""
import json, sys, time, numpy as np
from threadpoolctl import threadpool_limits, threadpool_info
out = {}
with threadpool_limits(1):
    for n in %s:
        a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
        a @ b
        reps = max(3, int(2e9 / (2 * n**3)))
        best = []
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(reps): a @ b
            best.append((time.perf_counter() - t) / reps)
        out[n] = 2 * n**3 / sorted(best)[len(best)//2] / 1e9
info = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
print(json.dumps({"gflops": out, "openblas": info[0] if info else None}))
""" % (SIZES,)


def numpy_round():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    r = subprocess.run([sys.executable, "-c", NUMPY_SNIPPET], env=env, capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def kinfer_round(isa):
    pat = "^BenchmarkGemm$/^m=(256|512|1024)/n=(256|512|1024)/k=(256|512|1024)/%s$" % isa
    r = subprocess.run(["go", "test", "-run", "XXX", "-bench", pat, "-benchtime", "1s", "./runtime/asm/"],
                       capture_output=True, text=True, check=True)
    out = {}
    for m, n, k, g in re.findall(r"m=(\d+)/n=(\d+)/k=(\d+)/\S+\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) GFLOP/s", r.stdout):
        if m == n == k:
            out[int(m)] = float(g)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--isa", default="avx512")
    a = ap.parse_args()
    np_runs, k_runs, blas = [], [], None
    for i in range(a.rounds):
        nr = numpy_round(); blas = nr["openblas"]
        np_runs.append({int(k): v for k, v in nr["gflops"].items()})
        k_runs.append(kinfer_round(a.isa))
        print(f"round {i+1}: numpy {np_runs[-1]}  kinfer/{a.isa} {k_runs[-1]}", file=sys.stderr)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {cpu}, {os.cpu_count()} cores; OpenBLAS {blas and blas.get('version')} kernel {blas and blas.get('architecture')}")
    print(f"| n | numpy OpenBLAS 1 thread GFLOP/s | kinfer {a.isa} GFLOP/s | kinfer / numpy |")
    print("|---|---|---|---|")
    for n in SIZES:
        npm = statistics.median(r[n] for r in np_runs)
        km = statistics.median(r[n] for r in k_runs if n in r)
        print(f"| {n} | {npm:.1f} | {km:.1f} | {km/npm:.2f} |")


if __name__ == "__main__":
    main()
