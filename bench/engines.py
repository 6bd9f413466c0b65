"""Benchmark worker: hosts the Python engines (Keras, ONNX Runtime, TFLite) in one process
whose thread counts are fixed at start-up, and answers bench/run.py over a pipe.

    python bench/engines.py --threads T --cache DIR

TensorFlow reads its thread-pool sizes once, when it initializes, so each thread setting
gets its own worker process. Thread pinning per engine:
  Keras / tf.function: tf.config.threading intra_op = inter_op = T (set before any op)
  ONNX Runtime:        SessionOptions intra_op_num_threads = T, inter_op_num_threads = 1,
                       sequential execution
  TFLite:              Interpreter(num_threads=T); the XNNPACK delegate is applied by default
OMP_NUM_THREADS is also set to T by the parent, for any library that reads it.

Protocol: one JSON object per line on stdin, one JSON reply per line on the original
stdout (everything libraries print is sent to stderr). Requests:
  {"op": "versions"}
  {"op": "load", "model": NAME, "batches": [1, 8]}
  {"op": "outputs", "batch": B, "dir": OUTDIR}   -> writes OUTDIR/<engine>.npy
  {"op": "time", "engine": E, "batch": B, "iters": N, "warmup_s": W}
  {"op": "quit"}
Errors are replies {"error": "..."}; the worker keeps serving.
"""

import argparse
import json
import os
import sys
import time
import traceback

ENGINES = ["keras_predict", "keras_call", "tf_function", "onnxruntime", "tflite"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--cache", required=True)
    args = ap.parse_args()
    T = args.threads

    # Replies go to a private copy of stdout; fd 1 then points at stderr so that
    # anything TF, Keras or the TFLite runtime prints cannot corrupt the protocol.
    reply_f = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(T)
    tf.config.threading.set_inter_op_parallelism_threads(T)
    import keras
    import onnxruntime as ort
    try:
        from ai_edge_litert.interpreter import Interpreter
        import ai_edge_litert
        tflite_name = "ai-edge-litert " + getattr(ai_edge_litert, "__version__", "?")
    except ImportError:  # fall back to TF's own (deprecated) interpreter
        Interpreter = tf.lite.Interpreter
        tflite_name = "tf.lite " + tf.__version__

    state = {}

    def load(name, batches):
        state.clear()
        d = os.path.join(args.cache, name)
        model = keras.saving.load_model(os.path.join(d, "model.keras"))
        in_shape = tuple(model.input_shape[1:])
        fn = tf.function(lambda t: model(t, training=False),
                         input_signature=[tf.TensorSpec((None,) + in_shape, tf.float32)])
        so = ort.SessionOptions()
        so.intra_op_num_threads = T
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(os.path.join(d, "model.onnx"), so,
                                    providers=["CPUExecutionProvider"])
        in_name = sess.get_inputs()[0].name
        xs = {b: np.load(os.path.join(d, f"x_b{b}.npy")) for b in batches}
        tfl = {}
        for b in batches:
            it = Interpreter(model_path=os.path.join(d, f"model_b{b}.tflite"), num_threads=T)
            it.allocate_tensors()
            tfl[b] = (it, it.get_input_details()[0]["index"], it.get_output_details()[0]["index"])

        def calls(b):
            x = xs[b]
            it, ii, oi = tfl[b]

            def tfl_call():
                it.set_tensor(ii, x)
                it.invoke()
                return it.get_tensor(oi)

            return {
                "keras_predict": lambda: model.predict(x, batch_size=b, verbose=0),
                "keras_call": lambda: model(x, training=False).numpy(),
                "tf_function": lambda: fn(x).numpy(),
                "onnxruntime": lambda: sess.run(None, {in_name: x})[0],
                "tflite": tfl_call,
            }

        state.update(name=name, calls={b: calls(b) for b in batches})
        return {"ok": True}

    def outputs(b, outdir):
        os.makedirs(outdir, exist_ok=True)
        res = {}
        for e, f in state["calls"][b].items():
            try:
                np.save(os.path.join(outdir, e + ".npy"), np.asarray(f(), dtype=np.float32))
                res[e] = "ok"
            except Exception as ex:  # an engine failing on a model is a result, not a crash
                res[e] = "error: " + str(ex).splitlines()[0][:300]
        return res

    def timeit(engine, b, iters, warmup_s):
        f = state["calls"][b][engine]
        t0 = time.perf_counter()
        f()
        while time.perf_counter() - t0 < warmup_s:
            f()
        lat = np.empty(iters)
        pc = time.perf_counter_ns
        c0, w0 = time.process_time(), time.perf_counter()
        for i in range(iters):
            t = pc()
            f()
            lat[i] = pc() - t
        wall = time.perf_counter() - w0
        cpu = time.process_time() - c0
        lat /= 1e3
        return {"p50_us": float(np.median(lat)), "mean_us": wall * 1e6 / iters,
                "min_us": float(lat.min()), "iters": iters, "cpu_per_wall": cpu / wall}

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        req = json.loads(line)
        op = req.get("op")
        try:
            if op == "quit":
                break
            if op == "versions":
                rep = {"tensorflow": tf.__version__, "keras": keras.__version__,
                       "onnxruntime": ort.__version__, "tflite": tflite_name,
                       "numpy": np.__version__, "keras_backend": keras.backend.backend(),
                       "tf_threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                                      tf.config.threading.get_inter_op_parallelism_threads()]}
            elif op == "load":
                rep = load(req["model"], req["batches"])
            elif op == "outputs":
                rep = outputs(req["batch"], req["dir"])
            elif op == "time":
                rep = timeit(req["engine"], req["batch"], req["iters"], req["warmup_s"])
            else:
                rep = {"error": f"unknown op {op!r}"}
        except Exception as ex:
            traceback.print_exc()
            rep = {"error": f"{type(ex).__name__}: {str(ex).splitlines()[0][:300] if str(ex) else ''}"}
        reply_f.write(json.dumps(rep) + "\n")


if __name__ == "__main__":
    main()
