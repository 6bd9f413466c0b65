#!/usr/bin/env python3
"""kinfer vs Keras, ONNX Runtime and TFLite: one command, same models, same inputs.

    /opt/kvenv/bin/python bench/run.py [--quick] [--out bench/results]

Steps:
 1. go build ./cmd/kinfer into the cache dir (or use --kinfer PATH).
 2. bench/models.py builds the model set (deterministic seeds) and exports each model to
    kinfer .npz (importer/keras/keras2npz.py), ONNX (tf2onnx) and TFLite, plus inputs and
    Keras reference outputs. Cached under --cache; rebuilt only when the recipe changes.
 3. Agreement: every engine runs the same batch-8 input; max abs / max rel error against
    Keras model(x).
 4. Speed: for each thread setting (1, and all cores) a worker process (bench/engines.py)
    hosts the Python engines with pinned threads; kinfer runs as `kinfer bench --json` with
    GOMAXPROCS=T --threads T. For every (model, batch) the engines are measured in rounds,
    A B C ... A B C ..., the order rotated each round, each measurement preceded by a
    warm-up; reported latency = median over rounds of each round's median call time,
    throughput = batch / (median over rounds of the mean call time).
 5. Writes results.md, results.json and results.png into --out.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PY = sys.executable

PY_ENGINES = ["keras_predict", "keras_call", "tf_function", "onnxruntime", "tflite"]
ENGINES = ["kinfer"] + PY_ENGINES
LABELS = {
    "kinfer": "kinfer",
    "keras_predict": "Keras predict",
    "keras_call": "Keras model(x)",
    "tf_function": "tf.function",
    "onnxruntime": "ONNX Runtime",
    "tflite": "TFLite+XNNPACK",
    "kinfer_onnx": "kinfer (.onnx)",
}
NOISY = 0.5  # round-to-round spread above which a latency cell is flagged
ALL_MODELS = ["mlp", "mnist_cnn", "cifar_cnn", "text_lstm", "lstm256"]
# Opt-in: not in the default run (each adds minutes); --models cnn names both.
CNN_MODELS = ["resnet18", "mobilenet_v2"]

FULL = dict(models=ALL_MODELS, batches=[1, 8, 64], rounds=5, budget_s=0.05, warmup_s=0.03,
            min_iters=2, max_iters=2000)
QUICK = dict(models=["mlp", "mnist_cnn", "text_lstm"], batches=[1, 64], rounds=3,
             budget_s=0.03, warmup_s=0.02, min_iters=2, max_iters=500)


def expand_models(spec):
    """The model names of a --models value; the group name 'cnn' stands for CNN_MODELS."""
    return [m for part in spec.split(",") if part
            for m in (CNN_MODELS if part == "cnn" else [part])]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ machine, versions


def machine_info():
    model, flags, fam = "unknown", set(), {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                if k == "model name" and model == "unknown":
                    model = v.strip()
                elif k == "flags" and not flags:
                    flags = set(v.split())
                elif k in ("cpu family", "model") and k not in fam:
                    fam[k] = v.strip()
    except OSError:
        pass
    if "cpu family" in fam:  # VMs often hide the marketing name; family/model identify the core
        model += f" (family {fam['cpu family']}, model {fam.get('model', '?')})"
    simd = [x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "asimd") if x in flags]
    return {"cpu": model, "cores": os.cpu_count(), "simd": simd,
            "loadavg_start": list(os.getloadavg()),
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version()}


def git_rev(rev=None):
    """The commit measured: rev if given, else HEAD plus '+dirty' for a modified tree."""
    try:
        h = subprocess.run(["git", "rev-parse", "--short=12", rev or "HEAD"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.strip()
        if rev:
            return h
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO, capture_output=True, text=True).stdout.strip()
        return h + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# ------------------------------------------------------------------ kinfer


def build_kinfer(cache, rev=None):
    """Builds ./cmd/kinfer from the working tree, or with rev from a clean export of that
    commit (git archive), so that results name exactly the code measured."""
    src, out = REPO, os.path.join(cache, "kinfer")
    if rev:
        try:
            full = subprocess.run(["git", "rev-parse", "--verify", rev + "^{commit}"], cwd=REPO,
                                  capture_output=True, text=True, check=True).stdout.strip()
        except subprocess.CalledProcessError as ex:
            return None, f"--kinfer-rev {rev}: {ex.stderr.strip()}"
        src = os.path.join(cache, "src-" + full[:12])
        if not os.path.isdir(src):
            os.makedirs(src + ".tmp", exist_ok=True)
            arch = subprocess.Popen(["git", "archive", full], cwd=REPO, stdout=subprocess.PIPE)
            subprocess.run(["tar", "-x", "-C", src + ".tmp"], stdin=arch.stdout, check=True)
            arch.wait()
            os.rename(src + ".tmp", src)
        out = os.path.join(cache, "kinfer-" + full[:12])
    t = time.time()
    r = subprocess.run(["go", "build", "-o", out, "./cmd/kinfer"], cwd=src,
                       capture_output=True, text=True)
    if r.returncode != 0:
        log("go build ./cmd/kinfer failed; kinfer is left out of this run:\n" + r.stderr)
        return None, r.stderr.strip()
    log(f"built kinfer{' at ' + rev if rev else ''} in {time.time() - t:.1f}s")
    return out, None


def kinfer_bench(exe, npz, batch, threads, iters, warmup_s):
    env = dict(os.environ, GOMAXPROCS=str(threads))
    cmd = [exe, "bench", npz, "--batch", str(batch), "--threads", str(threads),
           "--iters", str(iters), "--warmup", f"{int(warmup_s * 1000)}ms", "--json"]
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return {"error": "kinfer bench timed out after 600 s"}
    if r.returncode != 0:
        return {"error": (r.stderr.strip() or r.stdout.strip()).splitlines()[-1][:300]}
    try:
        j = json.loads(r.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": "unparsable kinfer bench output: " + r.stdout[:200]}
    j["iters"] = j.get("iters", iters)
    return j


def kinfer_run(exe, model, x, out):
    try:
        r = subprocess.run([exe, "run", model, x, "-o", out], capture_output=True, text=True,
                           timeout=300)
    except subprocess.TimeoutExpired:
        return "error: kinfer run timed out after 300 s"
    if r.returncode != 0:
        return "error: " + ((r.stderr.strip() or r.stdout.strip()).splitlines() or ["?"])[-1][:300]
    return "ok"


def kinfer_version(exe):
    if not exe:
        return None
    r = subprocess.run([exe, "version"], capture_output=True, text=True)
    v = (r.stdout.strip() or r.stderr.strip())
    return v[len("kinfer "):] if v.startswith("kinfer ") else v


# ------------------------------------------------------------------ worker


class Worker:
    def __init__(self, threads, cache):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), KERAS_BACKEND="tensorflow",
                   TF_CPP_MIN_LOG_LEVEL="2", PYTHONWARNINGS="ignore")
        self.log = open(os.path.join(cache, f"worker_t{threads}.log"), "w")
        self.p = subprocess.Popen([PY, os.path.join(HERE, "engines.py"), "--threads",
                                   str(threads), "--cache", cache], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)

    def ask(self, **req):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"worker died (see {self.log.name})")
        return json.loads(line)

    def close(self):
        try:
            self.ask(op="quit")
        except (RuntimeError, BrokenPipeError, ValueError):
            pass
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.log.close()


# ------------------------------------------------------------------ agreement


def errors(got, want, recurrent):
    import numpy as np
    if got.shape != want.shape:
        if got.size == want.size:
            got = got.reshape(want.shape)
        else:
            return {"error": f"shape {got.shape} != {want.shape}"}
    d = np.abs(got.astype(np.float64) - want.astype(np.float64))
    w = np.abs(want.astype(np.float64))
    floor = max(1e-3 * float(w.max()), 1e-30)
    tol = 1e-4 if recurrent else 1e-5  # DESIGN.md "Numerics": atol = rtol = tol
    return {"max_abs": float(d.max()), "max_rel": float((d / np.maximum(w, floor)).max()),
            "within_bound": bool((d <= tol + tol * w).all()), "bound": tol,
            "finite": bool(np.isfinite(got).all())}


def agreement(worker, exe, cache, name, info):
    import numpy as np
    d = os.path.join(cache, name)
    x = os.path.join(d, "x_b8.npy")
    ref = np.load(os.path.join(d, "ref_b8.npy"))
    outdir = os.path.join(d, "out_b8")
    status = worker.ask(op="outputs", batch=8, dir=outdir)
    res = {}
    if exe:
        status["kinfer"] = kinfer_run(exe, os.path.join(d, "model.npz"), x,
                                      os.path.join(outdir, "kinfer.npy"))
        status["kinfer_onnx"] = kinfer_run(exe, os.path.join(d, "model.onnx"), x,
                                           os.path.join(outdir, "kinfer_onnx.npy"))
    for e, st in status.items():
        if st != "ok":
            res[e] = {"error": st}
            continue
        res[e] = errors(np.load(os.path.join(outdir, e + ".npy")), ref, info["recurrent"])
    return res


# ------------------------------------------------------------------ timing


def measure(engine, worker, exe, npz, batch, threads, iters, warmup_s):
    if engine == "kinfer":
        return kinfer_bench(exe, npz, batch, threads, iters, warmup_s)
    if engine == "kinfer_onnx":
        return kinfer_bench(exe, npz[:-len(".npz")] + ".onnx", batch, threads, iters, warmup_s)
    return worker.ask(op="time", engine=engine, batch=batch, iters=iters, warmup_s=warmup_s)


def bench_config(worker, exe, cache, name, batch, threads, cfg, engines):
    npz = os.path.join(cache, name, "model.npz")
    est, out = {}, {}
    # calibration (also the first-use warm-up: tracing, allocation, page faults)
    for e in engines:
        r = measure(e, worker, exe, npz, batch, threads, 2, max(cfg["warmup_s"], 0.1))
        if "error" in r:
            out[e] = {"error": r["error"]}
        else:
            est[e] = r["mean_us"]
            out[e] = {"rounds": []}
    live = [e for e in engines if e in est]
    iters = {e: int(min(cfg["max_iters"], max(cfg["min_iters"], cfg["budget_s"] * 1e6 / est[e])))
             for e in live}
    for r in range(cfg["rounds"]):
        k = r % max(1, len(live))
        for e in live[k:] + live[:k]:
            if "error" in out[e]:
                continue
            m = measure(e, worker, exe, npz, batch, threads, iters[e], cfg["warmup_s"])
            if "error" in m:
                out[e] = {"error": m["error"]}
                continue
            out[e]["rounds"].append(m)
    for e in live:
        if "error" in out[e]:
            continue
        rs = out[e]["rounds"]
        p50 = [m["p50_us"] for m in rs]
        mean = [m["mean_us"] for m in rs]
        med = statistics.median(p50)
        out[e].update(
            p50_us=med, throughput_per_s=batch * 1e6 / statistics.median(mean),
            spread=(max(p50) - min(p50)) / med if med else 0.0,
            iters_per_round=iters[e])
        if e.startswith("kinfer"):
            last = rs[-1]
            out[e].update({k: last.get(k) for k in ("isa", "allocs_per_run", "arena_bytes")})
        else:
            out[e]["cpu_per_wall"] = statistics.median(m["cpu_per_wall"] for m in rs)
        # keep the per-round numbers small in the JSON
        out[e]["rounds"] = [{"p50_us": round(m["p50_us"], 2), "mean_us": round(m["mean_us"], 2)}
                            for m in rs]
    k = out.get("kinfer", {}).get("p50_us")
    kt = out.get("kinfer", {}).get("throughput_per_s")
    for e in engines:
        if k and "p50_us" in out[e]:
            out[e]["latency_ratio"] = out[e]["p50_us"] / k
            out[e]["throughput_ratio"] = kt / out[e]["throughput_per_s"]
    return out


# ------------------------------------------------------------------ reports


def fmt_us(v):
    if v >= 1e6:
        return f"{v / 1e6:.2f} s"
    if v >= 1e3:
        return f"{v / 1e3:.2f} ms"
    return f"{v:.0f} µs" if v >= 100 else f"{v:.1f} µs"


def fmt_x(r):
    if r >= 10:
        return f"{r:.0f}×"
    return f"{r:.1f}×" if r >= 1 else f"{r:.2f}×"


def write_md(res, path):
    ENGINES = res.get("engines", ["kinfer"] + PY_ENGINES)
    L = []
    m = res["machine"]
    v = res["versions"]
    L.append("# kinfer benchmark results\n")
    L.append(f"Machine: **{m['cpu']}**, {m['cores']} cores ({', '.join(m['simd'])}), {m['os']}. "
             f"Run {res['started']} ({res['mode']} mode, {res['elapsed_s']:.0f} s total). "
             f"1-minute load average {m['loadavg_start'][0]:.1f} at the start, "
             f"{m['loadavg_end'][0]:.1f} at the end (other work on the machine competes with "
             f"the multi-thread runs).\n")
    L.append("Versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + ".\n")
    L.append(f"Method: {res['method']}\n")
    L.append("## Agreement with Keras `model(x)` (batch 8, same input for every engine)\n")
    L.append("max abs error / max rel error (rel floored at 0.1% of the largest output); "
             "✓ = within the DESIGN.md bound |d| ≤ tol + tol·|want| "
             "(tol 1e-5, 1e-4 for LSTM models).\n")
    eng = ["kinfer", "kinfer_onnx", "keras_predict", "tf_function", "onnxruntime", "tflite"]
    L.append("| model | params | " + " | ".join(LABELS[e] for e in eng) + " |")
    L.append("|---|---:|" + "---|" * len(eng))
    for name, a in res["agreement"].items():
        cells = []
        for e in eng:
            r = a.get(e)
            if r is None:
                cells.append("n/a")
            elif "error" in r:
                cells.append("error¹")
            else:
                cells.append(f"{r['max_abs']:.1e} / {r['max_rel']:.1e} {'✓' if r['within_bound'] else '✗'}")
        L.append(f"| {name} | {res['models'][name]['params']:,} | " + " | ".join(cells) + " |")
    errs = [(n, e, r["error"]) for n, a in res["agreement"].items() for e, r in a.items() if "error" in r]
    if errs:
        L.append("")
        for n, e, msg in errs:
            L.append(f"¹ {n} / {LABELS.get(e, e)}: `{msg}`  ")
    L.append("")
    for t in res["threads"]:
        L.append(f"## Latency, {t} thread{'s' if t > 1 else ''}: median per call (engine time ÷ kinfer time)\n")
        L.append("Ratio > 1: kinfer is faster by that factor; < 1: kinfer is slower. "
                 f"⚠: the engine's per-round medians spread by more than {NOISY:.0%} of their median "
                 "(a noisy measurement; see results.json for every round).\n")
        L.append("| model | batch | " + " | ".join(LABELS[e] for e in ENGINES) + " |")
        L.append("|---|---:|" + "---:|" * len(ENGINES))
        for name in res["models"]:
            for b in res["batches"]:
                row = res["timing"].get(f"{name}/b{b}/t{t}")
                if row is None:
                    continue
                cells = []
                for e in ENGINES:
                    r = row.get(e, {})
                    if "error" in r:
                        cells.append("error")
                    elif "p50_us" not in r:
                        cells.append("–")
                    else:
                        noisy = " ⚠" if r.get("spread", 0) > NOISY else ""
                        if e == "kinfer":
                            cells.append(f"**{fmt_us(r['p50_us'])}**{noisy}")
                        else:
                            rr = r.get("latency_ratio")
                            cells.append(fmt_us(r["p50_us"]) + (f" ({fmt_x(rr)})" if rr else "") + noisy)
                L.append(f"| {name} | {b} | " + " | ".join(cells) + " |")
        L.append("")
    bmax = max(res["batches"])
    L.append(f"## Throughput at batch {bmax}: samples/s (kinfer throughput ÷ engine throughput)\n")
    L.append("As above, a ratio > 1 means kinfer is faster by that factor, < 1 slower.\n")
    L.append("| model | threads | " + " | ".join(LABELS[e] for e in ENGINES) + " |")
    L.append("|---|---:|" + "---:|" * len(ENGINES))
    for name in res["models"]:
        for t in res["threads"]:
            row = res["timing"].get(f"{name}/b{bmax}/t{t}")
            if row is None:
                continue
            cells = []
            for e in ENGINES:
                r = row.get(e, {})
                if "throughput_per_s" not in r:
                    cells.append("error" if "error" in r else "–")
                    continue
                tr = r.get("throughput_ratio")
                s = f"{r['throughput_per_s']:,.0f}"
                cells.append(f"**{s}**" if e == "kinfer" else s + (f" ({fmt_x(tr)})" if tr else ""))
            L.append(f"| {name} | {t} | " + " | ".join(cells) + " |")
    L.append("")
    behind = []
    for name in res["models"]:
        for b in res["batches"]:
            for t in res["threads"]:
                row = res["timing"].get(f"{name}/b{b}/t{t}", {})
                slow = [(e, row[e]["latency_ratio"]) for e in ENGINES
                        if not e.startswith("kinfer") and row.get(e, {}).get("latency_ratio", 9) < 0.95]
                if slow:
                    k = row["kinfer"]["p50_us"]
                    behind.append(f"| {name} | {b} | {t} | {fmt_us(k)} | " + ", ".join(
                        f"{LABELS[e]} {fmt_us(row[e]['p50_us'])} ({fmt_x(r)})" for e, r in slow) + " |")
    L.append("## Where kinfer is slower\n")
    if behind:
        L.append("Every configuration where another engine's median latency is more than 5% below "
                 "kinfer's (ratio < 0.95).\n")
        L.append("| model | batch | threads | kinfer | faster engines (ratio) |")
        L.append("|---|---:|---:|---:|---|")
        L.extend(behind)
    else:
        L.append("No engine's median latency is more than 5% below kinfer's in any configuration.")
    L.append("")
    L.append("## kinfer details\n")
    L.append("| model | batch | threads | kernel path | allocs/run | arena | round spread |")
    L.append("|---|---:|---:|---|---:|---:|---:|")
    for key, row in res["timing"].items():
        r = row.get("kinfer", {})
        if "p50_us" in r:
            n, b, t = key.split("/")
            L.append(f"| {n} | {b[1:]} | {t[1:]} | {r.get('isa')} | {(r.get('allocs_per_run') or 0):.2g} | "
                     f"{(r.get('arena_bytes') or 0) / 1024:.0f} KiB | {100 * r['spread']:.0f}% |")
    terr = [(k, e, r["error"]) for k, row in res["timing"].items() for e, r in row.items() if "error" in r]
    if terr:
        L.append("\nEngines that failed to run:\n")
        seen = set()
        for k, e, msg in terr:
            if (e, msg) in seen:
                continue
            seen.add((e, msg))
            L.append(f"- {LABELS.get(e, e)} on {k}: `{msg}`")
    if res.get("errors"):
        L.append("\nOther failures:\n")
        L.extend(f"- {e}" for e in res["errors"])
    if res.get("kinfer_build_error"):
        L.append("\nkinfer did not build, so it is missing from this run:\n\n```\n"
                 + res["kinfer_build_error"][:1500] + "\n```")
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def write_chart(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ENGINES = res.get("engines", ["kinfer"] + PY_ENGINES)
    names = list(res["models"])
    bmin, bmax = min(res["batches"]), max(res["batches"])
    tall = max(res["threads"])
    panels = [("p50_us", bmin, 1, f"latency, batch {bmin}, 1 thread (µs, log; lower is better)"),
              ("throughput_per_s", bmax, 1, f"throughput, batch {bmax}, 1 thread (samples/s, log; higher is better)")]
    if tall > 1:
        panels.append(("throughput_per_s", bmax, tall,
                       f"throughput, batch {bmax}, {tall} threads (samples/s, log; higher is better)"))
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 3.6 * len(panels)), squeeze=False)
    tab = plt.get_cmap("tab10").colors
    colors = {"kinfer": tab[0], "kinfer_onnx": "#9ecae1", "keras_predict": tab[1],
              "keras_call": tab[2], "tf_function": tab[3], "onnxruntime": tab[4], "tflite": tab[5]}
    w = 0.8 / len(ENGINES)
    for ax, (field, b, t, title) in zip(axes[:, 0], panels):
        for i, e in enumerate(ENGINES):
            vals = []
            for n in names:
                r = res["timing"].get(f"{n}/b{b}/t{t}", {}).get(e, {})
                vals.append(r.get(field, np.nan))
            xs = np.arange(len(names)) + (i - (len(ENGINES) - 1) / 2) * w
            ax.bar(xs, vals, w, label=LABELS[e], color=colors[e],
                   edgecolor="black" if e.startswith("kinfer") else None, linewidth=1.2)
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels(names)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, ncol=len(ENGINES), fontsize=8, loc="upper center",
               bbox_to_anchor=(0.5, 0.975), frameon=False)
    m = res["machine"]
    v = res["versions"]
    fig.suptitle(f"kinfer {v.get('kinfer_commit') or ''} vs TF {v['tensorflow']} / Keras {v['keras']} / "
                 f"ORT {v['onnxruntime']} / {v['tflite']} — {m['cpu']}, {m['cores']} cores",
                 fontsize=10, y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.955))
    fig.savefig(path, dpi=110)
    plt.close(fig)


BEGIN, END = "<!-- results:begin (bench/run.py --readme) -->", "<!-- results:end -->"


def update_readme(md_path, readme):
    with open(md_path) as f:
        body = f.read().split("\n", 1)[1].strip()  # drop the "# kinfer benchmark results" title
    body = body.replace("\n## ", "\n### ")
    with open(readme) as f:
        text = f.read()
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        log(f"{readme}: no results markers; not updated")
        return
    with open(readme, "w") as f:
        f.write(text[:i + len(BEGIN)] + "\n\n" + body + "\n\n" + text[j:])


def run_model(w, exe, cache, name, t, first, cfg, manifest, res):
    rep = w.ask(op="load", model=name, batches=sorted(set(cfg["batches"]) | {8}))
    if "error" in rep:
        log(f"   {name}: worker could not load: {rep['error']}")
        res["errors"].append(f"{name}: Python engines could not load it: {rep['error']}")
        return
    if first:
        res["agreement"][name] = agreement(w, exe, cache, name, manifest[name])
        a = res["agreement"][name]
        log(f"   {name}: agreement " + ", ".join(
            f"{e}={'ERR' if 'error' in r else format(r['max_abs'], '.1e')}" for e, r in a.items()))
    for b in cfg["batches"]:
        tb = time.time()
        engines = res["engines"]
        row = bench_config(w, exe, cache, name, b, t, cfg, engines)
        res["timing"][f"{name}/b{b}/t{t}"] = row
        k = row.get("kinfer", {}).get("p50_us")
        log(f"   {name} b{b} t{t} ({time.time() - tb:.1f}s): " + ", ".join(
            f"{e}={'ERR' if 'error' in r else fmt_us(r['p50_us'])}" for e, r in row.items())
            + (f"  [kinfer {fmt_us(k)}]" if k else ""))


# ------------------------------------------------------------------ main


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--quick", action="store_true",
                    help="3 models, batches 1 and 64, 3 rounds (about 1 minute on 2 cores)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="results folder")
    ap.add_argument("--cache", default=os.path.join(HERE, ".cache"),
                    help="models, inputs, kinfer binary, worker logs (not committed)")
    ap.add_argument("--kinfer", help="use this kinfer binary instead of building ./cmd/kinfer")
    ap.add_argument("--kinfer-rev", metavar="REV",
                    help="build kinfer from a clean export of this commit (e.g. HEAD) instead "
                         "of the working tree; use it for results you commit")
    ap.add_argument("--models", help="comma-separated subset of " + ",".join(ALL_MODELS + CNN_MODELS)
                    + " ('cnn' stands for " + ",".join(CNN_MODELS) + ", not in the default set)")
    ap.add_argument("--batches", help="comma-separated batch sizes")
    ap.add_argument("--threads", help="comma-separated thread counts (default: 1 and all cores)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds per configuration")
    ap.add_argument("--kinfer-onnx", action=argparse.BooleanOptionalAction, default=True,
                    help="also time kinfer on the .onnx export, i.e. through its ONNX importer "
                         "(default on)")
    ap.add_argument("--readme", action="store_true",
                    help="also copy results.md into bench/README.md between its results markers")
    args = ap.parse_args()

    t_start = time.time()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cfg = dict(QUICK if args.quick else FULL)
    if args.models:
        cfg["models"] = expand_models(args.models)
    if args.batches:
        cfg["batches"] = [int(b) for b in args.batches.split(",")]
    if args.rounds:
        cfg["rounds"] = args.rounds
    try:
        ncpu = len(os.sched_getaffinity(0))  # the cores this process may use
    except AttributeError:
        ncpu = os.cpu_count() or 1
    threads = [int(t) for t in args.threads.split(",")] if args.threads else sorted({1, ncpu})
    os.makedirs(args.cache, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    cache = os.path.abspath(args.cache)

    if args.kinfer:
        exe, build_err = os.path.abspath(args.kinfer), None
    else:
        exe, build_err = build_kinfer(cache, args.kinfer_rev)

    log("building / checking the model set ...")
    t = time.time()
    with open(os.path.join(cache, "models.log"), "w") as mlog:
        r = subprocess.run([PY, os.path.join(HERE, "models.py"), "--cache", cache,
                            "--models", ",".join(cfg["models"]),
                            "--batches", ",".join(map(str, cfg["batches"]))],
                           stdout=mlog, stderr=subprocess.STDOUT,
                           env=dict(os.environ, PYTHONWARNINGS="ignore"))
    if r.returncode != 0:
        sys.exit(f"bench/models.py failed; see {cache}/models.log")
    with open(os.path.join(cache, "manifest.json")) as f:
        manifest = json.load(f)
    log(f"models ready in {time.time() - t:.1f}s")

    res = {"started": started, "mode": "quick" if args.quick else "full",
           "machine": machine_info(), "threads": threads, "batches": cfg["batches"],
           "config": cfg, "models": {n: {k: manifest[n][k] for k in ("desc", "params", "input_shape", "output_shape", "layers")}
                                     for n in cfg["models"]},
           "agreement": {}, "timing": {}, "kinfer_build_error": build_err, "errors": [],
           "engines": (["kinfer"] + (["kinfer_onnx"] if args.kinfer_onnx else []) if exe else [])
           + PY_ENGINES}
    res["method"] = (
        f"{len(threads)} thread setting(s) {threads}; each engine gets the same float32 "
        f"standard-normal input (kinfer bench draws its own standard-normal input of the same "
        f"shape); per (model, batch, threads): a calibration call set, then {cfg['rounds']} "
        f"interleaved rounds (engine order rotated each round), each engine warming up "
        f"{int(cfg['warmup_s'] * 1000)} ms then timing ~{int(cfg['budget_s'] * 1000)} ms of calls "
        f"(at least {cfg['min_iters']}); latency = median over rounds of the per-round median; "
        f"throughput = batch / median over rounds of the mean call time.")

    for ti, t in enumerate(threads):
        log(f"== {t} thread(s): starting worker")
        w = Worker(t, cache)
        if ti == 0:
            vers = w.ask(op="versions")
            vers.pop("tf_threads", None)
            res["versions"] = {"kinfer": kinfer_version(exe), "kinfer_commit": git_rev(args.kinfer_rev) if not args.kinfer else "prebuilt",
                               "go": subprocess.run(["go", "env", "GOVERSION"], capture_output=True,
                                                    text=True).stdout.strip(),
                               **vers, "tf2onnx": manifest["_versions"]["tf2onnx"],
                               "onnx": manifest["_versions"]["onnx"]}
        for name in cfg["models"]:
            try:
                run_model(w, exe, cache, name, t, ti == 0, cfg, manifest, res)
            except (RuntimeError, BrokenPipeError, ValueError) as ex:
                # the worker crashed (e.g. inside a native library): record it, start afresh
                log(f"   {name}: worker failed: {ex}")
                res["errors"].append(f"{name}, {t} thread(s): worker failed: {ex}")
                w.p.kill()
                w.close()
                w = Worker(t, cache)
        w.close()

    res["elapsed_s"] = time.time() - t_start
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    write_md(res, os.path.join(args.out, "results.md"))
    if args.readme:
        update_readme(os.path.join(args.out, "results.md"), os.path.join(HERE, "README.md"))
    try:
        write_chart(res, os.path.join(args.out, "results.png"))
    except Exception as ex:  # a missing matplotlib should not lose the tables
        log(f"chart not written: {ex}")
    log(f"done in {res['elapsed_s']:.0f}s: {args.out}/results.md, results.json, results.png")


if __name__ == "__main__":
    main()
