"""The NVML sensor's integration path against an external meter, on the SC'24 A100 data.

The real :class:`~lepton_lab.sensors.nvml.NvmlSensor` (pre-Volta path: no energy counter,
instant power integrated with the trapezoid rule) reads the A100's recorded
``power.draw.instant`` through :class:`.recorded_nvml.RecordedNvml`, at the time of each read
(the latest of its ~14 ms readings). Reads come every sampling interval, as the sampler makes
them, then one at the window's end. The reference is the external meter's energy over the same
window. Used by tests/test_uncertainty.py, benchmarks/uncertainty.py and lesson 05.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..sensors.nvml import INTEGRATION, NvmlSensor
from . import series
from .recorded_nvml import RecordedNvml

TRACE = "a100-square-wave"
WINDOWS_S = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


@dataclass
class WindowStats:
    length_s: float
    windows: int
    median_error_j: float
    p95_error_j: float
    p95_error_relative: float
    median_uncertainty_j: float
    coverage: float  # share of windows whose error the printed uncertainty covers

    @property
    def uncertainty_over_p95(self) -> float:
        return self.median_uncertainty_j / self.p95_error_j


class MeterWindows:
    def __init__(self) -> None:
        self.meter_t, self.meter_w = (np.asarray(v) for v in series(TRACE, "meter_w"))
        self.smi_t, self.smi_w = (np.asarray(v) for v in series(TRACE, "power_draw_instant_w"))
        self.start = max(self.meter_t[0], self.smi_t[0])
        self.end = min(self.meter_t[-1], self.smi_t[-1])
        steps = np.diff(self.meter_t)
        self._cumulative = np.concatenate(([0.0], np.cumsum((self.meter_w[1:] + self.meter_w[:-1]) / 2 * steps)))
        self.now = 0.0
        recorded = RecordedNvml(self.smi_t, self.smi_w, lambda: self.now, name="NVIDIA A100 (recorded, SC'24)")
        self.sensor = NvmlSensor.open(nvml=recorded, clock=lambda: self.now)
        if self.sensor.method("gpu:0") != INTEGRATION:
            raise RuntimeError("the recorded A100 must take the integration path")

    def meter_energy_j(self, a: float, b: float) -> float:
        def energy(x: float) -> float:
            i = int(np.clip(np.searchsorted(self.meter_t, x), 1, len(self.meter_t) - 1))
            t0, t1, w0, w1 = self.meter_t[i - 1], self.meter_t[i], self.meter_w[i - 1], self.meter_w[i]
            w = w0 + (w1 - w0) * (x - t0) / (t1 - t0)
            return float(self._cumulative[i - 1] + (w0 + w) / 2 * (x - t0))
        return energy(b) - energy(a)

    def sensor_energy_j(self, start: float, length: float, interval: float) -> float:
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

    def stats(self, length: float, count: int, seed: int = 0, interval: float = 0.1) -> WindowStats:
        rng = np.random.default_rng(seed)
        errors, uncertainties, energies = [], [], []
        for start in rng.uniform(self.start, self.end - length, count):
            energy = self.sensor_energy_j(start, length, interval)
            errors.append(abs(energy - self.meter_energy_j(start, start + length)))
            uncertainties.append(self.sensor.uncertainty_j("gpu:0", energy, length))
            energies.append(energy)
        err, unc = np.asarray(errors), np.asarray(uncertainties)
        return WindowStats(length, count, float(np.median(err)), float(np.percentile(err, 95)),
                           float(np.percentile(err / np.asarray(energies), 95)), float(np.median(unc)),
                           float(np.mean(err <= unc)))
