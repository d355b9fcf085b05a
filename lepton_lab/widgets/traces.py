"""Power traces made small enough to draw: a bounded live buffer and the decimation of a report.

Pure (numpy, no plotting library). A cell of hours at 10 Hz has ~100k samples per domain; a
figure needs ~2k points, and the live view resends them several times a second.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

#: Points per line kept for drawing: enough for a smooth trace, small enough to resend 4× a second.
MAX_POINTS = 2000


class TraceBuffer:
    """A trace that never holds more than ``max_points`` points, whatever the cell's length.

    Samples are averaged in buckets of ``stride`` samples (power is averaged, so the area under the
    line, the energy, is kept; time and cumulative energy are those of the bucket's last sample).
    When the buffer is full, neighbouring points merge pairwise and the stride doubles.
    """

    def __init__(self, domains: Sequence[str], max_points: int = MAX_POINTS):
        self.domains = list(domains)
        self.max_points = max(8, int(max_points))
        self.stride = 1
        self.t: list[float] = []
        self.energy: list[float] = []
        self.power: dict[str, list[float]] = {d: [] for d in self.domains}
        self._last_w = dict.fromkeys(self.domains, 0.0)
        self._bucket: dict[str, float] = {}
        self._count = 0
        self._bucket_t = self._bucket_e = 0.0

    def add(self, t_s: float, power_w: Mapping[str, float], energy_j: float) -> None:
        for domain in self.domains:
            watts = power_w.get(domain)
            if watts is not None and math.isfinite(watts):
                self._last_w[domain] = watts  # a domain missing from one sample keeps its last value
            self._bucket[domain] = self._bucket.get(domain, 0.0) + self._last_w[domain]
        self._count += 1
        self._bucket_t, self._bucket_e = t_s, energy_j
        if self._count >= self.stride:
            self._push_bucket()

    def _push_bucket(self) -> None:
        self.t.append(self._bucket_t)
        self.energy.append(self._bucket_e)
        for domain in self.domains:
            self.power[domain].append(self._bucket.get(domain, 0.0) / self._count)
        self._bucket, self._count = {}, 0
        if len(self.t) > self.max_points:
            self._halve()

    def _halve(self) -> None:
        # Keep an odd last point as it is: it is the most recent one, which the live header shows.
        self.t = self.t[1::2] + ([self.t[-1]] if len(self.t) % 2 else [])
        self.energy = self.energy[1::2] + ([self.energy[-1]] if len(self.energy) % 2 else [])
        for domain, values in self.power.items():
            pairs = [(a + b) / 2 for a, b in zip(values[0::2], values[1::2])]
            self.power[domain] = pairs + ([values[-1]] if len(values) % 2 else [])
        self.stride *= 2

    def __len__(self) -> int:
        return len(self.t) + (1 if self._count else 0)

    def arrays(self) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Time, power per domain and cumulative energy, the unfinished bucket included."""
        t, energy = list(self.t), list(self.energy)
        power = {d: list(v) for d, v in self.power.items()}
        if self._count:
            t.append(self._bucket_t)
            energy.append(self._bucket_e)
            for domain in self.domains:
                power[domain].append(self._bucket.get(domain, 0.0) / self._count)
        return (np.asarray(t, dtype=float), {d: np.asarray(v, dtype=float) for d, v in power.items()},
                np.asarray(energy, dtype=float))


def decimate_trace(trace: Mapping, domains: Sequence[str], total_j: float | None,
                   max_points: int = MAX_POINTS):
    """A report's trace as (t, power per domain, cumulative energy), at most ``max_points`` long.

    The cumulative energy is integrated from the full trace (each sample's power over the interval
    that ends at it) before decimating, then scaled to the report's exact counter total.
    """
    t = np.asarray(trace.get("t_s") or [], dtype=float)
    watts = trace.get("power_w") or {}
    power = {d: _fit(np.asarray(watts.get(d) or [], dtype=float), len(t)) for d in domains}
    total_w = sum(power.values()) if power else np.zeros(len(t))
    steps = np.diff(np.concatenate(([0.0], t))) if len(t) else t
    energy = np.cumsum(total_w * np.clip(steps, 0, None))
    if total_j is not None and len(energy) and energy[-1] > 0 and total_j > 0:
        energy = energy * (total_j / energy[-1])
    stride = max(1, math.ceil(len(t) / max_points))
    if stride == 1:
        return t, power, energy
    last = np.arange(stride - 1, len(t) + stride - 1, stride).clip(max=len(t) - 1)
    return t[last], {d: _bucket_means(p, stride) for d, p in power.items()}, energy[last]


def from_origin(t: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative energy starts at (0 s, 0 J), before the first sample."""
    if not len(t) or t[0] <= 0:
        return np.asarray(t, dtype=float), np.asarray(energy, dtype=float)
    return np.concatenate(([0.0], t)), np.concatenate(([0.0], energy))


def _fit(values: np.ndarray, length: int) -> np.ndarray:
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    if len(values) >= length:
        return values[:length]
    return np.concatenate((values, np.zeros(length - len(values))))


def _bucket_means(values: np.ndarray, stride: int) -> np.ndarray:
    sums = np.add.reduceat(values, np.arange(0, len(values), stride))
    counts = np.diff(np.append(np.arange(0, len(values), stride), len(values)))
    return sums / counts
