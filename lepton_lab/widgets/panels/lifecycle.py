"""The lifecycle app (``widgets/lifecycle.ipynb``): training plus inferences, and when an optimised
model pays back the energy spent making it."""
from __future__ import annotations

from typing import Any, ClassVar

from ... import carbon, units
from ...whatif import lifecycle
from ...whatif.checks import Bound
from .. import scales
from .base import Panel
from .look import bqplot, cards, figure, region_options, set_y


class LifecyclePanel(Panel):
    """A model's lifetime energy (training + inferences) and when an optimisation pays back."""

    DEFAULTS: ClassVar[dict[str, Any]] = dict(
        training_kwh=50.0, per_inference_j=2.0, per_day=100_000.0, days=365, optimised_pct=60.0,
        optimisation_kwh=2.0, region="WORLD", role="baseline", items=1)
    BOUNDS: ClassVar[dict[str, Bound]] = dict(
        training_kwh=Bound("Training energy", 1e-5, 1e7, "kWh"),
        per_inference_j=Bound("Energy per inference", 1e-4, 1e6, "J"),
        per_day=Bound("Inferences per day", 1.0, 1e10), days=Bound("Lifetime", 1, 3650, "days", integer=True),
        optimised_pct=Bound("Optimised energy per inference", 1.0, 200.0, "%"),
        optimisation_kwh=Bound("Optimisation energy", 1e-6, 1e6, "kWh"),
        items=Bound("Inferences in the measured run", 1, 1_000_000_000, integer=True))
    ROLES: ClassVar[list[tuple[str, str]]] = [
        ("Energy of baseline inferences", "baseline"), ("Energy of optimised inferences", "optimised"),
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
        bq = bqplot()
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
            even = units.format_count(r.break_even)
            even_sub = f"inferences, after {r.break_even / v['per_day']:.1f} days"
        saved = r.saving_j
        self.numbers.value = cards([
            ("saving", "Saved over the lifetime" if saved >= 0 else "Extra energy over the lifetime",
             units.format_wh(abs(saved)), f"{units.format_mass_g(units.j_to_kwh(abs(saved)) * intensity)} CO2e "
             f"at {intensity:.0f} g/kWh"),
            ("break_even", "Break-even", even, even_sub),
            ("lifetime", "Lifetime: baseline → optimised",
             f"{units.format_wh(r.baseline_j)} → {units.format_wh(r.optimised_j)}",
             f"{units.format_count(r.inferences)} inferences; training is {units.format_percent(r.training_share)} "
             f"of the baseline"),
        ])
        self._draw(r, v)

    def _draw(self, r, v: dict) -> None:
        xs, base, opt = lifecycle.curve(r, 60)
        factor, unit = scales.energy_unit(max(base + opt))
        days = [x / v["per_day"] for x in xs]
        with self.chart.hold_sync():
            self.lines.x = days
            self.lines.y = [[y / factor for y in base], [y / factor for y in opt]]
            self.lines.scales["x"].max = float(v["days"])
            top = set_y(self.chart, self.lines, [y / factor for y in base + opt], unit)
            at = r.break_even / v["per_day"] if r.break_even is not None else None
            self.marker.visible = at is not None and at <= v["days"]
            self.marker.x, self.marker.y = ([at, at] if self.marker.visible else [0.0, 0.0]), [0.0, top]
            self.chart.title = (f"After {v['days']} days: {units.format_wh(r.baseline_j)} vs "
                                f"{units.format_wh(r.optimised_j)}")

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
