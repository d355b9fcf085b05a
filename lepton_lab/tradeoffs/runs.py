"""Measuring a sweep: each setting's inference runs inside ``Sweep.measure`` → one table row.

Every sweep in this package goes through :func:`measure_settings`, so every row carries the same
measured columns (energy_j, duration_s, mean_w, co2e_g, kind) straight from an EnergyReport, and
the per-sample figures are derived from those and the work actually done, never typed in.

Each setting first runs once unrecorded (a warm-up), then is measured in several rounds,
interleaved (A B C, C B A, A B C) so that a slow drift in the machine's load or temperature hits
every setting alike; the row is the run with the median energy per sample, ``spread`` (largest /
smallest of the rounds) says how noisy the setting was, and ``uj_low``/``uj_high`` bound its runs.
Summaries call two settings different only where those ranges do not overlap
(:func:`energy_change`). Energy sensors see the whole machine, so this matters on shared computers;
there, a table shows this kernel's attributed share in every row or in none (:func:`in_one_view`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .workloads import batches_for, fast_mode, run_for

#: Seconds each run lasts, and runs per setting: quick mode keeps a lesson under a minute on two
#: CPU cores; full mode runs long enough for a GPU's 100 ms energy counter (±0.1 s / duration).
#: Quick mode keeps three rounds too: without a spread, no summary could tell a saving from noise.
TARGET_S = {"fast": 0.2, "full": 1.5}
ROUNDS = {"fast": 3, "full": 3}


@dataclass
class Setting:
    """One point of a sweep: what to run, how to label it, and what to apply around each run."""

    label: str
    params: dict
    model: Any
    inputs: Any
    batch_size: int
    precision: str | None = None
    context: Callable[[], Any] | None = None
    """Called around every run (a power cap, a thread count): returns a context manager."""
    extra: dict = field(default_factory=dict)
    """Columns measured once, outside the energy window (accuracy, model size, ...)."""

    def around(self):
        """What to run this setting inside: its context, or nothing."""
        return self.context() if self.context else contextlib.nullcontext()


def rounds_for(rounds: int | None = None) -> int:
    if rounds is not None:
        return max(1, int(rounds))
    return ROUNDS["fast"] if fast_mode() else ROUNDS["full"]


def target_seconds(target_s: float | None = None) -> float:
    if target_s is not None:
        return float(target_s)
    return TARGET_S["fast"] if fast_mode() else TARGET_S["full"]


def open_sweep(total: int, title: str, show: bool | None = None, **measure_options):
    """A ``lepton_lab.sweep.Sweep``: one progress bar and one growing comparison in a notebook."""
    from ..sweep import Sweep

    return Sweep(total=total, title=title, show=show, **measure_options)


def measure_settings(title: str, settings: list[Setting], target_s: float | None = None,
                     rounds: int | None = None, show: bool | None = None, **measure_options) -> list[dict]:
    """Measure every setting ``rounds`` times, interleaved; one row per setting (its median run)."""
    target_s, rounds = target_seconds(target_s), rounds_for(rounds)
    runs: list[list[dict]] = [[] for _ in settings]
    with open_sweep(len(settings) * rounds, title, show, **measure_options) as sweep:
        for setting in settings:
            # Unrecorded: the first setting measured would otherwise pay for what every later one
            # finds ready (thread pools, caches, allocator, clock ramp) and look dearer than it is.
            warm_up(setting, target_s)
        for r in range(rounds):
            order = range(len(settings)) if r % 2 == 0 else reversed(range(len(settings)))
            for i in order:
                runs[i].append(_measure_once(sweep, settings[i], r, rounds, target_s))
    runs = in_one_view(runs)
    return [_median_row(rows, setting.extra) for rows, setting in zip(runs, settings)]


#: Columns that scale with the energy a row is charged: what changes when the view does.
_PER_ENERGY = ("energy_j", "mean_w", "co2e_g", "uj_per_sample")


def in_one_view(runs: list[list[dict]]) -> list[list[dict]]:
    """Every run of a sweep in the same view, so that no ratio compares one kernel's share with a
    whole machine's.

    ``attribute="auto"`` keeps the session's view, but a sweep may mix explicit views (or ledger
    rows of other sessions): where any run was attributed and every run could be, the whole table
    shows the process view; otherwise the machine's."""
    flat = [row for rows in runs for row in rows]
    attributed = any(row.get("view") == "process" for row in flat)
    view = "process" if attributed and all(row.get("process_energy_j") is not None for row in flat) else "machine"
    return [[_to_view(row, view) for row in rows] for rows in runs]


