"""The fallback when no real sensor can be read: CPU power estimated from utilisation and TDP.

Model (the one Green Algorithms uses, Lannelongue et al., Adv. Sci. 2021): power = TDP per core ×
logical CPUs × busy fraction of those CPUs over the interval. TDP comes from the shipped table
(``lepton_lab/data/cpu_tdp.csv``) matched on the CPU model name, or from ``LEPTON_LAB_CPU_TDP_W``
(the package TDP), else a typical 12 W per core. It ignores idle power, memory, turbo and the
GPU, hence the wide uncertainty: these numbers are labelled *estimated* wherever they appear.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from ..errors import InvalidInput, SensorReadError
from .base import ESTIMATED, DomainReading, Sensor
from .cpu_times import machine_times

DOMAIN = "cpu:estimated"
DEFAULT_W_PER_CORE = 12.0
#: Relative uncertainty of the model (TDP is a design limit, not a measurement).
RELATIVE_UNCERTAINTY = 0.5
TDP_ENV = "LEPTON_LAB_CPU_TDP_W"


def _resolve_tdp(n_cpus: int) -> tuple[float, str]:
    """Watts per logical CPU and a sentence saying where that figure came from."""
    override = os.environ.get(TDP_ENV)
    if override:
        try:
            tdp = float(override)
        except ValueError:
            tdp = float("nan")
        if not 1 <= tdp <= 2000:
            raise InvalidInput(f"{TDP_ENV}={override!r} is not a TDP in watts: use e.g. {TDP_ENV}=65")
        return tdp / n_cpus, f"TDP {tdp:g} W from {TDP_ENV} over {n_cpus} CPUs"
    try:
        from ..cpu_tdp import cpu_model_name, lookup_tdp

        model = cpu_model_name()
        match = lookup_tdp(model) if model else None
    except ImportError:  # table missing from a broken install: fall back to the typical value
        model, match = None, None
    if match is not None:
        return match.tdp_w / match.cores, f"{match.model}: TDP {match.tdp_w:g} W / {match.cores} cores ({match.source})"
    name = f"'{model}'" if model else "this CPU"
    return DEFAULT_W_PER_CORE, (
        f"{name} is not in the TDP table: assumed a typical {DEFAULT_W_PER_CORE:g} W per CPU "
        f"(set {TDP_ENV} to your CPU's TDP)"
    )


class EstimateSensor(Sensor):
    name = "estimate"
    kind = ESTIMATED
    #: Linux counts CPU time in ticks of 1/USER_HZ = 10 ms: shorter cells see only a few ticks.
    update_period_s = 0.01

    def __init__(
        self,
        reason: str | None,
        clock: Callable[[], float] = time.monotonic,
        busy_times: Callable[[], tuple[float, float]] = machine_times,
    ) -> None:
        super().__init__(clock)
        import psutil

        self._busy_times = busy_times
        self.n_cpus = psutil.cpu_count(logical=True) or os.cpu_count() or 1
        self.w_per_cpu, self.tdp_source = _resolve_tdp(self.n_cpus)
        self.reason = reason or "requested"
        self.notes.append(
            f"estimate model: CPU power = {self.w_per_cpu:.1f} W per CPU × {self.n_cpus} CPUs × "
            f"utilisation; {self.tdp_source}"
        )
        self._lock = threading.Lock()
        self.begin()

    @classmethod
    def open(cls, reason: str | None = None, clock: Callable[[], float] = time.monotonic,
             **_: object) -> EstimateSensor:
        return cls(reason, clock)

    @property
    def domains(self) -> tuple[str, ...]:
        return (DOMAIN,)

    def begin(self) -> None:
        with self._lock:
            self._energy_j = 0.0
            self._last_t = self.clock()
            self._last_busy, self._last_total = self._busy_times()
            self._last_power = 0.0

    def read(self) -> dict[str, DomainReading]:
        try:
            busy, total = self._busy_times()
        except Exception as exc:  # psutil raising mid-run must not kill the sampler
            raise SensorReadError(f"estimate: cannot read CPU times ({exc})") from None
        with self._lock:
            now = self.clock()
            dt = now - self._last_t
            d_total = total - self._last_total
            if d_total > 0:
                utilisation = min(1.0, max(0.0, (busy - self._last_busy) / d_total))
                self._last_power = self.w_per_cpu * self.n_cpus * utilisation
                self._last_busy, self._last_total = busy, total
            # CPU times tick at 100 Hz: between ticks keep the last power rather than report 0 W.
            if dt > 0:
                self._energy_j += self._last_power * dt
                self._last_t = now
            return {DOMAIN: DomainReading(self._energy_j, self._last_power)}

    def method(self, domain: str) -> str:
        return "estimate"

    def describe(self, domain: str) -> str:
        return f"CPU ({self.n_cpus} CPUs, estimated)"

    def uncertainty_j(self, domain: str, energy_j: float, duration_s: float) -> float:
        return RELATIVE_UNCERTAINTY * energy_j
