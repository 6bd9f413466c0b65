#!/usr/bin/env python3
"""keras2npz.py against a hostile corpus: it must never run code from a model file, never
read a file outside it, and answer every bad input with one line on stderr and exit 2.

Needs numpy and h5py only (the corpus is built by gen_hostile.py into a temp dir):
    python3 importer/keras/test_hostile.py
Tests that need Keras (showing that Keras itself would run the Lambda) or strace skip
cleanly when those are absent.
"""

import base64
import importlib.util
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import types
import unittest
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORTER = os.path.join(HERE, "keras2npz.py")
sys.path.insert(0, HERE)

import gen_hostile  # noqa: E402
import keras2npz_guard as guard  # noqa: E402

TIMEOUT = 120  # seconds; no case may take long (the 1.5 GiB bomb used to take 17 s)


def _env(tmpdir):
    env = dict(os.environ, TMPDIR=tmpdir, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    return env


class Corpus:
    """The corpus, built once per test run."""

    dir = None
    cases = None

    @classmethod
    def get(cls):
        if cls.dir is None:
            cls._td = tempfile.TemporaryDirectory(prefix="kinfer-hostile-")
            cls.dir = cls._td.name
            cls.cases = gen_hostile.build(cls.dir)
            os.makedirs(os.path.join(cls.dir, "tmp"))
        return cls

    @classmethod
    def run(cls, model, *flags, samples=False, prefix=()):
        out = os.path.join(cls.dir, "models", "out.npz")
        if os.path.exists(out):
            os.unlink(out)
        cmd = list(prefix) + [sys.executable, EXPORTER, model, out] + list(flags)
        if samples:
            cmd += ["--samples", "2"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT,
                           cwd=os.path.join(cls.dir, "models"), env=_env(os.path.join(cls.dir, "tmp")))
        return r, out


class HostileCorpusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = Corpus.get()

    def test_base_models_export(self):
        # The cases are one change away from these; they must export, or a rejection
        # could be for the wrong reason.
        for name in ("base.h5", "base.keras"):
            with self.subTest(model=name):
                r, out = self.c.run(os.path.join(self.c.dir, "models", name))
                self.assertEqual(r.returncode, 0, r.stderr)
                z = np.load(out, allow_pickle=False)
                meta = json.loads(bytes(z["kinfer_meta"]).decode())
                self.assertEqual(meta["weights"], {"dense": ["w/dense/0", "w/dense/1"]})
                np.testing.assert_array_equal(z["w/dense/0"], gen_hostile.W_KERNEL)
                np.testing.assert_array_equal(z["w/dense/1"], gen_hostile.W_BIAS)

    def test_corpus_is_complete(self):
        names = {c.name for c in self.c.cases}
        self.assertGreaterEqual(len(names), 60)
        for must in ("lambda_keras2.h5", "lambda.keras", "custom_module.keras",
                     "external_storage.h5", "external_storage.keras", "external_link.h5",
                     "external_link.keras", "soft_link_external.h5", "virtual_dataset.h5",
                     "deep_json.keras", "layers_not_objects.keras", "config_bomb_header_1_5G.keras",
                     "weights_bomb.keras"):
            self.assertIn(must, names)

    def test_every_case_is_one_line_exit_2(self):
        for c in self.c.cases:
            for samples in ((False, True) if c.samples else (False,)):
                with self.subTest(case=c.name, samples=samples):
                    r, out = self.c.run(c.file, *c.flags, samples=samples)
                    self.assertEqual(r.returncode, 2, f"stdout={r.stdout!r} stderr={r.stderr!r}")
                    lines = r.stderr.splitlines()
                    self.assertEqual(len(lines), 1, r.stderr)
                    self.assertTrue(lines[0].startswith("keras2npz: "), lines[0])
                    self.assertTrue(lines[0].isprintable(), lines[0])
                    self.assertIn(c.expect, lines[0])
                    self.assertNotIn("Traceback", r.stderr)
                    self.assertEqual(r.stdout, "")
                    self.assertFalse(os.path.exists(out), "an npz was written")
                    self.assertFalse(os.path.exists(out + ".tmp"))
                    if c.marker:
                        self.assertFalse(os.path.exists(c.marker), "the model's code ran")
        self.assertEqual(os.listdir(os.path.join(self.c.dir, "markers")), [])
        self.assertEqual(os.listdir(os.path.join(self.c.dir, "tmp")), [],
                         "private copies left behind")

    def test_not_a_regular_file(self):
        fifo = os.path.join(self.c.dir, "tmp", "fifo.keras")
        os.mkfifo(fifo)
        try:
            for p in (fifo, os.path.join(self.c.dir, "models"), "/dev/zero"):
                for samples in (False, True):
                    with self.subTest(path=p, samples=samples):
                        r, _ = self.c.run(p, samples=samples)
                        self.assertEqual(r.returncode, 2, r.stderr)
                        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        finally:
            os.unlink(fifo)


class FixturesAreLiveTest(unittest.TestCase):
    """The attacks are real: without the guards these files run code and leak bytes."""

    @classmethod
    def setUpClass(cls):
        cls.c = Corpus.get()

    def _config(self, path):
        if path.endswith(".keras"):
            with zipfile.ZipFile(path) as z:
                return json.loads(z.read("config.json"))
        import h5py

        with h5py.File(path, "r") as f:
            return json.loads(f.attrs["model_config"])

    def _lambda_code(self, cfg):
        found = []

        def walk(o):
            if isinstance(o, dict):
                if o.get("class_name") == "Lambda" and isinstance(o["config"].get("function"), list):
                    found.append(o["config"]["function"][0])
                if o.get("class_name") == "__lambda__":
                    found.append(o["config"]["code"])
                for v in o.values():
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)

        walk(cfg)
        self.assertEqual(len(found), 1)
        return found[0]

    def test_lambda_bytecode_runs_a_shell_command(self):
        for c in self.c.cases:
            if not c.marker or c.name == "custom_module.keras":
                continue
            with self.subTest(case=c.name):
                code = marshal.loads(base64.b64decode(self._lambda_code(self._config(c.file))))
                fn = types.FunctionType(code, {"__builtins__": __builtins__})
                self.assertEqual(fn(7), 7)
                self.assertTrue(os.path.exists(c.marker))
                os.unlink(c.marker)

    def test_naive_h5py_reads_leak_the_outside_file(self):
        import h5py

        secret = np.frombuffer(gen_hostile.SECRET[:48], np.float32).reshape(4, 3)
        for c in self.c.cases:
            if not c.leaks or c.name in ("external_storage_rel.h5",):
                continue
            with self.subTest(case=c.name):
                with tempfile.TemporaryDirectory() as td:
                    if c.file.endswith(".keras"):
                        with zipfile.ZipFile(c.file) as z:
                            z.extract("model.weights.h5", td)
                        path, ds = os.path.join(td, "model.weights.h5"), "layers/dense/vars/0"
                    else:
                        path, ds = c.file, "model_weights/dense/dense/kernel:0"
                    with h5py.File(path, "r") as f:
                        got = f[ds][()]
                np.testing.assert_array_equal(got, secret)


