"""NvmlSensor against a fake pynvml module.

This machine has no NVIDIA GPU, so every test here passes ``tests.fakes.fake_nvml.FakeNvml``
(or patches ``_load_nvml`` to return it) and drives it with a fake clock; the real-GPU check
lives in tests/gpu/test_nvml_real.py.
"""
from __future__ import annotations

import math
import sys
import threading

import pytest

from lepton_lab import sensors
from lepton_lab.errors import InvalidInput, SensorReadError, SensorUnavailable
from lepton_lab.sampler import Sampler
from lepton_lab.sensors import nvml as nvml_module
from lepton_lab.sensors.nvml import NvmlSensor
from tests.fakes.fake_nvml import (
    NVML_ERROR_DRIVER_NOT_LOADED,
    NVML_ERROR_GPU_IS_LOST,
    FakeClock,
    FakeGpu,
    FakeNvml,
    h100s,
)


@pytest.fixture(autouse=True)
def no_cuda_visible_devices(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)


@pytest.fixture
def clock():
    return FakeClock(100.0)


def read_every(sensor, clock, seconds, step_s=0.1):
    """Advance the fake clock, reading after each step as the sampler would."""
    for _ in range(int(round(seconds / step_s))):
        clock.advance(step_s)
        sensor.read()
    return sensor.read()


def run_sampler(sensor, clock, steps, step_s=0.1, on_step=None):
    """Real Sampler thread; a subscriber moves the fake clock one step per successful sample."""
    sampler = Sampler([sensor], interval_s=0.005, clock=clock)
    done, count = threading.Event(), []

    def advance(sample):
        if len(count) == steps:
            done.set()
            return
        count.append(1)
        if on_step:
            on_step(len(count))
        clock.advance(step_s)

    sampler.subscribe(advance)
    sampler.start()
    try:
        assert done.wait(10.0), "sampler made no progress"
    finally:
        result = sampler.stop()
    return result


def test_counter_brackets_energy(clock):
    """Fake Volta+ GPUs at 250 W and 100 W: energy = counter(end) - counter(start), in J."""
    fake = h100s(2, clock)
    fake.gpus[0].power_w = lambda t: 250.0
    sensor = NvmlSensor.open(clock=clock, nvml=fake)
    assert sensor.domains == ("gpu:0", "gpu:1")
    assert sensor.method("gpu:0") == "nvml-counter"
    sensor.begin()
    start = sensor.read()
    clock.advance(10.0)
    end = sensor.read()
    assert end["gpu:0"].energy_j - start["gpu:0"].energy_j == pytest.approx(2500.0, abs=0.002)
    assert end["gpu:1"].energy_j - start["gpu:1"].energy_j == pytest.approx(1000.0, abs=0.002)
    assert end["gpu:0"].power_w == 250.0
    assert start["gpu:0"].energy_j < 1.0  # the counter's value since driver load never leaks in
    assert sensor.update_period_s == 0.1
    sensor.close()


def test_counter_is_not_replaced_by_sparse_power(clock):
    """Fake GPU flipping 100/300 W every 50 ms with no instant-power field, read every 100 ms.

    Every read lands in a 100 W phase, so integrating nvmlDeviceGetPowerUsage would say 100 W;
    the counter says the true 200 W mean, and that is what must be reported.
    """
    fake = h100s(1, clock, power_w=lambda t: 100.0 if (t + 0.025) % 0.1 < 0.05 else 300.0)
    fake.gpus[0].has_instant_field = False
    sensor = NvmlSensor.open(clock=clock, nvml=fake)
    start = sensor.read()["gpu:0"]
    assert start.power_w == 100.0  # live watts from the fallback
    end = read_every(sensor, clock, 10.0)["gpu:0"]
    # 1% slack: the fake integrates the square wave's edges on a 0.5 ms grid.
    assert end.energy_j - start.energy_j == pytest.approx(2000.0, rel=0.01)
    assert sensor.method("gpu:0") == "nvml-counter"
    sensor.close()


def test_counter_quantisation_within_uncertainty(clock):
    """Fake GPU whose counter refreshes every 100 ms, on a short 0.35 s cell at 400 W."""
    fake = h100s(1, clock, power_w=lambda t: 400.0)
    fake.gpus[0].counter_period_s = 0.1
    clock.t_s = 100.07
    sensor = NvmlSensor.open(clock=clock, nvml=fake)
    start = sensor.read()["gpu:0"].energy_j
    clock.advance(0.35)
    measured = sensor.read()["gpu:0"].energy_j - start
    true = 400.0 * 0.35
    assert measured != pytest.approx(true, abs=1e-3)  # quantised, really
    assert abs(measured - true) <= sensor.uncertainty_j("gpu:0", measured, 0.35)


