"""Figures and tables for the lessons: a row of bar charts over one sweep table, and a tidy view.

Presenter code (pandas Styler; bqplot through :mod:`lepton_lab.widgets.interactive`, only for
``.widget``): only the notebooks import it. Every figure is a static SVG image first, so a saved
or exported lesson still shows it, and any figure of non-measured numbers says ESTIMATED (or
REPLAYED) in its title, in the warning colour.
"""
from __future__ import annotations

import html
from collections.abc import Sequence

from ..errors import require
from ..sensors import kinds

#: One colour per group (method, device, ...), reused in the widget and its static fallback.
GROUP_COLOURS = ["#1565c0", "#ef6c00", "#2e7d32", "#8e24aa", "#6d4c41"]
#: Shares drawn as percentages: "96 %" reads better on an axis than a tick of 0.96.
PERCENT_COLUMNS = ("accuracy", "agreement", "weights_removed")
#: Columns that come from the energy sensors: only their panels say ESTIMATED (or REPLAYED) when
#: the energy is; accuracy, latency and throughput are measured by the clock and the test set.
ENERGY_COLUMNS = ("energy_j", "uj_per_sample", "mean_w", "co2e_g")


def _kind_tag(table) -> str:
    return kinds.tag(kinds.combined(table["kind"] if "kind" in table else ()))


def _series(table, x: str, column: str, group: str | None):
    """(categories, {group label: values in category order})."""
    categories = list(dict.fromkeys(table[x]))
    scale = 100.0 if column in PERCENT_COLUMNS else 1.0
    if group is None:
        return categories, {column: [scale * float(v) for v in table[column]]}
    series = {}
    for name, part in table.groupby(group, sort=False):
        by_x = dict(zip(part[x], part[column]))
        series[str(name)] = [scale * float(by_x.get(c, 0.0)) for c in categories]
    return categories, series


def _percent_top(series: dict, y_label: str) -> float | None:
    """Shares (accuracy, agreement) get a 0-100 % axis unless a value goes beyond it."""
    top = max((v for values in series.values() for v in values), default=0.0)
    return 100.0 if y_label.endswith("(%)") and top <= 100.0 else None


def _panel(categories, series: dict, title: str, y_label: str, tick_format: str):
    require("bqplot", "lab", "the lesson figures")
    from ..widgets import interactive, scales

    top = max((v for values in series.values() for v in values), default=0.0)
    y_max = _percent_top(series, y_label) or scales.nice_ceiling(top * 1.1, floor=1e-9)
    return interactive.grouped_bars(categories, series, GROUP_COLOURS, title, y_label, y_max, tick_format)


def _fallback(categories, series: dict, title: str, y_label: str, warn: bool) -> str:
    from ..widgets.svg import img_tag, svg_bars

    # The static bars cannot group: one bar per (group, setting), coloured by group with a legend.
    labels = [str(c) for _ in series for c in categories]
    stacks = []
    for i, (name, values) in enumerate(series.items()):
        padded = [0.0] * len(labels)
        padded[i * len(categories):(i + 1) * len(categories)] = values
        stacks.append((name if len(series) > 1 else y_label, GROUP_COLOURS[i % len(GROUP_COLOURS)], padded))
    svg = svg_bars(labels, stacks, title=title, y_label=y_label, width=max(420, 48 * len(labels)),
                   warn=warn, y_max=_percent_top(series, y_label))
    return img_tag(svg, f"{title}: bar chart by setting")  # an image: survives untrusted notebooks


