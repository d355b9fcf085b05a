"""Carbon intensity of electricity by region, PUE, and the energy -> gCO2e conversion.

The table ships with the package (``lepton_lab/data/carbon_intensity.csv``: Ember's yearly data as
republished by Our World in Data, with source, year and licence in its header); nothing is fetched at
run time. Standard library only.

``lookup()`` accepts an ISO 3166 alpha-2 or alpha-3 code (any case), ``WORLD``, ``EU27``, a country
name, or a plain number meaning a user-supplied intensity in gCO2e/kWh. With no argument it reads
``LEPTON_LAB_REGION`` and falls back to ``WORLD``.
"""
from __future__ import annotations

import csv
import difflib
import functools
import io
import math
import os
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .errors import InvalidInput
from .units import j_to_kwh

REGION_ENV = "LEPTON_LAB_REGION"
PUE_ENV = "LEPTON_LAB_PUE"
DEFAULT_REGION = "WORLD"
DATA_FILE = "carbon_intensity.csv"
MAX_PUE = 5.0
MAX_CUSTOM_G_PER_KWH = 2000.0

# Spellings people type that are not in the table as such.
_ALIASES = {
    "UK": "GBR",
    "EU": "EU27",
    "EU-27": "EU27",
    "EUROPEAN UNION": "EU27",
    "GLOBAL": "WORLD",
    "UNITED STATES OF AMERICA": "USA",
    "KOREA": "KOR",
    "REPUBLIC OF KOREA": "KOR",
    "CZECH REPUBLIC": "CZE",
    "TÜRKIYE": "TUR",
    "TURKIYE": "TUR",
    "VIET NAM": "VNM",
    "THE NETHERLANDS": "NLD",
    "HOLLAND": "NLD",
    "GREAT BRITAIN": "GBR",
    "RUSSIAN FEDERATION": "RUS",
}

_UNKNOWN_HINT = (
    "use an ISO country code such as FR or FRA, WORLD, or a number in gCO2e/kWh; "
    "`lepton-lab regions` lists them"
)


@dataclass(frozen=True)
class CarbonIntensity:
    """Grams of CO2-equivalent emitted per kWh of electricity generated in one region."""

    region: str  # table code (ISO alpha-3, WORLD or EU27), or the number as given for a custom value
    name: str
    g_per_kwh: float
    year: int  # 0 for a user-supplied value, which has no year
    source: str

    def describe(self) -> str:
        """'France (FRA), 40 gCO2e/kWh, 2024, Ember via Our World in Data'."""
        parts = [f"{self.name} ({self.region})", f"{self.g_per_kwh:.0f} gCO2e/kWh"]
        if self.year:
            parts.append(str(self.year))
        parts.append(self.source)
        return ", ".join(parts)


@dataclass(frozen=True)
class _Table:
    rows: tuple[CarbonIntensity, ...]
    by_key: dict[str, CarbonIntensity]  # upper-cased alpha-2, alpha-3, aggregate code and name -> CarbonIntensity


def _parse(text: str) -> _Table:
    default_source = "unknown source"
    overrides: dict[str, str] = {}
    body = []
    for line in text.splitlines():
        if line.startswith("#"):
            directive = line.lstrip("#").strip()
            if directive.startswith("@default-source "):
                default_source = directive[len("@default-source "):].strip()
            elif directive.startswith("@source "):
                label, _, codes = directive[len("@source "):].rpartition(":")
                for code in codes.split():
                    overrides[code.upper()] = label.strip()
            continue
        if line.strip():
            body.append(line)
    rows = []
    by_key: dict[str, CarbonIntensity] = {}
    for rec in csv.DictReader(io.StringIO("\n".join(body))):
        iso2, iso3 = rec["iso2"].strip().upper(), rec["iso3"].strip().upper()
        entry = CarbonIntensity(
            region=iso3,
            name=rec["name"].strip(),
            g_per_kwh=float(rec["g_co2e_per_kwh"]),
            year=int(rec["year"]),
            source=overrides.get(iso3, default_source),
        )
        rows.append(entry)
        for key in (iso2, iso3, entry.name.upper()):
            if key:
                by_key[key] = entry
    return _Table(rows=tuple(rows), by_key=by_key)


@functools.lru_cache(maxsize=1)
def _table() -> _Table:
    text = resources.files("lepton_lab").joinpath("data").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return _parse(text)


def regions() -> list[CarbonIntensity]:
    """Every region in the shipped table, sorted by name."""
    return sorted(_table().rows, key=lambda r: r.name.casefold())


def _custom(text: str) -> CarbonIntensity | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or not 0 <= value <= MAX_CUSTOM_G_PER_KWH:
        raise InvalidInput(
            f"carbon intensity {text!r} is out of range: give gCO2e/kWh between 0 and "
            f"{MAX_CUSTOM_G_PER_KWH:g} (the world average is about 470), or a region code such as FR"
        )
    return CarbonIntensity(region=text, name="custom", g_per_kwh=value, year=0, source="user-supplied")


def _suggestions(key: str, table: _Table) -> list[str]:
    """Up to three 'FRA (France)' labels for codes or names close to ``key``."""
    found: list[str] = []
    for match in difflib.get_close_matches(key, list(table.by_key), n=5, cutoff=0.6):
        entry = table.by_key[match]
        label = f"{entry.region} ({entry.name})"
        if label not in found:
            found.append(label)
    return found[:3]


def lookup(region: str | None = None) -> CarbonIntensity:
    """The carbon intensity for ``region`` (see module docstring); InvalidInput if unknown."""
    if region is None:
        region = os.environ.get(REGION_ENV, "").strip() or DEFAULT_REGION
    if not isinstance(region, str):
        region = str(region)
    text = region.strip()
    custom = _custom(text) if text else None
    if custom is not None:
        return custom
    table = _table()
    key = " ".join(text.upper().split())
    key = _ALIASES.get(key, key)
    entry = table.by_key.get(key)
    if entry is not None:
        return entry
    message = f"unknown region {text!r}: {_UNKNOWN_HINT}"
    suggestions = _suggestions(key, table) if key else []
    if suggestions:
        message += f" (did you mean {' or '.join(suggestions)}?)"
    raise InvalidInput(message)


def validate_pue(value: Any) -> float:
    """A power usage effectiveness as a float in [1.0, 5]; InvalidInput otherwise."""
    number = None
    if not isinstance(value, bool):
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError):
            number = None
    if number is None or not math.isfinite(number) or not 1.0 <= number <= MAX_PUE:
        raise InvalidInput(
            f"invalid PUE {value!r}: PUE is facility energy / IT energy, so it is at least 1.0 "
            f"(1.0 for a laptop or desktop, typically 1.1-1.6 for a data centre); give a number "
            f"from 1.0 to {MAX_PUE:g}"
        )
    return number


def default_pue() -> float:
    """``LEPTON_LAB_PUE`` if set (validated), else 1.0 (a local machine has no facility overhead)."""
    raw = os.environ.get(PUE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        return validate_pue(raw)
    except InvalidInput as exc:
        raise InvalidInput(f"{PUE_ENV}: {exc}") from None


def co2e_g(energy_j: float, intensity: CarbonIntensity, pue: float = 1.0) -> float:
    """Grams of CO2e for ``energy_j`` joules of IT energy: kWh x PUE x gCO2e/kWh."""
    g_per_kwh = intensity.g_per_kwh if isinstance(intensity, CarbonIntensity) else float(intensity)
    return j_to_kwh(energy_j) * validate_pue(pue) * g_per_kwh
