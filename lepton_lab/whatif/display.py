"""Pure helpers for showing model results: chart units and ranges, counts in words.

No widgets here (the apps and the lessons both use these); the functions exist because charts
break on degenerate data: bqplot cannot draw a y-axis whose top equals its bottom, which is what
zero or constant data gives (DESIGN.md §5), so every range here has a non-zero height.
"""
from __future__ import annotations

import math

from .. import units

_WH_UNITS = ((3.6e12, "GWh"), (3.6e9, "MWh"), (3.6e6, "kWh"), (3.6e3, "Wh"))


def wh(energy_j: float) -> str:
    """Energy in Wh with a prefix; exactly zero reads '0 Wh' (``units.format_wh`` says '0 µWh')."""
    return "0 Wh" if energy_j == 0 else units.format_wh(energy_j)


def energy_unit(max_j: float) -> tuple[float, str]:
    """(joules per unit, unit) so that ``max_j`` reads between 1 and 1000 on a chart axis."""
    for factor, unit in _WH_UNITS:
        if max_j >= factor:
            return factor, unit
    return 3.6, "mWh"


def axis_max(values, floor: float = 1.0) -> float:
    """A y-axis top 10 % above the data, or ``floor`` when the data are all zero (or empty)."""
    top = max((v for v in values if math.isfinite(v)), default=0.0)
    return top * 1.1 if top > 0 else floor


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values from 0 to ``top`` (steps of 1, 2, 2.5 or 5 × 10^k)."""
    raw = top / count if top > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return [i * step for i in range(int(top / step + 1e-9) + 1)]


def count(n: float) -> str:
    """'950', '12 thousand', '9.05 million' (numbers of inferences)."""
    for factor, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if n >= factor:
            return f"{n / factor:.3g} {word}"
    return f"{n:.0f}"
