"""Short cells under ``%%energy`` in a real kernel (issue 19), driven through nbclient like a front end.

For each display mode, one fresh kernel runs ``%load_ext lepton_lab``, a pause (a user reading
the output; ``--pause 0`` is "Run All"), then pairs of the same short cell without and with the
magic, alternated so that the machine's drift hits both alike. A cell's time is the kernel's own:
from its ``execute_input`` to its ``execute_reply`` (the messages' header dates, as nbclient records
them). Reported: the median over the cells after the first of each kind, the ratio and the
difference of the medians, and what the first measured cell adds over the plain cells' median.
Also the widget models the cells leave open in the kernel (``comm_open`` minus ``comm_close`` on
iopub) and the bytes of widget state the notebook saves (nbclient, ``store_widget_state=True``,
which also keeps closed models), after ``--widget-cells`` measured cells.
"""
from __future__ import annotations

import json
import logging
import statistics
from datetime import datetime

MODES = {"-q --no-plot": "-q --no-plot", "--no-plot": "--no-plot", "default": "", "--dask": "--dask"}
BODY = "x = 1"
DASK_SETUP = ("from distributed import Client, LocalCluster\n"
              "_bench_client = Client(LocalCluster(n_workers=1, threads_per_worker=1, processes=True, "
              "dashboard_address=None))")


def _client_class():
    from nbclient import NotebookClient

    class CountingClient(NotebookClient):
        """Counts widget comms opened and closed on iopub, per executed cell."""

        opened = 0
        closed = 0

        def process_message(self, msg, cell, cell_index):
            kind = msg["msg_type"]
            if kind == "comm_open" and msg["content"].get("target_name") == "jupyter.widget":
                self.opened += 1
            elif kind == "comm_close":
                self.closed += 1
            return super().process_message(msg, cell, cell_index)

    return CountingClient


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _cell_s(cell) -> float:
    timing = cell["metadata"]["execution"]
    return _seconds(timing["shell.execute_reply"]) - _seconds(timing["iopub.execute_input"])


def run_mode(flags: str, cells: int, pause_s: float, widget_cells: int, dask: bool = False) -> dict:
    """One kernel: setup, then ``cells`` pairs of (plain, measured) short cells."""
    import nbformat

    setup = ([DASK_SETUP] if dask else []) + ["%load_ext lepton_lab", f"import time; time.sleep({pause_s})"]
    pairs = [(BODY, f"%%energy {flags}".rstrip() + "\n" + BODY) for _ in range(cells)]
    sources = setup + [source for pair in pairs for source in pair]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    client = _client_class()(nb, kernel_name="python3", timeout=300, store_widget_state=True, record_timing=True)
    client.log.setLevel(logging.ERROR)  # nbclient warns about every widget comm it has no handler for
    plain, measured, widgets = [], [], {}
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
            if index < len(setup):
                continue
            (plain if (index - len(setup)) % 2 == 0 else measured).append(_cell_s(cell))
            if len(measured) == widget_cells and not widgets and (index - len(setup)) % 2 == 1:
                client.set_widgets_metadata()
                state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
                widgets = {"cells": widget_cells, "models_left_open": client.opened - client.closed,
                           "models_opened": client.opened, "saved_state_bytes": len(json.dumps(state)),
                           "saved_models": len(state.get("state", {}))}
    return {"plain_s": plain, "measured_s": measured, "widgets": widgets}


def _summary(runs: list[dict]) -> dict:
    """One mode over its kernels: medians of the cells after each kernel's first, pooled; the first
    measured cell's excess over its own kernel's plain median, the median over kernels."""
    plain = [t for run in runs for t in run["plain_s"][1:]]
    measured = [t for run in runs for t in run["measured_s"][1:]]
    firsts = [run["measured_s"][0] - statistics.median(run["plain_s"][1:]) for run in runs]
    base, later = statistics.median(plain), statistics.median(measured)
    return {"plain_ms": base * 1e3, "measured_ms": later * 1e3, "ratio": later / base,
            "added_ms": (later - base) * 1e3, "first_added_ms": statistics.median(firsts) * 1e3,
            "first_added_each_ms": [f * 1e3 for f in firsts], "kernels": len(runs), "widgets": runs[0]["widgets"]}


def kernel_table(cells: int, pause_s: float, widget_cells: int, modes: list[str], rounds: int = 2) -> dict:
    """Every mode in its own kernels, ``rounds`` times, in alternating order (A B C D, D C B A, ...)
    so that a slow drift of the machine's load hits every mode alike."""
    runs: dict[str, list[dict]] = {name: [] for name in modes}
    for round_ in range(rounds):
        for name in modes if round_ % 2 == 0 else modes[::-1]:
            runs[name].append(run_mode(MODES[name], cells, pause_s, widget_cells, dask=name == "--dask"))
    return {name: _summary(found) for name, found in runs.items()}


def markdown(results: dict, cells: int, pause_s: float) -> str:
    kernels = next(iter(results.values()))["kernels"] if results else 0
    lines = [f"In a real kernel (nbclient), {cells} pairs of `{BODY}` cells per mode and kernel, plain and "
             f"measured alternated, {pause_s:g} s after `%load_ext`, {kernels} kernels per mode; kernel-side "
             "execute_input → execute_reply.", "",
             "| variant | per short cell (median) | × plain | added per short cell | added to the first measured "
             "cell | widget models left open | saved widget state |", "|---|---|---|---|---|---|---|"]
    plain = statistics.median(r["plain_ms"] for r in results.values())
    lines.append(f"| no magic | {plain:.2f} ms | 1 | - | - | - | - |")
    for name, r in results.items():
        w = r["widgets"]
        saved = f"{w.get('saved_models', '?')} models, {w.get('saved_state_bytes', 0) / 1024:.1f} KiB"
        magic = ("%%energy " + MODES[name]).strip() + ("` (default)" if name == "default" else "`")
        lines.append(f"| `{magic} | "
                     f"{r['measured_ms']:.2f} ms | {r['ratio']:.2f} | {r['added_ms']:+.2f} ms | "
                     f"{r['first_added_ms']:+.1f} ms | {w.get('models_left_open', '?')} | {saved} |")
    return "\n".join(lines)
