"""Carbon-aware scheduling: when to start a job so that it emits least, and what that saves.

A job draws ``power_w`` for ``duration_h`` hours. The grid's intensity is an hourly profile
(gCO2e/kWh; entry k holds from hour k to k+1 of the profile's clock) that **repeats**: a job
longer than the profile, or one that starts late, wraps around to its beginning. The job may
start now or be delayed by up to ``max_delay_h`` hours; the model tries every start in steps of
``step_h`` and keeps the cleanest, preferring the earliest among equals::

    emissions(start) = power × PUE × ∫ intensity(t) dt   over [start, start + duration]

Delaying a job does not change its energy, only when it is drawn. Assumptions: the job's power
is constant and it can pause for nothing; the profile is a forecast you trust (the shipped
shapes are synthetic, see :mod:`lepton_lab.whatif.profiles`); moving your load does not change
the grid's mix (true for small loads, not for a fleet).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import InvalidInput
from .checks import number

#: Candidate start times the model evaluates at most, so a forged tiny step cannot stall a kernel.
MAX_CANDIDATES = 10_000
#: Longest job and delay accepted, in hours (ten years: beyond that a daily profile means little).
MAX_HOURS = 87_600.0

#: What the carbon-aware app states on its page (``**...**`` marks emphasis).
ASSUMPTIONS = (
    "**The hourly shapes are synthetic**: 24 multipliers with mean 1.0, made by formula to illustrate typical "
    "daily patterns (a solar dip at midday with an evening peak; demand-following). Only the daily mean is "
    "real: the region's yearly average (Ember via Our World in Data). Use your grid operator's forecast for "
    "real decisions.",
    "The profile repeats every day: a job longer than a day, or delayed past midnight, wraps around.",
    "Emissions = power × ∫ intensity dt over the job; delaying changes when the energy is drawn, not how much. "
    "The job runs without pauses at constant power; starts are tried every hour.",
    "A small job does not change the grid's mix; a fleet shifting its load would.",
)


class Profile:
    """A cyclic hourly intensity profile with exact integrals over any interval."""

    def __init__(self, hourly_g_per_kwh: Sequence[float]):
        values = list(hourly_g_per_kwh)
        if not values:
            raise InvalidInput("the intensity profile is empty: give at least one hourly value")
        self.values = [number(f"intensity at hour {i}", v, 0.0, 5000.0, "gCO2e/kWh") for i, v in enumerate(values)]
        self.prefix = [0.0]
        for v in self.values:
            self.prefix.append(self.prefix[-1] + v)

    def __len__(self) -> int:
        return len(self.values)

    def at(self, hour: float) -> float:
        """Intensity at clock ``hour`` (wrapping)."""
        return self.values[int(math.floor(hour)) % len(self.values)]

    def _cumulative(self, hour: float) -> float:
        """∫ intensity from hour 0 to ``hour`` (g·h/kWh), counting whole repeats of the profile."""
        cycles, rest = divmod(hour, len(self.values))
        k = min(int(rest), len(self.values) - 1)
        return cycles * self.prefix[-1] + self.prefix[k] + (rest - k) * self.values[k]

    def integral(self, start_h: float, duration_h: float) -> float:
        return self._cumulative(start_h + duration_h) - self._cumulative(start_h)


@dataclass(frozen=True)
class SchedulePlan:
    """Emissions of every candidate start and the best one."""

    offsets_h: list[float]
    """Delay of each candidate start from now, in hours."""
    emissions_g: list[float]
    best_index: int
    now_h: float
    duration_h: float
    energy_kwh: float

    @property
    def now_g(self) -> float:
        return self.emissions_g[0]

    @property
    def best_g(self) -> float:
        return self.emissions_g[self.best_index]

    @property
    def best_offset_h(self) -> float:
        return self.offsets_h[self.best_index]

    @property
    def saving_g(self) -> float:
        return self.now_g - self.best_g

    @property
    def saving_fraction(self) -> float:
        """Saving as a share of starting now (0 when starting now emits nothing)."""
        return self.saving_g / self.now_g if self.now_g > 0 else 0.0

    def mean_intensity(self, index: int) -> float:
        """Average gCO2e/kWh the job sees when started at candidate ``index``."""
        return self.emissions_g[index] / self.energy_kwh if self.energy_kwh > 0 else 0.0


def plan(
    hourly_g_per_kwh: Sequence[float] | Profile,
    duration_h: float,
    power_w: float,
    now_h: float = 0.0,
    max_delay_h: float = 24.0,
    step_h: float = 1.0,
    pue: float = 1.0,
) -> SchedulePlan:
    """Try every start from ``now_h`` to ``now_h + max_delay_h`` and find the cleanest."""
    profile = hourly_g_per_kwh if isinstance(hourly_g_per_kwh, Profile) else Profile(hourly_g_per_kwh)
    duration = number("job length", duration_h, 0.0, MAX_HOURS, "h")
    power = number("job power", power_w, 0.0, unit="W")
    now = number("start hour", now_h, 0.0, MAX_HOURS, "h")
    delay = number("maximum delay", max_delay_h, 0.0, MAX_HOURS, "h")
    step = number("step", step_h, 1e-3, MAX_HOURS, "h")
    pue = number("PUE", pue, 1.0, 5.0)
    count = int(math.floor(delay / step + 1e-9)) + 1
    if count > MAX_CANDIDATES:
        smallest = delay / (MAX_CANDIDATES - 1)
        raise InvalidInput(f"{count} start times to try: use a step of at least {smallest:.3g} h")
    offsets = [i * step for i in range(count)]
    kw = power / 1000.0 * pue
    emissions = [kw * profile.integral(now + off, duration) for off in offsets]
    return SchedulePlan(
        offsets_h=offsets, emissions_g=emissions, best_index=_earliest_minimum(emissions),
        now_h=now, duration_h=duration, energy_kwh=kw * duration,
    )


def _earliest_minimum(values: list[float]) -> int:
    # Float noise must not make a later start "win" on a flat profile: equal within 1e-9 relative
    # counts as equal, and equal means start earlier (the result is also available sooner).
    lowest = min(values)
    tolerance = abs(lowest) * 1e-9 + 1e-12
    return next(i for i, v in enumerate(values) if v <= lowest + tolerance)
