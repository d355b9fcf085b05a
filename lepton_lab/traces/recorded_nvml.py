"""An NVML-shaped source that serves a recorded on-board power series, for the real NVML sensor.

It answers the handful of NVML calls :class:`~lepton_lab.sensors.nvml.NvmlSensor` makes for one
GPU without an energy counter (the pre-Volta path): at any time of its clock, the power is the
latest recorded reading, served as NVML's instant field (``field="instant"``) or, for a recording
of ``nvmlDeviceGetPowerUsage`` / nvidia-smi's ``power.draw``, only through that call
(``field="usage"``: the instant field then answers "not supported", as on old drivers). With
``counter=True`` it also serves an energy counter synthesised from the readings (an assumption:
see :meth:`RecordedNvml._synthesised_counter`), so the counter path runs too. So the sensor's own
code, integration included, runs on real readings of a real GPU;
:mod:`.meter_check` compares what it computes with a reference meter.
"""
from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace

NVML_SUCCESS = 0
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NOT_FOUND = 6
NVML_FI_DEV_POWER_INSTANT = 186  # nvidia-ml-py's field id for instantaneous power


class NVMLError(Exception):
    def __init__(self, value: int):
        super().__init__(value)
        self.value = value


class NVMLError_NotSupported(NVMLError):  # nvidia-ml-py's name
    pass


class NVMLError_FunctionNotFound(NVMLError):
    pass


class RecordedNvml:
    """One GPU whose instant power is ``watts`` at ``times`` (seconds of ``clock``), held between readings."""

    NVMLError = NVMLError
    NVMLError_NotSupported = NVMLError_NotSupported
    NVMLError_FunctionNotFound = NVMLError_FunctionNotFound
    NVML_SUCCESS = NVML_SUCCESS
    NVML_FI_DEV_POWER_INSTANT = NVML_FI_DEV_POWER_INSTANT

    def __init__(self, times: Iterable[float], watts: Iterable[float], clock: Callable[[], float],
                 name: str = "recorded GPU", field: str = "instant", counter: bool = False):
        self.times, self.watts, self.clock, self.name = list(times), list(watts), clock, name
        self.field = field
        self.handle = object()
        self.counter = counter
        self._updates, self._energy_mj = self._synthesised_counter() if counter else ([], [])

    def _synthesised_counter(self) -> tuple[list[float], list[float]]:
        """An energy counter as lepton_lab assumes NVML's to be (docs/uncertainty.md): the integral of
        the sensor's own readings, each held until the next, moving only when the reading updates."""
        updates, energy = [self.times[0]], [0.0]
        for i in range(1, len(self.times)):
            if self.watts[i] != self.watts[i - 1]:
                energy.append(energy[-1] + self.watts[i - 1] * (self.times[i] - updates[-1]) * 1000.0)
                updates.append(self.times[i])
        return updates, energy

    def watts_now(self) -> float:
        return float(self.watts[max(bisect.bisect_right(self.times, self.clock()) - 1, 0)])

    def nvmlInit(self) -> None:  # NVML's names, as the sensor calls them
        pass

    def nvmlShutdown(self) -> None:
        pass

    def nvmlDeviceGetCount(self) -> int:
        return 1

    def nvmlDeviceGetHandleByIndex(self, index: int) -> object:
        if index != 0:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return self.handle

    def nvmlDeviceGetName(self, handle: object) -> str:
        return self.name

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: object) -> int:
        if not self.counter:
            raise NVMLError_NotSupported(NVML_ERROR_NOT_SUPPORTED)  # no counter: the integration path
        return int(self._energy_mj[max(bisect.bisect_right(self._updates, self.clock()) - 1, 0)])

    def nvmlDeviceGetFieldValues(self, handle: object, fields: Sequence[int]) -> list[SimpleNamespace]:
        milliwatts = int(round(self.watts_now() * 1000))
        served = self.field == "instant"
        return [SimpleNamespace(fieldId=f, value=SimpleNamespace(uiVal=milliwatts),
                                nvmlReturn=NVML_SUCCESS if served and f == NVML_FI_DEV_POWER_INSTANT
                                else NVML_ERROR_NOT_SUPPORTED)
                for f in fields]

    def nvmlDeviceGetPowerUsage(self, handle: object) -> int:
        return int(round(self.watts_now() * 1000))
