"""The live power figure ``%%energy`` draws under a running cell.

Threads: the view is built and displayed on the main thread; the sampler thread calls
:meth:`LivePowerView.on_sample` for every sample and, at most every ``period_s`` (~3 Hz), sets the
figure's traits inside ``hold_sync`` so each widget sends one message per update. ipykernel
forwards those messages to the browser while the main thread is still busy with the cell.
After the cell, :meth:`finish` (main thread again) sends the whole report trace to the widgets
(their final state), then replaces the display with a static figure (an SVG image + the summary, no
widget mimetype) and closes the widgets. The static output is what a saved notebook shows
everywhere: JupyterLab does not save widget state by default, and would show "model not found"
for a widget output reopened without it rather than fall back to the HTML. The SVG is an
``<img>`` (data URI), not inline ``<svg>``, which Lab strips from untrusted notebooks.
"""
from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence

import ipywidgets as widgets

from .. import units
from ..sensors import kinds
from . import interactive, static, style, traces

#: Least seconds between two pushes to the browser: ~3 Hz (every 4th sample at the default 10 Hz)
#: looks smooth, and each push (about 0.5-1 ms of kernel time, mostly message serialisation)
#: then costs a CPU-bound cell well under 1 %.
PERIOD_S = 0.35
#: A finished run with fewer samples than this ends as its summary, without a figure.
MIN_FIGURE_POINTS = 3
_HEADER_STYLE = ("display:flex;flex-wrap:wrap;gap:4px 16px;align-items:baseline;"
                 "font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;padding:2px 4px")


