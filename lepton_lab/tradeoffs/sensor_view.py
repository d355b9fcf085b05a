"""Lesson 05, "what the sensor sees": tables and figures from the recorded traces.

Every number here is drawn from third-party recordings (``lepton_lab.traces``): REPLAYED data,
never a measurement of this machine, and every figure says so. Figures are static SVG images
(they survive saving and untrusted notebooks); the one control, :func:`window_explorer`, is live
while the kernel runs.
"""
from __future__ import annotations

import html
import itertools
from typing import Any

import numpy as np

from .. import traces, units
from ..errors import require
from ..sensors import gpu_models
from ..traces.meter_check import WINDOWS_S, MeterWindows
from ..widgets.static import StaticFigure
from ..widgets.svg import img_tag, svg_bars, svg_lines

H100_RUNS = {8: "h100-llama-3.1-8b-batch-8", 64: "h100-llama-3.1-8b-batch-64",
             256: "h100-llama-3.1-8b-batch-256", 1024: "h100-llama-3.1-8b-batch-1024"}
A100 = "a100-square-wave"
REPLAYED = " — REPLAYED"


def _figure(svg: str, alt: str, text: str) -> StaticFigure:
    return StaticFigure(img_tag(svg, alt), text)


def replay_runs() -> Any:
    """One row per H100 run: max batch, duration, mean and peak power, energy of the whole run."""
    pd = require("pandas", "data", "lesson 05")
    rows = []
    for batch, name in H100_RUNS.items():
        t, w = (np.asarray(v) for v in traces.series(name))
        energy = float(np.trapezoid(w, t))
        rows.append({"max batch": batch, "duration_s": float(t[-1] - t[0]), "mean_w": float(np.mean(w)),
                     "peak_w": float(np.max(w)), "energy_kj": energy / 1000, "trace": name})
    frame = pd.DataFrame(rows)
    frame.attrs["source"] = traces.info(H100_RUNS[8])["source"]
    return frame


def replay_figure(seconds: float = 70.0) -> StaticFigure:
    """Power of each H100 run over its first ``seconds`` (all runs last at least 73 s)."""
    series = {}
    for batch, name in H100_RUNS.items():
        t, w = (np.asarray(v) for v in traces.series(name))
        keep = t - t[0] <= seconds
        series[f"max batch {batch}"] = (t[keep] - t[0], w[keep])
    title = f"H100 serving Llama-3.1-8B: power, first {seconds:g} s{REPLAYED}"
    svg = svg_lines(series, title=title, x_label="time (s)", y_label="power (W)", warn=True)
    return _figure(svg, title, f"<figure: {title}>")


def meter_window(start_s: float = 3.0, length_s: float = 0.6) -> Any:
    """The A100 series between ``start_s`` and ``start_s + length_s`` (t_s from the trace's start)."""
    frame = traces.load(A100)
    return frame[(frame.t_s >= start_s) & (frame.t_s <= start_s + length_s)]


def meter_figure(start_s: float = 3.0, length_s: float = 0.6) -> StaticFigure:
    """The external meter against nvidia-smi's two readings over a few load pulses."""
    part = meter_window(start_s, length_s)
    series = {}
    labels = {"meter_w": "external meter (4.8 kHz)", "power_draw_w": "nvidia-smi power.draw",
              "power_draw_instant_w": "nvidia-smi power.draw.instant (drawn over power.draw)"}
    for column, label in labels.items():
        rows = part[["t_s", column]].dropna()
        series[label] = (rows.t_s.to_numpy() - start_s, rows[column].to_numpy())
    title = f"A100 square wave, {length_s:g} s from {start_s:g} s: on-board readings against a meter{REPLAYED}"
    svg = svg_lines(series, title=title, x_label="time (s)", y_label="power (W)",
                    step=[labels["power_draw_instant_w"], labels["power_draw_w"]], warn=True,
                    colours=("#9e9e9e", "#1565c0", "#e65100"))
    return _figure(svg, title, f"<figure: {title}>")


