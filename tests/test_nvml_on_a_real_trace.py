"""Real-shaped data through the real code path: the fake NVML (tests/fakes/fake_nvml.py, this
machine has no GPU) plays the H100 trace recorded serving Llama-3.1-8B (package data): instant
power from the trace, the energy counter its running integral, updated every 0.1 s as the
hardware does. Everything above NVML is the real sensor, sampler, magic, report and live view."""
from __future__ import annotations

import time

import numpy as np
import pytest

import lepton_lab
from lepton_lab import traces
from lepton_lab.sensors import close_cached
from lepton_lab.sensors import nvml as nvml_module
from tests.fakes.fake_nvml import FakeGpu, FakeNvml

TRACE = "h100-llama-3.1-8b-batch-256"


def trace_integral(a: float, b: float) -> float:
    t, w = (np.asarray(v) for v in traces.series(TRACE))
    grid = np.linspace(a, b, 20_001)
    return float(np.trapezoid(np.interp(grid, t, w), grid))


@pytest.fixture
def h100_playing_the_trace(monkeypatch):
    t, w = traces.series(TRACE)
    origin = time.monotonic()
    gpu = FakeGpu(power_w=lambda now: float(np.interp(now - origin, t, w)), counter_period_s=0.1)
    fake = FakeNvml([gpu], time.monotonic)
    monkeypatch.setattr(nvml_module, "_load_nvml", lambda: fake)
    close_cached()
    yield origin
    close_cached()


def test_the_magic_on_a_real_h100_trace_matches_its_integral(shell, h100_playing_the_trace):
    origin = h100_playing_the_trace
    time.sleep(1.0)  # start mid-trace, where the power moves
    before = time.monotonic() - origin
    # 3 s, and at least 20 samples however slowly a busy machine lets the sampler read.
    result = shell.run_cell("%%energy -q --var rep -l real-shape\nimport time\nbody_at = time.monotonic()\n"
                            "from lepton_lab.sampler import active_samplers\nsampler = active_samplers()[-1]\n"
                            "while time.monotonic() - body_at < 3 or len(sampler.snapshot()) < 20:\n"
                            "    time.sleep(0.05)")
    assert result.success
    report = shell.user_ns["rep"]
    assert report.kind == "measured" and report.methods == "nvml-counter"
    # The measurement began between `before` and the body's first line (later on a busy machine):
    # the truth is the trace's integral over the measured duration from some instant in there.
    starts = np.linspace(before, shell.user_ns["body_at"] - origin, 11)
    truths = [trace_integral(a, a + report.duration_s) for a in starts]
    low, high = min(truths), max(truths)
    assert low - report.uncertainty_j <= report.energy_j <= high + report.uncertainty_j, (
        report.energy_j, truths, report.uncertainty_j)
    assert low * 0.95 <= report.energy_j <= high * 1.05, (report.energy_j, truths)
    watts = np.asarray(report.trace["power_w"]["gpu:0"])
    assert len(watts) >= 20 and np.ptp(watts) > 30  # the trace's ups and downs, not a constant


def test_the_live_view_receives_the_traces_shape(h100_playing_the_trace):
    from lepton_lab.widgets.live import LivePowerView

    origin = h100_playing_the_trace
    before = time.monotonic() - origin
    with lepton_lab.measure(interval=0.05, save=False) as block:
        start = time.monotonic() - origin
        view = LivePowerView.for_measurement(block.measurement)
        block.subscribe(view.on_sample)
        # 2 s, and at least 20 points however slowly a busy machine lets the sampler read.
        while time.monotonic() - origin - start < 2.0 or len(view.buffer.arrays()[0]) < 20:
            time.sleep(0.05)
    view.close()
    t, power, _ = view.buffer.arrays()
    trace_t, trace_w = (np.asarray(v) for v in traces.series(TRACE))
    assert len(t) >= 20
    # The measurement began between `before` and `start`: the view follows the trace from one of
    # those instants (the figures hold for the best of them).
    offsets = np.linspace(before, start, 11)
    expected = min((np.interp(t + a, trace_t, trace_w) for a in offsets),
                   key=lambda e: float(np.max(np.abs(power["gpu:0"] - e))))
    assert np.corrcoef(power["gpu:0"], expected)[0, 1] > 0.9
    assert np.max(np.abs(power["gpu:0"] - expected)) < 60.0
