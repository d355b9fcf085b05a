"""Carbon intensity lookup, PUE validation, the gCO2e arithmetic, and the shipped data file."""
from __future__ import annotations

import csv
import dataclasses
import io
import math
from importlib import resources

import pytest

from lepton_lab import carbon
from lepton_lab.carbon import CarbonIntensity, co2e_g, default_pue, lookup, regions, validate_pue
from lepton_lab.errors import InvalidInput, LeptonError

G20_AND_CLOUD = ["US", "CA", "GB", "IE", "FR", "DE", "NL", "SE", "FI", "NO", "CH", "JP", "KR", "SG", "IN",
                 "AU", "BR", "CL", "ZA", "CN", "AR", "ID", "IT", "MX", "RU", "SA", "TR", "DK", "IS"]
EU27 = ["AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT",
        "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"]


def _data_text() -> str:
    return resources.files("lepton_lab").joinpath("data").joinpath("carbon_intensity.csv").read_text("utf-8")


def _data_rows() -> list[dict]:
    body = "\n".join(line for line in _data_text().splitlines() if not line.startswith("#"))
    return list(csv.DictReader(io.StringIO(body)))


# -- lookup ------------------------------------------------------------------------------------

@pytest.mark.parametrize("given", ["FR", "fr", "FRA", "fra", " Fra ", "France", "FRANCE", "france"])
def test_lookup_by_alpha2_alpha3_and_name_any_case(given):
    entry = lookup(given)
    assert entry.region == "FRA"
    assert entry.name == "France"
    assert entry.year == 2024
    assert entry.g_per_kwh == pytest.approx(40.48)
    assert "Our World in Data" in entry.source


def test_alpha2_and_alpha3_give_the_same_entry():
    for iso2, iso3 in [("US", "USA"), ("GB", "GBR"), ("DE", "DEU"), ("JP", "JPN"), ("ZA", "ZAF")]:
        assert lookup(iso2) == lookup(iso3)


def test_aggregates_and_aliases():
    assert lookup("world").region == "WORLD"
    assert lookup("EU27").name == "European Union (27)"
    assert lookup("eu") == lookup("EU27")
    assert lookup("UK") == lookup("GB")


def test_default_is_world():
    entry = lookup()
    assert entry.region == "WORLD"
    assert entry.name == "World"
    assert 300 < entry.g_per_kwh < 600


def test_default_comes_from_environment(monkeypatch):
    monkeypatch.setenv("LEPTON_LAB_REGION", "se")
    assert lookup().region == "SWE"
    monkeypatch.setenv("LEPTON_LAB_REGION", "   ")
    assert lookup().region == "WORLD"


def test_explicit_region_beats_environment(monkeypatch):
    monkeypatch.setenv("LEPTON_LAB_REGION", "PL")
    assert lookup("NO").region == "NOR"


@pytest.mark.parametrize("given, value", [("250", 250.0), ("0", 0.0), ("412.5", 412.5), (" 30 ", 30.0)])
def test_plain_number_is_a_custom_intensity(given, value):
    entry = lookup(given)
    assert entry.name == "custom"
    assert entry.source == "user-supplied"
    assert entry.g_per_kwh == value
    assert entry.region == given.strip()


def test_custom_intensity_from_environment(monkeypatch):
    monkeypatch.setenv("LEPTON_LAB_REGION", "123")
    assert lookup().g_per_kwh == 123.0


@pytest.mark.parametrize("given", ["-5", "nan", "inf", "1e9"])
def test_custom_intensity_out_of_range_is_rejected(given):
    with pytest.raises(InvalidInput) as info:
        lookup(given)
    assert "\n" not in str(info.value)
    assert "gCO2e/kWh" in str(info.value)


def test_unknown_region_is_one_line_error_with_hint():
    with pytest.raises(InvalidInput) as info:
        lookup("XYZ")
    message = str(info.value)
    assert isinstance(info.value, LeptonError)
    assert "\n" not in message
    assert message.startswith("unknown region 'XYZ': use an ISO country code such as FR or FRA, WORLD,")
    assert "`lepton-lab regions` lists them" in message


@pytest.mark.parametrize("typo, expected", [("Frnace", "FRA (France)"), ("Germny", "DEU (Germany)"),
                                            ("Swedn", "SWE (Sweden)")])
def test_unknown_region_suggests_close_matches(typo, expected):
    with pytest.raises(InvalidInput) as info:
        lookup(typo)
    assert "did you mean" in str(info.value)
    assert expected in str(info.value)


def test_unknown_region_with_newline_stays_one_line():
    with pytest.raises(InvalidInput) as info:
        lookup("FR\nDROP")
    assert "\n" not in str(info.value)


def test_describe():
    assert lookup("FRA").describe() == "France (FRA), 40 gCO2e/kWh, 2024, Ember via Our World in Data"
    assert lookup("250").describe() == "custom (250), 250 gCO2e/kWh, user-supplied"


def test_entries_are_frozen():
    entry = lookup("FR")
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.g_per_kwh = 0  # type: ignore[misc]