def window_table(rows: Any) -> Any:
    """``check_against_meter``'s rows as the lesson's table (J and shares)."""
    pd = require("pandas", "data", "lesson 05")
    return pd.DataFrame([{"window (s)": s.length_s, "windows": s.windows, "median error (J)": s.median_error_j,
                          "95th pct error (J)": s.p95_error_j, "95th pct error / energy": s.p95_error_relative,
                          "printed ± (J, median)": s.median_uncertainty_j, "covered by ±": s.coverage,
                          "± / 95th pct": s.uncertainty_over_p95} for s in rows])


def window_errors(windows: int = 300) -> Any:
    """Per window length: the error of the on-board energy against the meter, and the printed ±."""
    rows = traces.check_against_meter(traces.series(A100, "power_draw_instant_w"), traces.series(A100, "meter_w"),
                                      gpu=traces.info(A100)["nvml_name"], count=windows, seed=5)
    return window_table(rows)


def once_and_repeated(run_s: float = 0.2, until: float = 0.02, cells: int = 5,
                      window_s: tuple[float, ...] = (1.0, 4.0), max_trials: int = 30) -> Any:
    """The same ``run_s`` cell on the recorded A100, measured once (a few of them) and repeated.

    Once: the sensor path over one ``run_s`` window, its printed ±, and the meter's energy.
    Repeated (lepton_lab.repeat's procedure, on the recording), once per length in ``window_s``:
    trials of that many seconds of back-to-back
    runs, each started at a golden-ratio step of the 0.1 s update period further on, the energy per
    run from each trial, until the 95 % CI is within ``until`` (or ``max_trials``). The recording
    lasts ~10 s, so trials are drawn from it and may overlap; on a GPU each would be new work."""
    pd = require("pandas", "data", "lesson 05")
    meter = MeterWindows.shipped()
    rng = np.random.default_rng(7)
    rows = []
    for start in rng.uniform(meter.start, meter.end - run_s, cells):
        sensed, truth, printed = meter.window(start, run_s, 0.1)
        rows.append({"measured": "once", "energy per run (J)": sensed, "± (J)": printed,
                     "meter (J)": truth, "runs": 1, "covered": abs(sensed - truth) <= printed})
    for seconds in window_s:
        rows.append(_repeated_on_recording(meter, run_s, until, seconds, max_trials))
    frame = pd.DataFrame(rows)
    frame.attrs["note"] = ("the repeated ± is the trials' spread (95 % CI); the A100's calibration class "
                           "(±5 % + 5 W) is the same in every trial and comes on top")
    return frame


def _repeated_on_recording(meter: MeterWindows, run_s: float, until: float, window_s: float,
                           max_trials: int) -> dict[str, Any]:
    from ..repetition import GOLDEN, interval

    runs = max(1, round(window_s / run_s))
    span = meter.end - meter.start - runs * run_s - 0.1
    per_run, truth_per_run = [], []
    mean, half = 0.0, float("inf")
    for trial in range(max_trials):
        start = meter.start + (trial * GOLDEN * 7.3 % 1.0) * span + (trial * GOLDEN % 1.0) * 0.1
        sensed, truth, _ = meter.window(start, runs * run_s, 0.1)
        per_run.append(sensed / runs)
        truth_per_run.append(truth / runs)
        mean, half = interval(per_run)
        if trial >= 2 and half <= until * abs(mean):
            break
    truth = float(np.mean(truth_per_run))
    return {"measured": f"repeated: {len(per_run)} trials of {runs} runs ({window_s:g} s)", "energy per run (J)": mean,
            "± (J)": half, "meter (J)": truth, "runs": len(per_run) * runs, "covered": abs(mean - truth) <= half}


def window_figure(table: Any) -> StaticFigure:
    """The 95th-percentile error and the printed ± by window length, as bars."""
    categories = [f"{w:g} s" for w in table["window (s)"]]
    title = f"95th-percentile error{REPLAYED}"
    svg = svg_bars(categories, [("95th pct error", "#e65100", list(table["95th pct error (J)"]))],
                   title=title, y_label="error against the meter (J)", width=430, warn=True)
    printed = svg_bars(categories, [("printed ±", "#1565c0", list(table["printed ± (J, median)"]))],
                       title="what the report prints (median ±)", y_label="uncertainty (J)", width=430)
    page = ("<div style='display:flex;flex-wrap:wrap;gap:8px'>" + img_tag(svg, title)
            + img_tag(printed, "printed uncertainty by window") + "</div>")
    return StaticFigure(page, f"<figure: {title}>")


