"""CPU package and DRAM energy from Linux powercap (RAPL) sysfs.

Layout read here (``/sys/class/powercap`` unless told otherwise)::

    intel-rapl:N        name = package-N (or package-N-die-M)   -> domain cpu:package-N
    intel-rapl:N:M      name = core | uncore | dram             -> dram only: cpu:dram-N
    intel-rapl:K        name = psys                             -> ignored (platform-wide)
    intel-rapl-mmio:N   same package energy through MMIO        -> ignored (duplicate)

AMD kernels expose their RAPL MSRs under the same ``intel-rapl`` names. ``core`` and ``uncore``
are parts of their package, so they are never reported: a reader summing domains would count
them twice. DRAM is outside the package and is reported on its own.
"""
from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import SensorReadError, SensorUnavailable
from .base import DomainReading, Sensor

ROOT_ENV = "LEPTON_LAB_RAPL_ROOT"
DEFAULT_ROOT = "/sys/class/powercap"

_ZONE_RE = re.compile(r"^intel-rapl:(\d+)$")
_SUBZONE_RE = re.compile(r"^intel-rapl:(\d+):(\d+)$")

#: A generous ceiling on one zone's power, used only to decide how often the sampler must read.
_MAX_PLAUSIBLE_W = 500.0
_MIN_READ_INTERVAL_S = 0.05
_MAX_READ_INTERVAL_S = 60.0
#: Used if a zone has no readable max_energy_range_uj: the smallest range RAPL hardware uses (32 bits of µJ).
_FALLBACK_RANGE_UJ = 2**32

# RAPL counts in units of ~15-61 µJ refreshed every ~1 ms, so resolution is negligible over a
# notebook cell. What matters is calibration: since Haswell the package figure is measured
# rather than modelled and agrees with external meters to within a few percent, so 1% is a
# plain "one-sigma-ish" bound, plus a millijoule so that a zero reading is not claimed exact.
_RELATIVE_UNCERTAINTY = 0.01
_ABSOLUTE_UNCERTAINTY_J = 1e-3


@dataclass
class _Zone:
    domain: str
    label: str
    energy_path: Path
    range_uj: int
    last_uj: int = 0
    #: Integer µJ so that hours of small deltas do not accumulate float rounding.
    total_uj: int = 0