def test_pre_volta_trapezoid_integration(clock):
    """Fake pre-Volta GPU (no counter) ramping 100 -> 300 W over 10 s: trapezoid is exact, 2000 J."""
    gpu = FakeGpu(name="Tesla P100-PCIE-16GB", has_counter=False, power_w=lambda t: 100.0 + 20.0 * (t - 100.0))
    sensor = NvmlSensor.open(clock=clock, nvml=FakeNvml([gpu], clock))
    assert sensor.method("gpu:0") == "nvml-power-integration"
    assert any("trapezoid" in note and "gpu:0" in note for note in sensor.notes)
    sensor.begin()
    start = sensor.read()["gpu:0"]
    end = read_every(sensor, clock, 10.0)["gpu:0"]
    assert end.energy_j - start.energy_j == pytest.approx(2000.0, rel=1e-6)
    assert end.power_w == pytest.approx(300.0)


def test_pre_volta_smooth_profile_within_uncertainty(clock):
    """Fake pre-Volta GPU with a sinusoidal load read every 0.1 s: error inside the stated bound."""
    profile = lambda t: 200.0 + 80.0 * math.sin(2 * math.pi * t / 1.7)  # noqa: E731
    gpu = FakeGpu(has_counter=False, power_w=profile)
    sensor = NvmlSensor.open(clock=clock, nvml=FakeNvml([gpu], clock))
    start = sensor.read()["gpu:0"].energy_j
    measured = read_every(sensor, clock, 5.0)["gpu:0"].energy_j - start
    gpu.energy_j, gpu.t_s = 0.0, 100.0
    gpu.integrate_to(105.0)  # the true integral, from the fake's fine midpoint rule
    assert abs(measured - gpu.energy_j) < sensor.uncertainty_j("gpu:0", measured, 5.0)


@pytest.mark.parametrize("has_counter", [True, False])
def test_begin_ignores_the_gap_between_cells(clock, has_counter):
    """Fake GPU: a minute at 300 W between two cells, unread, is counted in neither."""
    fake = h100s(1, clock, power_w=lambda t: 300.0 if t < 200.0 else 50.0)
    fake.gpus[0].has_counter = has_counter
    sensor = NvmlSensor.open(clock=clock, nvml=fake)
    first = read_every(sensor, clock, 1.0)["gpu:0"].energy_j
    clock.t_s = 200.0
    sensor.begin()
    start = sensor.read()["gpu:0"].energy_j
    assert start == pytest.approx(first, abs=0.002)
    end = read_every(sensor, clock, 2.0)["gpu:0"].energy_j
    assert end - start == pytest.approx(100.0, abs=0.01)


def test_nvml_error_mid_run_is_counted_and_sampler_finishes(clock):
    """Fake GPU that reports 'GPU is lost' twice in the middle of a real Sampler run."""
    fake = h100s(1, clock, power_w=lambda t: 150.0)
    sensor = NvmlSensor.open(clock=clock, nvml=fake)

    def inject(step):
        if step == 10:
            fake.gpus[0].fail_with, fake.gpus[0].fail_calls = NVML_ERROR_GPU_IS_LOST, 2

    result = run_sampler(sensor, clock, steps=30, on_step=inject)
    assert result.read_errors == 2
    assert "gpu:0" in result.last_error and "GPU is lost" in result.last_error
    assert "\n" not in result.last_error
    # The counter is cumulative, so the failed samples lose no energy.
    assert result.energy_j("gpu:0") == pytest.approx(150.0 * 3.0, abs=0.002)
    sensor.close()


def test_read_error_is_sensor_read_error(clock):
    """Fake GPU failing one call: read() raises SensorReadError naming device and error."""
    fake = h100s(1, clock)
    sensor = NvmlSensor.open(clock=clock, nvml=fake)
    fake.gpus[0].fail_with, fake.gpus[0].fail_calls = NVML_ERROR_GPU_IS_LOST, 1
    with pytest.raises(SensorReadError, match=r"gpu:0 \(NVIDIA H100 80GB HBM3\).*GPU is lost"):
        sensor.read()
    sensor.read()  # recovers


def four_gpus(clock):
    """Four fake GPUs drawing 10, 20, 30, 40 W, GPU 1 split into two MIG slices."""
    gpus = [
        FakeGpu(uuid=f"GPU-{i}{i}{i}-uuid", name=f"Fake GPU {i}", power_w=lambda t, w=10.0 * (i + 1): w)
        for i in range(4)
    ]
    gpus[1].mig_uuids = ("MIG-aaaa-1", "MIG-aaaa-2")
    return FakeNvml(gpus, clock)


