"""The printed ± against an external meter, on every SC'24 recording there is (issue 17).

    python benchmarks/uncertainty.py [--windows 2000] [--interval 0.1] [--raw ../shared/traces] [--json out.json]

For each recording and power field: lepton_lab's NvmlSensor reads the GPU's recorded on-board power
every ``--interval`` seconds (lepton_lab.traces.check_against_meter), over random windows and over
windows starting 0-50 ms before a load step; prints per window length the coverage of the printed
±, the 95th-percentile error, the median ± and their ratio (Markdown, as in docs/uncertainty.md).
The shipped A100 recording always runs; the raw ones when ``--raw`` (default ../shared/traces) has them.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lepton_lab.traces import check_against_meter, convert, series

RAW_SETS = {"a100-square-wave-sc24": "NVIDIA A100-SXM4-40GB", "a100-transient-sc24": "NVIDIA A100-SXM4-40GB",
            "rtx3090-square-wave-sc24": "NVIDIA GeForce RTX 3090"}
COLUMNS = {"power_draw_instant_w": "instant", "power_draw_w": "usage"}


def rising_steps(folder: Path, meter: tuple[list[float], list[float]], lo: float, hi: float) -> list[float]:
    t, w = (np.asarray(v) for v in meter)
    steps = []
    for s in convert.load_steps(folder):
        before, after = w[(t > s - 0.03) & (t < s - 0.005)], w[(t > s + 0.01) & (t < s + 0.04)]
        if lo + 0.06 < s < hi - 5.01 and len(before) and len(after) and after.mean() > 1.3 * before.mean():
            steps.append(s)
    return steps


def table(title: str, rows: list, steps: list) -> None:
    print(f"\n### {title}\n")
    print("| window | covered | p95 error | median ± | ± / p95 | step windows: covered | p95 error |")
    print("|---|---|---|---|---|---|---|")
    for r, s in zip(rows, steps or [None] * len(rows)):
        step = f"{s.coverage:.1%} | {s.p95_error_relative:.0%}" if s else "— | —"
        print(f"| {r.length_s:g} s | {r.coverage:.1%} | {r.p95_error_relative:.0%} | "
              f"{r.median_uncertainty_relative:.0%} | {r.uncertainty_over_p95:.2f} | {step} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=0.1, help="the sampler's interval (s)")
    parser.add_argument("--raw", type=Path, default=convert.DEFAULT_RAW)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    out = {}
    a100 = "a100-square-wave"
    shipped = check_against_meter(series(a100, "power_draw_instant_w"), series(a100, "meter_w"), gpu="NVIDIA A100",
                                  count=args.windows, seed=2024, interval_s=args.interval)
    table("a100-square-wave (shipped), instant", shipped, [])
    out["a100-square-wave"] = [asdict(r) for r in shipped]
    for folder, gpu in RAW_SETS.items():
        if not (args.raw / folder).is_dir():
            print(f"\n({folder}: not found under {args.raw})")
            continue
        found = convert.read_sc24(args.raw / folder)
        for column, field in COLUMNS.items():
            if column not in found or (field == "usage" and not folder.startswith("rtx")):
                continue  # the A100's power.draw is its instant reading (GA100: no 1 s average)
            onboard = found[column]
            rows = check_against_meter(onboard, found["meter_w"], gpu=gpu, field=field, count=args.windows,
                                       seed=2024, interval_s=args.interval)
            lo, hi = max(onboard[0][0], found["meter_w"][0][0]), min(onboard[0][-1], found["meter_w"][0][-1])
            edges = rising_steps(args.raw / folder, found["meter_w"], lo, hi)
            rng = np.random.default_rng(7)
            starts = [s - rng.uniform(0, 0.05) for s in edges for _ in range(max(1, args.windows // len(edges)))]
            steps = check_against_meter(onboard, found["meter_w"], gpu=gpu, field=field, starts=starts,
                                        interval_s=args.interval)
            table(f"{folder}, {field} ({gpu})", rows, steps)
            out[f"{folder}/{field}"] = {"random": [asdict(r) for r in rows], "steps": [asdict(r) for r in steps]}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
