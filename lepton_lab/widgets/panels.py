"""Composite what-if widgets, one per Voila app: ``DatacenterPanel``, ``LifecyclePanel``,
``CarbonAwarePanel``. Display ``Panel().widget``.

Each panel is controls on the left, numbers and a bqplot chart on the right, the assumptions
below, and a picker to start from a measured report. The models live in
:mod:`lepton_lab.whatif`; this module only reads widgets, calls a model and draws the result.

Widget values arrive from a browser and can be forged, limits included (a client can send
``{"max": 1e30, "value": 1e30}`` or NaN). So every refresh re-checks every input against the
panel's own :class:`~lepton_lab.whatif.checks.Bound`, puts the widget back in range, and shows
what it did in a visible message. ipywidgets and bqplot are imported on first use.
"""
from __future__ import annotations

import html
import math
import os
import re

from .. import carbon, units
from ..errors import LeptonError, require
from ..ledger import Ledger
from ..whatif import datacenter, lifecycle, profiles, scheduling
from ..whatif.checks import Bound
from ..whatif.display import axis_max, count, energy_unit, nice_ticks, wh
from ..whatif.reports import check_report, describe, report_from_bytes

_LIMIT_TRAITS = ("min", "max", "step", "base")
#: Set to "off" (``lepton-lab serve`` does it on a non-local address) to hide this machine's
#: ledger from visitors; they can still upload their own report.
LEDGER_ENV = "LEPTON_LAB_APPS_LEDGER"
WIDE = {"description_width": "150px"}

CSS = """<style>
.ll-panel {max-width: 1200px; margin: 0 auto; font-family: var(--jp-ui-font-family, sans-serif);}
.ll-columns {gap: 22px; align-items: flex-start; flex-wrap: wrap;}
.ll-controls {flex: 0 0 400px; background: #f6f8fa; border: 1px solid #e1e4e8; border-radius: 10px;
  padding: 6px 14px 14px 10px;}
.ll-results {flex: 1 1 520px; min-width: 0; gap: 10px;}
.ll-h {font-size: 12px; font-weight: 700; color: #57606a; text-transform: uppercase;
  letter-spacing: .06em; margin: 12px 0 2px 4px;}
.ll-cards {display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 10px;}
.ll-card {background: #fff; border: 1px solid #e1e4e8; border-radius: 10px; padding: 10px 14px;}
.ll-card.ll-main {border-color: #2da44e; box-shadow: inset 4px 0 0 #2da44e;}
.ll-label {font-size: 12px; color: #57606a;}
.ll-value {font-size: 23px; font-weight: 650; color: #1f2328; margin: 2px 0; overflow-wrap: anywhere;}
.ll-sub {font-size: 12px; color: #6e7781; line-height: 1.35;}
.ll-msg {background: #fff8c5; border: 1px solid #d4a72c; border-radius: 8px; padding: 8px 12px;
  font-size: 13px; color: #3b2300;}
.ll-badge {font-size: 12.5px; color: #0a3069; background: #ddf4ff; border-radius: 8px; padding: 6px 10px;}
.ll-note {font-size: 12px; color: #6e7781; margin: 0 0 0 4px; line-height: 1.4;}
.ll-assumptions {font-size: 13px; color: #424a53; border-top: 1px solid #e1e4e8; margin-top: 14px;
  padding-top: 6px; line-height: 1.5;}
.ll-assumptions li {margin: 2px 0;}
.ll-panel .widget-upload {width: 100%;}
.ll-panel .widget-dropdown select {min-width: 0;}
</style>"""


def _w():
    return require("ipywidgets", "lab", "the what-if apps")


