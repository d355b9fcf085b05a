"""Static figures of finished measurements: what notebooks keep.

``report_figure`` (behind ``report.plot()``) and the final output of every ``%%energy`` cell are
HTML: the figure as an SVG image (see :mod:`.svg`) and the report's summary. No widget mimetype:
JupyterLab saves no widget state by default, so a widget output reopened later shows "model not
found" instead of any fallback. ``StaticFigure.widget`` builds the interactive bqplot version on
request (Voila apps, anyone who wants to zoom); only that needs the ``lab`` extra.

Pure: numpy and the SVG writer; ipywidgets and bqplot load only for ``.widget``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import units
from ..errors import require
from ..sensors import kinds
from . import style
from .svg import img_tag, svg_power_figure
from .traces import MAX_POINTS, decimate_trace


class StaticFigure:
    """A figure whose notebook output is static HTML (text/html + text/plain, no widget).

    ``widget`` builds the interactive version (once, on first use) from ``build_widget``.
    """

    def __init__(self, html: str, text: str, build_widget: Callable[[], Any] | None = None):
        self.html, self.text = html, text
        self._build_widget = build_widget
        self._widget: Any = None

    @property
    def widget(self) -> Any:
        """The interactive version (bqplot; needs the ``lab`` extra)."""
        if self._widget is None:
            if self._build_widget is None:
                self._widget = require("ipywidgets", "lab", "an interactive figure").HTML(self.html)
            else:
                require("bqplot", "lab", "an interactive figure")
                self._widget = self._build_widget()
        return self._widget

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, str]:
        return {"text/html": self.html, "text/plain": self.text}

    def __repr__(self) -> str:
        return self.text


def report_figure(report, max_points: int = MAX_POINTS) -> StaticFigure:
    """The power trace of a finished report (SVG image + summary); ``.widget`` for a bqplot one."""
    # A cluster's trace has a line per host; in the process view the trace (and so its energy
    # line) is still the whole machine's, as its power lines are.
    domains = list(report.trace.get("power_w") or {}) if report.hosts else list(report.domains)
    t, power, energy = decimate_trace(report.trace, domains, report.machine_energy_j, max_points)

    def build_widget():
        from . import interactive

        figure = interactive.PowerFigure(domains, {d: style.domain_label(d) for d in domains})
        figure.set_title(f"{report.label}{kinds.tag(report.kind, report.replayed_from)}", report.is_measurement)
        figure.set_data(t, power, energy)
        html_widget = require("ipywidgets", "lab", "an interactive figure").HTML(
            style.compact_html(report._repr_html_()))
        box = interactive.FallbackBox([figure.widget, html_widget])
        box.fallback_html, box.fallback_text = page, str(report)
        box.power_figure = figure  # kept for tests and for callers that restyle it
        return box

    page = fallback_html(report, t, power, energy)
    return StaticFigure(page, str(report), build_widget)


def fallback_html(report, t, power: Mapping[str, np.ndarray], energy, *, title: str | None = None,
                  labels: Mapping[str, str] | None = None) -> str:
    """The trace as an SVG image and the report's HTML summary under it.

    The final output of a ``%%energy`` cell (see ``LivePowerView.finish``), so it is drawn to look
    like the live bqplot figure: same title, axes, colours and legend.
    """
    labels = {d: (labels or {}).get(d) or style.domain_label(d) for d in power}
    if title is None:
        title = f"{report.label}{kinds.tag(report.kind, report.replayed_from)}"
    svg = svg_power_figure(t, power, energy, title=title, labels=labels, warn=not report.is_measurement)
    alt = (f"{title}: power over {units.format_duration(report.duration_s)}, "
           f"{units.format_energy(report.energy_j)} in total")
    return f"<div class='lepton-figure'>{img_tag(svg, alt)}{report._repr_html_()}</div>"