def window_explorer(windows: int = 200) -> Any:
    """A slider for the window length (live while the kernel runs): the errors of that many
    windows against the printed ±, as a histogram. Its static fallback is the 1 s window."""
    widgets = require("ipywidgets", "lab", "the window explorer")
    meter = MeterWindows.shipped()

    def page(length: float) -> str:
        rng = np.random.default_rng(3)
        errors, printed = [], []
        for start in rng.uniform(meter.start, meter.end - length, windows):
            energy = meter.sensor_energy_j(start, length, 0.1)
            errors.append(energy - meter.meter_energy_j(start, start + length))
            printed.append(meter.sensor.uncertainty_j("gpu:0", energy, length))
        edges = np.linspace(-max(np.abs(errors)), max(np.abs(errors)), 13)
        counts, _ = np.histogram(errors, edges)
        bins = [f"{(a + b) / 2:+.0f}" for a, b in itertools.pairwise(edges)]
        title = f"{length:g} s windows: error of the on-board energy (J){REPLAYED}"
        svg = svg_bars(bins, [("windows", "#e65100", list(counts))], title=title, y_label="windows",
                       width=620, warn=True)
        covered = np.mean(np.abs(errors) <= np.asarray(printed))
        return (img_tag(svg, title) + f"<p>median printed ± {units.format_energy(float(np.median(printed)))}; "
                f"it covers {covered:.0%} of these {windows} windows.</p>")

    slider = widgets.SelectionSlider(options=[(f"{w:g} s", w) for w in WINDOWS_S], value=1.0,
                                     description="window", continuous_update=False)
    out = widgets.HTML(page(1.0))
    slider.observe(lambda change: setattr(out, "value", page(change["new"])), names="value")
    from ..widgets.interactive import FallbackBox

    box = FallbackBox([slider, out])
    box.fallback_html, box.fallback_text = out.value, "<window explorer: 1 s windows>"
    return box


def cell_uncertainty(power_w: float = 300.0, gpu: str = "NVIDIA H100 80GB HBM3") -> Any:
    """What the report prints for a steady cell of 0.2, 2 and 20 s at ``power_w`` on ``gpu``, on each
    NVML path, and which term of the ± dominates."""
    pd = require("pandas", "data", "lesson 05")
    model = gpu_models.lookup(gpu)
    rows = []
    for seconds in (0.2, 2.0, 20.0):
        energy = power_w * seconds
        for counter, path in ((True, "energy counter (Volta and newer)"), (False, "sampled power (older GPUs)")):
            u = gpu_models.estimate(model, gpu_models.INSTANT, energy, seconds, [power_w, power_w], counter)
            rows.append({"cell (s)": seconds, "path": path, "energy (J)": energy, "printed ± (J)": u.total_j,
                         "± / energy": u.relative, "mostly": gpu_models.WORDS[u.dominant]})
    return pd.DataFrame(rows)


#: How the lesson's tables read: units and shares, no index.
FORMATS = {"duration_s": "{:.0f} s", "mean_w": "{:.0f} W", "peak_w": "{:.0f} W", "energy_kj": "{:.1f} kJ",
           "window (s)": "{:g}", "median error (J)": "{:.1f}", "95th pct error (J)": "{:.1f}",
           "printed ± (J, median)": "{:.1f}", "95th pct error / energy": "{:.0%}", "covered by ±": "{:.0%}",
           "cell (s)": "{:g}", "energy (J)": "{:.0f}", "printed ± (J)": "{:.0f}", "± / energy": "{:.0%}",
           "± / 95th pct": "{:.1f}", "energy per run (J)": "{:.2f}", "± (J)": "{:.2f}", "meter (J)": "{:.2f}"}


def formatted(frame: Any) -> Any:
    """A lesson table, readable (a pandas Styler)."""
    return frame.style.format({k: v for k, v in FORMATS.items() if k in frame.columns}).hide(axis="index")


def caveat(name: str) -> str:
    """The provenance caveats of a trace as an HTML note."""
    items = "".join(f"<li>{html.escape(c)}</li>" for c in traces.info(name)["caveats"])
    return f"<ul style='color:#6e7781'>{items}</ul>"
