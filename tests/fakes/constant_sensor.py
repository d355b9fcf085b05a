"""A throwaway sensor written by following CONTRIBUTING.md ("Adding a sensor"), used by
tests/test_contributing.py to check those steps: a wall-socket meter that reads 42 W."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lepton_lab.sensors.base import DomainReading, Sensor
from lepton_lab.sensors.kinds import MEASURED

WATTS = 42.0


class ConstantSensor(Sensor):
    name = "constant"
    kind = MEASURED
    update_period_s = 0.001

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self.t0 = clock()

    @classmethod
    def open(cls, gpus: Any = None, clock: Callable[[], float] = time.monotonic, reason: Any = None,
             **_: object) -> ConstantSensor:
        return cls(clock)

    @property
    def domains(self) -> tuple[str, ...]:
        return ("psu:0",)

    def read(self) -> dict[str, DomainReading]:
        return {"psu:0": DomainReading(WATTS * (self.clock() - self.t0), WATTS)}

    def method(self, domain: str) -> str:
        return "constant-meter"

    def describe(self, domain: str) -> str:
        return "power supply (a 42 W test meter)"
