"""The live power figure ``%%energy`` draws under a running cell, as a widget or as an image.

Threads: the view is built on the sampler thread (``cell_runner`` creates it only once a cell has
run long enough to draw, ~0.3 s) or on the main thread; the sampler thread then calls
:meth:`LiveView.on_sample` for every sample, and at most every ``period_s`` the view pushes:

- :class:`LivePowerView` (bqplot) sets the figure's traits inside ``hold_sync``, so each widget
  sends one message per update; ipykernel forwards them while the main thread runs the cell.
- :class:`SvgLiveView` redraws the static SVG figure and shows it again in place (an
  ``update_display_data`` of the same display), for front ends that render no third-party widget
  (Google Colab without its custom widget manager) or kernels without ipywidgets/bqplot.

After the cell, :meth:`LiveView.finish` gives the final display: the static figure (an SVG image +
the summary, no widget mimetype), the same whatever the live view was. A widget view then sends
the whole trace to its widgets first and closes them after the final display went out. The static
output is what a saved notebook shows everywhere: JupyterLab does not save widget state by
default, and would show "model not found" for a widget output reopened without it. The SVG is an
``<img>`` (data URI), not inline ``<svg>``, which Lab strips from untrusted notebooks.
"""
from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from .. import units
from ..sensors import kinds
from . import static, style, traces
from .static import MIN_FIGURE_POINTS  # noqa: F401  (re-exported: where callers looked for it)
from .svg import img_tag, svg_power_figure

#: Least seconds between two pushes to the browser: ~3.3 Hz (every 3rd sample at the default 10 Hz:
#: a little under 0.3 s, so that sampling jitter does not make it every 4th) looks smooth, and each
#: push (about 0.5-1 ms of kernel time, mostly message serialisation) then costs a CPU-bound cell
#: well under 1 %.
PERIOD_S = 0.28
#: The image view redraws its whole SVG at each push (a few ms): ~2.5 Hz (every 4th sample).
SVG_PERIOD_S = 0.38
#: Points per line of the image view while it runs (the final figure has the whole trace).
SVG_MAX_POINTS = 600
_HEADER_STYLE = ("display:flex;flex-wrap:wrap;gap:4px 16px;align-items:baseline;"
                 "font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;padding:2px 4px")


class LiveView:
    """What every live view shares: the trace so far, the throttle, the header, the final display."""

    def __init__(self, domains: Sequence[str], *, labels: Mapping[str, str] | None = None,
                 kind: str = kinds.MEASURED, note: str = "", label: str = "", source: str = "",
                 period_s: float = PERIOD_S, max_points: int = traces.MAX_POINTS,
                 clock: Callable[[], float] = time.monotonic):
        self.domains = list(domains)
        self.kind, self.note, self.label, self.source = kind, note, label, source
        self.period_s, self.max_points, self.clock = period_s, max_points, clock
        self.buffer = traces.TraceBuffer(self.domains, max_points)
        self.labels = {d: (labels or {}).get(d) or style.domain_label(d) for d in self.domains}
        self.updates = 0  # pushes to the browser so far
        self.errors = 0  # exceptions swallowed on the sampler thread (and a failed final update)
        #: The display's final mimebundle (text/html: SVG image + summary; text/plain), once finished.
        self.final_bundle: dict[str, str] | None = None
        self.closed = False
        #: Where the view shows a new bundle (an ``OutputSlot.show``); None: nowhere yet.
        self.show: Callable[[dict], None] | None = None
        self._lock = threading.Lock()
        self._last_push = -math.inf
        self._finished = False

    @classmethod
    def for_measurement(cls, measurement, **kwargs):
        domains, kind, note, source = measurement.live_description()
        return cls(domains, kind=kind, note=note, label=measurement.options.label or "", source=source, **kwargs)

    def bundle(self) -> dict:
        """The live view as a display's data."""
        raise NotImplementedError

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
                self._push(sample.t_s, sample.power_w, total_j)
                self.updates += 1
        except Exception:  # the live view is a nicety: it must never disturb the measurement
            self.errors += 1

    def _push(self, elapsed_s: float, power_w: Mapping[str, float], total_j: float) -> None:
        raise NotImplementedError

    # -- main thread ------------------------------------------------------------------------
    def finish(self, report, show: Callable[[dict], None] | None = None) -> dict[str, str]:
        """The final display (static figure + summary, or the summary alone for a run too short to
        draw), shown through ``show`` (default: where the view was shown); then the view closes."""
        with self._lock:
            # From here on the sampler thread leaves the view alone (on_sample returns at once),
            # and a push it was making has ended: it held this lock.
            self._finished = True
        self._final_state(report)
        try:
            title = self._title(report.label, report.kind, report.replayed_from)
            bundle = static.final_bundle(report, self.domains, labels=self.labels, title=title,
                                         max_points=self.max_points)
        except Exception:  # never leave the live view as the cell's saved output: the summary alone
            self.errors += 1
            bundle = static.summary_bundle(report)
        self.final_bundle = bundle
        try:
            if (show or self.show) is not None:
                (show or self.show)(bundle)
        finally:
            self.close()  # after the final state and the new display went out: same iopub order
        return bundle

    def _final_state(self, report) -> None:
        """Anything the view sends before the final display replaces it."""

    def close(self) -> None:
        with self._lock:
            self._finished = True
            self.closed = True

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


