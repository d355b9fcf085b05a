"""Formatting and conversion in units.py (pure functions)."""
import pytest

from lepton_lab import units


@pytest.mark.parametrize("joules, text", [(0, "0 J"), (0.0123, "12.3 mJ"), (12.34, "12.3 J"),
                                          (4560, "4.56 kJ"), (1.2e6, "1.20 MJ"), (-5, "-5.00 J")])
def test_format_energy(joules, text):
    assert units.format_energy(joules) == text


def test_wh_and_power_and_mass():
    assert units.format_wh(3600) == "1.00 Wh" and units.format_wh(0) == "0 Wh"
    assert units.format_wh(3.6e6) == "1.00 kWh"
    assert units.format_power(0.5) == "500 mW" and units.format_power(250) == "250 W"
    assert units.format_mass_g(0.00052) == "520 µg" and units.format_mass_g(2400) == "2.40 kg"
    assert units.format_mass_g(1.5e6) == "1.50 t"


def test_durations():
    assert units.format_duration(0.85) == "850 ms"
    assert units.format_duration(12.44) == "12.4 s"
    assert units.format_duration(185) == "3 min 05 s"
    assert units.format_duration(7380) == "2 h 03 min"


def test_conversions_round_trip():
    assert units.j_to_kwh(units.kwh_to_j(2.5)) == pytest.approx(2.5)
    assert units.j_to_wh(7200) == 2.0 and units.wh_to_j(1) == 3600