def _to_view(row: dict, view: str) -> dict:
    if row.get("view", "machine") == view:
        return row
    source = "process_energy_j" if view == "process" else "machine_energy_j"
    factor = row[source] / row["energy_j"] if row["energy_j"] else 0.0
    changed = {k: row[k] * factor for k in _PER_ENERGY if row.get(k) is not None}
    return {**row, **changed, "view": view}


def warm_up(setting: Setting, target_s: float) -> None:
    """Run a setting once as it will be measured, for ``target_s``, without measuring it."""
    with setting.around():
        chunk = batches_for(setting.model, setting.inputs, setting.batch_size, target_s / 20, setting.precision)
        run_for(setting.model, setting.inputs, setting.batch_size, target_s, chunk, setting.precision)


def _measure_once(sweep, setting: Setting, round_index: int, rounds: int, target_s: float) -> dict:
    label = setting.label if rounds == 1 else f"{setting.label} ({round_index + 1}/{rounds})"
    with setting.around():
        return measure_inference(sweep, label, setting.params, setting.model, setting.inputs,
                                 setting.batch_size, target_s, setting.precision)


def _median_row(rows: list[dict], extra: dict) -> dict:
    ordered = sorted(rows, key=lambda r: r["uj_per_sample"])
    row = dict(ordered[len(ordered) // 2])
    low, high = ordered[0]["uj_per_sample"], ordered[-1]["uj_per_sample"]
    row.update(extra, runs=len(rows), spread=high / low if low > 0 else float("nan"), uj_low=low, uj_high=high)
    return row


NO_DIFFERENCE = "no measurable difference"


#: How far apart two settings' ranges over the rounds must be, as a share of the wider range, to
#: call them different. Ranges that merely miss each other happen by chance to one pair in ten of
#: the *same* setting measured 3 rounds twice (all three of one below all three of the other:
#: 2 / C(6, 3)); a gap of half the wider range makes that ~2 %, and still tells a 20 % change at
#: 5 % run-to-run noise nine times in ten (tests/test_tradeoffs.py simulates both).
SEPARATION = 0.5


def measurably_different(row, base) -> bool | None:
    """Whether two rows' energies per sample differ beyond their run-to-run spread (their ranges
    over the rounds are apart by more than :data:`SEPARATION` of the wider one); None when either
    was run once, so there is no spread."""
    try:
        if min(row["runs"], base["runs"]) < 2:
            return None
        gap = max(base["uj_low"] - row["uj_high"], row["uj_low"] - base["uj_high"])
        wider = max(row["uj_high"] - row["uj_low"], base["uj_high"] - base["uj_low"])
        return bool(gap > SEPARATION * wider)
    except KeyError:
        return None


def energy_change(row, base, of: str) -> str:
    """How a row's energy per sample compares with the base row's, for the lessons' summaries:
    '×0.62 of OF' where the difference is measurable, else 'no measurable difference from OF'."""
    different = measurably_different(row, base)
    if different is False:
        return f"{NO_DIFFERENCE} from {of} (inside the run-to-run spread)"
    figure = f"{ratio(row['uj_per_sample'], base['uj_per_sample'])} of {of}"
    return figure if different else f"{figure} (one run each: no spread to tell a difference from noise)"


def measure_inference(sweep, label: str, params: dict, model, inputs, batch_size: int,
                      target_s: float, precision: str | None = None) -> dict:
    """Measure about ``target_s`` seconds of inference at this setting (after an unmeasured warm-up)."""
    # Calibrate chunks of ~1/20 of the run: the clock is checked between chunks, not every batch.
    chunk = batches_for(model, inputs, batch_size, target_s / 20, precision)
    row = measure_work(sweep, label, params,
                       lambda: run_for(model, inputs, batch_size, target_s, chunk, precision))
    row["batch_size"] = batch_size
    row["latency_ms"] = 1000.0 * row["duration_s"] * batch_size / row["samples"]
    return row


def measure_work(sweep, label: str, params: dict, work: Callable[[], int]) -> dict:
    """Measure ``work()`` (which returns the samples it processed) and build the row."""
    with sweep.measure(label=label, params=params) as block:
        samples = work()
    row = {**params, "samples": samples, **report_columns(block.report)}
    row["uj_per_sample"] = 1e6 * row["energy_j"] / samples if samples else float("nan")
    row["samples_per_s"] = samples / row["duration_s"] if row["duration_s"] > 0 else float("nan")
    return row


def report_columns(report) -> dict:
    """The measured columns every row has, copied from the report."""
    return {
        "energy_j": report.energy_j,
        "duration_s": report.duration_s,
        "mean_w": report.mean_w,
        "co2e_g": report.co2e_g,
        "kind": report.kind,
        "view": report.view,
        "machine_energy_j": report.machine_energy_j,
        "process_energy_j": report.process_energy_j,
        "other_load": max(report.attribution.other_load.values(), default=0.0) if report.attribution else None,
    }


def frame(rows: list[dict], first: list[str]):
    """A DataFrame with the setting columns first, then the measured ones."""
    import pandas as pd

    table = pd.DataFrame(rows)
    ordered = [c for c in first if c in table.columns]
    return table[ordered + [c for c in table.columns if c not in ordered]]


def describe_energy_source() -> str:
    """One line: are this machine's numbers measured (by which sensors) or estimated?"""
    from ..sensors import discover, kinds

    found = discover()
    names = ", ".join(s.name for s in found.sensors) or "none"
    kind = kinds.combined(s.kind for s in found.sensors)
    if found.fallback_reason:
        return ("Energy: ESTIMATED from CPU utilisation and TDP, not measured: no energy sensor can be "
                "read here (`%energy sensors` says why and how to enable one).")
    if kinds.is_measurement(kind):
        return f"Energy: MEASURED by {names}."
    return f"Energy: {kinds.badge(kind)} ({names}): compare runs on this machine, do not bill from them."


def other_load_note(seconds: float = 0.5) -> str:
    """One line: how busy other processes kept the CPUs over the next ``seconds`` (measured, not the
    load average), judged as every report judges it, and which view this session's reports show."""
    import time

    from ..attribution import CpuWatch
    from ..neighbours import load_phrase, session_view

    watch = CpuWatch().begin()
    time.sleep(seconds)
    share = watch.share()
    session = session_view()
    shown = ("this kernel's attributed share (view: process), with the machine's energy kept in machine_energy_j"
             if session.view == "process" else "the whole machine's energy (view: machine)")
    if share.fraction is None:
        return f"Other load: unknown here ({share.note}). Reports show {shown}: {session.why}."
    busy, judged = load_phrase(share.other_load)
    load = f"Over {seconds:g} s, {judged}" + (": timings will be noisy, trust differences that repeat" if busy
                                                 else ": quiet enough for measuring")
    return f"{load}. Reports show {shown} for the whole session ({session.why})."


def ratio(value: float, reference: float) -> str:
    """'×0.42' — how a figure compares with its reference, for the lessons' summaries."""
    if not reference or reference != reference or value != value:
        return "×?"
    return f"×{value / reference:.2f}"
