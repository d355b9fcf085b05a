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


#: Ratios within this of 1 are "about the same": a 2-CPU machine's figures move that much anyway.
SAME_WITHIN = 0.10
#: This kernel's two shares are "about the same" within this part (CPU-time splits are coarse).
NEAR_WITHIN = 0.35
#: The CPUs count as full when busy this part of the time: the machine's figure cannot grow then.
FULL_CPUS = 0.90


def _busy_part(report) -> float | None:
    """How busy the machine's CPUs were over a report (0..1), from its attribution's CPU times."""
    info = report.attribution
    cpus = os.cpu_count() or 1
    if info is None or info.busy_cpu_s is None or report.duration_s <= 0:
        return None
    return min(1.0, info.busy_cpu_s / (report.duration_s * cpus))


def neighbour_effect(alone, beside) -> list[str]:
    """Lesson 01's conclusion, worded from its two reports (the loop alone, then beside a
    neighbour): did the machine's energy grow, and is this kernel's share near the loop alone's
    share (every report stores both figures, whatever its view)?
    Where the machine's figure did not grow, the lines say why (CPUs already full)."""
    a, b = alone.machine_energy_j, beside.machine_energy_j
    ratio = b / a if a > 0 else float("nan")
    lines = [f"the machine's energy: {a:.3g} J for the loop alone ({alone.duration_s:.2f} s), {b:.3g} J beside the "
             f"neighbour ({beside.duration_s:.2f} s): ×{ratio:.2f}"]
    if ratio > 1 + SAME_WITHIN:
        lines.append("so the machine's energy grew with the neighbour's work: the sensors see every process")
    else:
        grew = "did not grow" if ratio < 1 - SAME_WITHIN or ratio != ratio else "barely changed"
        busy = _busy_part(alone)
        if busy is not None and busy >= FULL_CPUS:
            why = (f"the CPUs were already {busy:.0%} busy during the first run (other processes' load), so the "
                   "machine's figure had no room to grow")
            if alone.kind == "estimated":
                why += " (the estimate was at its cap: every CPU × its share of the TDP)"
        else:
            why = "the neighbour's work and the loop's own change in speed cancel out here; run both cells again"
        lines.append(f"so the machine's energy {grew} beside the neighbour: {why}")
    mine, before = beside.process_energy_j, alone.process_energy_j
    if mine is not None and before:
        near = 1 - NEAR_WITHIN <= mine / before <= 1 + NEAR_WITHIN
        lines.append(f"this kernel's share: {mine:.3g} J beside the neighbour, {before:.3g} J for the loop alone "
                     f"(×{mine / before:.2f}): " + ("about the same, as it should be: the neighbour's work is not "
                                                   "charged to this kernel" if near else
                                                   "not the same: a CPU-time split is noisy on a busy machine, and "
                                                   "the loop ran at a different speed; run both cells again"))
    return lines
