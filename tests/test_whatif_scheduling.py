"""Carbon-aware scheduling over a cyclic hourly profile, and the synthetic daily shapes."""
from __future__ import annotations

import math

import pytest

from lepton_lab.errors import InvalidInput
from lepton_lab.whatif import profiles
from lepton_lab.whatif.scheduling import Profile, plan

STEP = [100.0] * 12 + [300.0] * 12  # clean mornings, dirty afternoons


def test_integral_is_exact_for_partial_hours_and_wraps():
    p = Profile([10.0, 20.0, 30.0])
    assert p.integral(0, 1) == 10.0
    assert p.integral(0.5, 1.0) == pytest.approx(5.0 + 10.0)
    assert p.integral(2.5, 1.0) == pytest.approx(15.0 + 5.0)  # wraps to hour 0
    assert p.integral(0, 7) == pytest.approx(2 * 60.0 + 10.0)  # two whole repeats and one hour


def test_best_start_moves_the_job_into_the_clean_hours():
    result = plan(STEP, duration_h=4, power_w=1000, now_h=12, max_delay_h=24)
    assert result.now_g == pytest.approx(4 * 300.0)
    assert result.best_offset_h == 12 and result.best_g == pytest.approx(4 * 100.0)
    assert result.saving_g == pytest.approx(800.0) and result.saving_fraction == pytest.approx(2 / 3)
    assert result.energy_kwh == 4.0 and result.mean_intensity(result.best_index) == pytest.approx(100.0)


def test_no_delay_allowed_means_start_now():
    result = plan(STEP, 2, 500, now_h=15, max_delay_h=0)
    assert result.offsets_h == [0.0] and result.best_index == 0 and result.saving_g == 0.0


def test_flat_profile_prefers_now_despite_float_noise():
    result = plan([333.3] * 24, duration_h=3.7, power_w=123.4, now_h=5, max_delay_h=24)
    assert result.best_index == 0 and result.saving_g == pytest.approx(0.0, abs=1e-9)


def test_job_longer_than_the_profile_wraps_around():
    result = plan(STEP, duration_h=36, power_w=1000, now_h=0, max_delay_h=24)
    # 36 h from midnight: a whole day (4800 g·h/kWh) plus 12 clean hours (1200).
    assert result.now_g == pytest.approx(1.0 * (24 * 200.0 + 12 * 100.0))
    # Starting at noon instead takes a whole day plus 12 dirty hours: worse, so start now.
    assert result.best_offset_h == 0
    assert result.emissions_g[12] == pytest.approx(4800.0 + 3600.0)


def test_zero_power_emits_nothing_and_saves_nothing():
    result = plan(STEP, 4, 0.0, now_h=12)
    assert result.now_g == 0.0 and result.best_index == 0 and result.saving_fraction == 0.0
    assert result.mean_intensity(0) == 0.0


def test_clean_grid_saves_nothing():
    result = plan([0.0] * 24, 4, 1000, now_h=3)
    assert result.now_g == 0.0 and result.saving_fraction == 0.0


def test_pue_scales_emissions():
    assert plan(STEP, 1, 1000, pue=1.5, max_delay_h=0).now_g == pytest.approx(150.0)


def test_fractional_step_and_window():
    result = plan(STEP, 1, 1000, now_h=11, max_delay_h=1.5, step_h=0.5)
    assert result.offsets_h == [0.0, 0.5, 1.0, 1.5]
    assert result.emissions_g == pytest.approx([100.0, 200.0, 300.0, 300.0])


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(duration_h=-1), "job length"), (dict(power_w=math.inf), "finite"), (dict(max_delay_h=-2), "delay"),
    (dict(step_h=0), "step"), (dict(max_delay_h=100, step_h=0.001), "start times to try"),
    (dict(pue=0.5), "PUE"),
])
def test_bad_inputs_raise_one_line_invalid_input(kwargs, fragment):
    args = {"hourly_g_per_kwh": STEP, "duration_h": 1, "power_w": 1, **kwargs}
    with pytest.raises(InvalidInput) as info:
        plan(**args)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("values", [[], [100.0, -1.0], [math.nan], ["x"]])
def test_bad_profiles_are_rejected(values):
    with pytest.raises(InvalidInput):
        Profile(values)


@pytest.mark.parametrize("name", list(profiles.SHAPES))
def test_shapes_have_24_hours_mean_one_and_say_synthetic(name):
    label, values = profiles.SHAPES[name]
    assert len(values) == 24 and sum(values) / 24 == pytest.approx(1.0, abs=1e-3)
    assert all(v > 0 for v in values) and "synthetic" in label
    assert sum(profiles.profile(name, 400.0)) / 24 == pytest.approx(400.0, rel=1e-3)


def test_solar_shape_is_cleanest_at_midday_and_dirtiest_in_the_evening():
    values = profiles.shape("solar")
    assert values.index(min(values)) in (11, 12) and values.index(max(values)) in (18, 19, 20)


def test_unknown_shape_is_invalid_input():
    with pytest.raises(InvalidInput, match="unknown intensity shape"):
        profiles.profile("windy", 100.0)
