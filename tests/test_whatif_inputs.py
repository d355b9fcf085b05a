"""Input clamping (Bound) and reading uploaded report files."""
from __future__ import annotations

import json
import math

import pytest

from lepton_lab.errors import InvalidInput
from lepton_lab.report import DomainEnergy, EnergyReport
from lepton_lab.whatif.checks import Bound, number
from lepton_lab.whatif.reports import MAX_REPORT_BYTES, describe, report_from_bytes


def sample_report(energy=120.0, duration=4.0) -> EnergyReport:
    return EnergyReport(label="batch", status="ok", started_at="2026-11-23T10:00:00+00:00", duration_s=duration,
                        domains={"cpu:package-0": DomainEnergy(energy_j=energy, mean_w=energy / duration, peak_w=None,
                                                               method="rapl")})


def test_bound_clamps_and_says_so():
    bound = Bound("PUE", 1.0, 3.0)
    assert bound.clamp(2.0) == (2.0, None)
    value, note = bound.clamp(1e30)
    assert value == 3.0 and "PUE 1e+30 is outside 1 to 3; using 3" == note


@pytest.mark.parametrize("forged", [math.nan, math.inf, "12", None, True])
def test_bound_replaces_non_numbers_with_the_minimum(forged):
    value, note = Bound("Power", 1.0, 100.0, "W").clamp(forged)
    assert value == 1.0 and "using 1 W instead" in note


def test_integer_bound_rounds_and_returns_int():
    assert Bound("Hours", 0, 10, integer=True).clamp(3.6) == (4, None)
    assert Bound("Hours", 0, 10, integer=True).clamp(-3)[0] == 0


def test_number_messages_name_the_input():
    with pytest.raises(InvalidInput, match="job power must be at most 5 W, got 6 W"):
        number("job power", 6, 0, 5, "W")


def test_report_file_round_trip():
    report = report_from_bytes(json.dumps(sample_report().to_dict()).encode())
    assert report.energy_j == 120.0 and report.mean_w == 30.0 and "batch" in describe(report)


@pytest.mark.parametrize("content, fragment", [
    (b"\x89PNG\r\n\x1a\n", "not JSON"),
    (b"{not json", "not JSON"),
    (b'{"hello": 1}', "not a lepton_lab report"),
    (b"[1, 2, 3]", "not a lepton_lab report"),
    (json.dumps({"domains": {"x": [1]}, "duration_s": 1}).encode(), "not a lepton_lab report"),
])
def test_files_that_are_not_reports_are_rejected_in_one_line(content, fragment):
    with pytest.raises(InvalidInput) as info:
        report_from_bytes(content, name="'x.json'")
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_reports_with_unusable_numbers_are_rejected():
    data = sample_report().to_dict()
    data["duration_s"] = 0
    with pytest.raises(InvalidInput, match="no mean power"):
        report_from_bytes(json.dumps(data).encode())
    data = sample_report().to_dict()
    data["domains"]["cpu:package-0"]["energy_j"] = "lots"
    with pytest.raises(InvalidInput, match="unusable numbers"):
        report_from_bytes(json.dumps(data).encode())


def test_oversized_uploads_are_rejected_before_parsing():
    with pytest.raises(InvalidInput, match="at most"):
        report_from_bytes(b" " * (MAX_REPORT_BYTES + 1))
