"""Base of the what-if panels: input registry, clamping of forged values, refresh, page layout.

Widget values arrive from a browser and can be forged, limits included (a client can send
``{"max": 1e30, "value": 1e30}`` or NaN). So every refresh re-checks every input against the
panel's own :class:`~lepton_lab.whatif.checks.Bound`, puts the widget back in range, and shows
what it did in a visible message. Subclasses (one module per app in this package) supply
controls, charts, the model call and how a measured report maps onto inputs.
"""
from __future__ import annotations

import math

from ...errors import LeptonError
from ...whatif.checks import Bound
from ...whatif.reports import describe
from .look import CSS, WIDE, emphasis, esc, ipywidgets
from .report_picker import ReportPicker

_LIMIT_TRAITS = ("min", "max", "step", "base")


class Panel:
    """Base of the what-if panels: input registry, clamping, refresh, page layout."""

    ASSUMPTIONS: tuple[str, ...] = ()

    def __init__(self, ledger_path=None):
        W = ipywidgets()
        self._inputs: dict = {}  # key -> (widget, Bound, original limit traits)
        self._choices: dict = {}  # key -> (widget, allowed values, default)
        self._busy = False
        self.report = None
        self.notes: list[str] = []
        self.message = W.HTML()
        self.badge = W.HTML()
        self.numbers = W.HTML()
        self.picker = ReportPicker(self._use_report, ledger_path)
        controls = W.VBox(self._controls()).add_class("ll-controls")
        results = W.VBox([self.message, self.badge, self.numbers, *self._charts()]).add_class("ll-results")
        about = "".join(f"<li>{emphasis(a)}</li>" for a in self.ASSUMPTIONS)
        self.widget = W.VBox([
            W.HTML(CSS), W.HBox([controls, results]).add_class("ll-columns"),
            W.HTML(f'<div class="ll-assumptions"><b>Assumptions and sources</b><ul>{about}</ul></div>'),
        ]).add_class("ll-panel")
        self.refresh()

    # -- building blocks ----------------------------------------------------------------------
    @staticmethod
    def heading(text: str):
        return ipywidgets().HTML(f'<div class="ll-h">{esc(text)}</div>')

    @staticmethod
    def note(text: str):
        return ipywidgets().HTML(f'<div class="ll-note">{text}</div>')

    def slider(self, key, bound: Bound, value, description, log=False, step=None, fmt=".3g", observe=True):
        """A slider (log-scaled with ``log``; an integer box for an integer bound with ``step=0``)."""
        W = ipywidgets()
        common = dict(description=description, style=WIDE, layout=W.Layout(width="100%"))
        if bound.integer and step == 0:
            w = W.BoundedIntText(value=value, min=int(bound.lo), max=int(bound.hi), **common)
        elif bound.integer:
            w = W.IntSlider(value=value, min=int(bound.lo), max=int(bound.hi), step=step or 1,
                            continuous_update=False, **common)
        elif log:
            w = W.FloatLogSlider(value=value, base=10, min=math.log10(bound.lo), max=math.log10(bound.hi),
                                 step=step or 0.01, readout_format=fmt, continuous_update=False, **common)
        else:
            w = W.FloatSlider(value=value, min=bound.lo, max=bound.hi, step=step or 0.01,
                              readout_format=fmt, continuous_update=False, **common)
        self._inputs[key] = (w, bound, {t: getattr(w, t) for t in _LIMIT_TRAITS if hasattr(w, t)})
        if observe:
            w.observe(self._changed, names="value")
        return w

    def choice(self, key, options, value, description, observe=True):
        W = ipywidgets()
        w = W.Dropdown(options=options, value=value, description=description, style=WIDE,
                       layout=W.Layout(width="100%"))
        self._choices[key] = (w, [v for _, v in options], value)
        if observe:
            w.observe(self._changed, names="value")
        return w

    def widget_of(self, key):
        return (self._inputs.get(key) or self._choices[key])[0]

    def set_value(self, key, value) -> None:
        """Set an input from code (a report, a preset), clamping and noting like a visitor's value."""
        widget, bound, limits = self._inputs[key]
        used, note = bound.clamp(value)
        if note:
            self.notes.append(note)
        busy, self._busy = self._busy, True
        try:
            self._restore(widget, limits, used)
        finally:
            self._busy = busy

    # -- reading and checking -----------------------------------------------------------------
    def read(self) -> dict:
        """Every input, checked against the panel's bounds; forged values are put back and noted."""
        values = {key: self.read_input(key) for key in self._inputs}
        values.update((key, self.read_choice(key)) for key in self._choices)
        return values

    def read_input(self, key):
        widget, bound, limits = self._inputs[key]
        used, note = bound.clamp(widget.value)
        if note:
            self.notes.append(note)
        if note or widget.value != used or any(getattr(widget, t) != v for t, v in limits.items()):
            self._restore(widget, limits, used)
        return used

    def read_choice(self, key):
        widget, allowed, default = self._choices[key]
        if widget.value in allowed:
            return widget.value
        self.notes.append(f"{widget.description} {widget.value!r} is not an option; using the default")
        widget.value = default
        return default

    @staticmethod
    def _restore(widget, limits, value) -> None:
        # Widen first so that no intermediate state has min > max (ipywidgets raises on that),
        # then set the value, then narrow back to the panel's own limits.
        if "max" in limits:
            widget.max = max(widget.max, limits["max"])
            widget.min = min(widget.min, limits["min"])
        for trait in ("step", "base"):
            if trait in limits:
                setattr(widget, trait, limits[trait])
        widget.value = value
        if "max" in limits:
            widget.min, widget.max = limits["min"], limits["max"]

    # -- refresh cycle --------------------------------------------------------------------------
    def _changed(self, change=None) -> None:
        if not self._busy:
            self.refresh()

    def refresh(self) -> None:
        """Read, check, compute, draw; then show what was clamped or rejected."""
        if self._busy:
            return
        self._busy = True
        try:
            self.update(self.read())
        except LeptonError as exc:
            self.notes.append(str(exc))
        finally:
            self._busy = False
        self.show_notes()

    def show_notes(self) -> None:
        notes, self.notes = self.notes, []
        text = "<br>".join(f"⚠ {esc(n)}" for n in dict.fromkeys(notes))
        self.message.value = f'<div class="ll-msg" data-key="message">{text}</div>' if notes else ""

    def _use_report(self, report, origin: str) -> None:
        self.report = report
        self._busy = True
        try:
            self.apply_report(report)
        finally:
            self._busy = False
        self.badge.value = (f'<div class="ll-badge" data-key="badge">Started from {esc(origin)}: '
                            f"{esc(describe(report))}</div>")
        self.refresh()

    # -- for subclasses ----------------------------------------------------------------------
    def _controls(self) -> list:
        raise NotImplementedError

    def _charts(self) -> list:
        raise NotImplementedError

    def update(self, values: dict) -> None:
        raise NotImplementedError

    def apply_report(self, report) -> None:
        raise NotImplementedError
