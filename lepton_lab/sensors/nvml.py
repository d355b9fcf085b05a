"""NVIDIA GPU energy through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``).

Volta and newer GPUs keep a total-energy counter in mJ: it is read at every sample and the
differences are summed. Older GPUs have no counter, so their instantaneous power is integrated
with the trapezoid rule (and the report says so). Live watts come from the instant-power field;
``nvmlDeviceGetPowerUsage`` is a 1 s moving average on Ampere and newer, so it is only a fallback
for the live view and is never integrated where the counter exists.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from ..errors import InvalidInput, SensorReadError, SensorUnavailable
from . import gpu_models
from .base import DomainReading, Sensor

COUNTER = "nvml-counter"
INTEGRATION = "nvml-power-integration"

#: How often datacentre GPUs refresh the energy counter (and instant power); per GPU: gpu_models.
UPDATE_PERIOD_S = 0.1
# The ± of both paths (counter and integration) comes from the GPU's row in gpu_models.TABLE and
# the powers read during the measurement: see gpu_models.estimate and docs/uncertainty.md, which
# also says what the counter path's ± rests on. Checked against an external meter on the SC'24
# recordings by lepton_lab.traces.check_against_meter (tests/test_uncertainty.py).

_FIELD = "field"  # live watts from NVML_FI_DEV_POWER_INSTANT
_USAGE = "usage"  # live watts from nvmlDeviceGetPowerUsage (averaged on Ampere+)


def _load_nvml() -> Any:
    """Import pynvml lazily (tests monkeypatch this hook to hand discover() a fake)."""
    try:
        import pynvml
    except ImportError:
        raise SensorUnavailable(
            "NVML not installed: pip install 'lepton_lab[gpu]' (package nvidia-ml-py)"
        ) from None
    return pynvml


@dataclass
class _Gpu:
    domain: str
    handle: Any
    label: str
    method: str = COUNTER
    power_source: str | None = _FIELD
    last_mj: int = 0
    energy_j: float = 0.0
    last_t: float | None = None
    last_w: float = 0.0
    notes: list[str] = field(default_factory=list)
    mig: bool = False
    model: gpu_models.SensorModel = gpu_models.DEFAULT
    seen: gpu_models.Seen = field(default_factory=gpu_models.Seen)
    """Powers read since the measurement began (what the ± needs)."""

    @property
    def power_field(self) -> str:
        return gpu_models.USAGE if self.power_source == _USAGE else gpu_models.INSTANT


class NvmlSensor(Sensor):
    """Cumulative energy and live watts of the visible NVIDIA GPUs."""

    name = "nvml"
    update_period_s = UPDATE_PERIOD_S

    def __init__(self, nvml: Any, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self._nvml = nvml
        self._gpus: list[_Gpu] = []
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(
        cls,
        gpus: Sequence[int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        nvml: Any = None,
        **_: object,
    ) -> NvmlSensor:
        """Initialise NVML and attach to ``gpus`` (positions among visible GPUs; None = all)."""
        nvml = nvml if nvml is not None else _load_nvml()
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            raise SensorUnavailable(
                f"NVML cannot start ({exc}): no NVIDIA driver or GPU here; check that nvidia-smi works"
            ) from None
        sensor = cls(nvml, clock)
        try:
            sensor._attach(gpus)
            sensor._rebase()
        except nvml.NVMLError as exc:
            sensor.close()
            raise SensorUnavailable(f"NVML is running but a GPU cannot be read: {exc}") from None
        except BaseException:
            sensor.close()
            raise
        return sensor

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(gpu.domain for gpu in self._gpus)

    def read(self) -> dict[str, DomainReading]:
        with self._lock:
            if self._closed:
                raise SensorReadError("NVML sensor was closed: discover the sensors again")
            now = self.clock()
            readings, failed, errors = {}, [], []
            for gpu in self._gpus:
                try:
                    readings[gpu.domain] = self._read_gpu(gpu, now)
                except self._nvml.NVMLError as exc:  # one GPU lost must not hide the others
                    failed.append(gpu.domain)
                    errors.append(f"{gpu.domain} ({gpu.label}): {exc}")
            if failed:
                raise SensorReadError(f"NVML read of {'; '.join(errors)} failed", domains=failed, partial=readings)
            return readings

    def begin(self) -> None:
        """Re-base counters and the last power sample, so the gap since the last cell adds nothing."""
        with self._lock:
            try:
                self._rebase()
            except self._nvml.NVMLError as exc:
                raise SensorReadError(f"NVML read at the start of the cell failed: {exc}") from exc

    def method(self, domain: str) -> str:
        return self._gpu(domain).method

    def uncertainty_j(self, domain: str, energy_j: float, duration_s: float) -> float:
        return self.uncertainty(domain, energy_j, duration_s).total_j

    def uncertainty(self, domain: str, energy_j: float, duration_s: float) -> gpu_models.Estimate:
        """The ± with its terms, from the GPU's sensor model and the powers read since begin()."""
        gpu = self._gpu(domain)
        return gpu_models.estimate(gpu.model, gpu.power_field, energy_j, duration_s, gpu.seen.powers_w,
                                   counter=gpu.method == COUNTER)

    def uncertainty_note(self, domain: str, energy_j: float, duration_s: float) -> str:
        return self.uncertainty(domain, energy_j, duration_s).note(domain)

    def describe(self, domain: str) -> str:
        gpu = self._gpu(domain)
        return f"GPU {domain.split(':')[1]}: {gpu.label} (NVML)"

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._nvml.nvmlShutdown()
        except self._nvml.NVMLError:
            pass  # nothing useful to do with a failed shutdown

    # -- who uses the GPU (for attribution) ---------------------------------------------------
    def is_mig(self, domain: str) -> bool:
        """MIG is on: NVML has neither energy nor per-process utilisation for one slice."""
        return self._gpu(domain).mig

    def process_samples(self, domain: str, since_us: int) -> list[tuple[int, int, float]]:
        """``(pid, timestamp µs, SM utilisation %)`` of every process sample newer than ``since_us``
        (the driver's own timestamps, kept in a buffer of a few seconds): [] when there is none.

        Raises SensorReadError when the driver does not give per-process samples at all."""
        nvml = self._nvml
        with self._lock:
            try:
                samples = nvml.nvmlDeviceGetProcessUtilization(self._gpu(domain).handle, since_us)
            except nvml.NVMLError_NotFound:
                return []  # what NVML says when nothing ran since since_us
            except nvml.NVMLError as exc:
                raise SensorReadError(f"{domain}: no per-process utilisation from NVML ({exc})") from None
        return [(int(s.pid), int(s.timeStamp), float(s.smUtil)) for s in samples]

    def compute_pids(self, domain: str) -> list[int]:
        """Ids of the processes holding a compute context on the GPU now."""
        nvml = self._nvml
        with self._lock:
            try:
                processes = nvml.nvmlDeviceGetComputeRunningProcesses(self._gpu(domain).handle)
            except nvml.NVMLError as exc:
                raise SensorReadError(f"{domain}: NVML cannot list the GPU's processes ({exc})") from None
        return [int(p.pid) for p in processes]

    # -- reading ----------------------------------------------------------------------------
    def _read_gpu(self, gpu: _Gpu, now: float) -> DomainReading:
        if gpu.method == COUNTER:
            raw = int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.handle))
            # A smaller value means the driver was reloaded and the counter restarted: add nothing.
            gpu.energy_j += max(0, raw - gpu.last_mj) / 1000.0
            gpu.last_mj = raw
            live = self._live_watts(gpu)
            gpu.seen.add(live)
            return DomainReading(energy_j=gpu.energy_j, power_w=live)
        watts = self._live_watts(gpu, required=True)
        gpu.seen.add(watts)
        if gpu.last_t is not None and now > gpu.last_t:
            gpu.energy_j += (gpu.last_w + watts) / 2.0 * (now - gpu.last_t)
        gpu.last_t, gpu.last_w = now, watts
        return DomainReading(energy_j=gpu.energy_j, power_w=watts)

    @overload
    def _live_watts(self, gpu: _Gpu, required: Literal[True]) -> float: ...
    @overload
    def _live_watts(self, gpu: _Gpu, required: bool = False) -> float | None: ...
    def _live_watts(self, gpu: _Gpu, required: bool = False) -> float | None:
        nvml = self._nvml
        if gpu.power_source == _FIELD:
            value = nvml.nvmlDeviceGetFieldValues(gpu.handle, [nvml.NVML_FI_DEV_POWER_INSTANT])[0]
            if value.nvmlReturn == nvml.NVML_SUCCESS:
                return float(value.value.uiVal) / 1000.0
            if not required:
                return None  # the sampler derives watts from the energy counter instead
            raise nvml.NVMLError(value.nvmlReturn)
        if gpu.power_source == _USAGE:
            return float(nvml.nvmlDeviceGetPowerUsage(gpu.handle)) / 1000.0
        if required:  # unreachable while _probe refuses a counterless GPU with no power source
            raise SensorReadError(f"{gpu.domain} ({gpu.label}) reports neither energy nor power to NVML")
        return None

    def _rebase(self) -> None:
        now = self.clock()
        for gpu in self._gpus:
            gpu.seen = gpu_models.Seen()
            if gpu.method == COUNTER:
                gpu.last_mj = int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.handle))
                gpu.seen.add(self._live_watts(gpu))
            else:
                gpu.last_t, gpu.last_w = now, self._live_watts(gpu, required=True)
                gpu.seen.add(gpu.last_w)

    def _gpu(self, domain: str) -> _Gpu:
        for gpu in self._gpus:
            if gpu.domain == domain:
                return gpu
        raise KeyError(f"{domain} is not a domain of the nvml sensor: {', '.join(self.domains)}")

    # -- attaching --------------------------------------------------------------------------
    def _attach(self, wanted: Sequence[int] | None) -> None:
        visible, notes = _visible_gpus(self._nvml)
        self.notes.extend(notes)
        if wanted is None:
            if not visible:
                raise SensorUnavailable(
                    "no GPU is visible to this process: CUDA_VISIBLE_DEVICES="
                    f"'{os.environ.get('CUDA_VISIBLE_DEVICES', '')}' hides them all"
                )
            wanted = range(len(visible))
        for position in wanted:
            if not 0 <= position < len(visible):
                raise InvalidInput(
                    f"GPU {position} does not exist: {_visible_text(len(visible))}; "
                    "check --gpus or CUDA_VISIBLE_DEVICES"
                )
            handle, mig_note = visible[position]
            gpu = self._probe(f"gpu:{position}", handle)
            gpu.mig = bool(mig_note) or _mig_enabled(self._nvml, handle)
            if mig_note:
                gpu.notes.append(f"gpu:{position}: {mig_note}")
            self._gpus.append(gpu)
            self.notes.extend(gpu.notes)

    def _probe(self, domain: str, handle: Any) -> _Gpu:
        """Find out what this GPU can report: energy counter or not, and a live-watts source."""
        nvml = self._nvml
        gpu = _Gpu(domain=domain, handle=handle, label=_text(nvml.nvmlDeviceGetName(handle)))
        gpu.model = gpu_models.lookup(gpu.label)
        if gpu.model is gpu_models.DEFAULT:
            gpu.notes.append(f"{domain} ({gpu.label}): {gpu.model.note}")
        try:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound):
            gpu.method = INTEGRATION
        gpu.power_source = _power_source(nvml, handle)
        if gpu.method == INTEGRATION:
            if gpu.power_source is None:
                raise SensorUnavailable(f"{domain} ({gpu.label}) reports neither energy nor power to NVML")
            how = "instantaneous power" if gpu.power_source == _FIELD else "nvmlDeviceGetPowerUsage"
            gpu.notes.append(
                f"{domain}: no energy counter (GPU older than Volta): energy integrated from {how} "
                "with the trapezoid rule between samples: sampled power misses fast changes (the ± says how much)"
            )
        return gpu


