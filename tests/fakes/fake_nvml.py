"""A fake ``pynvml`` module for machines without an NVIDIA GPU.

It offers the functions, constants and error classes that ``lepton_lab.sensors.nvml`` uses, with
the same shapes and constant values as nvidia-ml-py: ``NVMLError(code)`` builds the matching
subclass (``NVMLError_NotSupported`` ...), field values carry ``nvmlReturn`` and ``value.uiVal``.
Each fake GPU draws power given by a function of a fake clock's time; its energy counter is
the exact integral of that function (midpoint rule on fine steps), optionally quantised to the
counter's update period like real datacentre GPUs.
"""
from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import ClassVar

# Constant values copied from nvidia-ml-py's pynvml.py.
NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999
NVML_FI_DEV_POWER_INSTANT = 186
#: The driver samples process utilisation about six times a second and keeps a few seconds of it.
PROCESS_SAMPLE_PERIOD_S = 1 / 6
PROCESS_SAMPLE_BUFFER_S = 5.0
NVML_VALUE_TYPE_UNSIGNED_INT = 1

# Messages as pynvml's NVMLError.__str__ gives them.
_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}
_CODES = {name: value for name, value in globals().items() if name.startswith("NVML_ERROR_")}


class NVMLError(Exception):
    """Like pynvml.NVMLError: ``NVMLError(code)`` is an instance of the code's subclass."""

    _value_class: ClassVar[dict[int, type]] = {}

    def __new__(cls, value):
        if cls is NVMLError:
            cls = NVMLError._value_class.get(value, cls)
        obj = Exception.__new__(cls)
        obj.value = value
        return obj

    def __init__(self, value=None):
        super().__init__(self.value)

    def __str__(self):
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")


def _make_error_classes() -> dict[str, type]:
    classes = {}
    for code_name, code in _CODES.items():
        class_name = "NVMLError_" + string.capwords(code_name[len("NVML_ERROR_"):], "_").replace("_", "")

        def new(cls, *args, _code=code):
            return NVMLError.__new__(cls, _code)

        classes[class_name] = NVMLError._value_class[code] = type(class_name, (NVMLError,), {"__new__": new})
    return classes


globals().update(_make_error_classes())


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, t_s: float = 0.0):
        self.t_s = t_s

    def __call__(self) -> float:
        return self.t_s

    def advance(self, seconds: float) -> None:
        self.t_s += seconds


@dataclass
class FakeGpu:
    """One device. ``power_w(t)`` is its power; ``fail_with`` (an error code) fails the next calls."""

    name: str = "NVIDIA H100 80GB HBM3"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    power_w: Callable[[float], float] = lambda t: 100.0
    has_counter: bool = True
    has_instant_field: bool = True
    counter_period_s: float | None = None
    start_mj: int = 1_000_000
    mig_uuids: tuple[str, ...] = ()
    fail_with: int | None = None
    fail_calls: int = 0
    processes: dict[int, float] = field(default_factory=dict)
    """pid -> SM utilisation % of each process with a compute context (0 % holds one, idle)."""
    util_samples: bool = True
    """False: the driver gives no per-process samples (NVML_ERROR_NOT_SUPPORTED)."""
    mig_enabled: bool = False
    energy_j: float = 0.0
    t_s: float = 0.0

    def integrate_to(self, t_s: float, steps_per_s: int = 2_000) -> None:
        steps = max(1, int((t_s - self.t_s) * steps_per_s))
        dt = (t_s - self.t_s) / steps
        for i in range(steps):
            self.energy_j += self.power_w(self.t_s + (i + 0.5) * dt) * dt
        self.t_s = t_s


