"""A fake powercap tree whose package power follows this machine's real CPU load.

    python -m tests.fakes.load_following_powercap FOLDER [IDLE_W] [W_PER_BUSY_CPU]

Builds a one-package tree (tests/fakes/fake_sysfs.py) under FOLDER, prints ``ready`` and then,
every 20 ms until killed, adds ``IDLE_W + W_PER_BUSY_CPU × busy CPUs`` × the elapsed time to
the package counter, the busy CPUs read from /proc/stat over that step. A linear model of a
CPU package: the attribution tests (tests/test_attribution.py) need a machine whose energy
rises with everyone's CPU load, which this machine, without RAPL, cannot give.

The counter lags the truth by at most one step. On a busy machine a step can last longer than
20 ms (the driver waits for a CPU like everyone else), so the longest step so far is kept in
``FOLDER/longest_step_s``: :func:`longest_step_s` gives the tests the lag to allow for.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from lepton_lab.sensors.cpu_times import machine_times
from tests.fakes.fake_sysfs import FakePowercap

STEP_S = 0.02
LONGEST = "longest_step_s"


def longest_step_s(folder: Path) -> float:
    """The longest step the driver of ``folder`` has taken so far (at least STEP_S)."""
    try:
        return max(STEP_S, float((folder / LONGEST).read_text()))
    except (OSError, ValueError):
        return STEP_S


def main(folder: str, idle_w: float = 20.0, w_per_busy_cpu: float = 15.0) -> None:
    tree = FakePowercap(Path(folder))
    package = tree.add_package(0)
    longest = 0.0
    last_t, (last_busy, _) = time.monotonic(), machine_times()
    print("ready", flush=True)
    while True:
        time.sleep(STEP_S)
        now, (busy, _) = time.monotonic(), machine_times()
        elapsed = now - last_t
        busy_cpus = (busy - last_busy) / elapsed if elapsed > 0 else 0.0
        package.add_joules((idle_w + w_per_busy_cpu * busy_cpus) * elapsed)
        last_t, last_busy = now, busy
        if elapsed > longest:  # rare after the first steps: a file write only when it grows
            longest = elapsed
            (Path(folder) / LONGEST).write_text(f"{longest:.6f}\n")


if __name__ == "__main__":
    main(sys.argv[1], *(float(a) for a in sys.argv[2:4]))