def _power_source(nvml: Any, handle: Any) -> str | None:
    try:
        value = nvml.nvmlDeviceGetFieldValues(handle, [nvml.NVML_FI_DEV_POWER_INSTANT])[0]
        if value.nvmlReturn == nvml.NVML_SUCCESS:
            return _FIELD
    except nvml.NVMLError:
        pass  # old drivers lack the field or the function
    try:
        nvml.nvmlDeviceGetPowerUsage(handle)
        return _USAGE
    except nvml.NVMLError:
        return None


def _mig_enabled(nvml: Any, handle: Any) -> bool:
    try:
        current, _pending = nvml.nvmlDeviceGetMigMode(handle)
    except (nvml.NVMLError, AttributeError):  # GPUs without MIG, old drivers and bindings
        return False
    return bool(current)


def _visible_gpus(nvml: Any) -> tuple[list[tuple[Any, str | None]], list[str]]:
    """(handle, MIG note or None) per visible position, following CUDA_VISIBLE_DEVICES like CUDA does."""
    count = nvml.nvmlDeviceGetCount()
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    by_index = env is None or any(part.strip().isdigit() for part in env.split(","))
    notes = _order_notes(nvml, count) if by_index else []
    if env is None:
        return [(nvml.nvmlDeviceGetHandleByIndex(i), None) for i in range(count)], notes
    visible, seen = [], set()
    for entry in (part.strip() for part in env.split(",")) if env.strip() else ():
        handle, mig_note = _resolve_entry(nvml, entry, count)
        key = None if handle is None else _text(nvml.nvmlDeviceGetUUID(handle))
        if handle is None or key in seen:
            # CUDA stops at the first entry it cannot use and ignores the rest.
            notes.append(f"CUDA_VISIBLE_DEVICES entry '{entry}' matches no new GPU: it and later entries are ignored")
            break
        seen.add(key)
        visible.append((handle, mig_note))
    return visible, notes


