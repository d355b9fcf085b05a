"""NvmlSensor on a real NVIDIA GPU (no fakes): run with ``pytest -m gpu`` on a GPU machine.

Skipped wherever pynvml is missing or cannot initialise a GPU.
"""
from __future__ import annotations

import time

import pytest

from lepton_lab.sampler import Sampler
from lepton_lab.sensors.nvml import NvmlSensor

pytestmark = pytest.mark.gpu

#: Wide enough for an idle T4 (~10 W) up to a busy B200 board (~1.2 kW).
PLAUSIBLE_W = (10.0, 1500.0)


@pytest.fixture
def real_sensor():
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
        pynvml.nvmlShutdown()
    except pynvml.NVMLError as exc:
        pytest.skip(f"NVML cannot initialise a GPU here: {exc}")
    if count == 0:
        pytest.skip("NVML sees no GPU")
    sensor = NvmlSensor.open()
    yield sensor
    sensor.close()


def _busy(seconds: float) -> str:
    """Matrix products on cuda:0 if torch has CUDA, else idle: either way the GPU draws power."""
    try:
        import torch
    except ImportError:
        torch = None
    if torch is None or not torch.cuda.is_available():
        time.sleep(seconds)
        return "idle"
    a = torch.randn(4096, 4096, device="cuda")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(20):
            a = torch.tanh(a @ a)
        torch.cuda.synchronize()
    return "matmul"


def test_real_gpu_energy_is_plausible(real_sensor):
    sampler = Sampler([real_sensor], interval_s=0.1)
    sampler.start()
    try:
        load = _busy(2.0)
    finally:
        result = sampler.stop()
    assert result.read_errors == 0, result.last_error
    assert result.duration_s >= 1.9
    for domain in real_sensor.domains:
        energy_j = result.energy_j(domain)
        mean_w = energy_j / result.duration_s
        print(f"{real_sensor.describe(domain)}: {energy_j:.1f} J, {mean_w:.1f} W mean ({load}), "
              f"method {real_sensor.method(domain)}, peak {result.peak_w.get(domain)}")
        assert energy_j > 0
        assert PLAUSIBLE_W[0] <= mean_w <= PLAUSIBLE_W[1]
        sampled = [s.power_w[domain] for s in result.samples if domain in s.power_w]
        assert sampled, "no live power samples"
        assert all(PLAUSIBLE_W[0] / 2 <= w <= PLAUSIBLE_W[1] for w in sampled)
        assert real_sensor.uncertainty_j(domain, energy_j, result.duration_s) < energy_j


def test_real_counter_is_monotonic(real_sensor):
    first = real_sensor.read()
    time.sleep(0.3)
    second = real_sensor.read()
    for domain in real_sensor.domains:
        assert second[domain].energy_j >= first[domain].energy_j
        if real_sensor.method(domain) == "nvml-counter":
            assert second[domain].power_w is None or second[domain].power_w > 0
