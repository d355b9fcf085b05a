"""Measure many runs in a loop with one progress bar and one updating comparison.

    with lepton_lab.Sweep(total=len(sizes), title="matrix size") as sweep:
        for n in sizes:
            with sweep.measure(label=f"n={n}", params={"n": n}):
                work(n)
    sweep.table    # one row per run: energy, duration, ... and the params

A hundred ``%%energy`` cells would draw a hundred figures; a sweep draws one bar chart that
grows as the runs finish. Where no widget front end exists (terminal IPython, a script) it
prints one line per run instead. Each run is an ordinary ``lepton_lab.measure`` block: stored
in the ledger, labelled estimated/replayed where it is.
"""
from __future__ import annotations

import html
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from . import units
from .errors import InvalidInput

__all__ = ["Sweep"]


def _widget_frontend() -> bool:
    # Same test as the magic: an ipykernel shell has a kernel (and comms); terminal IPython has not.
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


class Sweep:
    """A series of measured runs; see the module docstring.

    ``total``: number of runs expected (for the bar and the time left), or None if unknown.
    ``show``: draw widgets (default: when a widget front end exists). Other keyword arguments go
    to every ``lepton_lab.measure`` (``interval``, ``sensors``, ``region``, ``save``, ...).
    """

    def __init__(self, total: int | None = None, title: str = "Sweep", *, show: bool | None = None,
                 **measure_options):
        if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 1):
            raise InvalidInput(f"total must be a positive whole number of runs, got {total!r}")
        self.total, self.title = total, str(title)
        self.show = _widget_frontend() if show is None else bool(show)
        self.measure_options = measure_options
        self.reports: list = []
        self.params: list[dict] = []
        self._started = time.monotonic()
        self._view = None

    # -- the loop ---------------------------------------------------------------------------
    def __enter__(self) -> Sweep:
        self._started = time.monotonic()
        if self.show:
            self._view = _SweepView(self)
            self._view.display()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._view is not None:
            self._view.close(failed=exc_type is not None)
        return False

    @contextmanager
    def measure(self, label: str | None = None, params: dict | None = None, **overrides) -> Iterator:
        """Measure one run: ``with sweep.measure(label=...) as m: ...``; ``m.report`` after the block.

        The run is recorded (and shown) also when the block raises; the exception propagates.
        """
        from .api import measure

        options = {**self.measure_options, **overrides}
        block = measure(label=label or f"{self.title} #{len(self.reports) + 1}", **options)
        try:
            with block:
                yield block
        finally:
            if block.report is not None:
                self._record(block.report, dict(params or {}))

    def _record(self, report, params: dict) -> None:
        self.reports.append(report)
        self.params.append(params)
        if self._view is not None:
            self._view.update()
        elif not self.show:
            print(f"[{self.progress_text()}] {report.headline()}", flush=True)

    # -- results ----------------------------------------------------------------------------
    @property
    def table(self):
        """One row per run (see ``Comparison.table``) with the ``params`` of each run as columns."""
        from .report_table import reports_table

        frame = reports_table(self.reports, "Sweep.table")
        for key in dict.fromkeys(k for p in self.params for k in p):
            frame[key] = [p.get(key) for p in self.params]
        return frame

    def progress_text(self) -> str:
        done = len(self.reports)
        elapsed = time.monotonic() - self._started
        text = f"{done}/{self.total}" if self.total else f"{done} run(s)"
        if self.total and 0 < done < self.total:
            left = elapsed / done * (self.total - done)
            text += f" · ~{units.format_duration(left)} left"
        return text + f" · {units.format_duration(elapsed)} elapsed"

    def __repr__(self) -> str:
        return f"<Sweep {self.title!r}: {self.progress_text()}>"


class _SweepView:
    """One progress bar and one Comparison, displayed once and updated after every run.

    Widgets while the sweep runs; at exit the display becomes static HTML (the status line, the
    comparison's SVG images and table, no widget mimetype) and the widgets are closed, as
    ``LivePowerView.finish`` does: a saved notebook, reopened without widget state, still shows it.
    """

    def __init__(self, sweep: Sweep):
        import ipywidgets as widgets

        from .widgets.compare import Comparison
        from .widgets.interactive import FallbackBox

        self.sweep = sweep
        self.progress = widgets.IntProgress(value=0, min=0, max=sweep.total or 1, bar_style="info",
                                            layout=widgets.Layout(width="320px"))
        self.status = widgets.HTML(self._status_html())
        self.comparison = Comparison([], title=sweep.title)
        row = widgets.HBox([self.progress, self.status], layout=widgets.Layout(align_items="center"))
        self.box = FallbackBox([row, self.comparison.widget])
        self.box.fallback_html = self.comparison.static_html()  # sent once, with the widget
        #: The display's final mimebundle (text/html + text/plain), once closed.
        self.final_bundle: dict[str, str] | None = None
        self._handle = None

    def display(self) -> None:
        from IPython.display import display

        self._handle = display(self.box, display_id=True)

    def _status_text(self, last=None, failed: bool = False) -> str:
        text = html.escape(self.sweep.progress_text())
        if last is not None:
            text += f" · last: {html.escape(last.headline())}"
        if failed:
            text += " · <b style='color:#c62828'>stopped by an error</b>"
        return text

    def _status_html(self, last=None) -> str:
        return (f"<span style='font-family:var(--jp-ui-font-family,sans-serif);padding-left:8px'>"
                f"{self._status_text(last)}</span>")

    def update(self) -> None:
        reports = self.sweep.reports
        if self.sweep.total is None:
            self.progress.max = max(self.progress.max, len(reports))
        self.progress.value = min(len(reports), self.progress.max)
        self.status.value = self._status_html(reports[-1] if reports else None)
        self.comparison.update(reports)

    def close(self, failed: bool) -> None:
        """Replace the display by the static comparison, then close every widget."""
        from .widgets.interactive import close_widgets

        self.progress.bar_style = "danger" if failed else "success"
        status = self._status_text(failed=failed)
        title = (f"<div class='lepton-sweep-status' style='font-size:13px;margin:2px 0 4px'>"
                 f"<b>{html.escape(self.sweep.title)}</b> · {status}</div>")
        self.final_bundle = {"text/html": title + self.comparison.static_html(),
                             "text/plain": f"{self.sweep!r}\n{self.comparison.static_bundle()['text/plain']}"}
        try:
            if self._handle is not None:
                self._handle.update(self.final_bundle, raw=True)
        finally:
            self.comparison.close()
            close_widgets([self.box])
