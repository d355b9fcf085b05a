"""Someone else's load, on demand: a CPU burner outside this kernel's process tree.

Lesson 01 and the tests use it to show what attribution does on a shared machine. The burner is
started through a short-lived intermediate process that exits at once, so the burner is
re-parented away from this kernel: to the machine (and to lepton_lab) it is another user's work,
exactly like a neighbour's notebook on a JupyterHub server.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

# Threads hash a buffer (hashlib releases the GIL, so N threads keep N CPUs busy) until killed or
# until the time limit, which guards against a burner outliving a crashed kernel; with a process
# to watch (argv[3], 0 for none), also until that process is gone.
_BURNER = """
import hashlib, os, sys, threading, time
limit, watched = time.monotonic() + float(sys.argv[2]), int(sys.argv[3])
def alive():
    try:
        os.kill(watched, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True
def burn():
    data = bytes(1 << 20)
    while time.monotonic() < limit:
        hashlib.sha256(data).digest()
threads = [threading.Thread(target=burn, daemon=True) for _ in range(int(sys.argv[1]))]
for t in threads: t.start()
while time.monotonic() < limit and (not watched or alive()):
    time.sleep(min(0.5, max(0.0, limit - time.monotonic())))
"""

_LAUNCHER = """
import subprocess, sys
burner = subprocess.Popen([sys.executable, "-c", *sys.argv[1:5]], start_new_session=True,
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(burner.pid)
"""


class BackgroundBurner:
    """A process that is not this kernel's child, keeping ``threads`` CPUs busy between
    :meth:`start` and :meth:`stop` (or inside a ``with`` block).

    It stops by itself after ``max_seconds``, in case the kernel that started it is gone, and
    as soon as process ``watch_pid`` is gone if one is given (the test session, tests/busy.py)."""

    def __init__(self, threads: int = 1, max_seconds: float = 600.0, watch_pid: int | None = None):
        if int(threads) < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.threads, self.max_seconds = int(threads), float(max_seconds)
        self.watch_pid = watch_pid
        self.pid: int | None = None

    def start(self) -> BackgroundBurner:
        if self.pid is None:
            launched = subprocess.run(
                [sys.executable, "-c", _LAUNCHER, _BURNER, str(self.threads), str(self.max_seconds),
                 str(self.watch_pid or 0)],
                capture_output=True, text=True, check=True)
            self.pid = int(launched.stdout.strip())
        return self

    def stop(self) -> None:
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.pid = None

    def __enter__(self) -> BackgroundBurner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
