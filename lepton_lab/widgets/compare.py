"""``Comparison``: energy per measurement stacked by domain, duration beside it, a table under it.

What ``lepton_lab.compare(...)``, ``%energy compare`` and ``Sweep`` show. Its notebook output is
static HTML: the two bar charts as SVG images (see :mod:`.svg`) and the table; no widget, so a
saved notebook reopened in JupyterLab (which saves no widget state by default) still shows it,
trusted or not, and so do exports and Voila. ``update()``/``add()`` redraw every display of it in
place (displays carry a display_id), which is how a sweep shows one comparison growing.
``widget`` builds the interactive bqplot version on request (tooltips; Voila apps).
"""
from __future__ import annotations

import html
from typing import Iterable, NamedTuple, Sequence

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, Bars, Figure, LinearScale, OrdinalScale, Tooltip

from .. import units
from ..sensors import kinds
from . import _bq, static

_DURATION_COLOUR = "#757575"


def unique_labels(reports: Sequence) -> list[str]:
    """One x category per report: repeated labels get ' (2)', ' (3)'; where measured and
    non-measured reports are mixed, the non-measured ones get a '*'."""
    mixed = len({r.kind for r in reports}) > 1
    seen: dict[str, int] = {}
    labels = []
    for report in reports:
        star = kinds.MIXED_MARK if mixed and not kinds.is_measurement(report.kind) else ""
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


class _Data(NamedTuple):
    categories: list[str]
    domains: list[str]
    energy: np.ndarray  # J, one row per domain, one column per report
    durations: np.ndarray  # s, one row
    title: str


class ComparisonWidget:
    """The bqplot version: two bar charts (tooltips), a legend row and the table."""

    def __init__(self, title: str):
        self.title = title
        self.energy_figure, self.energy_bars, self.energy_scale, self.energy_axis = _bar_figure(
            "energy (J)", title, "2 1 0", "~s")
        self.duration_figure, self.duration_bars, self.duration_scale, self.duration_axis = _bar_figure(
            "duration (s)", "Duration", "1 1 0", "~g")
        self.legend = widgets.HTML()
        self.figures = widgets.HBox([self.energy_figure, self.duration_figure],
                                    layout=widgets.Layout(width="100%", flex_flow="row wrap"))
        self.table_html = widgets.HTML()
        self.box = _bq.FallbackBox([self.figures, self.legend, self.table_html])

    def draw(self, data: _Data | None, table_html: str, bundle: dict[str, str]) -> None:
        self.box.fallback_html, self.box.fallback_text = bundle["text/html"], bundle["text/plain"]
        self.table_html.value = table_html
        if data is None:
            self.figures.layout.display = "none"
            return
        colours = _bq.domain_colours(data.domains)
        labels = [_bq.domain_label(d) for d in data.domains]
        bars = [self.energy_bars, self.duration_bars]
        scales = [self.energy_scale, self.duration_scale, self.energy_axis, self.duration_axis]
        with _bq.hold_all([*bars, *scales, self.energy_figure]):
            # Explicit bounds: all-zero bars (a no-op cell) must still draw an axis, not NaN.
            self.energy_scale.max = _bq.nice_ceiling(float(data.energy.sum(axis=0).max()) * 1.05, 1.0)
            self.duration_scale.max = _bq.nice_ceiling(float(data.durations.max()) * 1.05, 0.1)
            self.energy_axis.tick_values = _bq.nice_ticks(self.energy_scale.max)
            self.duration_axis.tick_values = _bq.nice_ticks(self.duration_scale.max)
            self.energy_bars.colors, self.energy_bars.labels = [colours[d] for d in data.domains], labels
            self.energy_bars.x, self.energy_bars.y = data.categories, data.energy
            self.duration_bars.colors = [_DURATION_COLOUR]
            self.duration_bars.x, self.duration_bars.y = data.categories, data.durations
            self.energy_figure.title = data.title
            warn = {"fill": _bq.KIND_COLOUR, "font-weight": "600"} if data.title != self.title else {}
            self.energy_figure.title_style = {"font-size": "14px", **warn}
        self.legend.value = _bq.legend_html([(label, colours[d], "box") for label, d in zip(labels, data.domains)])
        self.figures.layout.display = None

    def close(self) -> None:
        _bq.close_widgets([self.box])


