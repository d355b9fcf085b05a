"""Composite what-if widgets, one per Voila app: ``DatacenterPanel``, ``LifecyclePanel``,
``CarbonAwarePanel``. Display ``Panel().widget``.

Each panel is controls on the left, numbers and a bqplot chart on the right, the assumptions
below, and a picker to start from a measured report. The models live in
:mod:`lepton_lab.whatif`; this module only reads widgets, calls a model and draws the result.

Widget values arrive from a browser and can be forged, limits included; the shared base
(:class:`~lepton_lab.widgets._panel_base.Panel`) re-checks and clamps every input on each refresh
and says what it did. The page look and chart helpers are in :mod:`._panel_view`, the measurement
picker in :mod:`.report_picker`. ipywidgets and bqplot are imported on first use.
"""
from __future__ import annotations

import math

from .. import carbon, units
from ..whatif import datacenter, lifecycle, profiles, scheduling
from ..whatif.checks import Bound
from ..whatif.display import count, energy_unit, wh
from ._panel_base import Panel
from ._panel_view import _bq, cards, figure, region_options, set_y

# Names this module exported before the shared base moved out, still importable from here.
from ..errors import LeptonError, require  # noqa: F401
from ..ledger import Ledger  # noqa: F401
from ..whatif.display import axis_max, nice_ticks  # noqa: F401
from ..whatif.reports import check_report, describe, report_from_bytes  # noqa: F401
from ._panel_view import CSS, WIDE, _w, emphasis, esc  # noqa: F401
from .report_picker import LEDGER_ENV, ReportPicker  # noqa: F401

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
