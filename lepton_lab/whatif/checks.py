"""Input checks shared by the what-if models and their panels.

The models call :func:`number` on every argument, so a bad value stops at the model's edge with a
one-line :class:`~lepton_lab.errors.InvalidInput` (NaN and infinity included: JSON from a browser
can carry them). The panels use :class:`Bound` to *clamp* instead, because a visitor moving a
forged slider should see a message and a sane result, not a traceback.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import InvalidInput


def number(name: str, value, lo: float | None = None, hi: float | None = None, unit: str = "") -> float:
    """``value`` as a finite float within [lo, hi], or a one-line InvalidInput naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise InvalidInput(f"{name} must be a finite number, got {value!r}")
    suffix = f" {unit}" if unit else ""
    if lo is not None and value < lo:
        raise InvalidInput(f"{name} must be at least {lo:g}{suffix}, got {value:g}{suffix}")
    if hi is not None and value > hi:
        raise InvalidInput(f"{name} must be at most {hi:g}{suffix}, got {value:g}{suffix}")
    return value


def fraction(name: str, value) -> float:
    """A share between 0 and 1 inclusive (0 % to 100 %)."""
    return number(name, value, 0.0, 1.0)


@dataclass(frozen=True)
class Bound:
    """The range a panel accepts for one input, whatever the widget's own min/max claim.

    A browser can send new ``min``/``max`` traits along with the value, so a widget's limits are
    not a defence; these are.
    """

    label: str
    lo: float
    hi: float
    unit: str = ""
    integer: bool = False

    def clamp(self, value) -> tuple[float, str | None]:
        """(usable value, message or None). Non-numbers and NaN fall back to ``lo``."""
        try:
            checked = number(self.label, value)
        except InvalidInput as exc:
            return self._cast(self.lo), f"{exc}; using {self._show(self.lo)} instead"
        if self.integer and checked != int(checked):
            checked = float(round(checked))
        if checked < self.lo or checked > self.hi:
            used = min(max(checked, self.lo), self.hi)
            return self._cast(used), (
                f"{self.label} {self._show(checked)} is outside {self._show(self.lo)} to "
                f"{self._show(self.hi)}; using {self._show(used)}"
            )
        return self._cast(checked), None

    def _cast(self, value: float):
        return int(round(value)) if self.integer else float(value)

    def _show(self, value: float) -> str:
        return f"{value:g}{' ' + self.unit if self.unit else ''}"
