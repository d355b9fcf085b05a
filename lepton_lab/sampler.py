"""Background sampling of energy sensors.

The sampler brackets a piece of work with two exact reads (``start`` and ``stop``) and, in
between, reads every sensor each ``interval_s`` on a daemon thread (:mod:`.ticker`'s, shared by
every sampler of the process). Samples go to a bounded
buffer (for the report and the ledger) and to subscribers (the live plot). It never prints:
read errors are counted and the last one kept for the report.
"""
from __future__ import annotations

import atexit
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import ticker
from .errors import InvalidInput, LeptonError, SensorReadError
from .sensors.base import DomainReading, Reading, Sensor

DEFAULT_INTERVAL_S = 0.1
MIN_INTERVAL_S = 0.005
MAX_INTERVAL_S = 60.0
#: Above this many samples the buffer is halved (every other sample kept): ~2.7 h at 10 Hz.
DEFAULT_MAX_SAMPLES = 100_000
#: A domain whose reads fail this many times in a row is given up: no longer read, its energy
#: counted up to its last good read. Fewer failures are passing faults: counters carry on.
LOST_AFTER_FAILURES = 5

_live_samplers: weakref.WeakSet[Sampler] = weakref.WeakSet()


def validate_interval(value: Any) -> float:
    """Turn user input into a sampling interval in seconds, or raise a one-line InvalidInput."""
    try:
        interval = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"sampling interval '{value}' is not a number: give seconds, e.g. -i 0.1"
        ) from None
    if interval != interval or interval in (float("inf"), float("-inf")):
        raise InvalidInput(f"sampling interval '{value}' is not a finite number: give seconds, e.g. -i 0.1")
    if interval <= 0:
        raise InvalidInput(f"sampling interval must be positive, got {value}: give seconds, e.g. -i 0.1")
    if interval < MIN_INTERVAL_S:
        raise InvalidInput(
            f"sampling interval {value} s is too short: the sensors update every ~0.1 s; "
            f"use at least {MIN_INTERVAL_S} s, e.g. -i 0.1"
        )
    if interval > MAX_INTERVAL_S:
        raise InvalidInput(
            f"sampling interval {value} s is too long for a live view: use at most {MAX_INTERVAL_S:.0f} s, e.g. -i 1"
        )
    return interval


@dataclass(frozen=True)
class Sample:
    """One point of the trace: seconds since start, watts and joules-so-far per domain."""

    t_s: float
    power_w: dict[str, float]
    energy_j: dict[str, float]


@dataclass(frozen=True)
class LostDomain:
    """A domain whose reads kept failing: read until ``last_read_s``, failing from ``since_s``."""

    since_s: float
    last_read_s: float
    error: str


@dataclass
class SamplerResult:
    start: Reading
    end: Reading
    samples: list[Sample]
    read_errors: int = 0
    last_error: str | None = None
    decimation: int = 1
    peak_w: dict[str, float] = field(default_factory=dict)
    lost: dict[str, LostDomain] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end.t_s - self.start.t_s

    def energy_j(self, domain: str) -> float:
        return self.end.domains[domain].energy_j - self.start.domains[domain].energy_j


