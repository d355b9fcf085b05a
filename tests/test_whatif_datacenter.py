"""The data-centre facility model (pure: no fakes needed)."""
from __future__ import annotations

import math

import pytest

from lepton_lab.errors import InvalidInput
from lepton_lab.whatif import datacenter as dc


def test_definition_of_pue_and_emissions():
    r = dc.facility(it_power_w=1000.0, hours=10.0, pue=1.5, grid_g_per_kwh=400.0)
    assert r.it_energy_j == pytest.approx(1000 * 10 * 3600)
    assert r.facility_energy_j == pytest.approx(1.5 * r.it_energy_j)
    assert r.overhead_j == pytest.approx(0.5 * r.it_energy_j)
    assert r.co2e_g == pytest.approx(15.0 * 400.0)  # 15 kWh at the meter
    assert r.breakdown_j == {"IT": pytest.approx(36e6), "Overhead (PUE − 1)": pytest.approx(18e6)}


def test_pue_one_means_no_overhead():
    r = dc.facility(500.0, 2.0, pue=1.0, grid_g_per_kwh=100.0)
    assert r.overhead_j == 0.0 and r.facility_energy_j == r.it_energy_j
    assert r.co2e_g == pytest.approx(1.0 * 100.0)


def test_zero_load_gives_zero_energy_and_says_why():
    r = dc.facility(0.0, 8760.0, pue=1.58, grid_g_per_kwh=500.0)
    assert r.facility_energy_j == 0.0 and r.co2e_g == 0.0 and r.avoided_g == 0.0
    assert any("no IT load" in note for note in r.notes)
    assert dc.facility(100.0, 0.0).facility_energy_j == 0.0


def test_full_renewables_remove_grid_emissions_unless_lifecycle_counted():
    r = dc.facility(1000.0, 1.0, pue=1.2, grid_g_per_kwh=500.0, renewable_share=1.0)
    assert r.co2e_g == 0.0
    assert r.co2e_grid_only_g == pytest.approx(1.2 * 500.0) and r.avoided_g == pytest.approx(600.0)
    wind = dc.facility(1000.0, 1.0, pue=1.2, grid_g_per_kwh=500.0, renewable_share=1.0, renewable_g_per_kwh=11.0)
    assert wind.co2e_g == pytest.approx(1.2 * 11.0)


def test_partial_renewables_mix_linearly():
    r = dc.facility(1000.0, 1.0, pue=1.0, grid_g_per_kwh=400.0, renewable_share=0.25)
    assert r.co2e_g == pytest.approx(0.75 * 400.0)


def test_cooling_model_builds_pue_from_parts():
    cooling = dc.CoolingModel(cop=4.0, power_loss=0.07, other=0.02)
    assert cooling.pue == pytest.approx(1.0 + 0.25 + 0.07 + 0.02)
    r = dc.facility(1000.0, 1.0, pue=3.0, cooling=cooling)  # the cooling model wins over pue
    assert r.pue == pytest.approx(1.34)
    assert set(r.breakdown_j) == {"IT", "Cooling", "Power losses", "Lighting & other"}
    assert r.breakdown_j["Cooling"] == pytest.approx(0.25 * 3.6e6)
    assert sum(r.breakdown_j.values()) == pytest.approx(1.34 * 3.6e6)


def test_presets_are_the_cited_values():
    assert dc.PUE_PRESETS["average"][1] == 1.58  # Uptime Institute 2023
    assert dc.PUE_PRESETS["hyperscale"][1] == 1.10  # Google fleet 2023
    assert dc.PUE_PRESETS["local"][1] == 1.0
    assert 1.0 < dc.CoolingModel().pue < dc.PUE_INDUSTRY_AVERAGE


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(it_power_w=-1, hours=1), "IT power must be at least 0"),
    (dict(it_power_w=1, hours=1, pue=0.9), "PUE must be at least 1"),
    (dict(it_power_w=1, hours=1, pue=99), "PUE must be at most 5"),
    (dict(it_power_w=math.nan, hours=1), "finite"),
    (dict(it_power_w=1, hours=math.inf), "finite"),
    (dict(it_power_w="100", hours=1), "must be a number"),
    (dict(it_power_w=1, hours=1, renewable_share=1.5), "renewable share must be at most 1"),
    (dict(it_power_w=1, hours=1, grid_g_per_kwh=-5), "grid intensity"),
])
def test_bad_inputs_raise_one_line_invalid_input(kwargs, fragment):
    with pytest.raises(InvalidInput) as info:
        dc.facility(**kwargs)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("kwargs", [dict(cop=0.1), dict(cop=math.nan), dict(power_loss=-0.1), dict(other=2.0)])
def test_cooling_model_rejects_nonsense(kwargs):
    with pytest.raises(InvalidInput):
        dc.CoolingModel(**kwargs)
