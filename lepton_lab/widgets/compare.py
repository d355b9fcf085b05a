"""``Comparison``: energy per measurement stacked by domain, duration beside it, a table under it.

What ``lepton_lab.compare(...)``, ``%energy compare`` and ``Sweep`` show. Its notebook output is
static HTML: the two bar charts as SVG images (see :mod:`.svg`) and the table; no widget, so a
saved notebook reopened in JupyterLab (which saves no widget state by default) still shows it,
trusted or not, and so do exports and Voila. ``update()``/``add()`` redraw every display of it in
place (displays carry a display_id), which is how a sweep shows one comparison growing.
``widget`` builds the interactive bqplot version on request (tooltips; Voila apps); only that
needs ipywidgets and bqplot, loaded then.
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from .. import units
from ..sensors import kinds
from . import scales, style
from .svg import img_tag, svg_bars


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


class ComparisonData(NamedTuple):
    categories: list[str]
    domains: list[str]
    energy: np.ndarray  # in ``energy_unit``: one row per domain, one column per report
    energy_unit: str
    durations: np.ndarray  # s, one row
    title: str
    warn: bool  # the numbers are not all measured: the title says so, in the warning colour


class Comparison:
    """Compare finished measurements (``EnergyReport`` objects); see the module docstring."""

    def __init__(self, reports: Iterable = (), *, title: str = "Energy per measurement"):
        self.title = title
        self.reports: list = []
        self.view = None  # the bqplot version (interactive.ComparisonWidget), once ``widget`` was asked for
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

    def _data(self) -> ComparisonData | None:
        if not self.reports:
            return None
        domains = domains_of(self.reports)
        energy = np.array([[r.domains[d].energy_j if d in r.domains else 0.0 for r in self.reports]
                           for d in domains], dtype=float).reshape(len(domains), len(self.reports))
        factor, unit = scales.axis_unit(float(energy.sum(axis=0).max(initial=0.0)) * 1.05, "J", lowest=1e-3)
        durations = np.array([[r.duration_s for r in self.reports]], dtype=float)
        note = self._kind_note()
        return ComparisonData(unique_labels(self.reports), domains, energy / factor, unit, durations,
                              self.title + note, bool(note))

    def _kind_note(self) -> str:
        found = {r.kind for r in self.reports}
        if len(found) > 1 and any(kinds.is_measurement(k) for k in found):
            return kinds.MIXED_NOTE
        sources = ", ".join(sorted({r.replayed_from for r in self.reports if r.replayed_from}))
        return kinds.tag(kinds.combined(found), sources)

    def _table_html(self) -> str:
        """The table with units, styled inline (a widget's HTML gets none of the notebook's CSS)."""
        domains = domains_of(self.reports)
        head = ["measurement", "energy", "duration", "avg power", "CO2e", "kind", "status",
                *(html.escape(style.domain_label(d)) for d in domains)]
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
        colours = style.domain_colours(data.domains)
        stacks = [(style.domain_label(d), colours[d], list(data.energy[i])) for i, d in enumerate(data.domains)]
        energy_svg = svg_bars(data.categories, stacks, title=data.title, y_label=f"energy ({data.energy_unit})",
                              width=480, warn=data.warn)
        duration_svg = svg_bars(data.categories, [("duration", style.DURATION_COLOUR, list(data.durations[0]))],
                                title="Duration", y_label="duration (s)", width=300)
        energy_alt = f"{data.title}: " + ", ".join(
            f"{c} {units.format_energy(r.energy_j)}" for c, r in zip(data.categories, self.reports))
        duration_alt = "Duration: " + ", ".join(
            f"{c} {units.format_duration(s)}" for c, s in zip(data.categories, data.durations[0]))
        return (f"<div class='lepton-compare'><div style='display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start'>"
                f"<div style='flex:2 1 0;min-width:280px'>{img_tag(energy_svg, energy_alt)}</div>"
                f"<div style='flex:1 1 0;min-width:200px'>{img_tag(duration_svg, duration_alt)}</div></div>"
                f"{self._table_html()}</div>")

    def static_bundle(self) -> dict[str, str]:
        """The notebook output: text/html (``static_html``) and text/plain (the table)."""
        text = self.table.to_string(index=False) if self.reports else "no measurement yet"
        return {"text/html": self.static_html(), "text/plain": text}

    # -- display ----------------------------------------------------------------------------
    @property
    def widget(self):
        """The interactive bqplot version (built on first use; kept in step by ``update``)."""
        if self.view is None:
            from ..errors import require

            require("bqplot", "lab", "Comparison.widget")
            from .interactive import ComparisonWidget

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