def _bq():
    return require("bqplot", "lab", "the what-if apps' charts")


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def emphasis(text: str) -> str:
    """Escape ``text`` and turn ``**bold**`` into <b>bold</b> (the models' ASSUMPTIONS use it)."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", esc(text))


def cards(items) -> str:
    """HTML cards from (key, label, value, sub) tuples; the first is highlighted."""
    parts = []
    for i, (key, label, value, sub) in enumerate(items):
        main = " ll-main" if i == 0 else ""
        parts.append(
            f'<div class="ll-card{main}"><div class="ll-label">{esc(label)}</div>'
            f'<div class="ll-value" data-key="{esc(key)}">{esc(value)}</div>'
            f'<div class="ll-sub">{esc(sub)}</div></div>')
    return f'<div class="ll-cards">{"".join(parts)}</div>'


def set_y(chart, mark, values, unit: str) -> float:
    """Explicit y range, ticks and unit for ``mark`` drawn with ``values``."""
    top = axis_max(values)
    mark.scales["y"].min, mark.scales["y"].max = 0.0, top
    chart.axes[1].tick_values = nice_ticks(top)
    chart.axes[1].label = unit
    return top


def figure(title: str, marks, x_scale, y_scale, x_label: str, y_label: str, x_format=None, height="300px"):
    bq, W = _bq(), _w()
    axes = [bq.Axis(scale=x_scale, label=x_label, tick_format=x_format, grid_lines="none", label_offset="36px"),
            bq.Axis(scale=y_scale, label=y_label, orientation="vertical", tick_format=",.3~g",
                    grid_lines="dashed", label_offset="50px")]
    return bq.Figure(marks=marks, axes=axes, title=title, animation_duration=0,
                     fig_margin={"top": 44, "bottom": 54, "left": 72, "right": 18},
                     title_style={"font-size": "15px", "font-weight": "600"},
                     layout=W.Layout(width="100%", height=height, min_width="420px"))


def region_options():
    """(label, code) pairs for a region dropdown, from the shipped intensity table."""
    return [(f"{r.name} · {r.g_per_kwh:.0f} g/kWh ({r.year})", r.region) for r in carbon.regions()]


class ReportPicker:
    """Start from a measurement: a recent ledger entry or an uploaded report JSON file."""

    def __init__(self, on_report, ledger_path=None, limit: int = 20):
        W = _w()
        self._on_report, self._ledger_path, self._limit = on_report, ledger_path, limit
        self._ids: set[int] = set()
        # min_width 0 lets long entry labels shrink instead of pushing the reload button out of view.
        self.dropdown = W.Dropdown(description="Ledger entry", style=WIDE,
                                   layout=W.Layout(flex="1 1 0%", width="auto", min_width="0"))
        self.reload = W.Button(icon="refresh", tooltip="Reload the ledger", layout=W.Layout(flex="0 0 36px"))
        self.upload = W.FileUpload(accept=".json,application/json", multiple=False,
                                   description="Upload report .json", layout=W.Layout(width="auto"),
                                   tooltip="A file saved with json.dump(report.to_dict(), f)")
        self.status = W.HTML().add_class("ll-note")
        self.dropdown.observe(self._picked, names="value")
        self.upload.observe(self._uploaded, names="value")
        self.reload.on_click(lambda _: self.load_ledger())
        row = W.HBox([self.dropdown, self.reload], layout=W.Layout(width="100%"))
        self.widget = W.VBox([row, self.upload, self.status])
        self.shows_ledger = os.environ.get(LEDGER_ENV, "").strip().lower() != "off"
        if self.shows_ledger:
            self.load_ledger()
        else:
            row.layout.display = "none"
            self.dropdown.options = [("(hidden)", 0)]

    def load_ledger(self) -> None:
        try:
            rows = Ledger(self._ledger_path).rows(self._limit)
        except LeptonError as exc:
            rows = []
            self.say(str(exc))
        self._ids = {row["id"] for row in rows}
        first = "(none: type values in)" if rows else "(ledger is empty)"
        # 0 is never a ledger id; None would leave the dropdown blank instead of showing the hint.
        self.dropdown.options = [(first, 0)] + [(self._label(row), row["id"]) for row in rows]
        self.dropdown.value = 0

    @staticmethod
    def _label(row) -> str:
        kind = "" if row["kind"] == "measured" else f" [{row['kind']}]"
        return (f"#{row['id']} {row['label']}: {units.format_energy(row['energy_j'])}, "
                f"{units.format_power(row['mean_w'] or 0)}{kind}")

    def say(self, text: str, warn: bool = True) -> None:
        style = ' style="color:#9a6700"' if warn else ""
        self.status.value = f"<span{style}>{'⚠ ' if warn else ''}{esc(text)}</span>" if text else ""

    def _picked(self, change) -> None:
        key = change["new"]
        if key == 0 or not self.shows_ledger:
            return
        if key not in self._ids:  # forged: only listed entries may be opened
            self.say(f"ledger entry {key!r} is not in the list; pick one from the menu")
            return
        try:
            report = check_report(Ledger(self._ledger_path).get(int(key)), f"ledger entry #{key}")
        except LeptonError as exc:
            self.say(str(exc))
            return
        self.say("")
        self._on_report(report, "the ledger")

    def _uploaded(self, change) -> None:
        files = change["new"]
        if not files:
            return
        try:
            name = str(files[0].get("name", "the file"))[:80]
            report = report_from_bytes(files[0]["content"], name=f"'{name}'")
        except LeptonError as exc:
            self.say(str(exc))
            return
        except (TypeError, KeyError, IndexError, AttributeError):
            self.say("the upload could not be read: choose a report .json file")
            return
        finally:
            self.upload.value = ()  # so the same file can be chosen again
        self.say("")
        self._on_report(report, f"file '{name}'")


class Panel:
    """Base of the what-if panels: input registry, clamping, refresh, page layout."""

    ASSUMPTIONS: tuple[str, ...] = ()

    def __init__(self, ledger_path=None):
        W = _w()
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
        return _w().HTML(f'<div class="ll-h">{esc(text)}</div>')

    @staticmethod
    def note(text: str):
        return _w().HTML(f'<div class="ll-note">{text}</div>')

    def slider(self, key, bound: Bound, value, description, log=False, step=None, fmt=".3g", observe=True):
        """A slider (log-scaled with ``log``; an integer box for an integer bound with ``step=0``)."""
        W = _w()
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
        W = _w()
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

# ----------------------------------------------------------------------------------------------
# The three apps
# ----------------------------------------------------------------------------------------------

COLORS = {"IT": "#0969da", "Cooling": "#1f883d", "Power losses": "#cf222e", "Lighting & other": "#8250df",
          "Overhead (PUE − 1)": "#bf8700"}


def _show(widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


class DatacenterPanel(Panel):
    """IT load in a facility: energy by use (IT, cooling, losses, other) and emissions."""

    DEFAULTS = dict(power_w=300.0, machines=100, hours=8760, pue_mode="average", pue=1.58,
                    cop=datacenter.DEFAULT_COP, power_loss=datacenter.DEFAULT_POWER_LOSS * 100,
                    other=datacenter.DEFAULT_OTHER * 100, region="WORLD", renewable=0.0)
    BOUNDS = dict(
        power_w=Bound("Power per machine", 1.0, 1e5, "W"), machines=Bound("Machines", 1, 1_000_000, integer=True),
        hours=Bound("Hours per year", 0, 8760, "h", integer=True), pue=Bound("PUE", 1.0, 3.0),
        cop=Bound("Cooling COP", 1.0, 20.0), power_loss=Bound("Power losses", 0.0, 30.0, "%"),
        other=Bound("Other loads", 0.0, 20.0, "%"), intensity=Bound("Grid intensity", 0.0, 1500.0, "gCO2e/kWh"),
        renewable=Bound("Renewable share", 0.0, 100.0, "%"))
    ASSUMPTIONS = datacenter.ASSUMPTIONS

    def _controls(self):
        d, b = self.DEFAULTS, self.BOUNDS
        modes = [(label, key) for key, (label, _) in datacenter.PUE_PRESETS.items()]
        modes += [("Your value (slider)", "custom"), ("Cooling model (sliders)", "cooling")]
        region = self.choice("region", region_options(), d["region"], "Grid region", observe=False)
        region.observe(self._region_changed, names="value")
        return [
            self.heading("Start from a measurement"), self.picker.widget,
            self.heading("IT load"),
            self.slider("power_w", b["power_w"], d["power_w"], "Per machine (W)", log=True, fmt=".3s"),
            self.slider("machines", b["machines"], d["machines"], "Machines", step=0),
            self.slider("hours", b["hours"], d["hours"], "Hours per year (h)"),
            self.heading("Facility"),
            self.choice("pue_mode", modes, d["pue_mode"], "PUE from"),
            self.slider("pue", b["pue"], d["pue"], "PUE", fmt=".2f"),
            self.slider("cop", b["cop"], d["cop"], "Cooling COP", step=0.1, fmt=".1f"),
            self.slider("power_loss", b["power_loss"], d["power_loss"], "Power losses (%)", step=0.5, fmt=".1f"),
            self.slider("other", b["other"], d["other"], "Other loads (%)", step=0.5, fmt=".1f"),
            self.heading("Electricity"), region,
            self.slider("intensity", b["intensity"], carbon.lookup(d["region"]).g_per_kwh, "Grid (gCO2e/kWh)",
                        step=1, fmt=".0f"),
            self.slider("renewable", b["renewable"], d["renewable"], "Renewable share (%)", step=1, fmt=".0f"),
        ]

    def _charts(self):
        bq = _bq()
        # color_mode "group": one colour per bar (with 1-D data each bar is its own group).
        scales = {"x": bq.OrdinalScale(), "y": bq.LinearScale(min=0.0, max=1.0)}
        self.bars = bq.Bars(x=["IT"], y=[0.0], scales=scales, color_mode="group", padding=0.4)
        self.chart = figure("", [self.bars], self.bars.scales["x"], self.bars.scales["y"], "", "kWh")
        return [self.chart]

    def _region_changed(self, change) -> None:
        if change["new"] in self._choices["region"][1]:
            self.set_value("intensity", carbon.lookup(change["new"]).g_per_kwh)
        self.refresh()

    def compute(self, v: dict):
        """The model result for checked inputs ``v`` (also used by the tests)."""
        mode = v["pue_mode"]
        cooling = (datacenter.CoolingModel(v["cop"], v["power_loss"] / 100, v["other"] / 100)
                   if mode == "cooling" else None)
        pue = v["pue"] if mode in ("custom", "cooling") else datacenter.PUE_PRESETS[mode][1]
        return datacenter.facility(v["power_w"] * v["machines"], v["hours"], pue, v["intensity"],
                                   v["renewable"] / 100, cooling=cooling)

    def update(self, v: dict) -> None:
        mode = v["pue_mode"]
        _show(self.widget_of("pue"), mode == "custom")
        for key in ("cop", "power_loss", "other"):
            _show(self.widget_of(key), mode == "cooling")
        r = self.result = self.compute(v)
        pue_source = {"custom": "your value", "cooling": "from the cooling model"}.get(
            mode, datacenter.PUE_PRESETS.get(mode, ("", 0))[0])
        self.numbers.value = cards([
            ("facility", "Facility energy", wh(r.facility_energy_j),
             f"IT {wh(r.it_energy_j)} + overhead {wh(r.overhead_j)} in {v['hours']} h"),
            ("co2e", "Emissions", f"{units.format_mass_g(r.co2e_g)} CO2e",
             f"grid {r.grid_g_per_kwh:.0f} g/kWh, {v['renewable']:.0f} % renewable: "
             f"{units.format_mass_g(r.avoided_g)} avoided"),
            ("pue", "PUE", f"{r.pue:.2f}", f"{pue_source}; IT load {units.format_power(r.it_power_w)} "
             f"= {v['machines']} × {units.format_power(v['power_w'])}"),
        ])
        factor, unit = energy_unit(max(r.breakdown_j.values()))
        with self.chart.hold_sync():
            self.bars.x = list(r.breakdown_j)
            self.bars.y = [j / factor for j in r.breakdown_j.values()]
            self.bars.colors = [COLORS.get(k, "#6e7781") for k in r.breakdown_j]
            set_y(self.chart, self.bars, self.bars.y, unit)
            self.chart.title = f"Facility energy {wh(r.facility_energy_j)}, by use"

    def apply_report(self, report) -> None:
        self.set_value("power_w", report.mean_w)


class LifecyclePanel(Panel):
    """A model's lifetime energy (training + inferences) and when an optimisation pays back."""

    DEFAULTS = dict(training_kwh=50.0, per_inference_j=2.0, per_day=100_000.0, days=365, optimised_pct=60.0,
                    optimisation_kwh=2.0, region="WORLD", role="baseline", items=1)
    BOUNDS = dict(
        training_kwh=Bound("Training energy", 1e-5, 1e7, "kWh"),
        per_inference_j=Bound("Energy per inference", 1e-4, 1e6, "J"),
        per_day=Bound("Inferences per day", 1.0, 1e10), days=Bound("Lifetime", 1, 3650, "days", integer=True),
        optimised_pct=Bound("Optimised energy per inference", 1.0, 200.0, "%"),
        optimisation_kwh=Bound("Optimisation energy", 1e-6, 1e6, "kWh"),
        items=Bound("Inferences in the measured run", 1, 1_000_000_000, integer=True))
    ROLES = [("Energy of baseline inferences", "baseline"), ("Energy of optimised inferences", "optimised"),
             ("Training run", "training"), ("Optimisation run (e.g. quantization)", "optimisation")]
    ASSUMPTIONS = lifecycle.ASSUMPTIONS

    def _controls(self):
        d, b = self.DEFAULTS, self.BOUNDS
        role = self.choice("role", self.ROLES, d["role"], "Use it as", observe=False)
        items = self.slider("items", b["items"], d["items"], "Inferences in it", step=0, observe=False)
        for w in (role, items):
            w.observe(self._reapply, names="value")
        return [
            self.heading("Start from a measurement"), self.picker.widget, role, items,
            self.heading("Training"),
            self.slider("training_kwh", b["training_kwh"], d["training_kwh"], "Training (kWh)", log=True),
            self.heading("Inference"),
            self.slider("per_inference_j", b["per_inference_j"], d["per_inference_j"], "Per inference (J)",
                        log=True),
            self.slider("per_day", b["per_day"], d["per_day"], "Inferences per day", log=True, fmt=".3s"),
            self.slider("days", b["days"], d["days"], "Lifetime (days)"),
            self.heading("Optimisation"),
            self.slider("optimised_pct", b["optimised_pct"], d["optimised_pct"], "Optimised (% of base)",
                        step=1, fmt=".0f"),
            self.slider("optimisation_kwh", b["optimisation_kwh"], d["optimisation_kwh"], "Cost to make it (kWh)",
                        log=True),
            self.heading("Electricity"), self.choice("region", region_options(), d["region"], "Grid region"),
        ]

    def _charts(self):
        bq = _bq()
        xs, ys = bq.LinearScale(min=0.0, max=1.0), bq.LinearScale(min=0.0, max=1.0)
        scales = {"x": xs, "y": ys}
        self.lines = bq.Lines(x=[0.0, 1.0], y=[[0.0, 0.0], [0.0, 0.0]], scales=scales, stroke_width=2.5,
                              colors=["#0969da", "#1f883d"], labels=["baseline", "optimised"], display_legend=True)
        self.marker = bq.Lines(x=[0.0, 0.0], y=[0.0, 1.0], scales=scales, colors=["#bc4c00"], line_style="dashed",
                               labels=["break-even"], display_legend=True)
        self.chart = figure("", [self.lines, self.marker], xs, ys, "days in service", "kWh", x_format=",d",
                            height="330px")
        self.chart.legend_location = "bottom-right"
        return [self.chart]

    def compute(self, v: dict):
        per_inference = v["per_inference_j"]
        return lifecycle.lifetime(
            units.kwh_to_j(v["training_kwh"]), per_inference, v["per_day"] * v["days"],
            units.kwh_to_j(v["optimisation_kwh"]), per_inference * v["optimised_pct"] / 100)

    def update(self, v: dict) -> None:
        r = self.result = self.compute(v)
        intensity = carbon.lookup(v["region"]).g_per_kwh
        if r.break_even is None:
            even, even_sub = "never", "the optimised model does not use less energy per inference"
        else:
            even, even_sub = count(r.break_even), f"inferences, after {r.break_even / v['per_day']:.1f} days"
        saved = r.saving_j
        self.numbers.value = cards([
            ("saving", "Saved over the lifetime" if saved >= 0 else "Extra energy over the lifetime",
             wh(abs(saved)), f"{units.format_mass_g(units.j_to_kwh(abs(saved)) * intensity)} CO2e "
             f"at {intensity:.0f} g/kWh"),
            ("break_even", "Break-even", even, even_sub),
            ("lifetime", "Lifetime: baseline → optimised", f"{wh(r.baseline_j)} → {wh(r.optimised_j)}",
             f"{count(r.inferences)} inferences; training is {units.format_percent(r.training_share)} "
             f"of the baseline"),
        ])
        self._draw(r, v)

    def _draw(self, r, v: dict) -> None:
        xs, base, opt = lifecycle.curve(r, 60)
        factor, unit = energy_unit(max(base + opt))
        days = [x / v["per_day"] for x in xs]
        with self.chart.hold_sync():
            self.lines.x = days
            self.lines.y = [[y / factor for y in base], [y / factor for y in opt]]
            self.lines.scales["x"].max = float(v["days"])
            top = set_y(self.chart, self.lines, [y / factor for y in base + opt], unit)
            at = r.break_even / v["per_day"] if r.break_even is not None else None
            self.marker.visible = at is not None and at <= v["days"]
            self.marker.x, self.marker.y = ([at, at] if self.marker.visible else [0.0, 0.0]), [0.0, top]
            self.chart.title = f"After {v['days']} days: {wh(r.baseline_j)} vs {wh(r.optimised_j)}"

    def _reapply(self, change) -> None:
        if self.report is not None and not self._busy:
            self._use_report(self.report, self._origin)
        else:
            self._changed()

    def _use_report(self, report, origin: str) -> None:
        self._origin = origin
        super()._use_report(report, origin)

    def apply_report(self, report) -> None:
        role, items = self.read_choice("role"), self.read_input("items")
        per_item = report.energy_j / items
        if role == "baseline":
            self.set_value("per_inference_j", per_item)
        elif role == "optimised":
            baseline = self.read_input("per_inference_j")
            self.set_value("optimised_pct", per_item / baseline * 100)
        elif role == "training":
            self.set_value("training_kwh", units.j_to_kwh(report.energy_j))
        else:
            self.set_value("optimisation_kwh", units.j_to_kwh(report.energy_j))