def test_regions_sorted_by_name_and_cover_required_countries():
    listed = regions()
    names = [r.name.casefold() for r in listed]
    assert names == sorted(names)
    assert len(listed) >= 60
    codes = {r.region for r in listed}
    assert {"WORLD", "EU27"} <= codes
    for iso2 in set(G20_AND_CLOUD) | set(EU27):
        assert lookup(iso2).region in codes


def test_secondary_source_rows_are_labelled():
    assert lookup("US").source == "Ember (via CO2.js copy)"
    assert lookup("DE").source == "Ember via Our World in Data"


# -- PUE ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [(1.0, 1.0), (1, 1.0), ("1.4", 1.4), (5, 5.0), (1.58, 1.58)])
def test_valid_pue(value, expected):
    assert validate_pue(value) == expected


@pytest.mark.parametrize("value", [0.99, 0, -1, 5.01, "abc", "", None, float("nan"), float("inf"), "inf",
                                   True, [1.2]])
def test_invalid_pue_is_rejected_with_one_line_explanation(value):
    with pytest.raises(InvalidInput) as info:
        validate_pue(value)
    message = str(info.value)
    assert "\n" not in message
    assert "facility energy / IT energy" in message
    assert "1.0" in message and "1.1-1.6" in message


def test_default_pue(monkeypatch):
    assert default_pue() == 1.0
    monkeypatch.setenv("LEPTON_LAB_PUE", "1.25")
    assert default_pue() == 1.25
    monkeypatch.setenv("LEPTON_LAB_PUE", "0.5")
    with pytest.raises(InvalidInput, match="LEPTON_LAB_PUE"):
        default_pue()


# -- arithmetic --------------------------------------------------------------------------------

def test_co2e_one_kwh():
    intensity = CarbonIntensity("X", "test", 400.0, 2024, "test")
    assert co2e_g(3.6e6, intensity) == pytest.approx(400.0)
    assert co2e_g(3.6e6, intensity, pue=1.5) == pytest.approx(600.0)
    assert co2e_g(3600.0, intensity) == pytest.approx(0.4)  # 1 Wh
    assert co2e_g(0.0, intensity, 1.2) == 0.0


def test_co2e_with_shipped_region():
    france = lookup("FR")
    assert co2e_g(3.6e6 * 2, france, 1.1) == pytest.approx(2 * 1.1 * 40.48)


def test_co2e_rejects_bad_pue():
    with pytest.raises(InvalidInput):
        co2e_g(3.6e6, lookup("FR"), pue=0.5)


# -- the data file -----------------------------------------------------------------------------

def test_data_file_header_names_source_year_and_licence():
    comments = "\n".join(line for line in _data_text().splitlines() if line.startswith("#"))
    assert "Ember" in comments
    assert "Our World in Data" in comments
    assert "https://github.com/owid/energy-data" in comments
    assert "carbon_intensity_elec" in comments
    assert "CC BY 4.0" in comments
    assert "2024" in comments
    assert _data_text().splitlines()[0].startswith("#")


def test_data_file_values_are_sane():
    rows = _data_rows()
    assert list(rows[0]) == ["iso2", "iso3", "name", "year", "g_co2e_per_kwh"]
    assert len(rows) >= 60
    for row in rows:
        value = float(row["g_co2e_per_kwh"])
        assert math.isfinite(value) and 0 <= value <= 1500, row
        assert 2020 <= int(row["year"]) <= 2025, row
        assert row["name"].strip(), row
        if row["iso2"]:
            assert len(row["iso2"]) == 2 and row["iso2"].isupper(), row
            assert len(row["iso3"]) == 3 and row["iso3"].isupper(), row
        else:
            assert row["iso3"] in {"WORLD", "EU27"}, row


def test_data_file_has_no_duplicate_codes_or_names():
    rows = _data_rows()
    for column in ("iso3", "name"):
        values = [r[column] for r in rows]
        assert len(values) == len(set(values)), column
    iso2 = [r["iso2"] for r in rows if r["iso2"]]
    assert len(iso2) == len(set(iso2))


def test_well_known_orderings_hold():
    # Hydro/nuclear grids are far cleaner than coal-heavy ones; guards against swapped or mis-scaled rows.
    assert lookup("NO").g_per_kwh < 100 and lookup("FR").g_per_kwh < 100 and lookup("SE").g_per_kwh < 100
    assert lookup("IN").g_per_kwh > 600 and lookup("ZA").g_per_kwh > 600 and lookup("PL").g_per_kwh > 500
    assert lookup("FR").g_per_kwh < lookup("EU27").g_per_kwh < lookup("WORLD").g_per_kwh < lookup("CN").g_per_kwh


def test_table_is_loaded_once(monkeypatch):
    carbon._table.cache_clear()
    calls = []
    real = carbon._parse
    monkeypatch.setattr(carbon, "_parse", lambda text: calls.append(1) or real(text))
    lookup("FR")
    lookup("DE")
    regions()
    assert len(calls) == 1
    carbon._table.cache_clear()
