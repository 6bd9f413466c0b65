#!/usr/bin/env python3
"""kinfer serve against a client nobody here wrote: tritonclient's KServe v2 HTTP
and gRPC clients (serve/requirements-test.txt pins it).

    python3 serve/test_tritonclient.py PATH/TO/kinfer

builds a model repository of the zoo (every ONNX and Keras fixture with stored
inputs) in a temporary folder, starts
`kinfer serve --repo` on free loopback ports, and checks for each model that HTTP
(binary and JSON tensors) and gRPC return the outputs `kinfer run` writes for the
same input (|got - want| <= 1e-5 + 1e-5*|want|: batched runs may round differently
from a lone one), plus metadata, readiness, errors and a SIGTERM exit. Prints
'N passed, N failed' and exits non-zero on any failure.
"""
import glob
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ONNX = os.path.join(ROOT, "testdata", "onnx")
KERAS = os.path.join(ROOT, "testdata", "keras")



def zoo():
    """name -> (kind, model path): every ONNX fixture with stored inputs and every Keras
    fixture (testdata/keras, keras_layers, keras_dag) with stored samples."""
    out = {}
    for f in sorted(glob.glob(os.path.join(ONNX, "*.onnx"))):
        stem = os.path.basename(f)[:-5]
        if os.path.exists(os.path.join(ONNX, stem + ".inputs.npy")):
            out["onnx_" + stem] = ("onnx", f)
    for d in ("keras", "keras_layers", "keras_dag"):
        for f in sorted(glob.glob(os.path.join(ROOT, "testdata", d, "*.npz"))):
            with np.load(f) as z:
                if "samples/x" in z.files or "samples/x_0" in z.files:
                    out[d + "_" + os.path.basename(f)[:-4]] = ("npz", f)
    return out


ZOO = zoo()

ATOL = RTOL = 1e-5
results = {"passed": 0, "failed": 0}


def check(name, fn):
    try:
        fn()
        results["passed"] += 1
        print("ok  ", name)
    except Exception:  # noqa: BLE001 - report and go on
        results["failed"] += 1
        print("FAIL", name)
        traceback.print_exc()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inputs_of(kind, path, tmp):
    """The sample inputs as .npy paths (an npz's stored samples are written out)."""
    if kind == "npz":
        stem = os.path.basename(path)[:-4]
        with np.load(path) as z:
            keys = ["samples/x"] if "samples/x" in z.files else sorted(
                (k for k in z.files if k.startswith("samples/x_")), key=lambda k: int(k.rsplit("_", 1)[1]))
            paths = []
            for i, k in enumerate(keys):
                p = os.path.join(tmp, "%s.x%d.npy" % (stem, i))
                np.save(p, z[k])
                paths.append(p)
        return paths
    stem = path[:-5]
    paths = [stem + ".inputs.npy"]
    k = 1
    while os.path.exists("%s.inputs.%d.npy" % (stem, k)):
        paths.append("%s.inputs.%d.npy" % (stem, k))
        k += 1
    return paths


def kinfer_run(kinfer, path, ins, tmp):
    out = os.path.join(tmp, os.path.basename(path) + ".out.npy")
    subprocess.run([kinfer, "run", path, *ins, "-o", out], check=True, stdout=subprocess.DEVNULL)
    outs, k = [np.load(out)], 1
    while os.path.exists(out[:-4] + ".%d.npy" % k):
        outs.append(np.load(out[:-4] + ".%d.npy" % k))
        k += 1
    return outs


def close(got, want, what):
    got = np.asarray(got, dtype=np.float32)
    if got.shape != want.shape:
        raise AssertionError("%s: shape %s, kinfer run %s" % (what, got.shape, want.shape))
    bad = np.abs(got - want) > ATOL + RTOL * np.abs(want)
    if bad.any():
        i = np.argwhere(bad)[0]
        raise AssertionError("%s: %d values differ, first at %s: %r vs %r" % (
            what, bad.sum(), tuple(i), got[tuple(i)], want[tuple(i)]))


def np_dtype(dt):
    return {"FP32": np.float32, "INT32": np.int32}[dt]


