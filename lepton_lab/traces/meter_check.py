"""The NVML sensor and its printed ± against an external meter: :func:`check_against_meter`.

The real :class:`~lepton_lab.sensors.nvml.NvmlSensor` reads a GPU's recorded on-board power
through :class:`.recorded_nvml.RecordedNvml`, at the time of each read (the latest recorded
reading), as the sampler would: once at the window's start, every ``interval_s``, and once at its
end. Its energy and the ± it prints (from the GPU's row in
:mod:`lepton_lab.sensors.gpu_models`) are compared with the meter's energy over the same window.
Used by tests/test_uncertainty.py, benchmarks/uncertainty.py and lesson 05; users with their own
meter check their GPU with it.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InvalidInput
from ..sensors import gpu_models
from ..sensors.nvml import COUNTER, INTEGRATION, NvmlSensor
from .recorded_nvml import RecordedNvml
from .store import info, series

TRACE = "a100-square-wave"
WINDOWS_S = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


@dataclass
class WindowStats:
    """How the printed ± did over the windows of one length."""

    length_s: float
    windows: int
    coverage: float
    """Share of windows whose |error| against the meter is within the printed ±."""
    p95_error_relative: float
    """95th percentile of |sensed − meter| / meter energy."""
    median_uncertainty_relative: float
    """Median of printed ± / meter energy."""
    uncertainty_over_p95: float
    """Median printed ± over the 95th percentile |error| (both in J): 1-2 is tight and covering."""
    median_error_j: float
    p95_error_j: float
    median_uncertainty_j: float


def _series(name: str, pair: Any) -> tuple[np.ndarray, np.ndarray]:
    try:
        t, w = (np.asarray(v, dtype=float) for v in pair)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be (times_s, watts): two sequences of numbers") from None
    if t.ndim != 1 or t.shape != w.shape or len(t) < 2:
        raise InvalidInput(f"{name} must be (times_s, watts) of equal length, at least two readings each")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(w))):
        raise InvalidInput(f"{name} has non-finite times or watts (NaN or inf): drop those readings first")
    if np.any(np.diff(t) < 0):
        raise InvalidInput(f"{name}'s times are not sorted: sort the readings by time first")
    return t, w


class MeterWindows:
    """A recorded on-board series and a meter on the same clock, and windows over where both ran."""

    def __init__(self, onboard: Any, meter: Any, *, gpu: str, field: str = gpu_models.INSTANT,
                 counter: bool = False):
        self.field = gpu_models.check_field(field)
        self.smi_t, self.smi_w = _series("onboard", onboard)
        self.meter_t, self.meter_w = _series("meter", meter)
        self.start = max(self.meter_t[0], self.smi_t[0])
        self.end = min(self.meter_t[-1], self.smi_t[-1])
        if self.end <= self.start:
            raise InvalidInput("the on-board and meter series do not overlap in time: put both on one clock "
                               f"(onboard {self.smi_t[0]:.3f}-{self.smi_t[-1]:.3f} s, meter "
                               f"{self.meter_t[0]:.3f}-{self.meter_t[-1]:.3f} s)")
        steps = np.diff(self.meter_t)
        self._cumulative = np.concatenate(([0.0], np.cumsum((self.meter_w[1:] + self.meter_w[:-1]) / 2 * steps)))
        self.now = 0.0
        recorded = RecordedNvml(self.smi_t, self.smi_w, lambda: self.now, name=gpu, field=self.field,
                                counter=counter)
        self.sensor = NvmlSensor.open(nvml=recorded, clock=lambda: self.now)
        if self.sensor.method("gpu:0") != (COUNTER if counter else INTEGRATION):
            raise RuntimeError("the recorded GPU took the wrong NVML path")

    @classmethod
    def shipped(cls, trace: str = TRACE, column: str = "power_draw_instant_w") -> MeterWindows:
        """The shipped SC'24 recording (meter and nvidia-smi) of ``trace``."""
        field = gpu_models.INSTANT if "instant" in column else gpu_models.USAGE
        return cls(series(trace, column), series(trace, "meter_w"), gpu=info(trace)["nvml_name"], field=field)

    def meter_energy_j(self, a: float, b: float) -> float:
        def energy(x: float) -> float:
            i = int(np.clip(np.searchsorted(self.meter_t, x), 1, len(self.meter_t) - 1))
            t0, t1, w0, w1 = self.meter_t[i - 1], self.meter_t[i], self.meter_w[i - 1], self.meter_w[i]
            w = w0 + (w1 - w0) * (x - t0) / (t1 - t0) if t1 > t0 else w0
            return float(self._cumulative[i - 1] + (w0 + w) / 2 * (x - t0))
        return energy(b) - energy(a)

    def sensor_energy_j(self, start: float, length: float, interval: float) -> float:
        """What the sensor path computes over [start, start + length], read every ``interval``."""
        self.now = start
        self.sensor.begin()
        first = self.sensor.read()["gpu:0"].energy_j
        t = start
        while t + interval < start + length:
            t += interval
            self.now = t
            self.sensor.read()
        self.now = start + length
        return self.sensor.read()["gpu:0"].energy_j - first

    def window(self, start: float, length: float, interval: float) -> tuple[float, float, float]:
        """(sensed energy, meter energy, printed ±) of one window."""
        energy = self.sensor_energy_j(start, length, interval)
        return energy, self.meter_energy_j(start, start + length), self.sensor.uncertainty_j("gpu:0", energy, length)

    def stats(self, length: float, count: int = 2000, seed: int = 0, interval: float = 0.1,
              starts: Iterable[float] | None = None) -> WindowStats:
        if starts is None:
            if self.end - self.start < length:
                raise InvalidInput(f"the series overlap for {self.end - self.start:.2f} s, shorter than a "
                                   f"{length:g} s window: drop that length or record longer")
            chosen = np.random.default_rng(seed).uniform(self.start, self.end - length, count)
        else:
            chosen = np.asarray(list(starts), dtype=float)
        spacing = float(np.median(np.diff(self.smi_t)))
        if length < 2 * spacing:  # a typical window (a gap in one is fine: the sensor holds its last reading)
            raise InvalidInput(f"a {length:g} s window holds fewer than two on-board readings (they are "
                               f"{spacing:.3g} s apart): use windows of {2 * spacing:.2g} s or more, or read "
                               "the GPU more often")
        rows = []
        for start in chosen:
            if start < self.start or start + length > self.end:
                raise InvalidInput(f"a {length:g} s window from {start:.3f} s leaves the overlap "
                                   f"{self.start:.3f}-{self.end:.3f} s: choose starts inside it")
            rows.append(self.window(start, length, interval))
        return _summary(length, np.asarray(rows).reshape(-1, 3))


