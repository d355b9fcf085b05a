"""The carbon-aware scheduling app (``widgets/carbon_aware.ipynb``): when to start a job so that it
emits least, over a synthetic daily intensity profile scaled to the region's yearly mean."""
from __future__ import annotations

import math
from typing import Any, ClassVar

from ... import carbon, units
from ...whatif import profiles, scheduling
from ...whatif.checks import Bound
from .base import Panel
from .look import bqplot, cards, figure, region_options, set_y


class CarbonAwarePanel(Panel):
    """When to start a job so that it emits least, over a (synthetic) daily intensity profile."""

    DEFAULTS: ClassVar[dict[str, Any]] = dict(region="WORLD", shape="solar", power_w=1000.0, duration_h=4.0,
                                              max_delay_h=24, now_h=17)
    BOUNDS: ClassVar[dict[str, Bound]] = dict(
        power_w=Bound("Job power", 1.0, 1e7, "W"), duration_h=Bound("Job length", 0.25, 72.0, "h"),
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
        bq = bqplot()
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
             f"{units.format_wh(units.kwh_to_j(p.energy_kwh))} whenever it runs"),
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
