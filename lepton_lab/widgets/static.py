"""Static figures of finished measurements: what notebooks keep.

``report_figure`` (behind ``report.plot()``) and the final output of every ``%%energy`` cell are
HTML: the figure as an SVG image (see :mod:`.svg`) and the report's summary. No widget mimetype:
JupyterLab saves no widget state by default, so a widget output reopened later shows "model not
found" instead of any fallback. ``StaticFigure.widget`` builds the interactive bqplot version on
request (Voila apps, anyone who wants to zoom); only that needs the ``lab`` extra.

Pure: numpy and the SVG writer, imported when a figure is drawn (a summary alone needs neither);
ipywidgets and bqplot load only for ``.widget``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import units
from ..errors import require
from ..sensors import kinds
from . import style

if TYPE_CHECKING:
    import numpy as np


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


def report_figure(report, max_points: int | None = None) -> StaticFigure:
    """The power trace of a finished report (SVG image + summary); ``.widget`` for a bqplot one.
    ``max_points`` per line: default :data:`.traces.MAX_POINTS`."""
    from .traces import MAX_POINTS, decimate_trace

    # A cluster's trace has a line per host; in the process view the trace (and so its energy
    # line) is still the whole machine's, as its power lines are.
    domains = list(report.trace.get("power_w") or {}) if report.hosts else list(report.domains)
    t, power, energy = decimate_trace(report.trace, domains, report.machine_energy_j, max_points or MAX_POINTS)

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


#: A finished run with fewer samples than this ends as its summary, without a figure: one or two
#: dots on a 1 s axis tell nothing.
MIN_FIGURE_POINTS = 3


def summary_bundle(report) -> dict[str, str]:
    """A report's summary alone, as a display's data (what ``display(report)`` shows)."""
    return {"text/html": report._repr_html_(), "text/plain": str(report)}


def final_bundle(report, domains, *, labels: Mapping[str, str] | None = None, title: str | None = None,
                 max_points: int | None = None) -> dict[str, str]:
    """What a measured cell ends with, whatever its live view was (a widget, an image, none):
    the static figure of the whole trace and the summary (text/html), and the text (text/plain).
    A run too short to draw (fewer than :data:`MIN_FIGURE_POINTS` samples) ends as its summary."""
    if len(report.trace.get("t_s") or ()) < MIN_FIGURE_POINTS:
        return summary_bundle(report)
    from .traces import MAX_POINTS, decimate_trace

    # The power lines are the machine's: so is the energy line under them (in every view).
    t, power, energy = decimate_trace(report.trace, list(domains), report.machine_energy_j,
                                      max_points or MAX_POINTS)
    if len(t) < MIN_FIGURE_POINTS:
        return summary_bundle(report)
    return {"text/html": fallback_html(report, t, power, energy, title=title, labels=labels),
            "text/plain": str(report)}


def fallback_html(report, t, power: Mapping[str, np.ndarray], energy, *, title: str | None = None,
                  labels: Mapping[str, str] | None = None) -> str:
    """The trace as an SVG image and the report's HTML summary under it.

    The final output of a ``%%energy`` cell (see ``LivePowerView.finish``), so it is drawn to look
    like the live bqplot figure: same title, axes, colours and legend.
    """
    from .svg import img_tag, svg_power_figure

    labels = {d: (labels or {}).get(d) or style.domain_label(d) for d in power}
    if title is None:
        title = f"{report.label}{kinds.tag(report.kind, report.replayed_from)}"
    svg = svg_power_figure(t, power, energy, title=title, labels=labels, warn=not report.is_measurement)
    alt = (f"{title}: power over {units.format_duration(report.duration_s)}, "
           f"{units.format_energy(report.energy_j)} in total")
    return f"<div class='lepton-figure'>{img_tag(svg, alt)}{report._repr_html_()}</div>"