def _summary(length: float, rows: np.ndarray) -> WindowStats:
    sensed, truth, printed = rows[:, 0], rows[:, 1], rows[:, 2]
    errors = np.abs(sensed - truth)
    scale = np.where(np.abs(truth) > 0, np.abs(truth), np.nan)
    p95 = float(np.percentile(errors, 95))
    median_u = float(np.median(printed))
    return WindowStats(length, len(rows), float(np.mean(errors <= printed)),
                       float(np.nanpercentile(errors / scale, 95)), float(np.nanmedian(printed / scale)),
                       median_u / p95 if p95 > 0 else float("inf"),
                       float(np.median(errors)), p95, median_u)


def check_against_meter(onboard: Sequence[Any], meter: Sequence[Any], *, gpu: str, field: str = "instant",
                        windows_s: Sequence[float] = WINDOWS_S, count: int = 2000, seed: int = 0,
                        starts: Iterable[float] | None = None, interval_s: float = 0.1,
                        counter: bool = False) -> list[WindowStats]:
    """Run lepton_lab's NVML sensor on recorded on-board readings and compare it with a meter.

    ``onboard`` and ``meter`` are ``(times_s, watts)`` on one clock; ``gpu`` the name NVML reports
    (it picks the sensor model that sets the ±); ``field`` which NVML reading ``onboard`` is:
    ``"instant"`` (nvidia-smi ``power.draw.instant``) or ``"usage"`` (``nvmlDeviceGetPowerUsage``,
    nvidia-smi ``power.draw``). For each length in ``windows_s``: ``count`` random windows over the
    overlap (or one window from each of ``starts``), read every ``interval_s`` as the sampler does.
    ``counter=True`` runs the energy-counter path (Volta and newer) on a counter synthesised from
    the readings: what lepton_lab assumes the counter to be, not a recording of it.
    """
    if not isinstance(gpu, str) or not gpu.strip():
        raise InvalidInput("gpu must be the name NVML reports, e.g. 'NVIDIA GeForce RTX 4090'")
    if count < 1 or interval_s <= 0:
        raise InvalidInput("count must be at least 1 and interval_s above 0 s")
    windows = MeterWindows(onboard, meter, gpu=gpu, field=field, counter=counter)
    chosen = None if starts is None else list(starts)
    return [windows.stats(float(length), count, seed, interval_s, chosen) for length in windows_s]
