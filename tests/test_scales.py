"""Axis maths (widgets/scales.py): ranges and labels that stay drawable for zero, constant and huge
data, and ticks that never carry a prefix of their own."""
from __future__ import annotations

import math

import pytest

from lepton_lab.units import format_count, format_wh
from lepton_lab.widgets.scales import (
    axis_max,
    axis_unit,
    energy_unit,
    format_tick,
    nice_ceiling,
    nice_ticks,
    power_figure_axes,
)


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
    assert format_wh(0) == "0 Wh" and format_wh(3600) == "1.00 Wh"
    assert format_count(950) == "950" and format_count(9e6) == "9 million" and format_count(36.5e6) == "36.5 million"


def test_nice_ceiling_grows_in_steps():
    assert nice_ceiling(0.0) == 1.0 and nice_ceiling(7.0) == 8.0 and nice_ceiling(26.4) == 30.0
    assert nice_ceiling(110.0) == 150.0 and nice_ceiling(float("nan")) == 1.0


@pytest.mark.parametrize("value, text", [(0, "0"), (0.5, "0.5"), (1.5, "1.5"), (20, "20"), (1500, "1,500"),
                                         (0.25, "0.25"), (2.5e-5, "2.5e-05")])
def test_ticks_are_plain_numbers_never_with_a_prefix(value, text):
    """Lesson 04's 'ms per batch' axis once read 0, 500m, 1, 1.5: 500 milli-milliseconds."""
    assert format_tick(value) == text
    assert not any(format_tick(value).endswith(p) for p in ("m", "k", "µ", "M", "G"))


@pytest.mark.parametrize("top, unit, expected", [(0.0, "W", (1.0, "W")), (24.0, "W", (1.0, "W")),
                                                 (1500.0, "W", (1e3, "kW")), (0.05, "J", (1e-3, "mJ")),
                                                 (4.2e5, "J", (1e3, "kJ")), (float("nan"), "J", (1.0, "J"))])
def test_an_axis_takes_a_prefixed_unit_so_that_its_ticks_read_from_1_to_1000(top, unit, expected):
    assert axis_unit(top, unit) == expected


def test_the_power_figure_axes_follow_the_data():
    time_axis, watts, joules = power_figure_axes(2.4, 1400.0, 2500.0)
    assert time_axis.label("time") == "time (s)" and time_axis.maximum == 3.0
    assert watts.label("power") == "power (kW)" and watts.maximum == 2.0  # 1.54 kW (1.4 + 10 %) -> 2
    assert joules.label("energy so far") == "energy so far (kJ)" and joules.maximum == 3.0


def test_a_cell_timed_to_a_round_length_keeps_that_length_as_its_time_axis():
    # a 3 s loop ends a few ms past 3 s: its axis stays 0-3 s, not 0-4 s (a quarter empty)
    assert power_figure_axes(3.0004, 20.0, 40.0)[0].maximum == 3.0
    assert power_figure_axes(2.02, 20.0, 40.0)[0].maximum == 2.0
    assert power_figure_axes(2.05, 20.0, 40.0)[0].maximum == 3.0  # past 1 %: the next step
    assert power_figure_axes(0.0, 0.0, 0.0)[0].maximum == 1.0
