"""The narrow interface between hardware and everything above it.

A sensor reports, per *domain* (``gpu:0``, ``cpu:package-0``, ``cpu:dram-0``, ``cpu:estimated``),
the energy in joules accumulated since the sensor was opened, plus the instantaneous power in
watts where the hardware gives it. Vendor units (mW, mJ, µJ) and vendor errors stop here: above
this module everything is SI floats and :mod:`lepton_lab.errors` exceptions.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

# What the numbers of a sensor are, and the words every view uses for them, live in .kinds.
from . import kinds
from .kinds import ESTIMATED, MEASURED, REPLAYED

__all__ = ["ESTIMATED", "MEASURED", "REPLAYED", "Discovery", "DomainReading", "Reading", "Sensor"]

_S = TypeVar("_S", bound="Sensor")


@dataclass(frozen=True)
class DomainReading:
    """One domain at one instant."""

    energy_j: float
    """Energy accumulated over the measured periods since the sensor was opened (time between
    measurements excluded, since ``begin()`` re-bases); monotonic, counter wraps already undone."""
    power_w: float | None = None
    """Instantaneous power where the hardware reports it; None where it must be derived."""


@dataclass(frozen=True)
class Reading:
    """All domains of all sensors at one instant of the sampler's clock."""

    t_s: float
    domains: Mapping[str, DomainReading]


class Sensor(ABC):
    """Base class of every energy source.

    Subclasses set ``name`` and ``kind`` and implement :attr:`domains`, :meth:`read` and
    :meth:`method`, and an ``open`` classmethod that discovery calls as
    ``open(gpus=..., clock=..., reason=...)`` (taking what it needs, ignoring the rest) and that
    raises :class:`~lepton_lab.errors.SensorUnavailable` with the reason and the fix. ``read``
    must be cheap (it runs on the sampler thread several times a second) and must raise only
    :class:`~lepton_lab.errors.SensorReadError` on failure.
    """

    name: str = "sensor"
    kind: str = MEASURED
    #: The sampler reads at least this often (RAPL counters wrap; None means no constraint).
    max_read_interval_s: float | None = None
    #: How often the hardware itself refreshes its energy figure (NVML ≈ 0.1 s), if known.
    update_period_s: float | None = None

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        #: Facts the report must carry (e.g. "MIG: energy is for the whole GPU").
        self.notes: list[str] = []

    @property
    @abstractmethod
    def domains(self) -> tuple[str, ...]:
        """Domain names this sensor reports, e.g. ``("gpu:0", "gpu:1")``."""

    @abstractmethod
    def read(self) -> dict[str, DomainReading]:
        """Cumulative energy (and instant power where available) for every domain."""

    @abstractmethod
    def method(self, domain: str) -> str:
        """How the energy of ``domain`` is obtained, e.g. ``nvml-counter``, ``rapl``, ``estimate``."""

    def begin(self) -> None:  # noqa: B027  (an optional hook: most sensors need nothing here)
        """Called at the start of every measurement, on the caller's thread.

        Sensors kept open between measurements re-synchronise here whatever state assumes regular
        reads (raw counter baselines for wrap detection, the time of the last power sample), so
        that time spent unread between two cells is never misread as wraps or as energy.
        """

    def uncertainty_j(self, domain: str, energy_j: float, duration_s: float) -> float:
        """A one-sigma-ish bound on the error of ``energy_j`` measured over ``duration_s``."""
        return 0.0

    def uncertainty_note(self, domain: str, energy_j: float, duration_s: float) -> str | None:
        """One line for the report: the ± and which of its terms dominates (None: nothing to say)."""
        return None

    def describe(self, domain: str) -> str:
        """Human label for a domain (device model where known)."""
        return domain

    def close(self) -> None:  # noqa: B027  (an optional hook: most sensors hold no handle)
        """Release handles. Idempotent."""

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Discovery:
    """What :func:`lepton_lab.sensors.discover` found, and why the rest were not used."""

    sensors: list[Sensor] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    fallback_reason: str | None = None

    @property
    def is_estimate(self) -> bool:
        return bool(self.sensors) and all(s.kind == ESTIMATED for s in self.sensors)

    def summary(self) -> str:
        """What can be read here, and for everything that cannot, why and how to enable it."""
        lines = []
        for sensor in self.sensors:
            kind = f" [{kinds.badge(sensor.kind)}]" if kinds.badge(sensor.kind) else ""
            for domain in sensor.domains:
                lines.append(f"  ✔ {domain:<16} {sensor.describe(domain)} ({sensor.method(domain)}){kind}")
        for name, why in self.unavailable.items():
            lines.append(f"  ✘ {name:<16} {why}")
        from .registry import REGISTRY

        opened = {s.name for s in self.sensors}
        lines += [f"  ◦ {s.name:<16} {s.hint}" for s in REGISTRY if s.on_request and s.name not in opened]
        if self.fallback_reason:
            lines.append("  → no real sensor: %%energy shows a labelled ESTIMATE (see ✘ lines to enable one)")
        return "\n".join(["lepton_lab sensors:"] + lines)

    def close(self) -> None:
        for sensor in self.sensors:
            sensor.close()
