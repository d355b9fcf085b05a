"""Power caps and locked clocks on the GPU the workload runs on, always put back afterwards.

NVML lets an administrator cap a GPU's board power (``nvmlDeviceSetPowerManagementLimit``) or
lock its graphics clock (``nvmlDeviceSetGpuLockedClocks``). Both need root on almost every
system, and both outlive the process that set them, so every change here is made in a ``with``
block that restores the previous value even when the work inside fails.

It lives in the sensor layer because that is where vendor calls and vendor errors stop: NVML is
loaded through the same entry point as the energy sensor (:func:`.nvml._load_nvml`), and NVML's
own error classes are turned into :class:`ControlUnavailable` here. Anything that stops us (no
GPU, no NVML, not root, not supported) becomes one line from :func:`gpu_control_problem`, which
the lessons print before skipping the sweep.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from ..errors import LeptonError, SensorUnavailable
from .nvml import _load_nvml


class ControlUnavailable(LeptonError):
    """The GPU's power limit or clocks cannot be changed here; the message is one line saying why."""


def _torch_cuda_uuid(index: int) -> str | None:
    """NVML UUID of torch's cuda:index (so we cap the GPU torch uses, whatever CUDA_VISIBLE_DEVICES says)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
    return f"GPU-{uuid}" if uuid else None


def _cuda_visible() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _explain(nvml: Any, exc: Exception, what: str) -> ControlUnavailable:
    """NVML's error (its own classes, as nvidia-ml-py defines them) as one line with the next step."""
    if isinstance(exc, getattr(nvml, "NVMLError_NoPermission", ())):
        return ControlUnavailable(
            f"not permitted: {what} needs root (e.g. sudo nvidia-smi -pl WATTS); skipping that sweep")
    if isinstance(exc, getattr(nvml, "NVMLError_NotSupported", ())):
        return ControlUnavailable(f"not supported: this GPU or driver does not allow {what}; skipping that sweep")
    return ControlUnavailable(f"{what} failed: {exc}; skipping that sweep")


class GpuControl:
    """NVML handle of one GPU, with power-cap and clock-lock context managers that always restore."""

    def __init__(self, nvml: Any, handle: Any, owns_init: bool = True) -> None:
        self.nvml, self.handle, self._owns_init = nvml, handle, owns_init

    @classmethod
    def open(cls, index: int = 0, nvml: Any = None) -> GpuControl:
        """The GPU torch calls cuda:``index``; raises ControlUnavailable with a one-line reason."""
        if nvml is None:
            if not _cuda_visible():
                raise ControlUnavailable("no GPU: torch sees no CUDA device, so there is no power cap or clock to set")
            try:
                nvml = _load_nvml()
            except SensorUnavailable as exc:
                raise ControlUnavailable(f"no NVML for power caps and clocks: {exc}") from None
        try:
            nvml.nvmlInit()
        except Exception as exc:
            raise ControlUnavailable(f"no GPU: NVML cannot start ({exc})") from None
        try:
            uuid = _torch_cuda_uuid(index)
            handle = nvml.nvmlDeviceGetHandleByUUID(uuid) if uuid else nvml.nvmlDeviceGetHandleByIndex(index)
        except Exception as exc:
            nvml.nvmlShutdown()
            raise ControlUnavailable(f"no GPU: NVML cannot find cuda:{index} ({exc})") from None
        return cls(nvml, handle)

    def close(self) -> None:
        if self._owns_init:
            self._owns_init = False
            self.nvml.nvmlShutdown()

    def __enter__(self) -> GpuControl:
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        self.close()
        return False

    # -- power ------------------------------------------------------------------------------
    def power_limits_w(self) -> dict[str, float]:
        """min / max / default / current board power limit in watts."""
        low, high = self.nvml.nvmlDeviceGetPowerManagementLimitConstraints(self.handle)
        return {"min": low / 1000, "max": high / 1000,
                "default": self.nvml.nvmlDeviceGetPowerManagementDefaultLimit(self.handle) / 1000,
                "current": self.nvml.nvmlDeviceGetPowerManagementLimit(self.handle) / 1000}

    def check_power_permission(self) -> None:
        """Set the current limit to itself: harmless, and it fails exactly when a real change would."""
        try:
            current = self.nvml.nvmlDeviceGetPowerManagementLimit(self.handle)
            self.nvml.nvmlDeviceSetPowerManagementLimit(self.handle, current)
        except Exception as exc:
            raise _explain(self.nvml, exc, "setting a GPU power cap") from None

    @contextmanager
    def power_cap(self, watts: float) -> Iterator[float]:
        """Cap board power at ``watts`` (clamped to the allowed range) inside the block; then restore."""
        limits = self.power_limits_w()
        cap_w = min(max(float(watts), limits["min"]), limits["max"])
        previous_mw = self.nvml.nvmlDeviceGetPowerManagementLimit(self.handle)
        try:
            self.nvml.nvmlDeviceSetPowerManagementLimit(self.handle, int(round(cap_w * 1000)))
        except Exception as exc:
            raise _explain(self.nvml, exc, "setting a GPU power cap") from None
        try:
            yield cap_w
        finally:
            self.nvml.nvmlDeviceSetPowerManagementLimit(self.handle, previous_mw)

    # -- clocks -----------------------------------------------------------------------------
    def graphics_clocks_mhz(self) -> list[int]:
        """Graphics clocks this GPU supports at its highest memory clock, lowest first."""
        memory = max(self.nvml.nvmlDeviceGetSupportedMemoryClocks(self.handle))
        return sorted(set(self.nvml.nvmlDeviceGetSupportedGraphicsClocks(self.handle, memory)))

    @contextmanager
    def locked_clock(self, mhz: int) -> Iterator[int]:
        """Lock the graphics clock at ``mhz`` inside the block; then give control back to the driver."""
        try:
            self.nvml.nvmlDeviceSetGpuLockedClocks(self.handle, int(mhz), int(mhz))
        except Exception as exc:
            raise _explain(self.nvml, exc, "locking GPU clocks") from None
        try:
            yield int(mhz)
        finally:
            self.nvml.nvmlDeviceResetGpuLockedClocks(self.handle)


def gpu_control_problem(index: int = 0, nvml: Any = None) -> str | None:
    """None when power caps can be set on cuda:``index``; otherwise one line saying why not."""
    try:
        with GpuControl.open(index, nvml) as control:
            control.check_power_permission()
    except ControlUnavailable as exc:
        return str(exc)
    return None
