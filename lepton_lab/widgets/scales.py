"""Axis maths for every figure: round bounds, round ticks, and the unit an axis is drawn in.

Pure: no plotting library. One rule for all figures (live, static SVG, comparisons, lessons,
apps): **a tick never carries a prefix of its own**. '500m' on an axis labelled 'ms' would mean
500 milli-milliseconds; '1.5k' on an axis labelled 'W' silently changes its unit. Instead, the
axis picks one unit for all its ticks (``power (kW)``, ``energy (mWh)``) and its ticks are plain
numbers. Charts also break on degenerate data (bqplot cannot draw an axis whose top equals its
bottom, which zero or constant data gives; DESIGN.md §5), so every bound here is above zero.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .. import units

#: Axis maxima grow through these steps (× 10^k): little wasted headroom, few redraw-jumps.
_FINE_STEPS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
#: Tick spacing uses the classic 1-2-2.5-5 steps, so every fine maximum lands on a tick.
_TICK_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"))


def nice_ceiling(value: float, floor: float = 1.0, steps: Sequence[float] = _FINE_STEPS) -> float:
    """Smallest step × 10^k ≥ value (and ≥ floor): axes that grow in steps, not every update."""
    if not math.isfinite(value) or value <= floor:
        return floor
    exponent = math.floor(math.log10(value))
    for step in steps:
        candidate = step * 10 ** exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10 ** (exponent + 1)


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """0 and round multiples of a 1/2/2.5/5 step up to ``maximum`` (about ``count`` intervals)."""
    if not math.isfinite(maximum) or maximum <= 0:
        return [0.0]
    step = nice_ceiling(maximum / count, floor=0.0, steps=_TICK_STEPS)
    n = int(math.floor(maximum / step + 1e-9))
    return [round(i * step, 12) for i in range(n + 1)]


def axis_max(values: Iterable[float], floor: float = 1.0) -> float:
    """A y-axis top 10 % above the data, or ``floor`` when the data are all zero (or empty)."""
    top = max((v for v in values if math.isfinite(v)), default=0.0)
    return top * 1.1 if top > 0 else floor


def format_tick(value: float) -> str:
    """A plain number for a tick (the unit is the axis's): 0.25, 2.5, 1,500; never '250m' or '1.5k'."""
    if value == 0:
        return "0"
    return f"{value:,.6g}"


#: The d3 format bqplot axes use for the same plain ticks.
D3_TICK_FORMAT = ",~g"


def axis_unit(top: float, unit: str, lowest: float = 1e-6) -> tuple[float, str]:
    """(factor, prefixed unit) for an axis reaching ``top`` (in ``unit``): ``top / factor`` reads
    from 1 to 1000 ('power (kW)', 'energy (mJ)'). Zero or no data keeps the plain unit."""
    if not math.isfinite(top) or top <= 0:
        return 1.0, unit
    usable = [(factor, prefix) for factor, prefix in _PREFIXES if factor >= lowest]
    for factor, prefix in usable:
        if top >= factor * (1 - 1e-12):
            return factor, prefix + unit
    factor, prefix = usable[-1]
    return factor, prefix + unit


def energy_unit(max_j: float) -> tuple[float, str]:
    """(joules per unit, unit) in watt-hours, mWh to GWh, so that ``max_j`` reads from 1 to 1000."""
    factor, unit = axis_unit(max(units.j_to_wh(max_j), 1e-3), "Wh", lowest=1e-3)
    return factor * units.J_PER_WH, unit


@dataclass(frozen=True)
class Axis:
    """One axis: its top in display units, the factor from base units, and the unit shown."""

    maximum: float
    factor: float
    unit: str

    def label(self, name: str) -> str:
        return f"{name} ({self.unit})"


def scaled_axis(top: float, unit: str, headroom: float = 1.0, floor: float = 1.0) -> Axis:
    """An axis for data up to ``top`` (base units): a prefixed unit and a round top."""
    factor, shown = axis_unit(top * headroom, unit, lowest=1e-3)
    return Axis(nice_ceiling(top * headroom / factor, floor=floor), factor, shown)


#: A cell timed to a round length (``sleep(2)``, a 3 s loop) ends a few ms past it; its time axis
#: stays at the round value (the last sample at most 1 % past the edge, a few pixels) instead of
#: the next step (2.0004 s would draw on a 0-3 s axis, a third of the figure empty).
_TIME_OVERSHOOT = 0.01


def power_figure_axes(last_t: float, peak_w: float, last_j: float) -> tuple[Axis, Axis, Axis]:
    """Time, watts and cumulative joules of the power figure, live (bqplot) and static (SVG)
    alike: the same data draws the same axes in both."""
    time_axis = Axis(nice_ceiling(last_t / (1 + _TIME_OVERSHOOT)), 1.0, "s")
    return time_axis, scaled_axis(peak_w, "W", 1.1), scaled_axis(last_j, "J", 1.05)
