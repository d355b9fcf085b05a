"""Turning a measured report into what-if inputs, and an uploaded file into a report.

Pure: bytes in, :class:`~lepton_lab.report.EnergyReport` out. Uploaded bytes come from a browser
and are untrusted, so every failure is a one-line InvalidInput that the app can show as is.
"""
from __future__ import annotations

import json

from ..errors import InvalidInput
from ..report import EnergyReport
from .checks import number

#: Largest report file accepted (a report with a 10k-point trace per domain is well under 5 MB).
MAX_REPORT_BYTES = 20 * 1024 * 1024
HOW_TO_SAVE = "save one with report.save('report.json') or `lepton-lab export LABEL -o report.json`"


def report_from_bytes(content: bytes, name: str = "the file") -> EnergyReport:
    """Parse an uploaded ``EnergyReport.to_dict()`` JSON dump, or raise a one-line InvalidInput."""
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"{name} could not be read as bytes")
    if len(content) > MAX_REPORT_BYTES:
        raise InvalidInput(f"{name} is {len(content) / 1e6:.1f} MB; a lepton_lab report is at most "
                           f"{MAX_REPORT_BYTES / 1e6:.0f} MB")
    try:
        data = json.loads(bytes(content).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidInput(f"{name} is not a lepton_lab report (not JSON): {HOW_TO_SAVE}") from None
    if not isinstance(data, dict) or not isinstance(data.get("domains"), dict) or "duration_s" not in data:
        raise InvalidInput(f"{name} is JSON but not a lepton_lab report (no 'domains'/'duration_s'): {HOW_TO_SAVE}")
    report = EnergyReport.from_dict(data)
    check_report(report, name)
    return report


def check_report(report: EnergyReport, name: str = "the report") -> EnergyReport:
    """Reject reports whose numbers cannot drive a model (negative, NaN, strings, no duration)."""
    try:
        number("duration", report.duration_s, 0.0, unit="s")
        number("energy", report.energy_j, 0.0, unit="J")
    except (InvalidInput, TypeError) as exc:
        raise InvalidInput(f"{name} has unusable numbers ({exc})") from None
    if report.duration_s <= 0:
        raise InvalidInput(f"{name} lasted 0 s, so it has no mean power to start from")
    return report


def describe(report: EnergyReport) -> str:
    """One line naming the report and what kind of numbers it holds, for the apps' badges."""
    ident = f"#{report.id} " if report.id is not None else ""
    return f"{ident}{report.headline()}"
