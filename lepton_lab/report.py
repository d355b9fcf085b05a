"""EnergyReport: what one measurement found, with its uncertainty, carbon and display.

A report is plain data (``to_dict``/``from_dict`` round-trip through JSON for the ledger) plus
text and HTML renderings. Anything that is not a measurement (an estimate, a replay) says so in
every rendering.
"""
from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import units
from .sensors import kinds
from .sensors.kinds import MEASURED

if TYPE_CHECKING:
    from .widgets.static import StaticFigure

STATUSES = ("ok", "error", "interrupted")
SCHEMA = 3  # 2: attribution (machine and process energy per domain); 3: hosts (--dask)


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` without its deep copy of every number and string (immutable anyway):
    a fifth of its cost, and every ``measure()`` stores one report."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    return value


def status_for(error: BaseException | None) -> str:
    """The status of work that ended with ``error`` (None: it succeeded)."""
    if error is None:
        return "ok"
    return "interrupted" if isinstance(error, KeyboardInterrupt) else "error"


@dataclass
class DomainEnergy:
    """Energy of one domain (``gpu:0``, ``cpu:package-0``, ...) over the measurement."""

    energy_j: float
    mean_w: float
    peak_w: float | None
    method: str
    kind: str = MEASURED
    uncertainty_j: float = 0.0
    label: str = ""
    idle_w: float | None = None
    """Idle power measured by ``--baseline`` before the work, if asked for."""
    net_energy_j: float | None = None
    """``energy_j`` minus idle power × duration, if a baseline was measured."""
    read_until_s: float | None = None
    """Set when the domain's reads kept failing: its energy covers only this many seconds."""
    machine_energy_j: float | None = None
    """Everything the sensor saw (None in reports older than attribution: then ``energy_j``)."""
    process_energy_j: float | None = None
    """This kernel's share of the dynamic energy (plus charged idle); None where not attributable."""
    share: float | None = None
    """This kernel's part of the dynamic energy, 0..1."""
    idle_energy_j: float | None = None
    """Idle power × duration taken off before the split (0 where idle is not known)."""

    @property
    def machine_j(self) -> float:
        return self.energy_j if self.machine_energy_j is None else self.machine_energy_j


@dataclass
class CarbonInfo:
    region: str
    region_name: str
    g_per_kwh: float
    year: int | None
    source: str
    pue: float = 1.0

    def describe(self) -> str:
        year = f", {self.year}" if self.year else ""
        return (
            f"{self.region_name} ({self.region}) {self.g_per_kwh:.0f} gCO2e/kWh{year}, "
            f"{self.source}; PUE {self.pue:.2f}"
        )


@dataclass
class AttributionInfo:
    """Whose energy ``energy_j`` is (see :mod:`lepton_lab.attribution`), and why."""

    asked: str
    """The ``--attribute`` given: auto, machine or process."""
    view: str
    """The view shown: machine or process."""
    why: str
    """Why that view, for the summary's first line."""
    idle: str
    """Where the idle power came from, in words."""
    other_load: dict[str, float] = field(default_factory=dict)
    """Per domain, the part of its capacity other processes used."""
    process_cpu_s: float | None = None
    busy_cpu_s: float | None = None
    idle_sessions: int | None = None
    """With --charge-idle: among how many measured sessions the idle energy was split."""


@dataclass
class EnergyReport:
    label: str
    status: str
    started_at: str
    duration_s: float
    domains: dict[str, DomainEnergy]
    carbon: CarbonInfo | None = None
    interval_s: float | None = None
    notes: list[str] = field(default_factory=list)
    """How it was measured (the sensors, the estimate's model): true of every run on this machine."""
    warnings: list[str] = field(default_factory=list)
    """What limits this run's numbers: too short, a domain whose reads failed, a decimated trace."""
    error: str | None = None
    baseline_s: float | None = None
    read_errors: int = 0
    trace: dict[str, Any] = field(default_factory=lambda: {"t_s": [], "power_w": {}})
    host: str = ""
    uid: str = ""
    """Unique id of the measurement (a ledger stores each uid once)."""
    attribution: AttributionInfo | None = None
    hosts: dict[str, dict[str, Any]] | None = None
    """A cluster measurement (``--dask``): host id → energy_j, status (ok, lost, joined), methods,
    workers. Its domains are then named ``HOST/DOMAIN``. None for one machine."""
    id: int | None = None
    saved: bool = False

    # -- totals ---------------------------------------------------------------------------
    @property
    def energy_j(self) -> float:
        return float(sum(d.energy_j for d in self.domains.values()))

    @property
    def machine_energy_j(self) -> float:
        """Everything the sensors saw, whichever view ``energy_j`` shows."""
        return float(sum(d.machine_j for d in self.domains.values()))

    @property
    def process_energy_j(self) -> float | None:
        """This kernel's share, where every domain could be attributed; else None."""
        return _sum_of_all([d.process_energy_j for d in self.domains.values()])

    @property
    def host_count(self) -> int:
        return len(self.hosts) if self.hosts else 1

    @property
    def view(self) -> str:
        return self.attribution.view if self.attribution else "machine"

    @property
    def energy_wh(self) -> float:
        return units.j_to_wh(self.energy_j)

    @property
    def net_energy_j(self) -> float | None:
        return _sum_of_all([d.net_energy_j for d in self.domains.values()])

    @property
    def uncertainty_j(self) -> float:
        return math.sqrt(sum(d.uncertainty_j ** 2 for d in self.domains.values()))

    @property
    def mean_w(self) -> float:
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def peak_w(self) -> float | None:
        """Peak of the summed trace (what the wall socket saw), else the sum of per-domain peaks."""
        powers: dict[str, list[float]] = self.trace.get("power_w") or {}
        names = list(powers) if self.hosts else list(self.domains)  # a cluster's trace has a line per host
        series = [powers[d] for d in names if powers.get(d)]
        if series and len(series) == len(names):
            length = min(len(s) for s in series)
            if length:
                return max(sum(s[i] for s in series) for i in range(length))
        peaks = [d.peak_w for d in self.domains.values() if d.peak_w is not None]
        return float(sum(peaks)) if peaks else None

    @property
    def co2e_g(self) -> float | None:
        if self.carbon is None:
            return None
        return units.j_to_kwh(self.energy_j) * self.carbon.pue * self.carbon.g_per_kwh

    @property
    def kind(self) -> str:
        """'measured', 'estimated', 'replayed', or 'partly estimated' when sources are mixed."""
        return kinds.combined(d.kind for d in self.domains.values())

    @property
    def replayed_from(self) -> str:
        """The recorded traces a replayed domain played (names, comma-separated), else ''."""
        return ", ".join(sorted({d.method.removeprefix("replay:") for d in self.domains.values()
                                 if d.method.startswith("replay:")}))

    @property
    def is_measurement(self) -> bool:
        return kinds.is_measurement(self.kind)

    @property
    def methods(self) -> str:
        return ",".join(sorted({d.method for d in self.domains.values()}))

    @property
    def samples(self) -> Any:  # a pandas DataFrame: pandas is optional, and has no type hints of its own
        """The power trace as a pandas DataFrame: ``t_s`` then watts per domain."""
        from .errors import require

        pd = require("pandas", "data", "report.samples")
        columns = {"t_s": list(self.trace.get("t_s", []))}
        for domain, watts in (self.trace.get("power_w") or {}).items():
            columns[f"{domain} W"] = list(watts)
        return pd.DataFrame(columns)

    # -- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = _plain(self)
        data["schema"] = SCHEMA
        data["energy_j"] = self.energy_j
        data["co2e_g"] = self.co2e_g
        data["kind"] = self.kind
        data["machine_energy_j"] = self.machine_energy_j
        data["process_energy_j"] = self.process_energy_j
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EnergyReport:
        from .errors import InvalidInput

        try:
            domains = {name: DomainEnergy(**values) for name, values in data["domains"].items()}
            carbon = CarbonInfo(**data["carbon"]) if data.get("carbon") else None
            attribution = AttributionInfo(**data["attribution"]) if data.get("attribution") else None
            fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(
                f"not a lepton_lab report ({exc}): pass a dict made by EnergyReport.to_dict()"
            ) from None
        fields.update(domains=domains, carbon=carbon, attribution=attribution)
        return cls(**fields)

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the report as JSON (what the what-if apps accept as an upload); returns the path."""
        from .errors import InvalidInput

        target = os.fspath(path)
        try:
            with open(target, "w", encoding="utf-8") as handle:
                json.dump(self.to_dict(), handle)
        except OSError as exc:
            raise InvalidInput(
                f"cannot write the report to {target} ({exc.strerror}): choose a writable path") from None
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EnergyReport:
        """Read a report written by :meth:`save` (or ``lepton-lab export``)."""
        from .errors import InvalidInput

        source = os.fspath(path)
        try:
            with open(source, encoding="utf-8") as handle:
                data = json.load(handle)
        except OSError as exc:
            raise InvalidInput(f"cannot read {source} ({exc.strerror})") from None
        except ValueError:
            raise InvalidInput(f"{source} is not JSON: save reports with report.save(path)") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{source} is not a lepton_lab report: save reports with report.save(path)")
        return cls.from_dict(data)

    # -- display --------------------------------------------------------------------------
    def headline(self) -> str:
        """One line: label, energy, power, duration, and what kind of numbers these are."""
        kind = f" [{kinds.badge(self.kind)}]" if kinds.badge(self.kind) else ""
        status = "" if self.status == "ok" else f" ({self.status})"
        return (
            f"{self.label or 'measurement'}{status}: {units.format_energy(self.energy_j)} "
            f"({units.format_wh(self.energy_j)}) in {units.format_duration(self.duration_s)}, "
            f"avg {units.format_power(self.mean_w)}{kind}"
        )

    def __str__(self) -> str:
        from .report_render import render_text

        return render_text(self)

    def _repr_html_(self) -> str:
        from .report_render import render_html

        return render_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def __repr__(self) -> str:
        return f"<EnergyReport {html.escape(self.headline(), quote=False)}>"

    def plot(self) -> StaticFigure:
        """Redraw this report's power trace as a static figure (numpy, the ``data`` extra; its
        ``.widget``, the interactive version, needs the ``lab`` extra)."""
        from .errors import require

        require("numpy", "data", "report.plot()")
        from .widgets.static import report_figure

        return report_figure(self)


def _sum_of_all(parts: list[float | None]) -> float | None:
    """The sum where every domain has the figure; None where any lacks it (a partial sum would mislead)."""
    if not parts or any(p is None for p in parts):
        return None
    return float(sum(p for p in parts if p is not None))
