"""A process that burns CPU on N threads and measures a fixed window of it (tests/test_attribution.py).

    python tests/attribution_worker.py THREADS START END [OPTION=VALUE ...]

THREADS threads hash a 1 MiB buffer over and over (hashlib releases the GIL, so two threads keep
two CPUs busy) from the start until END; between the wall-clock instants START and END the
process measures with ``lepton_lab.measure(**options)``. It prints one JSON line: the report's
figures for the first domain, the CPU seconds the process itself counted in the window
(``cpu_s``), what attribution counted (``process_cpu_s``, and the machine's ``busy_cpu_s``), the
wall-clock instants around the measurement's edges (``edges``: before and after entering, before
and after leaving: each exact read lies between a pair) and the machine's busy CPU seconds while
entering (``entering``: a ``--baseline`` runs there).
THREADS may be 0: the process only measures (a baseline, or a sleeping cell).
"""
from __future__ import annotations

import hashlib
import json
import sys
import threading
import time

import lepton_lab
from lepton_lab.sensors.cpu_times import machine_times

SWITCHES = ("save", "charge_idle")


def _burn(stop: threading.Event) -> None:
    data = bytes(1 << 20)
    while not stop.is_set():
        hashlib.sha256(data).digest()


def _until(wall_s: float) -> None:
    while (left := wall_s - time.time()) > 0:
        time.sleep(min(left, 0.05))


def main(threads: int, start: float, end: float, *options: str) -> None:
    kwargs: dict[str, object] = {}
    for option in options:
        name, value = option.split("=", 1)
        kwargs[name] = float(value) if name == "baseline" else bool(int(value)) if name in SWITCHES else value
    stop = threading.Event()
    workers = [threading.Thread(target=_burn, args=(stop,), daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    # Everything but the start itself before the window: the two processes' windows then differ
    # by scheduling only, not by who finished reading the carbon table first.
    block = lepton_lab.measure(**kwargs)
    lepton_lab.discover(kwargs.get("sensors"))
    machine_times()  # psutil imported now, not inside the window
    _until(start)
    cpu_before, (busy_before, _) = time.process_time(), machine_times()
    a0 = time.time()
    with block:
        a1, (busy_entered, _) = time.time(), machine_times()
        _until(end)
        b0 = time.time()
    b1, cpu_s = time.time(), time.process_time() - cpu_before
    stop.set()
    report = block.report
    domain = next(iter(report.domains.values()))
    attribution = report.attribution
    print(json.dumps({
        "view": report.view, "energy_j": report.energy_j, "machine_j": domain.machine_j,
        "process_j": domain.process_energy_j, "idle_j": domain.idle_energy_j, "share": domain.share,
        "dynamic_j": domain.machine_j - (domain.idle_energy_j or 0.0), "cpu_s": cpu_s,
        "duration_s": report.duration_s, "edges": [a0, a1, b0, b1],
        "entering": {"wall_s": a1 - a0, "busy_s": busy_entered - busy_before},
        "process_cpu_s": attribution.process_cpu_s if attribution else None,
        "busy_cpu_s": attribution.busy_cpu_s if attribution else None,
        "idle": attribution.idle if attribution else None, "methods": report.methods,
        "summary": str(report), "warnings": report.warnings,
    }))

if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), *sys.argv[4:])