class Comparison:
    """Compare finished measurements (``EnergyReport`` objects); see the module docstring."""

    def __init__(self, reports: Iterable = (), *, title: str = "Energy per measurement"):
        self.title = title
        self.reports: list = []
        self.view: ComparisonWidget | None = None  # the bqplot version, once ``widget`` was asked for
        self._handles: list = []  # display handles of the static output, updated in place
        self.update(reports)

    # -- data -------------------------------------------------------------------------------
    @property
    def table(self):
        """One row per report: label, id, energy_j, duration_s, mean_w, co2e_g, kind, status, J per domain."""
        from ..report_table import reports_table

        return reports_table(self.reports, "Comparison.table")

    def add(self, report) -> None:
        self.update([*self.reports, report])

    def update(self, reports: Iterable) -> None:
        """Redraw for these reports, in place: every display of this comparison (and its widget) follows."""
        self.reports = list(reports)
        bundle = self.static_bundle()
        if self.view is not None:
            self._draw_view(bundle)
        for handle in self._handles:
            handle.update(bundle, raw=True)

    def _data(self) -> _Data | None:
        if not self.reports:
            return None
        domains = domains_of(self.reports)
        energy = np.array([[r.domains[d].energy_j if d in r.domains else 0.0 for r in self.reports]
                           for d in domains], dtype=float).reshape(len(domains), len(self.reports))
        durations = np.array([[r.duration_s for r in self.reports]], dtype=float)
        return _Data(unique_labels(self.reports), domains, energy, durations, self.title + self._kind_note())

    def _kind_note(self) -> str:
        found = {r.kind for r in self.reports}
        if len(found) > 1 and any(kinds.is_measurement(k) for k in found):
            return kinds.MIXED_NOTE
        return kinds.tag(kinds.combined(found))

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

    def static_html(self) -> str:
        """The bar charts as SVG images and the table under them (what the notebook keeps)."""
        data = self._data()
        if data is None:
            return "<div class='lepton-compare'><i>no measurement yet</i></div>"
        colours = _bq.domain_colours(data.domains)
        stacks = [(_bq.domain_label(d), colours[d], list(data.energy[i])) for i, d in enumerate(data.domains)]
        warn = data.title != self.title
        energy_svg = static.svg_bars(data.categories, stacks, title=data.title, y_label="energy (J)", width=480,
                                     warn=warn)
        duration_svg = static.svg_bars(data.categories, [("duration", _DURATION_COLOUR, list(data.durations[0]))],
                                       title="Duration", y_label="duration (s)", width=300,
                                       tick=static.format_plain)
        totals = data.energy.sum(axis=0)
        energy_alt = f"{data.title}: " + ", ".join(
            f"{c} {units.format_energy(j)}" for c, j in zip(data.categories, totals))
        duration_alt = "Duration: " + ", ".join(
            f"{c} {units.format_duration(s)}" for c, s in zip(data.categories, data.durations[0]))
        return (f"<div class='lepton-compare'><div style='display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start'>"
                f"<div style='flex:2 1 0;min-width:280px'>{static.img_tag(energy_svg, energy_alt)}</div>"
                f"<div style='flex:1 1 0;min-width:200px'>{static.img_tag(duration_svg, duration_alt)}</div></div>"
                f"{self._table_html()}</div>")

    def static_bundle(self) -> dict[str, str]:
        """The notebook output: text/html (``static_html``) and text/plain (the table)."""
        text = self.table.to_string(index=False) if self.reports else "no measurement yet"
        return {"text/html": self.static_html(), "text/plain": text}

    # -- display ----------------------------------------------------------------------------
    @property
    def widget(self) -> _bq.FallbackBox:
        """The interactive bqplot version (built on first use; kept in step by ``update``)."""
        if self.view is None:
            self.view = ComparisonWidget(self.title)
            self._draw_view(self.static_bundle())
        return self.view.box

    def _draw_view(self, bundle: dict[str, str]) -> None:
        table = self._table_html() if self.reports else "<i>no measurement yet</i>"
        self.view.draw(self._data(), table, bundle)

    def close(self) -> None:
        """Close the widget version, if one was built (a later ``widget`` builds a new one)."""
        if self.view is not None:
            self.view.close()
            self.view = None

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return self.static_bundle()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        handle = display(self.static_bundle(), raw=True, display_id=True)
        if handle is not None:
            self._handles.append(handle)

    def __repr__(self) -> str:
        return f"<Comparison of {len(self.reports)} measurement(s)>"
