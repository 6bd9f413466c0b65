#!/usr/bin/env python3
"""Run kinfer on the corpus of testdata/gen_hostile2.py, and hostile requests against
`kinfer serve`, checking what issue 15 asks: no panic, no Go fatal error (out of memory),
no hang, no file opened outside the model's folder and no process started (strace -f
-e trace=open,openat,execve), and no rejected file using more than 512 MiB above the
baseline (the same command on a small valid model).

    go build -o /tmp/kinfer ./cmd/kinfer
    /opt/kvenv/bin/python testdata/gen_hostile2.py /tmp/kh2
    /opt/kvenv/bin/python testdata/measure_hostile2.py /tmp/kh2 /tmp/kinfer

Prints one line per command (exit status, max RSS, first error line) and a summary;
exits 1 if anything broke the rules. Needs numpy, strace and GNU time.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "/tmp/kinfer-hostile2")
BIN = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "/tmp/kinfer")
TIMEOUT = 60
OVER_MIB = 512
OPEN = re.compile(r'^(\d+)\s+(open|openat|execve)\((?:AT_FDCWD, |\d+, )?"([^"]*)"')
# the dynamic loader (kinfer links libc when cgo is on) and the runtime's own reads
ALLOWED = ("/proc/", "/sys/", "/dev/null", "/etc/ld.so.cache", "/lib/x86_64-linux-gnu/", "/lib64/", "/usr/lib/", "/etc/localtime", "/usr/share/zoneinfo/", "/dev/urandom")


def opens(log, allowed_dirs):
    """(processes started besides time and kinfer, paths opened by kinfer outside allowed_dirs)."""
    exe, started, execs, bad = {}, False, [], []
    tools = ("/usr/bin/time", "/usr/bin/timeout", "/bin/timeout", "timeout")
    with open(log) as f:
        for line in f:
            m = OPEN.match(line)
            if not m:
                continue
            pid, call, path = m.groups()
            if call == "execve":
                exe[pid] = path
                if path == BIN:
                    started = True
                elif not path.endswith(tools) and not (path.endswith("/timeout") and not started):
                    execs.append(path)
                continue
            # GNU time and timeout(1) load their libc; a pid first seen after kinfer
            # started is one of kinfer's threads.
            if exe.setdefault(pid, BIN if started else "?") != BIN:
                continue
            p = os.path.normpath(path if path.startswith("/") else os.path.join(DIR, path))
            if p == BIN or p.startswith(ALLOWED) or any(p == d or p.startswith(d + "/") for d in allowed_dirs):
                continue
            bad.append(p)
    return execs, bad


def measure(args, allowed_dirs, stdin=None):
    with tempfile.TemporaryDirectory() as td:
        log, tf, err = (os.path.join(td, n) for n in ("strace", "time", "err"))
        cmd = ["strace", "-f", "-qq", "-o", log, "-e", "trace=open,openat,execve",
               "/usr/bin/time", "-v", "-o", tf, "timeout", "-s", "KILL", str(TIMEOUT), BIN] + args
        with open(err, "w") as ef:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=ef, stdin=subprocess.DEVNULL)
        tv = open(tf).read()
        rc = int(re.search(r"Exit status: (\d+)", tv).group(1)) if "Exit status" in tv else -1
        if "Command terminated by signal" in tv:
            rc = 128 + int(re.search(r"signal (\d+)", tv).group(1))
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv).group(1)) // 1024
        e = open(err).read()
        # GNU time's own notes are not kinfer's
        e = "\n".join(ln for ln in e.splitlines() if not ln.startswith(("Command exited", "Command terminated")))
        execs, bad = opens(log, allowed_dirs)
        # timeout(1) is exec'd by time: not kinfer's doing
        execs = [x for x in execs if not x.endswith("/timeout")]
        return rc, rss, e, execs, bad


def npy_input(shape, dtype, td):
    p = os.path.join(td, "x_" + "x".join(map(str, shape)) + "_" + dtype + ".npy")
    if not os.path.exists(p):
        rng = np.random.default_rng(0)
        if dtype.startswith("int"):
            a = rng.integers(0, 3, size=shape).astype(dtype)
        else:
            a = rng.standard_normal(shape).astype(dtype)
        np.save(p, a)
    return p


def main():
    manifest = json.load(open(os.path.join(DIR, "MANIFEST.json")))
    inputs = os.path.join(DIR, "inputs")
    os.makedirs(inputs, exist_ok=True)
    allowed = [DIR, os.path.join(ROOT, "testdata")]
    fails, rows, counts = [], [], {}
    base = {}
    mlp = os.path.join(ROOT, "testdata", "keras", "mlp_regressor.npz")
    for kind, args in (("info", ["info", mlp]), ("info64", ["info", "--batch", "64", mlp]),
                       ("run", ["run", mlp, npy_input([1, 8], "float32", inputs)])):
        rc, rss, e, _, _ = measure(args, allowed)
        base[kind] = rss
        print(f"baseline {kind:7s} rc={rc} maxRSS={rss} MiB")
    max_over = (0, "")
    for name in sorted(manifest):
        v = manifest[name]
        f = os.path.join(DIR, name)
        x = npy_input(v["input"], v.get("dtype", "float32") if v.get("dtype") != "float16" else "float32", inputs)
        for kind, args in (("info", ["info", f]), ("info64", ["info", "--batch", "64", f]), ("run", ["run", f, x])):
            rc, rss, e, execs, bad = measure(args, allowed)
            first = next((ln for ln in e.splitlines() if ln.strip()), "")
            why = []
            if rc not in (0, 1):
                why.append(f"exit {rc}" + (" (hang: killed at %d s)" % TIMEOUT if rc == 137 else ""))
            if re.search(r"^(panic|fatal error)|goroutine \d+ \[", e, re.M):
                why.append("panic/fatal")
            if execs:
                why.append(f"started {execs}")
            if bad:
                why.append(f"opened {sorted(set(bad))[:3]}")
            over = rss - base[kind]
            if rc != 0 and over > OVER_MIB:
                why.append(f"rejected but {over} MiB over baseline")
            if rc != 0 and over > max_over[0]:
                max_over = (over, f"{kind} {name}")
            counts[rc] = counts.get(rc, 0) + 1
            line = f"{kind:6s} {name:34s} rc={rc:<3d} RSS={rss:5d} MiB  {first[:150]}"
            print(("FAIL " if why else "     ") + line + (f"  <-- {'; '.join(why)}" if why else ""))
            if why:
                fails.append((line, why))
            rows.append((kind, name, rc, rss))
    serve_fails, serve_n = serve_checks(allowed)
    fails += serve_fails
    ncmd = len(rows)
    print(f"\n{len(manifest)} files, {ncmd} commands: exit 0 {counts.get(0, 0)}, exit 1 {counts.get(1, 0)}, "
          f"other {ncmd - counts.get(0, 0) - counts.get(1, 0)}; max RSS over baseline on a rejected file "
          f"{max_over[0]} MiB ({max_over[1]}); serve: {serve_n} hostile requests; {len(fails)} failures")
    for line, why in fails:
        print("FAIL", line, why)
    return 1 if fails else 0


# ---------------------------------------------------------------- serve


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def req(port, method, path, body=b"", headers=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    except (ConnectionError, http.client.HTTPException, socket.timeout) as e:
        return None, str(e).encode()
    finally:
        c.close()


def serve_requests():
    """(label, body bytes, extra headers, statuses accepted) for model mlp (input (N, 8) FP32)."""
    def j(obj):
        return json.dumps(obj).encode()

    def inp(shape, data, dt="FP32", name=None):
        return {"name": name or "INPUT", "shape": shape, "datatype": dt, "data": data}
    good = inp([1, 8], [0.5] * 8)
    bad4 = (400, 413, 422)
    out = [("valid", j({"inputs": [good]}), {}, (200,))]
    for label, shape in (("shape 2^40", [1 << 40, 8]), ("shape overflow", [1 << 62, 1 << 62]),
                         ("shape negative", [-1, 8]), ("shape rank 1000", [1] * 1000),
                         ("shape huge zero data", [1 << 30, 8]), ("shape wrong inner", [1, 9]),
                         ("shape 2^31 batch", [1 << 31, 8])):
        out.append((label, j({"inputs": [inp(shape, [0.5] * 8)]}), {}, bad4))
    out.append(("data strings", j({"inputs": [inp([1, 8], ["x"] * 8)]}), {}, bad4))
    out.append(("datatype INT8 with floats", j({"inputs": [inp([1, 8], [0.5] * 8, "INT8")]}), {}, bad4))
    out.append(("datatype BYTES", j({"inputs": [inp([1, 8], ["a"] * 8, "BYTES")]}), {}, bad4))
    out.append(("datatype unknown", j({"inputs": [inp([1, 8], [0.5] * 8, "FP128")]}), {}, bad4))
    out.append(("data nested deep", b'{"inputs": [{"name": "INPUT", "shape": [1, 8], "datatype": "FP32", "data": '
                + b"[" * 100000 + b"]" * 100000 + b"}]}", {}, bad4))
    out.append(("data 2^20 elements for 8", j({"inputs": [inp([1, 8], [0.0] * (1 << 20))]}), {}, bad4))
    out.append(("body 80 MiB", b'{"inputs": [{"name": "INPUT", "shape": [1, 8], "datatype": "FP32", "data": ['
                + b"0," * (40 << 20) + b"0]}]}", {}, (400, 413, None)))  # None: closed while we send
    out.append(("json number 1e400", j({"inputs": [inp([1, 8], [0.5] * 7)]}).replace(b"0.5]", b"0.5, 1e400]"), {}, bad4 + (200,)))
    out.append(("1000 inputs", j({"inputs": [good] * 1000}), {}, bad4))
    out.append(("outputs 10000 names", j({"inputs": [good], "outputs": [{"name": "y%d" % i} for i in range(10000)]}), {}, bad4))
    out.append(("not json", b"\xff\xfe{", {}, bad4))
    hdr = j({"inputs": [{"name": "INPUT", "shape": [1, 8], "datatype": "FP32",
                         "parameters": {"binary_data_size": 32}}]})
    for label, hlen, payload, ok in (
            ("binary ok", len(hdr), bytes(32), (200,)),
            ("binary short payload", len(hdr), bytes(8), bad4),
            ("binary long payload", len(hdr), bytes(4096), bad4),
            ("binary header length huge", 1 << 40, bytes(32), bad4),
            ("binary header length negative", -5, bytes(32), bad4),
            ("binary header length past body", len(hdr) + 100, bytes(32), bad4),
            ("binary header length zero", 0, bytes(32), bad4)):
        out.append((label, hdr + payload, {"Inference-Header-Content-Length": str(hlen),
                                           "Content-Type": "application/octet-stream"}, ok))
    hdr2 = j({"inputs": [{"name": "INPUT", "shape": [1 << 20, 8], "datatype": "FP32",
                          "parameters": {"binary_data_size": 32}}]})
    out.append(("binary shape 2^20 with 32 bytes", hdr2 + bytes(32), {"Inference-Header-Content-Length": str(len(hdr2))}, bad4))
    hdr3 = j({"inputs": [{"name": "INPUT", "shape": [1, 8], "datatype": "FP32",
                          "parameters": {"binary_data_size": 1 << 40}}]})
    out.append(("binary_data_size 2^40", hdr3 + bytes(32), {"Inference-Header-Content-Length": str(len(hdr3))}, bad4))
    hdr4 = j({"inputs": [{"name": "INPUT", "shape": [1, 8], "datatype": "FP32",
                          "parameters": {"binary_data_size": -32}}]})
    out.append(("binary_data_size negative", hdr4 + bytes(32), {"Inference-Header-Content-Length": str(len(hdr4))}, bad4))
    out.append(("content-length lies", j({"inputs": [good]}), {"Content-Length": str(1 << 40)}, bad4 + (None,)))
    return out


def serve_checks(allowed):
    port, gport = free_port(), free_port()
    mlp = os.path.join(ROOT, "testdata", "keras", "mlp_regressor.npz")
    td = tempfile.mkdtemp()
    log = os.path.join(td, "strace")
    errf = open(os.path.join(td, "err"), "w")
    p = subprocess.Popen(["strace", "-f", "-qq", "-o", log, "-e", "trace=open,openat,execve", BIN, "serve",
                          "--http", f"127.0.0.1:{port}", "--grpc", "", "mlp=" + mlp],
                         stdout=subprocess.DEVNULL, stderr=errf)
    fails = []
    try:
        for _ in range(200):
            st, _ = req(port, "GET", "/v2/health/ready", timeout=2)
            if st == 200:
                break
            time.sleep(0.1)
        else:
            return [("serve did not start", ["no readiness"])], 0
        meta = json.loads(req(port, "GET", "/v2/models/mlp")[1])
        in_name = meta["inputs"][0]["name"]
        reqs = serve_requests()
        for label, body, headers, ok in reqs:
            body = body.replace(b'"INPUT"', json.dumps(in_name).encode())
            t0 = time.monotonic()
            if "Content-Length" in headers:
                st, resp = raw_post(port, "/v2/models/mlp/infer", body, headers)
            else:
                st, resp = req(port, "POST", "/v2/models/mlp/infer", body, headers)
            dt = time.monotonic() - t0
            alive = req(port, "GET", "/v2/health/live", timeout=5)[0] == 200
            why = []
            if st not in ok:
                why.append(f"status {st}, want {ok}")
            if not alive:
                why.append("server died")
            if dt > 20:
                why.append(f"took {dt:.1f} s")
            msg = resp[:140].decode("utf-8", "replace").replace("\n", " ")
            print(("FAIL " if why else "     ") + f"serve  {label:34s} status={st} {dt:5.2f}s {msg}"
                  + (f"  <-- {'; '.join(why)}" if why else ""))
            if why:
                fails.append((f"serve {label}", why))
            if not alive:
                break
        kpid = kinfer_pid(p.pid)
        hwm = vm_hwm(kpid)
        print(f"serve: peak RSS (VmHWM) {hwm} MiB after {len(reqs)} requests")
        if hwm is not None and hwm > OVER_MIB + 100:
            fails.append(("serve peak RSS", [f"{hwm} MiB"]))
    finally:
        # SIGTERM to strace would detach it and leave kinfer serving: stop kinfer itself.
        kpid = kinfer_pid(p.pid)
        if kpid:
            os.kill(kpid, signal.SIGTERM)
        else:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=40)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        errf.close()
    execs, bad = opens(log, allowed)
    err = open(os.path.join(td, "err")).read()
    if re.search(r"^(panic|fatal error)", err, re.M):
        fails.append(("serve stderr", ["panic/fatal"]))
    if execs or bad:
        fails.append(("serve strace", [f"started {execs}", f"opened {sorted(set(bad))[:5]}"]))
    print(f"serve strace: {len(execs)} processes started, {len(set(bad))} paths opened outside the model folder")
    shutil.rmtree(td, ignore_errors=True)
    return fails, len(serve_requests())


def raw_post(port, path, body, headers):
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        h = f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + \
            "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        s.sendall(h.encode() + body)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        m = re.match(rb"HTTP/1\.1 (\d+)", data)
        return (int(m.group(1)) if m else None), data.split(b"\r\n\r\n", 1)[-1]
    except OSError as e:
        return None, str(e).encode()
    finally:
        s.close()


def kinfer_pid(strace_pid):
    for c in os.listdir("/proc"):
        if c.isdigit():
            try:
                st = open(f"/proc/{c}/stat").read()
                if int(st.rsplit(")", 1)[1].split()[1]) == strace_pid:
                    return int(c)
            except (OSError, ValueError, IndexError):
                pass
    return None


def vm_hwm(pid):
    if pid is None:
        return None
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) // 1024
    return None


if __name__ == "__main__":
    sys.exit(main())
