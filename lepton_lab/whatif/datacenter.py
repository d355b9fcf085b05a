"""Facility energy and emissions of IT load running in a data centre.

The model is the definition of PUE (power usage effectiveness, ISO/IEC 30134-2)::

    facility energy = IT energy × PUE

with PUE either given (a preset below or a user value) or built bottom-up from a simple cooling
model, and emissions computed as::

    CO2e = facility kWh × ((1 − renewable share) × grid intensity + renewable share × renewable intensity)

Assumptions, stated here because the apps repeat them on the page:

- IT power is constant over the period (use the mean power of a measured run).
- Renewable share means energy matched by renewable supply (a PPA or on-site generation); that
  energy is counted at ``renewable_g_per_kwh``, 0 by default like market-based accounting. For a
  life-cycle view use IPCC AR5 WGIII (2014) Annex III medians: onshore wind 11, utility solar
  PV 48, hydro 24 gCO2e/kWh.
- The grid intensity is an annual average; timing effects are the scheduling model's business.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import units
from .checks import fraction, number

#: A machine on a desk or a lab bench: no facility around it to count (DESIGN.md §6 default).
PUE_LOCAL = 1.0
#: Google's fleet-wide average annual PUE for 2023 (Google, 2024 Environmental Report): a
#: hyperscale operator's best case.
PUE_HYPERSCALE = 1.10
#: Industry average annual PUE reported by the Uptime Institute Global Data Center Survey 2023.
PUE_INDUSTRY_AVERAGE = 1.58
#: Highest PUE the models accept; real facilities rarely exceed 3, so above this is a typo.
PUE_MAX = 5.0

#: key -> (label, PUE) offered by the datacenter app; each value's source is documented above.
PUE_PRESETS = {
    "average": ("Industry average, Uptime Institute 2023 (1.58)", PUE_INDUSTRY_AVERAGE),
    "hyperscale": ("Hyperscale, Google fleet 2023 (1.10)", PUE_HYPERSCALE),
    "local": ("Local machine, no facility (1.00)", PUE_LOCAL),
}

# Cooling-model defaults. ILLUSTRATIVE round numbers, not survey results: they give a PUE of
# about 1.34, between the hyperscale and average figures above, and the app lets you move them.
#: Coefficient of performance of the cooling plant (heat removed per unit of electricity).
#: Vapour-compression chillers are commonly quoted around 3-7; free cooling raises the effective
#: value well above that.
DEFAULT_COP = 4.0
#: Electrical distribution losses (UPS, transformers, PDUs) as a share of IT power; illustrative.
DEFAULT_POWER_LOSS = 0.07
#: Lighting, offices, security as a share of IT power; illustrative.
DEFAULT_OTHER = 0.02

#: What the data-centre app states on its page (``**...**`` marks emphasis).
ASSUMPTIONS = (
    "Facility energy = IT energy × PUE (ISO/IEC 30134-2). Presets: Uptime Institute Global Data Center "
    "Survey 2023 average 1.58; Google fleet-wide average for 2023 (2024 Environmental Report) 1.10; a local "
    "machine 1.00.",
    "Cooling model: cooling power = IT power / COP (almost all IT power ends up as heat), plus power "
    "distribution losses and other loads as shares of IT power. Its defaults (COP 4, 7 %, 2 %) are "
    "**illustrative**, not survey values.",
    "The overhead scales with IT load; real facilities keep some overhead at zero load, so their PUE is worse "
    "when lightly used.",
    "IT power is constant for the hours given; start from a measurement to use its mean power.",
    "Grid intensity: Ember's yearly averages via Our World in Data (life-cycle gCO2e/kWh). The renewable share "
    "is energy matched by renewable supply, counted at 0 gCO2e/kWh (market-based); renewables' own life-cycle "
    "emissions (IPCC AR5 medians: onshore wind 11, utility solar PV 48 g/kWh) are left out.",
)


@dataclass(frozen=True)
class CoolingModel:
    """PUE built from parts: cooling removes the IT heat at a coefficient of performance ``cop``.

    Nearly all electricity the IT equipment draws ends up as heat, so cooling power ≈ IT power /
    COP. Distribution losses and other loads are shares of IT power.
    """

    cop: float = DEFAULT_COP
    power_loss: float = DEFAULT_POWER_LOSS
    other: float = DEFAULT_OTHER

    def __post_init__(self):
        number("cooling COP", self.cop, 0.5, 100.0)
        number("power distribution losses", self.power_loss, 0.0, 1.0)
        number("other facility loads", self.other, 0.0, 1.0)

    @property
    def shares(self) -> dict[str, float]:
        """Overhead per unit of IT energy, by cause."""
        return {"Cooling": 1.0 / self.cop, "Power losses": self.power_loss, "Lighting & other": self.other}

    @property
    def pue(self) -> float:
        return 1.0 + sum(self.shares.values())


@dataclass(frozen=True)
class FacilityResult:
    """Energy and emissions of running ``it_power_w`` for ``hours`` in a facility."""

    it_power_w: float
    hours: float
    pue: float
    breakdown_j: dict[str, float]
    """IT energy then each overhead, in joules; sums to ``facility_energy_j``."""
    grid_g_per_kwh: float
    renewable_share: float
    co2e_g: float
    co2e_grid_only_g: float
    """Emissions if all the energy came from the grid (renewable share 0)."""
    notes: list[str] = field(default_factory=list)

    @property
    def it_energy_j(self) -> float:
        return self.breakdown_j["IT"]

    @property
    def facility_energy_j(self) -> float:
        return sum(self.breakdown_j.values())

    @property
    def overhead_j(self) -> float:
        return self.facility_energy_j - self.it_energy_j

    @property
    def avoided_g(self) -> float:
        return self.co2e_grid_only_g - self.co2e_g


def facility(
    it_power_w: float,
    hours: float,
    pue: float = PUE_INDUSTRY_AVERAGE,
    grid_g_per_kwh: float = 0.0,
    renewable_share: float = 0.0,
    renewable_g_per_kwh: float = 0.0,
    cooling: CoolingModel | None = None,
) -> FacilityResult:
    """Facility energy and emissions. With ``cooling`` given, its PUE replaces ``pue``."""
    it_power_w = number("IT power", it_power_w, 0.0, unit="W")
    hours = number("running time", hours, 0.0, unit="h")
    grid = number("grid intensity", grid_g_per_kwh, 0.0, 5000.0, "gCO2e/kWh")
    share = fraction("renewable share", renewable_share)
    renewable = number("renewable intensity", renewable_g_per_kwh, 0.0, 5000.0, "gCO2e/kWh")
    it_j = it_power_w * hours * 3600.0
    if cooling is not None:
        pue = cooling.pue
        breakdown = {"IT": it_j, **{k: it_j * v for k, v in cooling.shares.items()}}
    else:
        pue = number("PUE", pue, 1.0, PUE_MAX)
        breakdown = {"IT": it_j, "Overhead (PUE − 1)": it_j * (pue - 1.0)}
    total_kwh = units.j_to_kwh(sum(breakdown.values()))
    co2e = total_kwh * ((1.0 - share) * grid + share * renewable)
    notes = []
    if it_j == 0:
        notes.append("no IT load: the facility overhead here scales with IT energy, so it is zero too")
    return FacilityResult(
        it_power_w=it_power_w, hours=hours, pue=pue, breakdown_j=breakdown, grid_g_per_kwh=grid,
        renewable_share=share, co2e_g=co2e, co2e_grid_only_g=total_kwh * grid, notes=notes,
    )
