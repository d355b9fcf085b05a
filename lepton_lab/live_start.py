"""When and how a measured cell gets its live view: only once it has run long enough to draw.

A short cell (most cells) ends before :data:`DRAW_AFTER_S`: it gets its summary and no live view
is built (a bqplot figure costs ~20 ms to build, more than the measurement). A longer one gets
its view from the sampler thread at its first sample past :data:`DRAW_AFTER_S`, fed with the
samples before it, and shown through the cell's :class:`~lepton_lab.cell_output.OutputSlot`.

Which view (``$LEPTON_LAB_LIVE``, read at each cell):

- ``auto`` (default): the bqplot widget, except where widgets from PyPI are not rendered (Google
  Colab, which shows them only after ``enable_custom_widget_manager()``) or ipywidgets/bqplot
  are missing: there the SVG image, updated in place. Also the image for a cell that has cleared
  its output before its view is due (a progress loop re-shows the view after every clear).
- ``widget``, ``svg``: that one; ``off``: none (the summary and static figure still follow).
  Asked for by name, the widget is always the widget: a cell that starts before the background
  import of bqplot has finished waits for it (not measured) instead of drawing the image.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import threading

LIVE_ENV = "LEPTON_LAB_LIVE"
MODES = ("auto", "widget", "svg", "off")
#: A cell that has run this long gets a live view (~3 samples at the default 10 Hz).
DRAW_AFTER_S = 0.3

_found: dict[str, bool] = {}
_said_svg = False
#: Set once :func:`prewarm` has imported everything (the widget view is built only then).
_warm = threading.Event()
_warming: threading.Thread | None = None


def _importable(name: str) -> bool:
    if name not in _found:  # once per process: find_spec reads the file system
        try:
            _found[name] = name in sys.modules or importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            _found[name] = False
    return _found[name]


def on_colab() -> bool:
    return "google.colab" in sys.modules or (_importable("google") and _importable("google.colab"))


def live_mode(say: bool = True) -> str:
    """``widget``, ``svg`` or ``off`` for this cell (see the module's docstring); ``say``: one
    line, once per session, when the image stands in for missing ipywidgets/bqplot."""
    global _said_svg
    mode = os.environ.get(LIVE_ENV, "auto").strip().lower() or "auto"
    if mode not in MODES:
        if say:
            print(f"lepton_lab: {LIVE_ENV}={mode!r} is not one of {', '.join(MODES)}; using auto",
                  file=sys.stderr, flush=True)
        mode = "auto"
    widgets_here = _importable("ipywidgets") and _importable("bqplot")
    if mode == "widget" and not widgets_here:
        mode = "auto"
    if mode != "auto":
        return mode
    if on_colab():
        return "svg"  # Colab renders no third-party widget by default; an image needs nothing
    if not widgets_here:
        if say and not _said_svg:
            _said_svg = True
            print("lepton_lab: the live view is an image here (no ipywidgets/bqplot); "
                  "pip install 'lepton_lab[lab]' for the interactive one", file=sys.stderr, flush=True)
        return "svg"
    return "widget"


def prewarm(after: threading.Thread | None = None) -> threading.Thread:
    """Import, in the background, what a measured cell's display needs: the summary's renderer
    first, then the static figure's (numpy, SVG), then the live view's (ipywidgets, bqplot: ~0.3 s
    of CPU alone, seconds beside a busy cell). Started by ``%load_ext`` after the measurement's own
    prewarm (``after``), or by the first cell that wanted a widget before then."""
    global _warming
    if _warming is not None:
        return _warming

    def work() -> None:
        if after is not None:
            after.join()
        modules = ["lepton_lab.report_render", "lepton_lab.widgets.static", "lepton_lab.widgets.svg",
                   "lepton_lab.widgets.traces"]
        mode = live_mode(say=False)
        if mode != "off":
            modules.append("lepton_lab.widgets.live")
        if mode == "widget":
            modules.append("lepton_lab.widgets.interactive")
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the cell that needs it will say what is missing
                pass
        _warm.set()

    _warming = thread = threading.Thread(target=work, name="lepton-prewarm-display", daemon=True)
    thread.start()
    return thread


class LiveStarter:
    """Subscribed to the sampler from the cell's start; builds the live view when it is due."""

    def __init__(self, measurement, slot, mode: str, draw_after_s: float = DRAW_AFTER_S):
        """Main thread, before measuring starts."""
        self.measurement, self.slot, self.mode = measurement, slot, mode
        if mode == "widget" and os.environ.get(LIVE_ENV, "").strip().lower() == "widget":
            prewarm().join()
        self.draw_after_s = draw_after_s
        self.view = None
        self.failed: str | None = None
        self._early: list = []  # the samples before the view exists
        self._lock = threading.Lock()
        self._closed = False

    def on_sample(self, sample) -> None:
        """Sampler thread. Never raises (the sampler counts subscriber errors, but the view is a nicety)."""
        view = self.view
        if view is not None:
            view.on_sample(sample)
            return
        with self._lock:
            if self._closed or self.failed:
                return
            self._early.append(sample)
            if sample.t_s < self.draw_after_s or _capturing():
                return
            try:
                self.view = self._build()
            except Exception as exc:  # ImportError, a broken front end: the summary still follows
                self.failed = f"{type(exc).__name__}: {exc}"
                return
        try:
            self.slot.show(self.view.bundle())
        except Exception as exc:  # never leave a view running that nobody sees
            self.failed = f"{type(exc).__name__}: {exc}"
            self.view, view = None, self.view
            view.close()
            return
        self.view.show = self.slot.show

    def _build(self):
        from .widgets.live import LivePowerView, SvgLiveView

        widget = self.mode == "widget" and _warm.is_set() and not self._clearing()
        if self.mode == "widget" and not _warm.is_set():
            # Importing bqplot beside a busy cell takes seconds (each import step waits for the
            # GIL): this cell draws the image, and the next ones the widget.
            prewarm()
        kind = LivePowerView if widget else SvgLiveView
        view = kind.for_measurement(self.measurement)
        view.period_s, period = 0.0, view.period_s  # the samples so far in one draw
        for sample in self._early[:-1]:
            view.buffer.add(sample.t_s, sample.power_w, sum(sample.energy_j.get(d, 0.0) for d in view.domains))
        view.on_sample(self._early[-1])
        view.period_s = period
        self._early.clear()
        return view

    def _clearing(self) -> bool:
        """Has this cell cleared its output already (a progress loop), with the view left to ``auto``?
        Each clear makes the front end build the view anew: a bqplot view per clear (JupyterLab
        logs an error for each one a clear disposes before it rendered), an image for next to nothing."""
        asked = os.environ.get(LIVE_ENV, "").strip().lower() == "widget"
        return not asked and getattr(self.slot, "clears", 0) > 0

    def close(self) -> None:
        with self._lock:
            self._closed = True
        if self.view is not None:
            self.view.close()


def _capturing() -> bool:
    """Would the view land in an ``ipywidgets.Output`` the cell writes into? Then wait."""
    from .cell_output import _output_widget_capturing

    return _output_widget_capturing()
