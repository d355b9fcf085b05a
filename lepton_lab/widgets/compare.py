"""``Comparison``: energy per measurement stacked by domain, duration beside it, a table under it.

What ``lepton_lab.compare(...)``, ``%energy compare`` and the sweeps of the lessons show. It is
all widgets (no ``Output`` capture), so it also works in Voila apps; its display carries a static
SVG + HTML table fallback for exported notebooks. ``update()`` redraws in place, which is how a
sweep shows one comparison growing rather than a figure per run.
"""
from __future__ import annotations

import html
from typing import Iterable, Sequence

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, Bars, Figure, LinearScale, OrdinalScale, Tooltip

from .. import units
from . import _bq, static

_DURATION_COLOUR = "#757575"


def unique_labels(reports: Sequence) -> list[str]:
    """One x category per report: repeated labels get ' (2)', ' (3)'; where measured and
    non-measured reports are mixed, the non-measured ones get a '*'."""
    mixed = len({r.kind for r in reports}) > 1
    seen: dict[str, int] = {}
    labels = []
    for report in reports:
        star = " *" if mixed and report.kind != "measured" else ""
        base = (report.label or "measurement") + star
        seen[base] = seen.get(base, 0) + 1
        labels.append(base if seen[base] == 1 else f"{base} ({seen[base]})")
    return labels


def domains_of(reports: Iterable) -> list[str]:
    """Every domain any report has, in first-seen order (reports may come from other machines)."""
    domains: dict[str, None] = {}
    for report in reports:
        domains.update(dict.fromkeys(report.domains))
    return list(domains)


def _bar_figure(y_label: str, title: str, flex: str, tick_format: str):
    """A bar chart with explicit y bounds and ticks; returns (figure, bars, y scale, y axis)."""
    x, y = OrdinalScale(), LinearScale(min=0.0, max=1.0)
    bars = Bars(x=[], y=[], scales={"x": x, "y": y}, type="stacked", padding=0.3,
                tooltip=Tooltip(fields=["x", "y"], formats=["", ".4~s"], labels=["", y_label]))
    y_axis = Axis(scale=y, side="left", label=y_label, tick_format=tick_format, grid_lines="dashed",
                  label_offset="42px", tick_values=_bq.nice_ticks(1.0))
    figure = Figure(marks=[bars], axes=[Axis(scale=x, grid_lines="none"), y_axis], title=title,
                    animation_duration=0, padding_y=0.0,
                    fig_margin={"top": 36, "bottom": 36, "left": 60, "right": 16},
                    title_style={"font-size": "14px"},
                    layout=widgets.Layout(flex=flex, min_width="280px", height="280px"))
    return figure, bars, y, y_axis


