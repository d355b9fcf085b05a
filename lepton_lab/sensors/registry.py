"""Every kind of sensor lepton_lab can read, in the order discovery tries them.

A new sensor is one module in this package (a :class:`~.base.Sensor` subclass with an ``open``
classmethod) and one line in :data:`REGISTRY`; discovery, ``--sensors``, ``measure(sensors=...)``
and ``lepton-lab sensors`` all read this table. CONTRIBUTING.md walks through it.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SensorType:
    """``name`` as users type it; ``module`` and ``cls`` locate the class (loaded on first use).

    ``fallback``: used only where nothing else can be read, or when asked for by name (the
    estimate). ``on_request``: never tried by default, only when its option asks for it (the
    replay, with ``--replay NAME``); ``hint`` says how, in ``lepton-lab sensors``.
    ``takes_gpus``: honours ``--gpus``.
    """

    name: str
    module: str
    cls: str
    fallback: bool = False
    takes_gpus: bool = False
    on_request: bool = False
    hint: str = ""

    def load(self) -> Any:
        """The sensor class (its module is imported now: NVML and friends stay unloaded until then)."""
        module = importlib.import_module(self.module, __package__)
        return getattr(module, self.cls)


REGISTRY: list[SensorType] = [
    SensorType("nvml", ".nvml", "NvmlSensor", takes_gpus=True),
    SensorType("rapl", ".rapl", "RaplSensor"),
    SensorType("replay", ".replay", "ReplaySensor", on_request=True,
               hint="plays a recorded real GPU trace, labelled REPLAYED: --replay NAME (lepton_lab.traces.names())"),
    SensorType("estimate", ".estimate", "EstimateSensor", fallback=True),
]


def register(sensor: SensorType) -> None:
    """Add a sensor type at run time (a plugin, a test), replacing a namesake: a real sensor goes
    after the real ones, before those read only on request and the fallback."""
    REGISTRY[:] = [s for s in REGISTRY if s.name != sensor.name]
    position = next((i for i, s in enumerate(REGISTRY) if s.fallback or s.on_request), len(REGISTRY))
    REGISTRY.insert(len(REGISTRY) if sensor.fallback or sensor.on_request else position, sensor)


def unregister(name: str) -> None:
    REGISTRY[:] = [s for s in REGISTRY if s.name != name]


def find(name: str) -> SensorType | None:
    return next((s for s in REGISTRY if s.name == name), None)
