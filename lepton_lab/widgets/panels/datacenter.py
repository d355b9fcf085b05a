"""The data-centre app (``widgets/datacenter.ipynb``): IT load × PUE → facility energy and emissions."""
from __future__ import annotations

from typing import Any, ClassVar

from ... import carbon, units
from ...whatif import datacenter
from ...whatif.checks import Bound
from .. import scales
from .base import Panel
from .look import bqplot, cards, figure, region_options, set_y, show

COLORS = {"IT": "#0969da", "Cooling": "#1f883d", "Power losses": "#cf222e", "Lighting & other": "#8250df",
          "Overhead (PUE − 1)": "#bf8700"}



class DatacenterPanel(Panel):
    """IT load in a facility: energy by use (IT, cooling, losses, other) and emissions."""

    DEFAULTS: ClassVar[dict[str, Any]] = dict(power_w=300.0, machines=100, hours=8760, pue_mode="average", pue=1.58,
                    cop=datacenter.DEFAULT_COP, power_loss=datacenter.DEFAULT_POWER_LOSS * 100,
                    other=datacenter.DEFAULT_OTHER * 100, region="WORLD", renewable=0.0)
    BOUNDS: ClassVar[dict[str, Bound]] = dict(
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
        bq = bqplot()
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
        show(self.widget_of("pue"), mode == "custom")
        for key in ("cop", "power_loss", "other"):
            show(self.widget_of(key), mode == "cooling")
        r = self.result = self.compute(v)
        pue_source = {"custom": "your value", "cooling": "from the cooling model"}.get(
            mode, datacenter.PUE_PRESETS.get(mode, ("", 0))[0])
        self.numbers.value = cards([
            ("facility", "Facility energy", units.format_wh(r.facility_energy_j),
             f"IT {units.format_wh(r.it_energy_j)} + overhead {units.format_wh(r.overhead_j)} in {v['hours']} h"),
            ("co2e", "Emissions", f"{units.format_mass_g(r.co2e_g)} CO2e",
             f"grid {r.grid_g_per_kwh:.0f} g/kWh, {v['renewable']:.0f} % renewable: "
             f"{units.format_mass_g(r.avoided_g)} avoided"),
            ("pue", "PUE", f"{r.pue:.2f}", f"{pue_source}; IT load {units.format_power(r.it_power_w)} "
             f"= {v['machines']} × {units.format_power(v['power_w'])}"),
        ])
        factor, unit = scales.energy_unit(max(r.breakdown_j.values()))
        with self.chart.hold_sync():
            self.bars.x = list(r.breakdown_j)
            self.bars.y = [j / factor for j in r.breakdown_j.values()]
            self.bars.colors = [COLORS.get(k, "#6e7781") for k in r.breakdown_j]
            set_y(self.chart, self.bars, self.bars.y, unit)
            self.chart.title = f"Facility energy {units.format_wh(r.facility_energy_j)}, by use"

    def apply_report(self, report) -> None:
        self.set_value("power_w", report.mean_w)
