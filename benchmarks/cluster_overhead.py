"""Cost of measuring a Dask cluster (issue 11), run by hand.

1. Start + stop of a cluster measurement on a 4-worker ``LocalCluster`` (processes): identify
   the hosts, start one sampler per host, stop them and build the report. Target: median ≤ 200 ms.
2. Slowdown of a ~10 s Dask computation: unmeasured, measured, and measured with a live view
   subscribed (the headless ``LivePowerView`` the magic would display), interleaved; with the
   extra CPU the measurement costs the workers (their process CPU time, through ``client.run``)
   and the notebook process (where a ``LocalCluster``'s scheduler also runs).

    python benchmarks/cluster_overhead.py [--workers 4] [--repeats 15] [--rounds 3] [--seconds 10] [--json out]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from output import emit  # benchmarks/output.py, beside this script


def _work(iterations: int) -> int:
    """CPU work of a fixed size (not a fixed time: workers sharing a CPU must take longer)."""
    total = 0
    for i in range(iterations):
        total += i * i
    return total


def _iterations_per_s() -> float:
    t0 = time.perf_counter()
    _work(2_000_000)
    return 2_000_000 / (time.perf_counter() - t0)


def _cpu_s() -> float:
    times = os.times()
    return times.user + times.system


_RATE = {"per_s": 0.0}


def start_stop_ms(client, repeats: int) -> dict:
    from lepton_lab.cluster import ClusterMeasurement
    from lepton_lab.options import MeasureOptions

    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        measurement = ClusterMeasurement(MeasureOptions.from_user(dask=client, save=False, label="bench")).start()
        measurement.stop()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(times), "max_ms": max(times), "repeats": repeats}


def computation(client, workers: int, seconds: float) -> float:
    """~``seconds`` of work spread over the workers as many short tasks; its wall time."""
    tasks = workers * 20
    busy = min(workers, os.cpu_count() or 1)  # workers past the CPUs share them
    each = int(_RATE["per_s"] * seconds * busy / tasks)
    t0 = time.perf_counter()
    client.gather(client.map(_work, [each] * tasks, pure=False))
    return time.perf_counter() - t0


def slowdown(client, workers: int, seconds: float, rounds: int) -> dict:
    import lepton_lab
    from lepton_lab.widgets.live import LivePowerView

    walls: dict[str, list[float]] = {"plain": [], "measured": [], "live": []}
    worker_cpu: dict[str, list[float]] = {k: [] for k in walls}
    local_cpu: dict[str, list[float]] = {k: [] for k in walls}
    for r in range(rounds):
        order = list(walls) if r % 2 == 0 else list(reversed(walls))
        for mode in order:
            before_w = sum(client.run(_cpu_s).values())
            before_l = _cpu_s()
            if mode == "plain":
                wall = computation(client, workers, seconds)
            else:
                block = lepton_lab.measure(label=f"bench {mode}", dask=client, save=False)
                if mode == "live":
                    view = LivePowerView.for_measurement(block.measurement)
                    block.subscribe(view.on_sample)
                with block:
                    wall = computation(client, workers, seconds)
            walls[mode].append(wall)
            worker_cpu[mode].append(sum(client.run(_cpu_s).values()) - before_w)
            local_cpu[mode].append(_cpu_s() - before_l)
    plain = statistics.median(walls["plain"])
    result: dict = {"plain_median_s": plain, "walls_s": {k: [round(w, 3) for w in v] for k, v in walls.items()}}
    for mode in ("measured", "live"):
        wall = statistics.median(walls[mode])
        result[f"{mode}_median_s"] = wall
        result[f"{mode}_slowdown_percent"] = (wall / plain - 1) * 100
        extra_w = statistics.median(worker_cpu[mode]) - statistics.median(worker_cpu["plain"])
        extra_l = statistics.median(local_cpu[mode]) - statistics.median(local_cpu["plain"])
        result[f"{mode}_extra_worker_cpu_percent_of_a_core"] = extra_w / wall * 100
        result[f"{mode}_extra_notebook_and_scheduler_cpu_percent_of_a_core"] = extra_l / wall * 100
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("LEPTON_LAB_LEDGER", os.path.join(tempfile.mkdtemp(), "bench.sqlite"))
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, Client(cluster) as client:
        client.run(lambda: __import__("lepton_lab.measurement"))  # as after a first cell: imported once
        start_stop_ms(client, 2)  # warm-up: first discovery on each worker
        _RATE["per_s"] = _iterations_per_s()
        results = {
            "machine": {"cpus": os.cpu_count(), "workers": args.workers, "python": sys.version.split()[0]},
            "start_stop": start_stop_ms(client, args.repeats),
            "computation": slowdown(client, args.workers, args.seconds, args.rounds),
        }
    return emit(results, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
