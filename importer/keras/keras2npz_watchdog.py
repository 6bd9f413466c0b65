"""A time bound on reading a model that holds even while libhdf5 loops.

Some corrupt HDF5 files make libhdf5 itself spin (found by fuzz_keras2npz.py: a global
heap whose deserialization never ends while an attribute is read). h5py holds the GIL
for every HDF5 call, so no Python signal handler or thread can run until the call
returns; only code that needs no GIL can end the process. With glibc, two POSIX timers
with SIGEV_THREAD notification call libc functions directly in their own threads:
warnx() prints the exporter's one line ("keras2npz: ...", program_invocation_short_name
set to "keras2npz") and, a moment later, _exit(2). Nothing new is started (no process,
no Python thread); the timers are deleted when the guarded block ends.

Where this is not available (no glibc timer_create), the bound is not enforced and
`Watchdog` is a no-op; everything else behaves the same.
"""

import ctypes

SIGEV_THREAD = 2
CLOCK_MONOTONIC = 1


class _Sigevent(ctypes.Structure):
    # glibc's struct sigevent on 64- and 32-bit Linux: value, signo, notify, then a
    # union padded to 64 bytes whose SIGEV_THREAD member is (function, attributes).
    _fields_ = [("value", ctypes.c_void_p), ("signo", ctypes.c_int), ("notify", ctypes.c_int),
                ("function", ctypes.c_void_p), ("attribute", ctypes.c_void_p),
                ("pad", ctypes.c_byte * 32)]


class _Timespec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("interval", _Timespec), ("value", _Timespec)]


def _libc():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        for f in ("timer_create", "timer_settime", "timer_delete", "warnx", "_exit"):
            getattr(libc, f)
        ctypes.c_void_p.in_dll(libc, "program_invocation_short_name")
        libc.timer_create.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        libc.timer_settime.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
        libc.timer_delete.argtypes = [ctypes.c_void_p]
        return libc
    except (OSError, AttributeError, ValueError):
        return None


class Watchdog:
    """with Watchdog(seconds, message): ends the process with `keras2npz: message` on
    stderr and exit status 2 if the block has not finished after `seconds`."""

    def __init__(self, seconds, message):
        self.seconds = seconds
        self.message = message.replace("%", "%%").encode("utf-8", "replace")
        self.timers = []
        self._keep = []  # C strings the timer threads read: alive as long as the timers

    def __enter__(self):
        libc = _libc()
        if libc is None or not self.seconds or self.seconds <= 0:
            return self
        name = ctypes.create_string_buffer(b"keras2npz")
        msg = ctypes.create_string_buffer(self.message)
        self._keep = [name, msg]
        ctypes.c_void_p.in_dll(libc, "program_invocation_short_name").value = ctypes.addressof(name)
        for delay, fn, arg in ((self.seconds, "warnx", ctypes.addressof(msg)),
                               (self.seconds + 0.5, "_exit", 2)):
            ev = _Sigevent(value=arg, signo=0, notify=SIGEV_THREAD,
                           function=ctypes.cast(getattr(libc, fn), ctypes.c_void_p).value)
            tid = ctypes.c_void_p()
            if libc.timer_create(CLOCK_MONOTONIC, ctypes.byref(ev), ctypes.byref(tid)) != 0:
                self._delete(libc)
                return self
            self.timers.append(tid)
            sec = int(delay)
            spec = _Itimerspec(value=_Timespec(sec, int((delay - sec) * 1e9)))
            if libc.timer_settime(tid, 0, ctypes.byref(spec), None) != 0:
                self._delete(libc)
                return self
        return self

    def _delete(self, libc):
        for tid in self.timers:
            libc.timer_delete(tid)
        self.timers = []

    def __exit__(self, *exc):
        if self.timers:
            self._delete(_libc())
        return False
