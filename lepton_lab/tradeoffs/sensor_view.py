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


def window_errors(windows: int = 300) -> Any:
    """Per window length: the error of the on-board energy against the meter, and the printed ±."""
    pd = require("pandas", "data", "lesson 05")
    meter = MeterWindows.shipped()
    rows = []
    for length in WINDOWS_S:
        s = meter.stats(length, windows, seed=5)
        rows.append({"window (s)": length, "windows": s.windows, "median error (J)": s.median_error_j,
                     "95th pct error (J)": s.p95_error_j, "95th pct error / energy": s.p95_error_relative,
                     "printed ± (J, median)": s.median_uncertainty_j, "covered by ±": s.coverage})
    return pd.DataFrame(rows)


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
           "cell (s)": "{:g}", "energy (J)": "{:.0f}", "printed ± (J)": "{:.0f}", "± / energy": "{:.0%}"}


def formatted(frame: Any) -> Any:
    """A lesson table, readable (a pandas Styler)."""
    return frame.style.format({k: v for k, v in FORMATS.items() if k in frame.columns}).hide(axis="index")


def caveat(name: str) -> str:
    """The provenance caveats of a trace as an HTML note."""
    items = "".join(f"<li>{html.escape(c)}</li>" for c in traces.info(name)["caveats"])
    return f"<ul style='color:#6e7781'>{items}</ul>"