class CarbonAwarePanel(Panel):
    """When to start a job so that it emits least, over a (synthetic) daily intensity profile."""

    DEFAULTS = dict(region="WORLD", shape="solar", power_w=1000.0, duration_h=4.0, max_delay_h=24, now_h=17)
    BOUNDS = dict(power_w=Bound("Job power", 1.0, 1e7, "W"), duration_h=Bound("Job length", 0.25, 72.0, "h"),
                  max_delay_h=Bound("Maximum delay", 0, 48, "h", integer=True),
                  now_h=Bound("Start hour", 0, 23, "h", integer=True))
    ASSUMPTIONS = scheduling.ASSUMPTIONS

    def _controls(self):
        d, b = self.DEFAULTS, self.BOUNDS
        shapes = [(label, key) for key, (label, _) in profiles.SHAPES.items()]
        return [
            self.heading("Start from a measurement"), self.picker.widget,
            self.heading("Grid"),
            self.choice("region", region_options(), d["region"], "Region (daily mean)"),
            self.choice("shape", shapes, d["shape"], "Daily shape"),
            self.heading("Job"),
            self.slider("power_w", b["power_w"], d["power_w"], "Power (W)", log=True, fmt=".3s"),
            self.slider("duration_h", b["duration_h"], d["duration_h"], "Length (h)", step=0.25, fmt=".2f"),
            self.heading("When"),
            self.slider("now_h", b["now_h"], d["now_h"], "Now is (hour of day)"),
            self.slider("max_delay_h", b["max_delay_h"], d["max_delay_h"], "May wait up to (h)"),
        ]

    def _charts(self):
        bq = _bq()
        xs, ys = bq.LinearScale(min=0.0, max=1.0), bq.LinearScale(min=0.0, max=1.0)
        band = dict(scales={"x": xs, "y": ys}, fill="inside", stroke_width=1)
        self.now_band = bq.Lines(x=[0.0, 0.0], y=[0.0, 0.0], colors=["#bc4c00"], fill_colors=["#bc4c00"],
                                 fill_opacities=[0.15], labels=["start now"], **band)
        self.best_band = bq.Lines(x=[0.0, 0.0], y=[0.0, 0.0], colors=["#1f883d"], fill_colors=["#1f883d"],
                                  fill_opacities=[0.25], labels=["best start"], **band)
        self.profile_line = bq.Lines(x=[0.0, 1.0], y=[0.0, 0.0], scales={"x": xs, "y": ys}, colors=["#24292f"],
                                     interpolation="step-after", stroke_width=2)
        self.profile_chart = figure("", [self.now_band, self.best_band, self.profile_line], xs, ys,
                                    "hours from now", "gCO2e/kWh", x_format=",d", height="270px")
        bx, by = bq.LinearScale(min=-0.5, max=1.0), bq.LinearScale(min=0.0, max=1.0)
        self.bars = bq.Bars(x=[0.0], y=[0.0], scales={"x": bx, "y": by}, color_mode="group", padding=0.15)
        self.bars_chart = figure("", [self.bars], bx, by, "start delay (h)", "g CO2e", x_format=",d",
                                 height="250px")
        key = self.note('<span style="color:#bc4c00">■</span> start now &nbsp; '
                        '<span style="color:#1f883d">■</span> best start &nbsp; '
                        "<b>—</b> intensity: synthetic daily shape × the region's yearly mean")
        return [self.profile_chart, key, self.bars_chart]

    def compute(self, v: dict):
        profile = profiles.profile(v["shape"], carbon.lookup(v["region"]).g_per_kwh)
        return scheduling.Profile(profile), scheduling.plan(profile, v["duration_h"], v["power_w"], v["now_h"],
                                                            v["max_delay_h"])

    def update(self, v: dict) -> None:
        profile, p = self.compute(v)
        self.result = p
        mass = units.format_mass_g
        best = p.best_offset_h
        clock = f"{int(v['now_h'] + best) % 24:02d}:00"
        self.numbers.value = cards([
            ("saving", "Saved by waiting", f"{mass(p.saving_g)} CO2e",
             f"{units.format_percent(p.saving_fraction)} less than starting now"),
            ("best", "Best start", f"+{best:.0f} h ({clock})",
             f"{mass(p.best_g)} CO2e, average {p.mean_intensity(p.best_index):.0f} g/kWh"),
            ("now", "Start now", f"{mass(p.now_g)} CO2e",
             f"at {v['now_h']:02d}:00, average {p.mean_intensity(0):.0f} g/kWh; "
             f"{wh(units.kwh_to_j(p.energy_kwh))} whenever it runs"),
        ])
        self._draw_profile(profile, p, v)
        self._draw_bars(p)

    def _draw_profile(self, profile, p, v: dict) -> None:
        span = int(math.ceil(v["max_delay_h"] + v["duration_h"]))
        hours = list(range(span + 1))
        values = [profile.at(v["now_h"] + h) for h in hours]
        with self.profile_chart.hold_sync():
            self.profile_line.x, self.profile_line.y = hours, values
            top = set_y(self.profile_chart, self.profile_line, values, "gCO2e/kWh")
            for band, start in ((self.now_band, 0.0), (self.best_band, p.best_offset_h)):
                end = start + p.duration_h
                band.x, band.y = [start, start, end, end], [0.0, top, top, 0.0]
            self.profile_line.scales["x"].max = float(span)
            self.profile_chart.title = f"Grid intensity from {v['now_h']:02d}:00 (synthetic daily shape)"

    def _draw_bars(self, p) -> None:
        factor, unit = (1000.0, "kg CO2e") if max(p.emissions_g) >= 1000 else (1.0, "g CO2e")
        colors = ["#afb8c1"] * len(p.offsets_h)
        colors[0] = "#bc4c00"
        colors[p.best_index] = "#1f883d"
        with self.bars_chart.hold_sync():
            self.bars.x = p.offsets_h
            self.bars.y = [g / factor for g in p.emissions_g]
            self.bars.colors = colors
            self.bars.scales["x"].max = max(p.offsets_h) + 0.5
            set_y(self.bars_chart, self.bars, self.bars.y, unit)
            self.bars_chart.title = (f"Emissions by start time: best +{p.best_offset_h:.0f} h, "
                                     f"{units.format_mass_g(p.best_g)} CO2e")

    def apply_report(self, report) -> None:
        self.set_value("power_w", report.mean_w)
