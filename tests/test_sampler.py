"""The sampler with an in-memory sensor (a programmable power profile stands in for hardware).

The sampler's thread is real and a busy machine preempts it at will, so the tests wait for what
they need (so many reads, a first sample) instead of sleeping a fixed time. Where a figure must
be exact, sensor and sampler share a :class:`StepClock`: a preemption between the sampler's
timing of a read and the sensor's own clock would otherwise move the two apart.
"""
from __future__ import annotations

import itertools
import threading
import time

import pytest

from lepton_lab.errors import InvalidInput, SensorReadError
from lepton_lab.sampler import Sampler, active_samplers, validate_interval
from lepton_lab.sensors.base import DomainReading, Sensor


class ProfileSensor(Sensor):
    """Fake sensor: energy = integral of a known constant power over the real clock."""

    name = "profile"

    def __init__(self, watts=50.0, fail_on=(), with_power=False, clock=time.monotonic):
        super().__init__(clock)
        self.watts, self.fail_on, self.with_power = watts, set(fail_on), with_power
        self.reads = 0
        self.t0 = self.clock()

    @property
    def domains(self):
        return ("fake:0",)

    def read(self):
        self.reads += 1
        if self.reads in self.fail_on:
            raise SensorReadError("fake: device fell off the bus")
        energy = self.watts * (self.clock() - self.t0)
        return {"fake:0": DomainReading(energy, self.watts if self.with_power else None)}

    def method(self, domain):
        return "fake"


class StepClock:
    """A clock that moves 1 ms each time it is read. The sampler stamps a read with the middle of
    its own clock before and after it; the sensor reads the clock once in between: with this
    clock the two agree exactly, whatever the scheduler does to the threads meanwhile."""

    def __init__(self, step_s: float = 0.001):
        self._ticks, self.step_s = itertools.count(), step_s

    def __call__(self) -> float:
        return next(self._ticks) * self.step_s


def _wait_for(condition, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the sampler thread did not get there in time"
        time.sleep(0.005)


def test_energy_between_exact_reads_matches_profile():
    clock = StepClock()
    sensor = ProfileSensor(watts=50.0, clock=clock)
    sampler = Sampler([sensor], interval_s=0.01, clock=clock)
    sampler.start()
    _wait_for(lambda: len(sampler.snapshot()) >= 10)
    result = sampler.stop()
    assert result.energy_j("fake:0") == pytest.approx(50.0 * result.duration_s, rel=1e-9)
    assert len(result.samples) >= 10
    assert all(s.power_w["fake:0"] == pytest.approx(50.0, rel=1e-9) for s in result.samples[1:])
    assert result.peak_w["fake:0"] == pytest.approx(50.0, rel=1e-9)


def test_stop_is_idempotent_and_thread_is_gone():
    sampler = Sampler([ProfileSensor()], interval_s=0.01)
    sampler.start()
    assert sampler.running and active_samplers() == [sampler]
    first = sampler.stop()
    assert sampler.stop() is first
    assert not sampler.running and active_samplers() == []


def test_read_errors_are_counted_not_raised():
    sensor = ProfileSensor(fail_on={3, 4, 5})
    sampler = Sampler([sensor], interval_s=0.01)
    sampler.start()
    _wait_for(lambda: sensor.reads >= 6)  # the failing reads 3-5, and a good one after them
    result = sampler.stop()
    assert result.read_errors == 3 and "fell off" in result.last_error
    assert result.energy_j("fake:0") > 0


def test_subscribers_get_samples_on_the_sampler_thread_and_broken_ones_are_isolated():
    seen, threads = [], set()
    sampler = Sampler([ProfileSensor(with_power=True)], interval_s=0.01)
    sampler.subscribe(lambda s: (seen.append(s), threads.add(threading.current_thread().name)))
    sampler.subscribe(lambda s: 1 / 0)
    sampler.start()
    _wait_for(lambda: len(seen) >= 2)
    sampler.stop()
    assert seen and all(name.startswith("lepton-sampler-") for name in threads)
    assert sampler.subscriber_errors >= len(seen)


def test_buffer_is_bounded_by_decimation():
    clock = StepClock()
    sensor = ProfileSensor(clock=clock)
    sampler = Sampler([sensor], interval_s=0.005, max_samples=16, clock=clock)
    sampler.start()
    _wait_for(lambda: sensor.reads >= 40)  # well over the 16 kept
    result = sampler.stop()
    assert len(result.samples) < 16 and result.decimation >= 2
    # energy comes from the exact reads, so decimation loses nothing of it
    assert result.energy_j("fake:0") == pytest.approx(50.0 * result.duration_s, rel=1e-9)


def test_interval_is_shortened_to_the_sensors_limit():
    sensor = ProfileSensor()
    sensor.max_read_interval_s = 0.02
    assert Sampler([sensor], interval_s=1.0).interval_s == 0.02


@pytest.mark.parametrize("value", [-1, 0, "abc", float("nan"), float("inf"), 1e-6, 3600])
def test_bad_intervals_are_rejected_with_one_line(value):
    with pytest.raises(InvalidInput) as info:
        validate_interval(value)
    assert "\n" not in str(info.value) and "-i" in str(info.value)


def test_final_read_is_retried_once():
    clock = StepClock()
    sensor = ProfileSensor(clock=clock)
    sampler = Sampler([sensor], interval_s=1.0, clock=clock)
    sampler.start()  # read 1
    time.sleep(0.05)
    sensor.fail_on = {sensor.reads + 1}  # the final read fails once, its retry succeeds
    result = sampler.stop()
    assert result.read_errors == 0
    assert result.energy_j("fake:0") == pytest.approx(50.0 * result.duration_s, rel=1e-9)
