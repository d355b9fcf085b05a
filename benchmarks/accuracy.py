"""Accuracy of GPU energy (run on the GPU machine): counter vs integrated instant power.

For workloads of several lengths it measures the same run two ways at once: the NVML energy
counter read at the edges (what %%energy reports) and the trapezoid integral of the instant-power
field sampled at 20 Hz. It also repeats each length to show run-to-run spread, and prints the
counter's quantisation bound (one 0.1 s update of power) next to the observed differences.

    python benchmarks/accuracy.py [--lengths 0.5,1,3,10] [--repeats 5] [--json out.json]
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time


def _workload(seconds: float):
    import torch

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(8):
            a = (a @ a).clamp_(-1, 1)
        torch.cuda.synchronize()


def _integrate(samples, domain: str) -> float:
    energy = 0.0
    for before, after in itertools.pairwise(samples):
        if domain in before.power_w and domain in after.power_w:
            energy += (before.power_w[domain] + after.power_w[domain]) / 2 * (after.t_s - before.t_s)
    return energy


def measure_once(seconds: float) -> dict:
    import lepton_lab

    samples = []
    with lepton_lab.measure(label=f"accuracy {seconds}s", interval=0.05, sensors="nvml", save=False) as m:
        m.subscribe(samples.append)
        _workload(seconds)
    report = m.report
    domain = next(iter(report.domains))
    counter = report.domains[domain].energy_j
    integral = _integrate(samples, domain)
    return {"duration_s": report.duration_s, "counter_j": counter, "integral_j": integral,
            "difference_percent": (integral / counter - 1) * 100 if counter else None,
            "mean_w": report.domains[domain].mean_w, "uncertainty_j": report.domains[domain].uncertainty_j}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="0.5,1,3,10")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    try:
        import torch

        if not torch.cuda.is_available():
            raise ImportError("no CUDA device")
    except ImportError as exc:
        print(f"accuracy benchmark needs torch with a CUDA GPU ({exc}): run it on the GPU machine")
        return 2
    _workload(2.0)  # warm up clocks and kernels
    results = {}
    for seconds in [float(x) for x in args.lengths.split(",")]:
        runs = [measure_once(seconds) for _ in range(args.repeats)]
        energies = [r["counter_j"] for r in runs]
        results[str(seconds)] = {
            "runs": runs,
            "counter_mean_j": statistics.mean(energies),
            "counter_cv_percent": statistics.pstdev(energies) / statistics.mean(energies) * 100,
            "median_difference_percent": statistics.median(r["difference_percent"] for r in runs),
            "quantisation_bound_percent": 0.1 / seconds * 100,
        }
        print(f"{seconds:>5} s: counter {results[str(seconds)]['counter_mean_j']:.1f} J, "
              f"cv {results[str(seconds)]['counter_cv_percent']:.2f} %, "
              f"integral vs counter {results[str(seconds)]['median_difference_percent']:+.2f} %, "
              f"quantisation bound ±{results[str(seconds)]['quantisation_bound_percent']:.1f} %")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
