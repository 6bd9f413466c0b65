"""Summarizes several bench/run.py runs of the opt-in CNNs into one table.

One run.py invocation on this shared machine is noisy (a few calls per round), so the CNN
figures are taken from several back-to-back runs, each with its own interleaved rounds:

    for i in 1 2 3 4 5; do
      python bench/run.py --models cnn --batches 1 --threads 1 --rounds 7 --out OUT/run$i
    done
    python bench/cnn_summary.py OUT/run* --out bench/results/results_cnn

writes results_cnn.md and results_cnn.json: per (model, engine) the median over runs of
each run's latency (itself the median over rounds of the per-round median call), the
per-run speed-ups of kinfer over ONNX Runtime and TFLite (engine time / kinfer time, > 1:
kinfer faster), agreement from the runs, allocations per call and the load averages.
Needs only the standard library.
"""

import argparse
import json
import os
import statistics

ENGINES = ["kinfer", "kinfer_onnx", "onnxruntime", "tflite", "tf_function", "keras_call",
           "keras_predict"]
LABELS = {"kinfer": "kinfer (.npz)", "kinfer_onnx": "kinfer (.onnx)",
          "onnxruntime": "ONNX Runtime", "tflite": "TFLite+XNNPACK",
          "tf_function": "tf.function", "keras_call": "Keras model(x)",
          "keras_predict": "Keras predict"}


def fmt_us(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="run.py --out folders (each has results.json)")
    ap.add_argument("--out", required=True, help="output path without extension")
    args = ap.parse_args()
    runs = []
    for d in args.runs:
        with open(os.path.join(d, "results.json")) as f:
            runs.append(json.load(f))
    keys = sorted({k for r in runs for k in r["timing"]}, key=lambda k: list(runs[0]["timing"]).index(k)
                  if k in runs[0]["timing"] else 99)
    summary = {"runs": [{"started": r["started"], "loadavg_start": r["machine"]["loadavg_start"][0],
                         "loadavg_end": r["machine"]["loadavg_end"][0], "elapsed_s": r["elapsed_s"],
                         "kinfer_commit": r["versions"].get("kinfer_commit")} for r in runs],
               "models": {}}
    for k in keys:
        per = {e: [r["timing"][k][e]["p50_us"] for r in runs
                   if k in r["timing"] and e in r["timing"][k]] for e in ENGINES}
        ratio = {}
        for e in ("onnxruntime", "tflite"):
            ratio[e] = [r["timing"][k][e]["p50_us"] / r["timing"][k]["kinfer"]["p50_us"]
                        for r in runs if k in r["timing"] and e in r["timing"][k]]
        allocs = [r["timing"][k]["kinfer"].get("allocs_per_run") for r in runs if k in r["timing"]]
        name = k.split("/")[0]
        agree = {e: all(r["agreement"][name][e]["within_bound"] for r in runs
                        if e in r["agreement"].get(name, {}))
                 for e in runs[0]["agreement"].get(name, {})}
        max_abs = {e: max(r["agreement"][name][e]["max_abs"] for r in runs
                          if e in r["agreement"].get(name, {}))
                   for e in runs[0]["agreement"].get(name, {})}
        summary["models"][k] = {"per_run_p50_us": per,
                                "median_us": {e: statistics.median(v) for e, v in per.items() if v},
                                "speedup_per_run": ratio,
                                "speedup_median": {e: statistics.median(v) for e, v in ratio.items() if v},
                                "allocs_per_run": allocs, "agreement_within_bound": agree,
                                "agreement_max_abs": max_abs}
    with open(args.out + ".json", "w") as f:
        json.dump(summary, f, indent=1)

    r0 = runs[0]
    lines = ["# CNN benchmark: resnet18, mobilenet_v2 (batch 1, one thread)", "",
             f"Machine: {r0['machine']['cpu']}, {r0['machine']['cores']} cores, "
             f"{r0['machine']['os']}. {len(runs)} runs of `bench/run.py --models cnn --batches 1 "
             f"--threads 1 --rounds {r0['config']['rounds']}`, kinfer commit(s) "
             + ", ".join(dict.fromkeys(r["kinfer_commit"] for r in summary["runs"])) + "; versions: "
             + ", ".join(f"{k} {v}" for k, v in r0["versions"].items() if k not in ("kinfer", "kinfer_commit"))
             + ".", "",
             "Each run: per model a calibration call set, then interleaved rounds (engine order "
             "rotated), each engine warming up 30 ms then timing ~50 ms of calls (at least 2); a "
             "run's latency is the median over its rounds of the per-round median call. Below: "
             "the median over runs of that figure, and the speed-up of kinfer (.npz) over ONNX "
             "Runtime and TFLite per run (engine time ÷ kinfer time; > 1: kinfer faster).", "",
             "| run | started | 1-min load avg start → end | wall |", "|---:|---|---|---:|"]
    for i, r in enumerate(summary["runs"], 1):
        lines.append(f"| {i} | {r['started']} | {r['loadavg_start']:.1f} → {r['loadavg_end']:.1f} | "
                     f"{r['elapsed_s']:.0f} s |")
    lines += ["", "## Latency, median over runs", "",
              "| model | " + " | ".join(LABELS[e] for e in ENGINES) + " |",
              "|---|" + "---:|" * len(ENGINES)]
    for k, m in summary["models"].items():
        lines.append(f"| {k.split('/')[0]} | " + " | ".join(
            fmt_us(m["median_us"][e]) if e in m["median_us"] else "–" for e in ENGINES) + " |")
    lines += ["", "## kinfer speed-up (engine time ÷ kinfer time), per run and median", "",
              "| model | vs | per run | median |", "|---|---|---|---:|"]
    for k, m in summary["models"].items():
        for e in ("onnxruntime", "tflite"):
            v = m["speedup_per_run"][e]
            lines.append(f"| {k.split('/')[0]} | {LABELS[e]} | " + ", ".join(f"{x:.2f}" for x in v)
                         + f" | **{m['speedup_median'][e]:.2f}×** |")
    lines += ["", "## Agreement with Keras model(x) (batch 8) and allocations", "",
              "Largest max-abs error over the runs; ✓: every run within |d| ≤ 1e-5 + 1e-5·|want|.", "",
              "| model | " + " | ".join(LABELS.get(e, e) for e in summary["models"][keys[0]]["agreement_max_abs"])
              + " | kinfer allocs/call |",
              "|---|" + "---|" * (len(summary["models"][keys[0]]["agreement_max_abs"]) + 1)]
    for k, m in summary["models"].items():
        lines.append(f"| {k.split('/')[0]} | " + " | ".join(
            f"{m['agreement_max_abs'][e]:.1e} {'✓' if m['agreement_within_bound'][e] else '✗'}"
            for e in m["agreement_max_abs"]) + f" | {max(m['allocs_per_run'])} |")
    with open(args.out + ".md", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