class LivePowerView(LiveView):
    """Watts per domain and cumulative joules as a bqplot figure, then the whole trace."""

    def __init__(self, domains: Sequence[str], **kwargs):
        super().__init__(domains, **kwargs)
        import ipywidgets as widgets

        from . import interactive

        self.figure = interactive.PowerFigure(self.domains, self.labels)
        self.figure.set_title(self._title(self.label, self.kind, self.source), kinds.is_measurement(self.kind))
        self.header = widgets.HTML(self._header_html(0.0, {}, 0.0, waiting=True))
        self.box = interactive.FallbackBox([self.header, self.figure.widget])
        self.box.fallback_text = "lepton_lab live power view (the summary follows when the cell ends)"
        self._handle = None

    def bundle(self) -> dict:
        return self.box._repr_mimebundle_()

    def display(self, metadata: dict | None = None) -> None:
        """Show the view with IPython's ``display`` (outside a measured cell: a benchmark, a test)."""
        from IPython.display import display

        self._handle = display(self.box, display_id=True, metadata=metadata or {})
        self.show = lambda bundle: self._handle.update(bundle, raw=True, metadata=metadata or {})

    def _push(self, elapsed_s: float, power_w: Mapping[str, float], total_j: float) -> None:
        t, power, energy = self.buffer.arrays()
        self.figure.set_data(t, power, energy)
        self.header.value = self._header_html(elapsed_s, power_w, total_j)

    def _final_state(self, report) -> None:
        # The power lines are the machine's: so is the energy line under them (in every view).
        t, power, energy = traces.decimate_trace(report.trace, self.domains, report.machine_energy_j,
                                                 self.max_points)
        try:  # the widgets' final state, the whole trace: the last update the front end gets
            self.figure.set_data(t, power, energy)
        except Exception:  # the static figure is what is shown: it must not be lost to this
            self.errors += 1

    def close(self) -> None:
        """Close every widget of the view (no output shows them any more): frees kernel and
        front-end memory, and a saved notebook keeps no state for them. Idempotent; the Python
        objects keep their last values."""
        with self._lock:
            self._finished = True
            if self.closed:
                return
            self.closed = True
        from . import interactive

        interactive.close_widgets([self.box])


class SvgLiveView(LiveView):
    """The live figure as an SVG image under a one-line header, redrawn in place (no widget)."""

    def __init__(self, domains: Sequence[str], **kwargs):
        kwargs.setdefault("period_s", SVG_PERIOD_S)
        kwargs.setdefault("max_points", SVG_MAX_POINTS)
        super().__init__(domains, **kwargs)
        self._current = self._html(self._header_html(0.0, {}, 0.0, waiting=True), "")

    def bundle(self) -> dict:
        return {"text/html": self._current, "text/plain": "lepton_lab live power view (the summary follows)"}

    def _push(self, elapsed_s: float, power_w: Mapping[str, float], total_j: float) -> None:
        t, power, energy = self.buffer.arrays()
        title = self._title(self.label, self.kind, self.source)
        svg = svg_power_figure(t, power, energy, title=title, labels=self.labels,
                               warn=not kinds.is_measurement(self.kind))
        self._current = self._html(self._header_html(elapsed_s, power_w, total_j),
                                   img_tag(svg, f"{title}: power so far"))
        if self.show is not None:
            self.show(self.bundle())

    @staticmethod
    def _html(header: str, figure: str) -> str:
        return f"<div class='lepton-live'>{header}{figure}</div>"