class Sampler:
    """Reads ``sensors`` every ``interval_s`` on a daemon thread between ``start()`` and ``stop()``."""

    def __init__(
        self,
        sensors: Sequence[Sensor],
        interval_s: float = DEFAULT_INTERVAL_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_samples: int = DEFAULT_MAX_SAMPLES,
    ) -> None:
        if not sensors:
            raise LeptonError("no sensor to sample: call lepton_lab.sensors.discover() first")
        self.sensors = list(sensors)
        self.interval_s = validate_interval(interval_s)
        # RAPL counters wrap: read at least once per wrap period whatever the user asked.
        limits = [s.max_read_interval_s for s in self.sensors if s.max_read_interval_s]
        if limits:
            self.interval_s = min(self.interval_s, min(limits))
        self.clock = clock
        self.max_samples = max(16, int(max_samples))
        self._subscribers: list[Callable[[Sample], None]] = []
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self._looping = False  # read by the sampling thread between start and stop
        # Held over one background read: stop waits for it, not for a thread (re-entrant: a subscriber may stop).
        self._reading = threading.RLock()
        self._samples: list[Sample] = []
        self._decimation = 1
        self._since_kept = 0
        self._peak: dict[str, float] = {}
        self._start: Reading | None = None
        self._previous: Reading | None = None
        self._result: SamplerResult | None = None
        self._last_good: dict[str, tuple[DomainReading, float]] = {}
        self._streak: dict[str, tuple[int, float]] = {}  # domain -> (failures in a row, time of the first)
        self.lost: dict[str, LostDomain] = {}
        self.read_errors = 0
        self.last_error: str | None = None
        self.subscriber_errors = 0

    # -- public API -------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Sample], None]) -> Callable[[], None]:
        """Call ``callback(sample)`` on the sampler thread for each sample; returns an unsubscribe."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    @property
    def running(self) -> bool:
        return self._looping

    def start(self) -> Reading:
        """Exact first read, then join the sampling thread's rounds; returns at once (the first
        sample is due only ``interval_s`` later, so nothing waits for that thread to run)."""
        if self._start is not None:
            raise LeptonError("this Sampler was already started: create a new one per measurement")
        for sensor in self.sensors:
            sensor.begin()
        self._start = self._previous = self._read_all(final=False)
        self._looping = True
        _live_samplers.add(self)
        ticker.add(self)
        return self._start

    def stop(self) -> SamplerResult:
        """Stop the thread, then take the exact final read. Idempotent."""
        if self._result is not None:
            return self._result
        if self._start is None:
            raise LeptonError("this Sampler was never started")
        self._stop_event.set()
        ticker.remove(self)
        with self._reading:  # a read under way ends first; none starts after this
            self._looping = False
        _live_samplers.discard(self)
        _synchronize_accelerators()
        end = self._read_all(final=True)
        with self._lock:
            self._append(end)
            self._result = SamplerResult(
                start=self._start,
                end=end,
                samples=list(self._samples),
                read_errors=self.read_errors,
                last_error=self.last_error,
                decimation=self._decimation,
                peak_w=dict(self._peak),
                lost=dict(self.lost),
            )
        return self._result

    def snapshot(self) -> list[Sample]:
        """A copy of the samples so far (safe from any thread)."""
        with self._lock:
            return list(self._samples)

    # -- internals --------------------------------------------------------------------------
    @property
    def _started(self) -> Reading:
        """The first read; the internals that need it run only after ``start()``."""
        if self._start is None:
            raise LeptonError("this Sampler was never started: call start() first")
        return self._start

    def tick(self) -> bool:
        """On the sampling thread, when due: one read, published; False once there is nothing to read."""
        with self._reading:
            if self._stop_event.is_set():
                return False
            reading = self._read_all(final=False)
            if not reading.domains:
                if len(self.lost) == len(self._started.domains):
                    self._looping = False
                    return False  # every domain is given up: nothing left to read
                return True
            with self._lock:
                sample = self._append(reading)
                subscribers = list(self._subscribers)
            for callback in subscribers:
                try:
                    callback(sample)
                except Exception:  # a broken live view must never stop the measurement
                    self.subscriber_errors += 1
            return True

    def _read_all(self, final: bool) -> Reading:
        """Every domain still read; a failing one is left out (or, at the end, kept at its last
        good value, so the report adds up). The first read of a measurement must succeed."""
        domains: dict[str, DomainReading] = {}
        stamps: list[float] = []
        for sensor in self.sensors:
            live = [d for d in sensor.domains if d not in self.lost]
            if not live:
                continue
            failed: tuple[str, ...] = ()
            try:
                values, stamp = self._timed_read(sensor, retry=final)
            except SensorReadError as exc:
                if self._start is None:
                    raise
                values, stamp = exc.partial, self.clock()
                failed = tuple(d for d in (exc.domains or sensor.domains) if d in live)
                self.read_errors += 1
                self.last_error = str(exc)
            for domain in live:
                if domain in values and domain not in failed:
                    domains[domain] = values[domain]
                    self._last_good[domain] = (values[domain], stamp)
                    self._streak.pop(domain, None)
            if any(d in values for d in live):
                stamps.append(stamp)
            for domain in failed:
                self._note_failure(domain, stamp, final)
        if final:  # a domain given up keeps the energy of its last good read
            for domain in self.lost:
                domains[domain] = self._last_good[domain][0]
        # With every sensor failed, the measurement still ends now.
        return Reading(t_s=sum(stamps) / len(stamps) if stamps else self.clock(), domains=domains)

    def _note_failure(self, domain: str, stamp: float, final: bool) -> None:
        count, first = self._streak.get(domain, (0, stamp))
        self._streak[domain] = (count + 1, first)
        if count + 1 >= LOST_AFTER_FAILURES or final:
            origin = self._started.t_s
            self.lost[domain] = LostDomain(since_s=first - origin, last_read_s=self._last_good[domain][1] - origin,
                                           error=self.last_error or "read failed")

    def _timed_read(self, sensor: Sensor, retry: bool) -> tuple[dict[str, DomainReading], float]:
        """Read one sensor; its stamp is the middle of the read that succeeded.

        The final read matters most (counters are cumulative), so it gets one retry.
        """
        before = self.clock()
        try:
            return sensor.read(), (before + self.clock()) / 2
        except SensorReadError:
            if not retry:
                raise
        time.sleep(0.01)
        before = self.clock()
        return sensor.read(), (before + self.clock()) / 2

    def _append(self, reading: Reading) -> Sample:
        previous, start = self._previous, self._start
        if previous is None or start is None:
            raise LeptonError("this Sampler was never started: call start() first")
        dt = reading.t_s - previous.t_s
        power: dict[str, float] = {}
        energy: dict[str, float] = {}
        for domain, value in reading.domains.items():
            before = previous.domains.get(domain)
            if value.power_w is not None:
                power[domain] = value.power_w
            elif before is not None and dt > 0:
                power[domain] = max(0.0, (value.energy_j - before.energy_j) / dt)
            origin = start.domains.get(domain)
            energy[domain] = value.energy_j - (origin.energy_j if origin else value.energy_j)
            if domain in power and power[domain] > self._peak.get(domain, float("-inf")):
                self._peak[domain] = power[domain]
        sample = Sample(t_s=reading.t_s - start.t_s, power_w=power, energy_j=energy)
        self._previous = reading
        self._since_kept += 1
        if self._since_kept >= self._decimation:
            self._since_kept = 0
            self._samples.append(sample)
            if len(self._samples) >= self.max_samples:
                # Bounded memory for very long cells: halve the resolution of the kept trace.
                self._samples = self._samples[::2]
                self._decimation *= 2
        return sample


def _synchronize_accelerators() -> None:
    """Wait for queued GPU work before the final read, without importing any framework."""
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available() and torch.cuda.is_initialized():
                torch.cuda.synchronize()
        except Exception:
            pass
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        try:
            cupy.cuda.runtime.deviceSynchronize()
        except Exception:
            pass


def active_samplers() -> list[Sampler]:
    """Samplers whose thread is still running (tests use this to catch leaks)."""
    return [s for s in list(_live_samplers) if s.running]


def _stop_all() -> None:
    for sampler in active_samplers():
        try:
            sampler.stop()
        except Exception:
            pass


atexit.register(_stop_all)