def _have(mod):
    try:
        return importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
        return False


@unittest.skipUnless(_have("tf_keras"), "tf_keras not installed")
class KerasWouldRunItTest(unittest.TestCase):
    """tf_keras's own .h5 loader runs the Lambda unless a SafeModeScope is active; the
    exporter's loader (_load_safely) does not."""

    def _load(self, path, how):
        prog = (
            "import os, sys; os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'\n"
            f"sys.path.insert(0, {HERE!r})\n"
            "import tf_keras\n"
            "if sys.argv[2] == 'safe':\n"
            "    import keras2npz_samples\n"
            "    keras2npz_samples._load_safely(tf_keras, sys.argv[1])\n"
            "else:\n"
            "    tf_keras.models.load_model(sys.argv[1], compile=False)\n"
        )
        return subprocess.run([sys.executable, "-c", prog, path, how], capture_output=True,
                              text=True, timeout=300)

    def test_tf_keras_runs_lambda_and_safe_load_does_not(self):
        c = Corpus.get()
        case = next(x for x in c.cases if x.name == "lambda_keras2.h5")
        r = self._load(case.file, "safe")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Lambda", r.stderr)
        self.assertFalse(os.path.exists(case.marker))
        r = self._load(case.file, "unsafe")
        self.assertTrue(os.path.exists(case.marker), r.stderr[-2000:])
        os.unlink(case.marker)