def main():
    kinfer = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="kinfer-serve-test-")
    repo = os.path.join(tmp, "repo")
    for name, (kind, path) in ZOO.items():
        os.makedirs(os.path.join(repo, name, "1"))
        os.symlink(path, os.path.join(repo, name, "1", "model." + kind))
    # A second version of one model: the default version is the greatest.
    mlp = "onnx_keras_mlp_op13"
    os.makedirs(os.path.join(repo, mlp, "2"))
    os.symlink(os.path.join(ONNX, "keras_mlp_op17.onnx"), os.path.join(repo, mlp, "2", "model.onnx"))

    hport, gport = free_port(), free_port()
    log = open(os.path.join(tmp, "server.log"), "w")
    srv = subprocess.Popen([kinfer, "serve", "--repo", repo, "--http", "127.0.0.1:%d" % hport,
                            "--grpc", "127.0.0.1:%d" % gport, "--max-queue-delay", "1ms"],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        h = httpclient.InferenceServerClient("127.0.0.1:%d" % hport)
        g = grpcclient.InferenceServerClient("127.0.0.1:%d" % gport)
        deadline = time.time() + 60
        while True:
            try:
                if h.is_server_ready():
                    break
            except Exception:  # noqa: BLE001 - not listening yet
                pass
            if srv.poll() is not None or time.time() > deadline:
                raise SystemExit("server did not start; log: " + open(log.name).read())
            time.sleep(0.1)

        def health():
            assert h.is_server_live() and h.is_server_ready()
            assert g.is_server_live() and g.is_server_ready()
            assert h.get_server_metadata()["name"] == "kinfer"
            assert g.get_server_metadata().name == "kinfer"
            assert "binary_tensor_data" in h.get_server_metadata()["extensions"]
            assert h.is_model_ready(mlp) and g.is_model_ready(mlp, "2")
            assert h.get_model_metadata(mlp)["versions"] == ["1", "2"]
        check("health and metadata", health)

        for name, (kind, path) in ZOO.items():
            ins = inputs_of(kind, path, tmp)
            want = kinfer_run(kinfer, path, ins, tmp)
            xs = [np.load(p) for p in ins]
            hmeta = h.get_model_metadata(name)
            gmeta = g.get_model_metadata(name)

            def via_http(binary, name=name, xs=xs, want=want, meta=hmeta):
                reqs = []
                for t, x in zip(meta["inputs"], xs):
                    i = httpclient.InferInput(t["name"], list(x.shape), t["datatype"])
                    i.set_data_from_numpy(x.astype(np_dtype(t["datatype"])), binary_data=binary)
                    reqs.append(i)
                outs = [httpclient.InferRequestedOutput(t["name"], binary_data=binary) for t in meta["outputs"]]
                r = h.infer(name, reqs, model_version="1", outputs=outs, request_id="r1")
                assert r.get_response()["id"] == "r1"
                for t, w in zip(meta["outputs"], want):
                    close(r.as_numpy(t["name"]), w, "%s %s" % (name, t["name"]))

            def via_grpc(name=name, xs=xs, want=want, meta=gmeta):
                reqs = []
                for t, x in zip(meta.inputs, xs):
                    i = grpcclient.InferInput(t.name, list(x.shape), t.datatype)
                    i.set_data_from_numpy(x.astype(np_dtype(t.datatype)))
                    reqs.append(i)
                r = g.infer(name, reqs, model_version="1")
                for t, w in zip(meta.outputs, want):
                    close(r.as_numpy(t.name), w, "%s %s" % (name, t.name))

            check("http binary " + name, lambda: via_http(True))
            check("http json " + name, lambda: via_http(False))
            check("grpc " + name, via_grpc)

        def errors():
            x = np.zeros((1, 3), np.float32)
            i = httpclient.InferInput("x", [1, 3], "FP32")
            i.set_data_from_numpy(x)
            for fn, msg in ((lambda: h.infer("nope", [i]), "unknown model"),
                            (lambda: h.infer(mlp, [i]), "shape")):
                try:
                    fn()
                except InferenceServerException as e:
                    assert msg in str(e), str(e)
                else:
                    raise AssertionError("no error for " + msg)
            gi = grpcclient.InferInput("x", [1, 3], "FP32")
            gi.set_data_from_numpy(x)
            try:
                g.infer(mlp, [gi])
            except InferenceServerException as e:
                assert e.status() == "StatusCode.INVALID_ARGUMENT", e.status()
            else:
                raise AssertionError("no gRPC error")
        check("errors", errors)

        def metrics():
            import urllib.request
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hport).read().decode()
            for m in ("kinfer_requests_total", "kinfer_request_errors_total", "kinfer_request_duration_seconds",
                      "kinfer_queue_duration_seconds", "kinfer_batch_size"):
                assert m in text, m
        check("metrics", metrics)
    finally:
        srv.send_signal(signal.SIGTERM)
        try:
            rc = srv.wait(timeout=30)
        except subprocess.TimeoutExpired:
            srv.kill()
            rc = "killed"
        log.close()
    check("SIGTERM exit", lambda: (_ for _ in ()).throw(AssertionError("exit %s" % rc)) if rc != 0 else None)
    if results["failed"]:
        print(open(log.name).read()[-3000:])
    print("%d passed, %d failed" % (results["passed"], results["failed"]))
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