def tradeoff_figure(table, x: str, metrics: Sequence[tuple[str, str]], group: str | None = None,
                    formats: dict | None = None):
    """Bar charts side by side, one per ``(column, axis label)`` in ``metrics``, over the ``x`` setting.

    ``group`` splits each setting's bar by another column (e.g. the pruning method); ``formats``
    gives d3 tick formats per column. Shares (accuracy, agreement) are drawn in percent.
    """
    from ..widgets.static import StaticFigure

    tag, panels, svgs = _kind_tag(table), [], []
    for column, label in metrics:
        categories, series = _series(table, x, column, group)
        label = f"{label} (%)" if column in PERCENT_COLUMNS else label
        sensed = column in ENERGY_COLUMNS
        title = f"{label}{tag}" if sensed else label
        panels.append((categories, series, title, label, (formats or {}).get(column, ",~g")))
        svgs.append(_fallback(categories, series, title, label, warn=bool(tag) and sensed))

    def build_widget():
        from ..widgets.interactive import row

        return row([_panel(*panel) for panel in panels])

    # Static output (images): a saved lesson, reopened or untrusted, still shows its figures;
    # ``.widget`` gives the bqplot version.
    html_out = "<div style='display:flex;flex-wrap:wrap;gap:8px'>" + "".join(svgs) + "</div>"
    return StaticFigure(html_out, f"<figure: {', '.join(label for _, label in metrics)} by {x}>", build_widget)


def view(table, columns: Sequence[str], formats: dict | None = None):
    """The chosen columns, readable: a Styler with per-column formats (plain rounding without jinja2)."""
    if "runs" in table.columns and table["runs"].max() == 1:  # one run per setting: no spread to show
        columns = [c for c in columns if c != "spread"]
    if "view" in table.columns and (table["view"] == "process").any() and "view" not in columns:
        columns = [*columns, "view"]  # this kernel's attributed share, not the machine's: say so in the table
    shown = table[[c for c in columns if c in table.columns]]
    try:
        require("jinja2", "lab", "formatted tables")
    except ImportError:
        return shown.round(4)
    default = {"energy_j": "{:.2f}", "duration_s": "{:.2f}", "mean_w": "{:.1f}", "uj_per_sample": "{:.3g}",
               "latency_ms": "{:.3f}", "accuracy": "{:.1%}", "agreement": "{:.1%}", "weights_removed": "{:.0%}",
               "sparsity": "{:.0%}", "samples_per_s": "{:,.0f}", "model_kb": "{:.0f}", "co2e_g": "{:.2e}",
               "spread": "×{:.2f}"}
    default.update(formats or {})
    return shown.style.format({k: v for k, v in default.items() if k in shown.columns}).hide(axis="index")


def note(text: str):
    """A one-line HTML note (used for 'skipped: not permitted' and 'these numbers are estimates')."""
    from IPython.display import HTML

    return HTML(f"<p style='color:#e65100;margin:4px 0'>{html.escape(text)}</p>")


def pareto_figure(table, energy: str = "uj_per_inference", accuracy: str = "accuracy", on: str = "pareto",
                  eligible: str = "eligible", baseline: tuple[float, float] | None = None):
    """Energy per inference against accuracy for every candidate: those that keep the accuracy,
    those that do not, the frontier (no candidate is both cheaper and as accurate) as a dashed line,
    and the baseline. A static SVG image (no widget needed)."""
    from ..widgets.static import StaticFigure
    from ..widgets.svg import img_tag, svg_scatter

    tag = _kind_tag(table)
    kept = table[table[eligible]] if eligible in table else table
    lost = table[~table[eligible]] if eligible in table else table.iloc[0:0]
    groups = {"keeps the accuracy": (list(kept[energy]), [100 * a for a in kept[accuracy]]),
              "loses accuracy": (list(lost[energy]), [100 * a for a in lost[accuracy]])}
    if baseline is not None:
        groups["baseline"] = ([baseline[0]], [100 * baseline[1]])
    front = table[table[on]] if on in table else table.iloc[0:0]
    title = f"Energy per inference against accuracy, every candidate{tag}"
    svg = svg_scatter(groups, title=title, x_label="µJ per inference", y_label="test accuracy (%)",
                      line=(list(front[energy]), [100 * a for a in front[accuracy]]), line_label="Pareto frontier",
                      colours=("#1565c0", "#bdbdbd", "#c62828"), warn=bool(tag))
    return StaticFigure(img_tag(svg, f"{title}: {len(table)} candidates, {len(front)} on the frontier"),
                        f"<figure: {len(table)} candidates, energy against accuracy>")
