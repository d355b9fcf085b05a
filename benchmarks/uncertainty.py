"""The integration path's printed ± against an external power meter (SC'24 A100 data).

    python benchmarks/uncertainty.py [--windows 1000] [--interval 0.1] [--json out.json]

For each window length, many random windows over the ~10 s where the meter and nvidia-smi both
recorded: the energy lepton_lab's NvmlSensor computes from the on-board instant power (pre-Volta
path) against the meter's, and the uncertainty the report prints. Prints a Markdown table
(the one in benchmarks/README.md), with the model used before this check beside it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lepton_lab.traces.meter_check import WINDOWS_S, MeterWindows


def previous_model(energy_j: float, length_s: float) -> float:
    """Before the meter check: one update period of mean power + 5 % (a guess)."""
    return abs(energy_j) / length_s * 0.1 + 0.05 * abs(energy_j)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.1, help="the sampler's interval (s)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    meter = MeterWindows()
    rows = []
    print("| window | windows | median error | 95th pct error | printed ± (median) | covered | ± / 95th pct "
          "| before: covered |")
    print("|---|---|---|---|---|---|---|---|")
    for length in WINDOWS_S:
        stats = meter.stats(length, args.windows, seed=2024, interval=args.interval)
        rng = np.random.default_rng(2024)
        before = []
        for start in rng.uniform(meter.start, meter.end - length, args.windows):
            energy = meter.sensor_energy_j(start, length, args.interval)
            before.append(abs(energy - meter.meter_energy_j(start, start + length)) <= previous_model(energy, length))
        rows.append({**vars(stats), "previous_model_coverage": float(np.mean(before))})
        print(f"| {length:g} s | {stats.windows} | {stats.median_error_j:.1f} J | {stats.p95_error_j:.1f} J "
              f"({stats.p95_error_relative:.0%}) | {stats.median_uncertainty_j:.1f} J | {stats.coverage:.1%} | "
              f"{stats.uncertainty_over_p95:.2f} | {np.mean(before):.1%} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