def _strace_works():
    if not shutil.which("strace"):
        return False
    try:
        r = subprocess.run(["strace", "-f", "-o", os.devnull, "true"], capture_output=True,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


_SYSCALL = re.compile(r'^(?:\[pid\s+\d+\]\s*|\d+\s+)?(execve|execveat|open|openat|openat2|creat)'
                      r'\((?:(-?\d+|AT_FDCWD)(?:<([^>]*)>)?, )?"((?:[^"\\]|\\.)*)"')


TRACE = "trace=execve,execveat,open,openat,openat2,creat"


@unittest.skipUnless(_strace_works(), "strace missing or not permitted")
class StraceTest(unittest.TestCase):
    """Under strace: no process is started and no file outside the model's folder is
    opened, except Python's own (the interpreter, its libraries, system libraries)."""

    CASES = ("lambda_keras2.h5", "lambda.keras", "custom_module.keras", "external_storage.h5",
             "external_storage_rel.h5", "external_storage.keras", "external_link.h5",
             "external_link.keras", "soft_link_external.h5", "virtual_dataset.h5",
             "virtual_dataset.keras", "zip_traversal.keras")

    def allowed(self, path):
        c = Corpus.get()
        # Python's own: the venv (pyvenv.cfg, site-packages), the interpreter's stdlib
        # and the landmarks it probes next to its executable; the exporter's folder.
        base = sys.base_prefix
        roots = {sys.prefix, os.path.join(base, "lib"), os.path.join(base, "lib64"),
                 os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable)),
                 HERE, os.path.join(c.dir, "models"), os.path.join(c.dir, "tmp")}
        roots |= {v for k, v in sysconfig.get_paths().items() if k in
                  ("stdlib", "platstdlib", "purelib", "platlib")}
        for mod in ("numpy", "h5py"):
            spec = importlib.util.find_spec(mod)
            roots.add(os.path.dirname(os.path.dirname(spec.origin)))
        roots |= {"/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/proc/self",
                  "/sys/devices/system/cpu", "/sys/fs/cgroup", "/usr/share/locale",
                  "/usr/lib/locale"}
        files = {"/etc/ld.so.cache", "/etc/ld.so.preload", "/dev/null", "/dev/urandom",
                 "/etc/localtime", "/proc/meminfo", "/proc/cpuinfo", "/proc/stat"}
        real = os.path.realpath(path)
        if path in files or real in files:
            return True
        return any(p == r or p.startswith(r.rstrip("/") + "/") for r in roots
                   for p in (os.path.normpath(path), real))

    def violations(self, log, cwd):
        """(processes started after the first exec, paths opened that are not allowed)."""
        outside = os.path.join(Corpus.get().dir, "outside")
        with open(log) as f:
            lines = f.read().splitlines()
        calls = [m.groups() for m in map(_SYSCALL.match, lines) if m]
        self.assertGreater(len(calls), 10, "strace output not understood")
        self.assertTrue(calls[0][0].startswith("execve"), calls[0])
        execs = [x[3] for x in calls[1:] if x[0].startswith("execve")]
        bad = []
        for call, _dirfd, dirpath, path in calls[1:]:
            if call.startswith("execve"):
                continue
            if not path.startswith("/"):
                path = os.path.join(dirpath or cwd, path)
            if path.startswith(outside + "/") or not self.allowed(path):
                bad.append(f"{call} {path}")
            elif re.search(r"/site-packages/(keras|tf_keras|tensorflow|jax)(/|\.py)", path):
                bad.append(f"{call} {path} (Keras was imported: it must never see these files)")
        return execs, bad

    def test_checker_sees_a_naive_reader(self):
        # Negative control: a reader without the guards reads the external storage and
        # runs the Lambda's bytecode; the checker must see both.
        c = Corpus.get()
        log = os.path.join(c.dir, "strace-naive.log")
        lam = next(x for x in c.cases if x.name == "lambda.keras")
        prog = ("import base64, h5py, json, marshal, sys, types, zipfile\n"
                "h5py.File(sys.argv[1], 'r')['model_weights/dense/dense/kernel:0'][()]\n"
                "cfg = json.loads(zipfile.ZipFile(sys.argv[2]).read('config.json'))\n"
                "code = cfg['config']['layers'][1]['config']['function']['config']['code']\n"
                "types.FunctionType(marshal.loads(base64.b64decode(code)), {})(1)\n")
        ext = next(x for x in c.cases if x.name == "external_storage.h5")
        models = os.path.join(c.dir, "models")
        r = subprocess.run(["strace", "-f", "-y", "-qq", "-o", log, "-e", TRACE, sys.executable,
                            "-c", prog, ext.file, lam.file], capture_output=True, text=True,
                           cwd=models, timeout=TIMEOUT, env=_env(os.path.join(c.dir, "tmp")))
        self.assertEqual(r.returncode, 0, r.stderr)
        execs, bad = self.violations(log, models)
        os.unlink(log)
        self.assertTrue(os.path.exists(lam.marker))
        os.unlink(lam.marker)
        self.assertIn("/bin/sh", execs)
        self.assertTrue(any("outside/secret.bin" in b for b in bad), bad)

    def test_no_exec_no_outside_open(self):
        c = Corpus.get()
        models = os.path.join(c.dir, "models")
        for name in self.CASES:
            case = next(x for x in c.cases if x.name == name)
            for samples in (False, True):
                with self.subTest(case=name, samples=samples):
                    log = os.path.join(c.dir, "strace.log")
                    r, _ = c.run(case.file, samples=samples,
                                 prefix=["strace", "-f", "-y", "-qq", "-o", log, "-e", TRACE])
                    self.assertEqual(r.returncode, 2, r.stderr)
                    execs, bad = self.violations(log, models)
                    os.unlink(log)
                    self.assertEqual(execs, [], "processes started")
                    self.assertEqual(bad, [], "opened outside the model's folder")
                    if case.marker:
                        self.assertFalse(os.path.exists(case.marker))