@pytest.mark.parametrize(
    "visible, watts",
    [
        ("2,0", [30.0, 10.0]),
        ("GPU-333-uuid, GPU-111-uuid", [40.0, 20.0]),
        ("3,1,9,0", [40.0, 20.0]),  # CUDA stops at the first unusable entry
        ("1,1", [20.0]),
        ("MIG-aaaa-2", [20.0]),
        ("MIG-GPU-222-uuid/1/0", [30.0]),
    ],
)
def test_cuda_visible_devices_mapping(clock, monkeypatch, visible, watts):
    """Fake 4-GPU machine: gpu:N is the N-th GPU that CUDA_VISIBLE_DEVICES shows, as in CUDA."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    sensor = NvmlSensor.open(clock=clock, nvml=four_gpus(clock))
    readings = sensor.read()
    assert [readings[f"gpu:{i}"].power_w for i in range(len(watts))] == watts
    assert len(readings) == len(watts)
    if visible.startswith("MIG"):
        assert any("MIG" in note and "whole GPU" in note for note in sensor.notes)
    if visible in ("3,1,9,0", "1,1"):
        assert any("CUDA_VISIBLE_DEVICES entry" in note for note in sensor.notes)


def test_gpus_select_visible_positions(clock, monkeypatch):
    """Fake 4-GPU machine with CUDA_VISIBLE_DEVICES=3,2: --gpus 1 is physical GPU 2."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,2")
    sensor = NvmlSensor.open(gpus=(1,), clock=clock, nvml=four_gpus(clock))
    assert sensor.domains == ("gpu:1",)
    assert sensor.read()["gpu:1"].power_w == 30.0
    assert sensor.describe("gpu:1") == "GPU 1: Fake GPU 2 (NVML)"


def test_bad_gpu_index_is_invalid_input(clock):
    """Fake 2-GPU machine asked for GPU 3; NVML is shut down again."""
    fake = h100s(2, clock)
    with pytest.raises(InvalidInput) as info:
        NvmlSensor.open(gpus=(0, 3), clock=clock, nvml=fake)
    assert str(info.value) == "GPU 3 does not exist: 2 visible (0-1); check --gpus or CUDA_VISIBLE_DEVICES"
    assert fake.initialised == 0


def test_all_gpus_hidden_is_unavailable(clock, monkeypatch):
    """Fake GPU hidden by an empty CUDA_VISIBLE_DEVICES."""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(SensorUnavailable, match="CUDA_VISIBLE_DEVICES"):
        NvmlSensor.open(clock=clock, nvml=h100s(1, clock))


def test_nvml_not_installed(monkeypatch):
    """No pynvml importable (sys.modules entry set to None makes import fail)."""
    monkeypatch.setitem(sys.modules, "pynvml", None)
    with pytest.raises(SensorUnavailable, match=r"pip install 'lepton_lab\[gpu\]'"):
        NvmlSensor.open()


def test_init_failure_is_unavailable(clock):
    """Fake NVML whose nvmlInit fails as with no driver loaded."""
    fake = FakeNvml([FakeGpu()], clock, init_error=NVML_ERROR_DRIVER_NOT_LOADED)
    with pytest.raises(SensorUnavailable) as info:
        NvmlSensor.open(clock=clock, nvml=fake)
    assert "Driver Not Loaded" in str(info.value) and "\n" not in str(info.value)


def test_close_is_idempotent(clock):
    """Fake NVML counts shutdowns: two close() calls shut down once; reads then fail cleanly."""
    fake = h100s(1, clock)
    with NvmlSensor.open(clock=clock, nvml=fake) as sensor:
        sensor.read()
    sensor.close()
    assert fake.shutdown_calls == 1
    with pytest.raises(SensorReadError, match="closed"):
        sensor.read()


def test_describe_accepts_bytes_names_and_uncertainty(clock):
    """Fake NVML returning bytes names, as older nvidia-ml-py releases did."""
    fake = h100s(1, clock, bytes_names=True)
    sensor = NvmlSensor.open(clock=clock, nvml=fake)
    assert sensor.describe("gpu:0") == "GPU 0: NVIDIA H100 80GB HBM3 (NVML)"
    # A steady 100 W for 10 s on an H100 (gpu_models): the calibration class (5 % + 5 W = 100 J)
    # dominates; the edges add a few joules in quadrature.
    assert 100.0 < sensor.uncertainty_j("gpu:0", 1000.0, 10.0) < 110.0
    assert "calibration offset" in sensor.uncertainty_note("gpu:0", 1000.0, 10.0)


def test_mixed_models_note_device_order(clock):
    """Fake machine with two different GPU models and no CUDA_DEVICE_ORDER."""
    fake = FakeNvml([FakeGpu(name="A", uuid="GPU-a"), FakeGpu(name="B", uuid="GPU-b")], clock)
    sensor = NvmlSensor.open(clock=clock, nvml=fake)
    assert any("CUDA_DEVICE_ORDER=PCI_BUS_ID" in note for note in sensor.notes)


def test_discover_finds_fake_nvml(clock, monkeypatch):
    """discover() with _load_nvml patched to hand out a fake 2-GPU NVML (RAPL root is empty)."""
    fake = h100s(2, clock)
    monkeypatch.setattr(nvml_module, "_load_nvml", lambda: fake)
    found = sensors.discover(clock=clock)
    try:
        assert [s.name for s in found.sensors] == ["nvml"]
        assert found.sensors[0].domains == ("gpu:0", "gpu:1")
        assert "not exposed" in found.unavailable["rapl"]
        assert not found.is_estimate and found.fallback_reason is None
    finally:
        found.close()
    assert fake.initialised == 0
    with pytest.raises(InvalidInput, match="GPU 5 does not exist"):
        sensors.discover("nvml", gpus="5", clock=clock)
    only = sensors.discover("nvml", gpus="1", clock=clock)
    assert only.sensors[0].domains == ("gpu:1",)
    only.close()
