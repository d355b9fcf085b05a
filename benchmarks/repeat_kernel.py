"""Repeat until precise on a short GPU kernel (issue 17): one measured run against lepton_lab.repeat.

    python benchmarks/repeat_kernel.py [--until 0.02] [--json out.json] [--dry-run]

On a CUDA GPU: a ~5 ms matmul (synchronised, so a run is the kernel's whole work), measured once
with lepton_lab.measure() (its ± is mostly the sensor's sampling) and with lepton_lab.repeat(fn,
until=...) on NVML (energy per run ± 95 % CI, trials, runs). ``--dry-run`` (or no CUDA GPU) runs
the same procedure on a CPU loop with whatever sensor is here, and says so.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import lepton_lab


def workload(dry_run: bool) -> tuple[Any, str, dict[str, Any]]:
    if not dry_run:
        import torch

        if torch.cuda.is_available():
            a = torch.randn(4096, 4096, device="cuda")

            def kernel() -> None:
                a @ a
                torch.cuda.synchronize()
            return kernel, f"4096² fp32 matmul on {torch.cuda.get_device_name(0)}", {"sensors": "nvml"}

    def loop() -> None:
        total = 0
        for i in range(200_000):
            total += i
    return loop, "a CPU loop (dry run: no CUDA GPU)", {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--until", type=float, default=0.02)
    parser.add_argument("--json", default=None)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    fn, what, options = workload(args.dry_run)
    fn()  # warm-up for the single run too
    with lepton_lab.measure(label="short kernel, once", **options) as block:
        fn()
    once = block.report
    result = lepton_lab.repeat(fn, until=args.until, label="short kernel, repeated", **options)
    print(f"workload: {what}; measured once over {once.duration_s * 1000:.1f} ms")
    print(f"once:     {once.energy_j:.3f} J ± {once.uncertainty_j:.3f} J ({once.kind})")
    for note in once.notes[-2:]:
        print(f"          note: {note}")
    print(f"repeated: {result}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "workload": what, "once_j": once.energy_j, "once_uncertainty_j": once.uncertainty_j,
            "per_run_j": result.energy_per_run_j, "ci_j": result.ci_j, "trials": result.trials,
            "runs_per_trial": result.runs_per_trial, "reached": result.reached, "per_trial_j": result.per_run_j,
            "kind": result.kind}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