class JsonDepthTest(unittest.TestCase):
    def ref_depth(self, o):
        if isinstance(o, dict):
            return 1 + max([self.ref_depth(v) for v in o.values()], default=0)
        if isinstance(o, list):
            return 1 + max([self.ref_depth(v) for v in o], default=0)
        return 0

    def test_matches_recursive_depth(self):
        rng = np.random.default_rng(5)

        def gen(d):
            r = rng.integers(0, 6)
            if d > 12 or r == 0:
                return rng.choice(["a[b", 'q"{', "\\", "x]]}", "", 1, None, 2.5, "\\\"[["])
            if r < 3:
                return [gen(d + 1) for _ in range(rng.integers(0, 4))]
            return {f"k{i}[{{": gen(d + 1) for i in range(rng.integers(0, 4))}

        for _ in range(300):
            o = gen(0)
            s = json.dumps(o, ensure_ascii=bool(rng.integers(0, 2))).encode()
            self.assertEqual(guard.json_depth(s), self.ref_depth(o), s)

    def test_edges(self):
        self.assertEqual(guard.json_depth(b""), 0)
        self.assertEqual(guard.json_depth(b"[" * 10), 10)
        self.assertEqual(guard.json_depth(b'"' + b"[" * 10), 0)        # unterminated string
        self.assertEqual(guard.json_depth(b'["\\\\"' + b"[" * 5), 6)   # escaped backslash ends it
        self.assertEqual(guard.json_depth(b'["\\"' + b"[" * 5), 1)     # escaped quote does not
        self.assertEqual(guard.json_depth(b'"\\'), 0)                  # lone trailing backslash

    def test_pathological_strings_do_not_hang(self):
        # A backtracking string regex is quadratic on these (hours at 4-8 MB); the scan
        # must finish. Run in a child so a regression fails on TIMEOUT instead of hanging.
        prog = (f"import sys; sys.path.insert(0, {HERE!r}); import keras2npz_guard as g\n"
                "for d in (b'\"\\\\\"' * (2 << 20), b'\"\\\\' * (2 << 20), b'[]' * (4 << 20)):\n"
                "    print(g.json_depth(d))\n")
        r = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["0", "0", "1"])


