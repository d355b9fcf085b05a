"""Chart ranges and labels that stay drawable for zero, constant and huge data."""
from __future__ import annotations

import math

import pytest

from lepton_lab.whatif.display import axis_max, count, energy_unit, nice_ticks, wh


@pytest.mark.parametrize("values, top", [([], 1.0), ([0.0, 0.0], 1.0), ([5.0, 5.0], 5.5), ([1.0, math.nan], 1.1)])
def test_axis_max_never_collapses(values, top):
    assert axis_max(values) == pytest.approx(top)


@pytest.mark.parametrize("top", [1e-6, 0.9, 1.0, 7.7, 77.0, 289.0, 1.5e9])
def test_nice_ticks_are_round_and_cover_the_axis(top):
    ticks = nice_ticks(top)
    step = ticks[1] - ticks[0]
    assert ticks[0] == 0 and ticks[-1] <= top * (1 + 1e-9) and 2 <= len(ticks) <= 11
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(mantissa == pytest.approx(m) for m in (1, 2, 2.5, 5))


@pytest.mark.parametrize("joules, unit", [(0, "mWh"), (100, "mWh"), (3.6e3, "Wh"), (5e6, "kWh"), (4e11, "MWh"),
                                          (1e15, "GWh")])
def test_energy_unit(joules, unit):
    assert energy_unit(joules)[1] == unit


def test_zero_energy_reads_zero_wh_and_counts_read_as_words():
    assert wh(0) == "0 Wh" and wh(3600) == "1.00 Wh"
    assert count(950) == "950" and count(9e6) == "9 million" and count(36.5e6) == "36.5 million"
