"""Unit conversion and the one place where numbers with units are formatted."""
from __future__ import annotations

import math

J_PER_WH = 3600.0
J_PER_KWH = 3_600_000.0


def j_to_wh(energy_j: float) -> float:
    return energy_j / J_PER_WH


def j_to_kwh(energy_j: float) -> float:
    return energy_j / J_PER_KWH


def wh_to_j(energy_wh: float) -> float:
    return energy_wh * J_PER_WH


def kwh_to_j(energy_kwh: float) -> float:
    return energy_kwh * J_PER_KWH


def _scaled(value: float, unit: str, prefixes: list[tuple[float, str]], digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return f"0 {unit}"
    magnitude = abs(value)
    for factor, prefix in prefixes:
        if magnitude >= factor:
            return f"{_sig(value / factor, digits)} {prefix}{unit}"
    factor, prefix = prefixes[-1]
    return f"{_sig(value / factor, digits)} {prefix}{unit}"


def _sig(value: float, digits: int) -> str:
    """Format with `digits` significant figures without switching to scientific notation."""
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return f"{value:.{decimals}f}"


_SI = [(1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ")]


def format_energy(energy_j: float) -> str:
    """'12.3 J', '4.56 kJ', '1.20 MJ'."""
    return _scaled(energy_j, "J", _SI)


def format_wh(energy_j: float) -> str:
    """Energy in watt-hours with a prefix: '3.42 mWh', '1.20 kWh'."""
    return _scaled(j_to_wh(energy_j), "Wh", _SI)


def format_power(power_w: float) -> str:
    return _scaled(power_w, "W", _SI)


def format_mass_g(mass_g: float) -> str:
    """CO2e mass: '0.52 mg', '3.1 g', '2.40 kg', '1.5 t'."""
    if mass_g is None:
        return "n/a"
    if abs(mass_g) >= 1e6:
        return f"{_sig(mass_g / 1e6, 3)} t"
    if abs(mass_g) >= 1e3:
        return f"{_sig(mass_g / 1e3, 3)} kg"
    if abs(mass_g) >= 1 or mass_g == 0:
        return f"{_sig(mass_g, 3)} g"
    return _scaled(mass_g, "g", [(1e-3, "m"), (1e-6, "µ")])


def format_duration(seconds: float) -> str:
    """'850 ms', '12.4 s', '3 min 05 s', '2 h 03 min'."""
    if seconds is None:
        return "n/a"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{_sig(seconds, 3)} s"
    if seconds < 3600:
        minutes, rest = divmod(int(round(seconds)), 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(int(round(seconds)), 3600)
    return f"{hours} h {rest // 60:02d} min"


def format_count(n: float) -> str:
    """'950', '12 thousand', '9.05 million' (numbers of inferences)."""
    for factor, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand")):
        if n >= factor:
            return f"{n / factor:.3g} {word}"
    return f"{n:.0f}"


def format_percent(fraction: float) -> str:
    return f"{fraction * 100:.1f} %"