class UnexpectedErrorsTest(unittest.TestCase):
    """Whatever reading the file raises (here forced: MemoryError, RecursionError, an
    h5py error, a bare KeyError) becomes one line and exit status 2."""

    def test_main_wraps_everything(self):
        import contextlib
        import io

        import keras2npz

        c = Corpus.get()
        base = os.path.join(c.dir, "models", "base.keras")
        orig = keras2npz.read_model
        for exc in (MemoryError(), RecursionError("maximum recursion depth exceeded"),
                    OSError("Unable to synchronously open object\n(bad symbol table)"),
                    KeyError("config"), ValueError("x" * 10000)):
            with self.subTest(exc=type(exc).__name__):
                def boom(*a, **k):
                    raise exc

                keras2npz.read_model = boom
                err = io.StringIO()
                try:
                    with contextlib.redirect_stderr(err):
                        rc = keras2npz.main([base, os.path.join(c.dir, "tmp", "x.npz")])
                finally:
                    keras2npz.read_model = orig
                self.assertEqual(rc, 2)
                lines = err.getvalue().splitlines()
                self.assertEqual(len(lines), 1, err.getvalue())
                self.assertIn(type(exc).__name__, lines[0])
                self.assertLess(len(lines[0]), 2500)


class OneLineTest(unittest.TestCase):
    def test_escapes_and_truncates(self):
        s = guard.one_line("a\nb\x1b[31m\u2028" + "x" * 5000)
        self.assertTrue(s.isprintable())
        self.assertNotIn("\n", s)
        self.assertLess(len(s), 2100)


class FuzzFoundTest(unittest.TestCase):
    """Files fuzz_keras2npz.py found (mutations of committed zoo sources; kept in
    testdata/exporter/): libhdf5 itself misbehaves on them, inside one attribute read."""

    def export(self, name, *flags):
        with tempfile.TemporaryDirectory() as td:
            t0 = time.monotonic()
            r = subprocess.run([sys.executable, EXPORTER, os.path.join(HERE, "testdata", "exporter", name),
                                os.path.join(td, "out.npz")] + list(flags), capture_output=True,
                               text=True, timeout=TIMEOUT, env=_env(td))
            return r, time.monotonic() - t0, os.path.exists(os.path.join(td, "out.npz"))

    def test_heap_spin_is_time_bounded(self):
        # A corrupt global heap makes libhdf5 loop (holding the GIL) while reading an
        # attribute: the watchdog ends the process with one line after --max-seconds.
        r, dt, wrote = self.export("hdf5_heap_spin.h5", "--max-seconds", "3")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("reading the model took more than 3 s", r.stderr)
        self.assertLess(dt, 30)
        self.assertFalse(wrote)

    def test_vlen_claiming_2gib_is_memory_bounded(self):
        # One overwritten 8-byte field: a weight_names string that libhdf5 sizes at 2 GiB
        # (and zero-fills) is read under a memory cap and fails fast.
        r, dt, wrote = self.export("hdf5_vlen_2gib.h5", "--max-seconds", "60")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn("attribute weight_names cannot be read in 320 MiB", r.stderr)
        self.assertLess(dt, 30)
        self.assertFalse(wrote)

    def test_watchdog_off_when_done(self):
        # A valid export under a 1 s bound that then idles must not be killed later.
        code = ("import sys, time; sys.path.insert(0, %r)\n"
                "from keras2npz_watchdog import Watchdog\n"
                "with Watchdog(0.5, 'x'):\n    pass\n"
                "time.sleep(1.5); print('alive')") % HERE
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        self.assertEqual((r.returncode, r.stdout.strip(), r.stderr), (0, "alive", ""))


if __name__ == "__main__":
    unittest.main()
