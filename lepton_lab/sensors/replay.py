"""A recorded real GPU trace played back as if a GPU were drawing it now (``--replay NAME``).

For workshops without GPUs, and as realistic input for tests: the measurement starts the trace
at its beginning and plays it in real time, looping when the cell outlasts it. The energy is the
exact integral of the trace's power (straight lines between its samples) over the cell's time;
the live watts are the trace's watts at that instant. Everything about it says REPLAYED and
names the trace: it is someone else's GPU, recorded elsewhere, not this machine.

Its ± is the one the recording's own sensor implies: a trace of on-board readings gets the ±
of that GPU's row in :mod:`.gpu_models` (from the powers played, as a live GPU would); a trace
of an external meter gets the meter's (:data:`METER_RELATIVE`).
"""
from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable
from typing import Any

from .. import traces
from ..errors import SensorUnavailable
from . import gpu_models
from .base import DomainReading, Sensor
from .kinds import REPLAYED

#: A recorded external meter (the SC'24 PMD) publishes no accuracy: 2 % of the energy is assumed,
#: the class of a shunt-and-ADC board meter, and the note says it is assumed.
METER_RELATIVE = 0.02


class TracePlayer:
    """Power and cumulative energy of a trace at any time since it started, looping.

    One loop lasts the trace's span plus one median sample step, the last step running back to
    the first sample, so that a loop of a steady trace is as long as the trace itself."""

    def __init__(self, times: list[float], watts: list[float]):
        if len(times) < 2:
            raise SensorUnavailable("a trace needs at least two samples to be replayed")
        steps = sorted(b - a for a, b in itertools.pairwise(times))
        origin = times[0]
        self.times = [t - origin for t in times] + [times[-1] - origin + steps[len(steps) // 2]]
        self.watts = [*watts, watts[0]]
        self.period_s = self.times[-1]
        self._cumulative = [0.0]
        for i in range(1, len(self.times)):
            dt = self.times[i] - self.times[i - 1]
            self._cumulative.append(self._cumulative[-1] + (self.watts[i] + self.watts[i - 1]) / 2 * dt)
        self.loop_energy_j = self._cumulative[-1]

    def _within(self, t: float) -> tuple[float, float]:
        """(power at t, energy from 0 to t) for 0 <= t <= one loop."""
        i = max(1, min(bisect.bisect_right(self.times, t), len(self.times) - 1))
        t0, t1, w0, w1 = self.times[i - 1], self.times[i], self.watts[i - 1], self.watts[i]
        share = (t - t0) / (t1 - t0) if t1 > t0 else 0.0
        power = w0 + (w1 - w0) * share
        return power, self._cumulative[i - 1] + (w0 + power) / 2 * (t - t0)

    def at(self, elapsed_s: float) -> tuple[float, float]:
        """(watts, joules since the start) after ``elapsed_s`` seconds of playing."""
        loops, rest = divmod(max(0.0, elapsed_s), self.period_s)
        power, energy = self._within(rest)
        return power, loops * self.loop_energy_j + energy


class ReplaySensor(Sensor):
    """One GPU domain (``gpu:replay-h100``) whose power is a recorded trace, played from the start."""

    name = "replay"
    kind = REPLAYED

    def __init__(self, trace: str, clock: Callable[[], float] = time.monotonic):
        super().__init__(clock)
        self.trace = trace
        self.info = traces.info(trace)
        self.player = TracePlayer(*traces.series(trace))
        self.domain = f"gpu:replay-{self.info['gpu'].lower()}"
        self.meter = str(self.info["replay_column"]).startswith("meter")
        self.model = gpu_models.lookup(str(self.info.get("nvml_name", self.info["gpu"])))
        self.seen = gpu_models.Seen()
        self.notes.append(
            f"REPLAYED from {self.info['source']} ({self.info['license']}): {self.info['title']}; a recorded "
            "trace played in real time, not a measurement of this machine")
        self._started = clock()

    @classmethod
    def open(cls, gpus: Any = None, clock: Callable[[], float] = time.monotonic, reason: Any = None,
             trace: str | None = None, **_: object) -> ReplaySensor:
        if not trace:
            raise SensorUnavailable("the replay sensor plays a recorded trace: choose one with --replay NAME "
                                    f"({', '.join(traces.names())})")
        return cls(traces.check_name(trace), clock)

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.domain,)

    def begin(self) -> None:
        self._started = self.clock()  # each measurement plays the trace from its start
        self.seen = gpu_models.Seen()

    def read(self) -> dict[str, DomainReading]:
        power, energy = self.player.at(self.clock() - self._started)
        self.seen.add(power)
        return {self.domain: DomainReading(energy, power)}

    def uncertainty(self, energy_j: float, duration_s: float) -> gpu_models.Estimate:
        if self.meter:
            return gpu_models.Estimate(energy_j, duration_s, {"meter": METER_RELATIVE * abs(energy_j)},
                                       METER_RELATIVE * abs(energy_j))
        return gpu_models.estimate(self.model, gpu_models.INSTANT, energy_j, duration_s, self.seen.powers_w)

    def uncertainty_j(self, domain: str, energy_j: float, duration_s: float) -> float:
        return self.uncertainty(energy_j, duration_s).total_j

    def uncertainty_note(self, domain: str, energy_j: float, duration_s: float) -> str:
        whose = ("the recording's external meter" if self.meter
                 else f"the recording's own {self.info['gpu']} sensor ({self.model.family})")
        return f"{self.uncertainty(energy_j, duration_s).note(domain)}, from {whose}"

    def method(self, domain: str) -> str:
        return f"replay:{self.trace}"

    def describe(self, domain: str) -> str:
        return f"{self.info['gpu']} replayed from {self.trace}"