def _resolve_entry(nvml: Any, entry: str, count: int) -> tuple[Any, str | None]:
    """Physical handle for one CUDA_VISIBLE_DEVICES entry (index, GPU-UUID or MIG-UUID), or None."""
    mig_note = "MIG slice: NVML has energy only for the whole GPU, so this counts every slice on it"
    try:
        if entry.startswith("MIG-GPU-"):  # pre-R470 form: MIG-GPU-<uuid>/<gi>/<ci>
            return nvml.nvmlDeviceGetHandleByUUID(entry[len("MIG-"):].split("/")[0]), mig_note
        if entry.startswith("MIG-"):
            mig = nvml.nvmlDeviceGetHandleByUUID(entry)
            return nvml.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(mig), mig_note
        if entry.startswith("GPU-"):
            return nvml.nvmlDeviceGetHandleByUUID(entry), None
        index = int(entry)
    except (ValueError, nvml.NVMLError):
        return None, None
    if not 0 <= index < count:
        return None, None
    return nvml.nvmlDeviceGetHandleByIndex(index), None


def _order_notes(nvml: Any, count: int) -> list[str]:
    """NVML numbers GPUs by PCI bus; CUDA numbers mixed models fastest-first unless told otherwise."""
    if count < 2 or os.environ.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID":
        return []
    names = {_text(nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)}
    if len(names) < 2:
        return []
    return [
        "GPUs of different models: gpu:N follows PCI bus order, which CUDA (and torch's cuda:N) "
        "only follows with CUDA_DEVICE_ORDER=PCI_BUS_ID"
    ]


def _visible_text(count: int) -> str:
    if count == 0:
        return "0 visible"
    return f"{count} visible ({'0' if count == 1 else f'0-{count - 1}'})"


def _text(value: object) -> str:
    """nvidia-ml-py returns str; older releases returned bytes."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