class FakeNvml(SimpleNamespace):
    """The module object: pass it as ``nvml=`` or return it from a patched ``_load_nvml``."""

    def __init__(self, gpus: list[FakeGpu], clock: FakeClock, init_error: int | None = None, bytes_names=False):
        super().__init__(**_CODES, **{k: v for k, v in globals().items() if k.startswith("NVMLError")})
        self.NVML_SUCCESS = NVML_SUCCESS
        self.NVML_FI_DEV_POWER_INSTANT = NVML_FI_DEV_POWER_INSTANT
        self.gpus, self.clock = gpus, clock
        self.loaded_at = clock()
        for gpu in gpus:  # the counters start when the (fake) driver loads
            gpu.t_s = self.loaded_at
        self.init_error, self.bytes_names = init_error, bytes_names
        self.initialised = 0
        self.shutdown_calls = 0

    # -- library ----------------------------------------------------------------------------
    def nvmlInit(self):
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self):
        self._check()
        self.shutdown_calls += 1
        self.initialised -= 1

    def nvmlDeviceGetCount(self):
        self._check()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index):
        self._check()
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return self.gpus[index]

    def nvmlDeviceGetHandleByUUID(self, uuid):
        self._check()
        for gpu in self.gpus:
            if gpu.uuid == uuid:
                return gpu
            if uuid in gpu.mig_uuids:
                return ("mig", gpu, uuid)
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, mig):
        self._check()
        if not (isinstance(mig, tuple) and mig[0] == "mig"):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return mig[1]

    def nvmlDeviceGetUUID(self, gpu):
        self._device(gpu)
        return gpu.uuid

    def nvmlDeviceGetName(self, gpu):
        self._device(gpu)
        return gpu.name.encode() if self.bytes_names else gpu.name

    # -- energy and power -------------------------------------------------------------------
    def nvmlDeviceGetTotalEnergyConsumption(self, gpu):
        self._device(gpu)
        if not gpu.has_counter:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        t_s = self.clock()
        if gpu.counter_period_s:
            t_s = int(t_s / gpu.counter_period_s) * gpu.counter_period_s
        if t_s > gpu.t_s:
            gpu.integrate_to(t_s)
        return gpu.start_mj + int(gpu.energy_j * 1000)

    def nvmlDeviceGetPowerUsage(self, gpu):
        self._device(gpu)
        return int(round(gpu.power_w(self.clock()) * 1000))

    def nvmlDeviceGetFieldValues(self, gpu, field_ids):
        self._device(gpu)
        values = []
        for field_id in field_ids:
            ok = field_id == NVML_FI_DEV_POWER_INSTANT and gpu.has_instant_field
            milliwatts = int(round(gpu.power_w(self.clock()) * 1000)) if ok else 0
            values.append(SimpleNamespace(
                fieldId=field_id, scopeId=0, valueType=NVML_VALUE_TYPE_UNSIGNED_INT,
                nvmlReturn=NVML_SUCCESS if ok else NVML_ERROR_NOT_SUPPORTED,
                value=SimpleNamespace(uiVal=milliwatts),
            ))
        return values

    # -- processes ----------------------------------------------------------------------------
    def nvmlDeviceGetMigMode(self, gpu):
        self._device(gpu)
        return (1, 1) if gpu.mig_enabled else (0, 0)

    def nvmlDeviceGetComputeRunningProcesses(self, gpu):
        self._device(gpu)
        return [SimpleNamespace(pid=pid, usedGpuMemory=1 << 30) for pid in gpu.processes]

    def nvmlDeviceGetProcessUtilization(self, gpu, timeStamp):
        """Like the driver: one sample per busy process per sampling period newer than ``timeStamp``
        (CPU µs), from a buffer of a few seconds; NOT_FOUND when there is none."""
        self._device(gpu)
        if gpu.mig_enabled or not gpu.util_samples:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        now = self.clock()
        first = max(timeStamp / 1e6, now - PROCESS_SAMPLE_BUFFER_S, self.loaded_at)
        tick = int(first / PROCESS_SAMPLE_PERIOD_S) + 1
        samples = []
        while tick * PROCESS_SAMPLE_PERIOD_S <= now:
            stamp = int(round(tick * PROCESS_SAMPLE_PERIOD_S * 1e6))
            if stamp > timeStamp:
                samples += [SimpleNamespace(pid=pid, timeStamp=stamp, smUtil=int(util), memUtil=0, encUtil=0,
                                            decUtil=0) for pid, util in gpu.processes.items() if util > 0]
            tick += 1
        if not samples:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return samples

    # -- checks -----------------------------------------------------------------------------
    def _check(self):
        if self.initialised <= 0:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _device(self, gpu):
        self._check()
        if not isinstance(gpu, FakeGpu):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)  # e.g. a MIG handle where NVML wants a GPU
        if gpu.fail_with is not None and gpu.fail_calls != 0:
            gpu.fail_calls -= 1  # a negative count fails for ever
            raise NVMLError(gpu.fail_with)


def h100s(count: int, clock: FakeClock, power_w: Callable[[float], float] = lambda t: 100.0, **kwargs) -> FakeNvml:
    """``count`` identical Volta+ GPUs with distinct UUIDs."""
    gpus = [FakeGpu(uuid=f"GPU-{i:08d}-aaaa-bbbb-cccc-000000000000", power_w=power_w) for i in range(count)]
    return FakeNvml(gpus, clock, **kwargs)