class LivePowerView:
    """Watts per domain and cumulative joules, drawn while the cell runs, then the whole trace."""

    def __init__(self, domains: Sequence[str], *, labels: Mapping[str, str] | None = None,
                 kind: str = kinds.MEASURED, note: str = "", label: str = "", source: str = "",
                 period_s: float = PERIOD_S, max_points: int = traces.MAX_POINTS,
                 clock: Callable[[], float] = time.monotonic):
        self.domains = list(domains)
        self.kind, self.note, self.label, self.source = kind, note, label, source
        self.period_s, self.max_points, self.clock = period_s, max_points, clock
        self.buffer = traces.TraceBuffer(self.domains, max_points)
        self.labels = {d: (labels or {}).get(d) or style.domain_label(d) for d in self.domains}
        self.figure = interactive.PowerFigure(self.domains, self.labels)
        self.figure.set_title(self._title(label, kind, source), kinds.is_measurement(kind))
        self.header = widgets.HTML(self._header_html(0.0, {}, 0.0, waiting=True))
        self.box = interactive.FallbackBox([self.header, self.figure.widget])
        self.box.fallback_text = "lepton_lab live power view (the summary follows when the cell ends)"
        self.updates = 0  # pushes to the browser so far
        self.errors = 0  # exceptions swallowed on the sampler thread (and a failed final update)
        #: The display's final mimebundle (text/html: SVG image + summary; text/plain), once finished.
        self.final_bundle: dict[str, str] | None = None
        self.closed = False
        self.redisplays = 0  # times the view was shown again after the cell cleared its output
        self._metadata: dict = {}
        self._lock = threading.Lock()
        self._last_push = -math.inf
        self._finished = False
        self._handle = None

    @classmethod
    def for_measurement(cls, measurement) -> LivePowerView:
        domains, kind, note, source = measurement.live_description()
        return cls(domains, kind=kind, note=note, label=measurement.options.label or "", source=source)

    # -- main thread ------------------------------------------------------------------------
    def display(self, metadata: dict | None = None) -> None:
        from IPython.display import display

        self._metadata = metadata or {}
        self._handle = display(self.box, display_id=True, metadata=self._metadata)

    def redisplay(self) -> None:
        """Show the view again, after the cell cleared its output (and with it this display).

        A progress loop (``clear_output(wait=True); print(step)``) keeps its live plot this way,
        at the top of what it prints. Not when the clear was meant for an ``ipywidgets.Output``
        the cell writes into: the view would land inside it."""
        if self._finished or self._handle is None or _inside_an_output_widget():
            return
        from IPython.display import display

        self._handle = display(self.box, display_id=True, metadata=self._metadata)
        self.redisplays += 1

    def finish(self, report) -> None:
        """Send the whole (decimated) trace to the widgets, then show the static figure instead.

        The display (the latest one, if the cell cleared its output) is updated in place to
        text/html (the SVG image and the summary) and text/plain, without the widget mimetype; the
        widgets are closed afterwards. A run too short to draw (fewer than
        :data:`MIN_FIGURE_POINTS` samples) ends as its summary alone.
        """
        with self._lock:
            # From here on the sampler thread leaves the widgets alone (on_sample returns at once),
            # and a push it was making has ended: it held this lock.
            self._finished = True
        # The power lines are the machine's: so is the energy line under them (in every view).
        t, power, energy = traces.decimate_trace(report.trace, self.domains, report.machine_energy_j,
                                                 self.max_points)
        try:  # the widgets' final state, the whole trace: the last update the front end gets
            self.figure.set_data(t, power, energy)
        except Exception:  # the static figure below is what is shown: it must not be lost to this
            self.errors += 1
        try:
            if len(t) < MIN_FIGURE_POINTS:
                figure = report._repr_html_()  # one or two dots on a 1 s axis tell nothing
            else:
                title = self._title(report.label, report.kind, report.replayed_from)
                figure = static.fallback_html(report, t, power, energy, title=title, labels=self.labels)
        except Exception:  # never leave the live widget as the cell's saved output: the summary alone
            self.errors += 1
            figure = report._repr_html_()
        self.final_bundle = {"text/html": figure, "text/plain": str(report)}
        try:
            if self._handle is not None:
                self._handle.update(self.final_bundle, raw=True, metadata=self._metadata)
        finally:
            self.close()  # after the final state and the new display went out: same iopub order

    def close(self) -> None:
        """Close every widget of the view (no output shows them any more): frees kernel and
        front-end memory. Idempotent; the Python objects keep their last values."""
        with self._lock:
            self._finished = True
            if self.closed:
                return
            self.closed = True
        interactive.close_widgets([self.box])

    # -- sampler thread ---------------------------------------------------------------------
    def on_sample(self, sample) -> None:
        """Record the sample; push to the browser if ``period_s`` has passed. Never raises."""
        try:
            with self._lock:
                if self._finished:
                    return
                total_j = sum(sample.energy_j.get(d, 0.0) for d in self.domains)
                self.buffer.add(sample.t_s, sample.power_w, total_j)
                now = self.clock()
                if now - self._last_push < self.period_s:
                    return
                self._last_push = now
                self._push(sample, total_j)
        except Exception:  # the live view is a nicety: it must never disturb the measurement
            self.errors += 1

    def _push(self, sample, total_j: float) -> None:
        t, power, energy = self.buffer.arrays()
        self.figure.set_data(t, power, energy)
        self.header.value = self._header_html(sample.t_s, sample.power_w, total_j)
        self.updates += 1

    # -- text -------------------------------------------------------------------------------
    @staticmethod
    def _title(label: str | None, kind: str, source: str = "") -> str:
        return f"{label or 'power while the cell runs'}{kinds.tag(kind, source)}"

    def _header_html(self, elapsed_s: float, power_w: Mapping[str, float], total_j: float,
                     waiting: bool = False) -> str:
        watts = sum(power_w.get(d, 0.0) for d in self.domains)
        parts = [f"<div style='{_HEADER_STYLE}'>"]
        if waiting:
            parts.append("<span style='font-size:16px'>⚡ waiting for the first sample…</span>")
        else:
            parts.append(f"<span style='font-size:18px;font-weight:600'>⚡ {units.format_power(watts)}</span>"
                         f"<span>now</span><span style='font-size:16px;font-weight:600'>"
                         f"{units.format_energy(total_j)}</span><span>so far</span>"
                         f"<span style='font-size:16px'>{units.format_duration(elapsed_s)}</span>")
            if len(self.domains) > 1:
                per_domain = " · ".join(f"{html.escape(self.labels[d])} {units.format_power(power_w.get(d, 0.0))}"
                                        for d in self.domains)
                parts.append(f"<span style='opacity:.7'>{per_domain}</span>")
        parts.append(self._kind_badge())
        parts.append("</div>")
        return "".join(parts)

    def _kind_badge(self) -> str:
        # Short on purpose: the reason is printed above the figure and repeated in the summary;
        # here it is a tooltip, so the numbers stay on one line.
        if kinds.is_measurement(self.kind):
            return ""
        note = html.escape(self.note, quote=True)
        return (f"<span title='{note}' style='background:{style.KIND_COLOUR};color:white;padding:1px 7px;"
                f"border-radius:3px;font-weight:700;letter-spacing:.5px'>{html.escape(kinds.badge(self.kind))}</span>"
                f"<span title='{note}' style='color:{style.KIND_COLOUR}'>not a measurement</span>")


def _inside_an_output_widget() -> bool:
    """Is the cell writing into an ``ipywidgets.Output`` (``with out: ...``) right now?

    Such a widget captures every output whose parent is its ``msg_id``, which it sets to the
    running request's while the ``with`` block lasts."""
    output = getattr(widgets, "Output", None)
    if output is None:
        return False
    return any(isinstance(w, output) and getattr(w, "msg_id", "") for w in list(widgets.Widget.widgets.values()))
