"""Cost of the live view in a real kernel (nbclient), run by hand and on the GPU machine.

1. Kernel-side cost of one live update: ``LivePowerView.on_sample`` with a displayed widget and
   real comms, when it pushes to the front end (every ~0.25 s) and when it only records.
2. Slowdown of a ~2 s CPU-bound cell: ``%%energy`` (live view) versus ``%%energy --no-plot``,
   interleaved, median of the work's time inside the cell and of the whole cell (execute_input
   to execute_reply, kernel timestamps). Target: ≤ 1 %. Wall times need a quiet machine; the
   CPU time per kernel thread during the work (Linux /proc) is robust to a busy one:
   ``live_view_gil_share_pct`` is the sampler thread's extra CPU with the live view (pushes run
   there, holding the GIL: what a CPU-bound cell loses), ``live_view_cpu_share_pct`` adds the
   IOPub thread's extra (sends, mostly without the GIL).

    python benchmarks/live_view.py [--pairs 5] [--seconds 2] [--sensors estimate] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import datetime

SETUP = """
%load_ext lepton_lab
import time, json
def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total
n = 200_000
while True:
    t0 = time.perf_counter(); spin(n); elapsed = time.perf_counter() - t0
    if elapsed > 0.3:
        break
    n *= 2
N = int(n * {seconds} / elapsed)
work_s = {{"plot": [], "no-plot": []}}
# CPU per thread while the cell works (Linux /proc, 10 ms ticks), in ms per second of work.
# The sampler thread runs the live view's pushes holding the GIL: its extra CPU is what a
# CPU-bound cell loses. IOPub sends with the GIL mostly released. Unlike wall time, this is
# not disturbed by other processes on a busy machine.
import os, threading
def cpu_ms_by_thread():
    names = {{t.native_id: t.name for t in threading.enumerate()}}
    out = {{}}
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{{tid}}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        name = names.get(int(tid), "other")
        name = "sampler" if name.startswith("lepton-sampler") else name
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")
    return out
thread_ms = {{"plot": [], "no-plot": []}}
"""
CELL = """%%energy -l {mode} {flags}
t0, before = time.perf_counter(), cpu_ms_by_thread()
spin(N)
elapsed, after = time.perf_counter() - t0, cpu_ms_by_thread()
work_s["{mode}"].append(elapsed)
thread_ms["{mode}"].append({{k: after[k] - before.get(k, 0) for k in after}})
"""
UPDATE_COST = """
import statistics
from lepton_lab.sampler import Sample
from lepton_lab.widgets.live import LivePowerView
domains = ["gpu:0", "cpu:package-0", "cpu:dram-0"]
def sample(i):
    return Sample(t_s=i * 0.1, power_w={d: 50.0 + i % 7 for d in domains}, energy_j={d: 5.0 * i for d in domains})
cost = {}
for points in (100, 2000):
    view = LivePowerView(domains, period_s=1e9)
    view.display()
    for i in range(points):
        view.on_sample(sample(i))
    view.period_s = 0.0  # every call pushes
    batches = []
    for batch in range(7):  # min and median of batches: robust to other load on the machine
        t0 = time.perf_counter()
        for i in range(20):
            view.on_sample(sample(points + batch * 20 + i))
        batches.append((time.perf_counter() - t0) / 20 * 1e6)
    cost[f"push_us_{points}_points_min"] = min(batches)
    cost[f"push_us_{points}_points_median"] = statistics.median(batches)
view.period_s = 1e9  # records only
t0 = time.perf_counter()
for i in range(5000):
    view.on_sample(sample(i))
cost["record_only_us"] = (time.perf_counter() - t0) / 5000 * 1e6
print(json.dumps({"cost": cost, "work_s": work_s, "thread_ms": thread_ms}))
"""


def _seconds(cell, start: str, end: str) -> float:
    timing = cell.metadata["execution"]
    parse = datetime.fromisoformat
    return (parse(timing[end].replace("Z", "+00:00")) - parse(timing[start].replace("Z", "+00:00"))).total_seconds()


def run(pairs: int, seconds: float, sensors: str | None) -> dict:
    import nbformat
    from nbclient import NotebookClient

    flags = f"--sensors {sensors}" if sensors else ""
    cells = [SETUP.format(seconds=seconds)]
    order = []
    for i in range(pairs):  # interleaved, alternating which goes first, so drift hits both alike
        for mode in (("plot", "no-plot") if i % 2 == 0 else ("no-plot", "plot")):
            cells.append(CELL.format(mode=mode, flags=flags + (" --no-plot" if mode == "no-plot" else "")))
            order.append(mode)
    cells.append(UPDATE_COST)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("LEPTON_LAB_LEDGER", os.path.join(tmp, "ledger.sqlite"))
        NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    result = json.loads(nb.cells[-1].outputs[-1]["text"])
    cell_s = {"plot": [], "no-plot": []}
    for mode, cell in zip(order, nb.cells[1:-1]):
        cell_s[mode].append(_seconds(cell, "iopub.execute_input", "shell.execute_reply"))
    return summarise(result, cell_s)


def summarise(result: dict, cell_s: dict) -> dict:
    work, summary = result["work_s"], dict(result["cost"])
    for name, series in (("work", work), ("cell", cell_s)):
        plot, plain = statistics.median(series["plot"]), statistics.median(series["no-plot"])
        summary[f"{name}_median_s_plot"] = plot
        summary[f"{name}_median_s_no_plot"] = plain
        summary[f"{name}_slowdown_pct"] = (plot / plain - 1) * 100
    threads = result["thread_ms"]
    for name in ("sampler", "IOPub"):
        for mode in ("plot", "no-plot"):  # totals over all runs: 10 ms ticks are coarse for one run
            total_ms = sum(t.get(name, 0.0) for t in threads[mode])
            summary[f"{name}_ms_per_s_{mode}"] = total_ms / sum(work[mode])
    # What the live view adds, as a share of the cell's time: held-GIL part, and all of it.
    summary["live_view_gil_share_pct"] = (summary["sampler_ms_per_s_plot"] - summary["sampler_ms_per_s_no-plot"]) / 10
    summary["live_view_cpu_share_pct"] = summary["live_view_gil_share_pct"] + (
        summary["IOPub_ms_per_s_plot"] - summary["IOPub_ms_per_s_no-plot"]) / 10
    summary["raw"] = {"work_s": work, "cell_s": cell_s, "thread_ms": threads}
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--sensors", default=None, help="e.g. nvml on the GPU machine (default: what is found)")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    summary = run(args.pairs, args.seconds, args.sensors)
    for key, value in summary.items():
        if key != "raw":
            print(f"{key:32s} {value:10.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
