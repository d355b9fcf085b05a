"""Energy sensors and their discovery.

``discover()`` opens every sensor it can and says, for each one it could not open, why, in one
line that tells how to enable it. Where no real sensor can be read it falls back to the
clearly labelled CPU estimate.
"""
from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable, Iterable

from ..errors import InvalidInput, SensorUnavailable
from . import registry
from .base import ESTIMATED, MEASURED, REPLAYED, Discovery, DomainReading, Reading, Sensor

__all__ = [
    "ESTIMATED",
    "MEASURED",
    "REPLAYED",
    "Discovery",
    "DomainReading",
    "Reading",
    "Sensor",
    "close_cached",
    "discover",
    "parse_gpu_indices",
    "parse_sensor_names",
    "sensor_names",
]

_cache: dict[tuple, Discovery] = {}
_cache_lock = threading.Lock()
#: The settings that change what discovery finds: a cached discovery serves only the same ones.
_SETTINGS = ("LEPTON_LAB_RAPL_ROOT", "CUDA_VISIBLE_DEVICES", "LEPTON_LAB_CPU_TDP_W")


def sensor_names() -> tuple[str, ...]:
    """Every sensor ``--sensors`` accepts, real ones first (see :mod:`.registry`)."""
    return tuple(s.name for s in registry.REGISTRY)


def parse_sensor_names(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """'nvml,rapl' -> ('nvml', 'rapl'); None stays None (meaning: whatever is available)."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(str(item).strip().lower() for item in items if str(item).strip()))
    known = sensor_names()
    if not names:
        raise InvalidInput(f"no sensor named: choose one or more of {', '.join(known)}")
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(
            f"unknown sensor '{unknown[0]}': choose from {', '.join(known)} "
            "(comma-separated, e.g. --sensors nvml,rapl)"
        )
    return names


def parse_gpu_indices(value: str | Iterable[int] | None) -> tuple[int, ...] | None:
    """'0,1' -> (0, 1). Indices are positions among the GPUs visible to this process."""
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    indices = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            index = int(text)
        except ValueError:
            raise InvalidInput(f"GPU index '{text}' is not a whole number: use e.g. --gpus 0,1") from None
        if index < 0:
            raise InvalidInput(f"GPU index {index} is negative: use 0 for the first visible GPU")
        indices.append(index)
    if not indices:
        raise InvalidInput("no GPU index given: use e.g. --gpus 0 or leave --gpus out for all GPUs")
    return tuple(dict.fromkeys(indices))


def _open(name: str, gpus: tuple[int, ...] | None, clock: Callable[[], float], reason: str | None,
          trace: str | None = None) -> Sensor:
    sensor_type = registry.find(name)
    if sensor_type is None:
        raise InvalidInput(f"unknown sensor '{name}': choose from {', '.join(sensor_names())}")
    sensor: Sensor = sensor_type.load().open(gpus=gpus, clock=clock, reason=reason, trace=trace)
    return sensor


def discover(
    names: str | Iterable[str] | None = None,
    gpus: str | Iterable[int] | None = None,
    *,
    trace: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    cached: bool = False,
) -> Discovery:
    """Open the requested sensors (default: every real one available, else the estimate).

    Named sensors that cannot be opened raise :class:`SensorUnavailable` with the reason, since
    the user asked for them explicitly. ``trace`` plays that recorded trace through the replay
    sensor, alone unless ``names`` asks for others too. With ``cached=True`` the opened sensors
    are kept for the next call with the same arguments (NVML initialisation is not free) and
    closed at exit.
    """
    wanted = parse_sensor_names(names)
    gpu_indices = parse_gpu_indices(gpus)
    if trace is not None and gpu_indices is not None:
        raise InvalidInput("--gpus picks GPUs of this machine and --replay plays a recorded one: use one of them")
    key = (wanted, gpu_indices, trace, clock, tuple(os.environ.get(name) for name in _SETTINGS))
    if cached:
        with _cache_lock:
            found = _cache.get(key)
            if found is None:
                found = _cache[key] = _discover(wanted, gpu_indices, clock, trace)
            return found
    return _discover(wanted, gpu_indices, clock, trace)


def _discover(
    wanted: tuple[str, ...] | None, gpus: tuple[int, ...] | None, clock: Callable[[], float], trace: str | None
) -> Discovery:
    found = Discovery()
    if trace is not None:
        found.sensors.append(_open("replay", None, clock, None, trace))
        if wanted is None:
            return found  # a replay stands for the GPU: nothing of this machine is added to it unasked
    explicit = wanted is not None
    real = [s.name for s in registry.REGISTRY if not s.fallback and not s.on_request]
    on_request = [s.name for s in registry.REGISTRY if s.on_request and not (trace and s.name == "replay")]
    for name in [n for n in (wanted or real) if n in real or n in on_request]:
        try:
            found.sensors.append(_open(name, gpus, clock, None, trace))
        except SensorUnavailable as exc:
            if explicit:
                found.close()
                raise
            found.unavailable[name] = str(exc)
    takes_gpus = [s.name for s in registry.REGISTRY if s.takes_gpus]
    if gpus is not None and not any(s.name in takes_gpus for s in found.sensors):
        found.close()
        why = "; ".join(found.unavailable.get(n, f"{n} not requested") for n in takes_gpus) or "no GPU sensor"
        raise SensorUnavailable(f"--gpus was given but no GPU can be read: {why}")
    fallbacks = [s.name for s in registry.REGISTRY if s.fallback]
    asked = [n for n in fallbacks if wanted is not None and n in wanted]
    if asked:
        for name in asked:
            found.sensors.append(_open(name, None, clock, f"requested with --sensors {name}"))
    elif not found.sensors and fallbacks:
        reason = "no real sensor could be read (" + "; ".join(
            f"{name}: {why}" for name, why in found.unavailable.items()
        ) + ")"
        found.fallback_reason = reason
        found.sensors.append(_open(fallbacks[0], None, clock, reason))
    return found


def close_cached() -> None:
    """Close every cached sensor (at interpreter exit, or to force a fresh discovery)."""
    with _cache_lock:
        for found in _cache.values():
            found.close()
        _cache.clear()


atexit.register(close_cached)