class Comparison:
    """Compare finished measurements (``EnergyReport`` objects); see the module docstring."""

    def __init__(self, reports: Iterable = (), *, title: str = "Energy per measurement"):
        self.title = title
        self.reports: list = []
        self.energy_figure, self.energy_bars, self.energy_scale, self.energy_axis = _bar_figure(
            "energy (J)", title, "2 1 0", "~s")
        self.duration_figure, self.duration_bars, self.duration_scale, self.duration_axis = _bar_figure(
            "duration (s)", "Duration", "1 1 0", "~g")
        self.legend = widgets.HTML()
        self.figures = widgets.HBox([self.energy_figure, self.duration_figure],
                                    layout=widgets.Layout(width="100%", flex_flow="row wrap"))
        self.table_html = widgets.HTML()
        self.widget = _bq.FallbackBox([self.figures, self.legend, self.table_html])
        self.update(reports)

    # -- data -------------------------------------------------------------------------------
    @property
    def table(self):
        """One row per report: label, id, energy_j, duration_s, mean_w, co2e_g, kind, status, J per domain."""
        from ..api import comparison_table

        if not self.reports:
            import pandas as pd

            return pd.DataFrame(columns=["label", "id", "energy_j", "duration_s", "mean_w", "co2e_g",
                                         "kind", "status"])
        return comparison_table(self.reports)

    def add(self, report) -> None:
        self.update([*self.reports, report])

    def update(self, reports: Iterable) -> None:
        """Redraw for these reports (in place: the displayed views follow)."""
        self.reports = list(reports)
        if not self.reports:
            self.figures.layout.display = "none"
            self.table_html.value = "<i>no measurement yet</i>"
            self.widget.fallback_html = self.table_html.value
            return
        categories = unique_labels(self.reports)
        domains = domains_of(self.reports)
        energy = np.array([[r.domains[d].energy_j if d in r.domains else 0.0 for r in self.reports]
                           for d in domains], dtype=float).reshape(len(domains), len(self.reports))
        durations = np.array([[r.duration_s for r in self.reports]], dtype=float)
        colours = _bq.domain_colours(domains)
        labels = [_bq.domain_label(d) for d in domains]
        title = self.title + self._kind_note()
        self._draw(categories, energy, durations, [colours[d] for d in domains], labels, title)
        self.table_html.value = self._table_html()
        self.widget.fallback_html = self._fallback(categories, energy, durations, colours, domains, title)
        self.widget.fallback_text = self.table.to_string(index=False)

    def _kind_note(self) -> str:
        kinds = {r.kind for r in self.reports}
        if kinds == {"measured"}:
            return ""
        if len(kinds) == 1:
            return static.kind_tag(kinds.pop())
        return " (* not measured: estimated or replayed)"

    def _draw(self, categories, energy, durations, colours, labels, title) -> None:
        bars = [self.energy_bars, self.duration_bars]
        scales = [self.energy_scale, self.duration_scale, self.energy_axis, self.duration_axis]
        with _bq.hold_all([*bars, *scales, self.energy_figure]):
            # Explicit bounds: all-zero bars (a no-op cell) must still draw an axis, not NaN.
            self.energy_scale.max = _bq.nice_ceiling(float(energy.sum(axis=0).max()) * 1.05, 1.0)
            self.duration_scale.max = _bq.nice_ceiling(float(durations.max()) * 1.05, 0.1)
            self.energy_axis.tick_values = _bq.nice_ticks(self.energy_scale.max)
            self.duration_axis.tick_values = _bq.nice_ticks(self.duration_scale.max)
            self.energy_bars.colors, self.energy_bars.labels = colours, labels
            self.energy_bars.x, self.energy_bars.y = categories, energy
            self.duration_bars.colors = [_DURATION_COLOUR]
            self.duration_bars.x, self.duration_bars.y = categories, durations
            self.energy_figure.title = title
            warn = {"fill": _bq.KIND_COLOUR, "font-weight": "600"} if title != self.title else {}
            self.energy_figure.title_style = {"font-size": "14px", **warn}
        self.legend.value = _bq.legend_html([(label, colour, "box") for label, colour in zip(labels, colours)])
        self.figures.layout.display = None

    def _table_html(self) -> str:
        """The table with units, styled inline (a widget's HTML gets none of the notebook's CSS)."""
        domains = domains_of(self.reports)
        head = ["measurement", "energy", "duration", "avg power", "CO2e", "kind", "status",
                *(_bq.domain_label(d) for d in domains)]
        rows = [[html.escape(label), units.format_energy(r.energy_j), units.format_duration(r.duration_s),
                 units.format_power(r.mean_w), units.format_mass_g(r.co2e_g), html.escape(r.kind),
                 html.escape(r.status),
                 *(units.format_energy(r.domains[d].energy_j) if d in r.domains else "—" for d in domains)]
                for label, r in zip(unique_labels(self.reports), self.reports)]
        cell = "padding:2px 10px;border-bottom:1px solid #e0e0e0;text-align:{}"
        th = "".join(f"<th style='{cell.format('left' if i == 0 else 'right')}'>{h}</th>"
                     for i, h in enumerate(head))
        body = "".join("<tr>" + "".join(f"<td style='{cell.format('left' if i == 0 else 'right')}'>{v}</td>"
                                        for i, v in enumerate(row)) + "</tr>" for row in rows)
        return (f"<table class='lepton-compare-table' style='border-collapse:collapse;font-size:12px;"
                f"line-height:1.45;font-family:var(--jp-ui-font-family,sans-serif);margin:4px 0'>"
                f"<tr>{th}</tr>{body}</table>")

    def _fallback(self, categories, energy, durations, colours, domains, title) -> str:
        stacks = [(_bq.domain_label(d), colours[d], list(energy[i])) for i, d in enumerate(domains)]
        warn = self._kind_note() != ""
        energy_svg = static.svg_bars(categories, stacks, title=title, y_label="energy (J)", width=480, warn=warn)
        duration_svg = static.svg_bars(categories, [("duration", _DURATION_COLOUR, list(durations[0]))],
                                       title="Duration", y_label="duration (s)", width=300,
                                       tick=static.format_plain)
        return (f"<div class='lepton-compare'><div style='display:flex;flex-wrap:wrap;gap:8px'>"
                f"<div style='flex:2 1 0;min-width:280px'>{energy_svg}</div>"
                f"<div style='flex:1 1 0;min-width:200px'>{duration_svg}</div></div>"
                f"{self._table_html()}</div>")

    # -- display ----------------------------------------------------------------------------
    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __repr__(self) -> str:
        return f"<Comparison of {len(self.reports)} measurement(s)>"