class RaplSensor(Sensor):
    """Cumulative CPU package and DRAM energy, with counter wraps undone."""

    name = "rapl"

    def __init__(self, zones: list[_Zone], root: Path, clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self.root = root
        self._zones = zones
        self._lock = threading.Lock()
        shortest_j = min(z.range_uj for z in zones) / 1e6
        # Two reads per wrap period at an implausibly high power: a wrap is never missed.
        wrap_s = shortest_j / _MAX_PLAUSIBLE_W / 2
        self.max_read_interval_s = min(_MAX_READ_INTERVAL_S, max(_MIN_READ_INTERVAL_S, wrap_s))

    @classmethod
    def open(cls, root: str | os.PathLike | None = None, clock: Callable[[], float] = time.monotonic,
             **_: object) -> RaplSensor:
        """Find the zones under ``root`` (else $LEPTON_LAB_RAPL_ROOT, else /sys/class/powercap)."""
        root_path = Path(root or os.environ.get(ROOT_ENV) or DEFAULT_ROOT)
        sensor = cls(_find_zones(root_path), root_path, clock)
        try:
            sensor._rebase()
        except PermissionError:
            raise SensorUnavailable(_permission_reason(root_path)) from None
        except OSError as exc:
            raise SensorUnavailable(f"RAPL counters under {root_path} cannot be read: {exc}") from None
        return sensor

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(z.domain for z in self._zones)

    def read(self) -> dict[str, DomainReading]:
        with self._lock:
            readings = {}
            for zone in self._zones:
                raw = self._read_raw(zone)
                delta = raw - zone.last_uj
                if delta < 0:  # wrapped once since the last read (reads are frequent enough)
                    delta += zone.range_uj
                zone.total_uj += delta
                zone.last_uj = raw
                readings[zone.domain] = DomainReading(energy_j=zone.total_uj / 1e6)
            return readings

    def begin(self) -> None:
        """New raw baselines: the unread gap since the last cell may hold any number of wraps."""
        with self._lock:
            for zone in self._zones:
                zone.last_uj = self._read_raw(zone)

    def method(self, domain: str) -> str:
        return "rapl"

    def uncertainty_j(self, domain: str, energy_j: float, duration_s: float) -> float:
        return _RELATIVE_UNCERTAINTY * abs(energy_j) + _ABSOLUTE_UNCERTAINTY_J

    def describe(self, domain: str) -> str:
        for zone in self._zones:
            if zone.domain == domain:
                return f"{zone.label} (RAPL)"
        return domain

    # -- internals --------------------------------------------------------------------------
    def _rebase(self) -> None:
        for zone in self._zones:
            zone.last_uj = _read_uj(zone.energy_path)

    def _read_raw(self, zone: _Zone) -> int:
        try:
            return _read_uj(zone.energy_path)
        except PermissionError:
            raise SensorReadError(_permission_reason(self.root)) from None
        except (OSError, ValueError) as exc:
            raise SensorReadError(f"RAPL read of {zone.energy_path} failed: {exc}") from None


def _read_uj(path: Path) -> int:
    # One open/read per call: sysfs regenerates the value on each read from offset 0.
    with open(path, "rb") as handle:
        return int(handle.read().strip())


def _read_name(path: Path) -> str:
    try:
        return (path / "name").read_text().strip()
    except OSError:
        return ""


def _read_range_uj(zone_dir: Path) -> int:
    try:
        value = _read_uj(zone_dir / "max_energy_range_uj")
    except (OSError, ValueError):
        return _FALLBACK_RANGE_UJ
    return value if value > 0 else _FALLBACK_RANGE_UJ


def _zone_dirs(root: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Top-level zones and subzones by directory name (subzones may sit only inside their zone)."""
    zones: dict[str, Path] = {}
    subzones: dict[str, Path] = {}
    for entry in root.iterdir():
        if _ZONE_RE.match(entry.name):
            zones[entry.name] = entry
        elif _SUBZONE_RE.match(entry.name):
            subzones[entry.name] = entry
    for zone in zones.values():
        for entry in zone.iterdir():
            if _SUBZONE_RE.match(entry.name):
                subzones.setdefault(entry.name, entry)
    return zones, subzones


def _find_zones(root: Path) -> list[_Zone]:
    if not root.is_dir():
        raise SensorUnavailable(_not_exposed_reason(root, f"{root} does not exist"))
    try:
        zone_dirs, subzone_dirs = _zone_dirs(root)
    except OSError as exc:
        raise SensorUnavailable(_not_exposed_reason(root, f"{root} cannot be listed ({exc})")) from None
    packages, drams, parent_names = [], [], {}
    for dirname, path in sorted(zone_dirs.items(), key=lambda kv: _indices(kv[0])):
        index, name = _indices(dirname)[0], _read_name(path)
        parent_names[index] = name
        if name.startswith("package-"):
            suffix = name[len("package-"):]
            packages.append(_zone(f"cpu:{name}", f"CPU package {_spaced(suffix)}", path))
        elif name == "dram":  # some platforms put DRAM at the top level
            drams.append(_zone(f"cpu:dram-{index}", f"DRAM {index}", path))
        # psys (platform-wide, overlaps the packages) and unknown names are left out on purpose.
    for dirname, path in sorted(subzone_dirs.items(), key=lambda kv: _indices(kv[0])):
        if _read_name(path) != "dram":
            continue  # core/uncore are inside their package's energy already
        parent = _indices(dirname)[0]
        parent_name = parent_names.get(parent, "")
        suffix = parent_name[len("package-"):] if parent_name.startswith("package-") else str(parent)
        drams.append(_zone(f"cpu:dram-{suffix}", f"DRAM of CPU package {_spaced(suffix)}", path))
    if not packages and not drams:
        raise SensorUnavailable(_not_exposed_reason(root, f"no intel-rapl package zone under {root}"))
    return packages + drams


def _zone(domain: str, label: str, path: Path) -> _Zone:
    return _Zone(domain=domain, label=label, energy_path=path / "energy_uj", range_uj=_read_range_uj(path))


def _indices(dirname: str) -> tuple[int, ...]:
    return tuple(int(part) for part in dirname.split(":")[1:])


def _spaced(suffix: str) -> str:
    """'0-die-1' -> '0 die 1' for labels."""
    return suffix.replace("-", " ")


def _not_exposed_reason(root: Path, what: str) -> str:
    return (
        f"RAPL/powercap is not exposed here ({what}; usual in VMs, containers and on non-Linux): "
        "on bare-metal Linux load the driver with 'sudo modprobe intel_rapl_msr' "
        f"(it pulls in intel_rapl_common), or set {ROOT_ENV} to the powercap folder"
    )


def _permission_reason(root: Path) -> str:
    return (
        "RAPL energy_uj is readable only by root since Linux 5.10 (CVE-2020-8694): "
        f"run 'sudo chmod o+r {root}/intel-rapl:*/energy_uj {root}/intel-rapl:*/*/energy_uj' "
        "(or add a udev rule that does so at boot), or run as root"
    )
