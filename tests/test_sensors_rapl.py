"""RaplSensor against a fake powercap tree.

This machine exposes no RAPL, so every test here reads the fake sysfs tree built by
``tests.fakes.fake_sysfs`` in tmp_path; nothing reads the real /sys/class/powercap.
"""
from __future__ import annotations

import threading

import pytest

from lepton_lab.errors import SensorReadError, SensorUnavailable
from lepton_lab.sampler import Sampler
from lepton_lab.sensors.rapl import RaplSensor
from tests.fakes.fake_nvml import FakeClock
from tests.fakes.fake_sysfs import FakePowercap

SMALL_RANGE_UJ = 100_000_000  # 100 J: wraps every second at 100 W, so tests see many wraps


@pytest.fixture
def tree(tmp_path):
    """Two packages with core, uncore and dram subzones, plus psys and an MMIO duplicate (fake)."""
    fake = FakePowercap(tmp_path)
    for pkg in (0, 1):
        fake.add_package(pkg, range_uj=SMALL_RANGE_UJ)
        fake.add_subzone(pkg, 0, "core", range_uj=SMALL_RANGE_UJ)
        fake.add_subzone(pkg, 1, "uncore")
        fake.add_subzone(pkg, 2, "dram", range_uj=SMALL_RANGE_UJ)
    fake.add_psys(2)
    fake.add_mmio(0)
    return fake


def busy_profile(t_s: float) -> dict[str, float]:
    """Package 0 ramps 50 -> 150 W over 10 s, package 1 holds 80 W; subzones draw their share."""
    pkg0 = 50.0 + 10.0 * t_s
    return {
        "intel-rapl:0": pkg0, "intel-rapl:0:0": 0.7 * pkg0, "intel-rapl:0:1": 5.0, "intel-rapl:0:2": 12.0,
        "intel-rapl:1": 80.0, "intel-rapl:1:0": 60.0, "intel-rapl:1:1": 4.0, "intel-rapl:1:2": 9.0,
        "intel-rapl:2": 300.0, "intel-rapl-mmio:0": pkg0,
    }


def test_domains_are_packages_and_dram_only(tree):
    """Fake tree: core/uncore are inside the package, psys and MMIO duplicate it, so none is a domain."""
    sensor = RaplSensor.open(root=tree.root)
    assert sensor.domains == ("cpu:package-0", "cpu:package-1", "cpu:dram-0", "cpu:dram-1")
    assert sensor.method("cpu:package-0") == "rapl"
    assert sensor.describe("cpu:package-1") == "CPU package 1 (RAPL)"
    assert sensor.describe("cpu:dram-0") == "DRAM of CPU package 0 (RAPL)"
    assert all(r.power_w is None for r in sensor.read().values())


def test_totals_follow_profile_through_several_wraps(tree):
    """Fake tree, 10 s of known power read every 0.1 s: 10 wraps of package 0, totals exact."""
    sensor = RaplSensor.open(root=tree.root)
    sensor.begin()
    start = sensor.read()
    tree.run(busy_profile, duration_s=10.0, step_s=0.1, on_step=sensor.read)
    end = sensor.read()
    energy = {d: end[d].energy_j - start[d].energy_j for d in end}
    assert energy["cpu:package-0"] == pytest.approx(1000.0, abs=1e-3)  # mean 100 W over 10 s
    assert energy["cpu:package-1"] == pytest.approx(800.0, abs=1e-3)
    assert energy["cpu:dram-0"] == pytest.approx(120.0, abs=1e-3)
    assert energy["cpu:dram-1"] == pytest.approx(90.0, abs=1e-3)
    assert energy["cpu:package-0"] == pytest.approx(tree.zones["intel-rapl:0"].true_j, abs=1e-6)
    assert tree.zones["intel-rapl:0"].true_j > 9 * SMALL_RANGE_UJ / 1e6  # it really wrapped many times


def test_read_interval_bound_catches_every_wrap(tmp_path):
    """Fake tree: at 500 W the counter wraps every 0.2 s; the sensor asks for reads every 0.1 s."""
    tree = FakePowercap(tmp_path)
    tree.add_package(0, range_uj=SMALL_RANGE_UJ)
    sensor = RaplSensor.open(root=tree.root)
    assert sensor.max_read_interval_s == pytest.approx(0.1)
    before = sensor.read()["cpu:package-0"].energy_j
    tree.run(lambda t: {"intel-rapl:0": 500.0}, duration_s=4.0, step_s=sensor.max_read_interval_s,
             on_step=sensor.read)
    assert sensor.read()["cpu:package-0"].energy_j - before == pytest.approx(2000.0, abs=1e-3)


def test_read_interval_is_clamped(tmp_path):
    """Fake tree: the real 262 kJ range gives a long wrap period, clamped to the 60 s ceiling."""
    tree = FakePowercap(tmp_path)
    tree.add_package(0)
    assert RaplSensor.open(root=tree.root).max_read_interval_s == 60.0
    tiny = FakePowercap(tmp_path / "tiny")
    tiny.add_package(0, range_uj=1000)
    assert RaplSensor.open(root=tiny.root).max_read_interval_s == 0.05


def test_begin_rebases_after_idle_gap_with_wraps(tree):
    """Fake tree: energy spent (and wrapped) between two cells, unread, is not counted in either."""
    sensor = RaplSensor.open(root=tree.root)
    first = sensor.read()["cpu:package-0"].energy_j
    # Idle between cells: 250 J at 100 W while nobody reads, i.e. two and a half wraps.
    tree.run(lambda t: {"intel-rapl:0": 100.0}, duration_s=2.5, step_s=2.5)
    sensor.begin()
    start = sensor.read()["cpu:package-0"].energy_j
    assert start == first  # begin adds nothing
    tree.run(lambda t: {"intel-rapl:0": 120.0}, duration_s=3.0, step_s=0.1, on_step=sensor.read)
    assert sensor.read()["cpu:package-0"].energy_j - start == pytest.approx(360.0, abs=1e-3)


def test_subzones_only_nested_are_found(tmp_path):
    """Fake tree without top-level subzone links: dram is found inside its package folder."""
    tree = FakePowercap(tmp_path, link_subzones=False)
    tree.add_package(0)
    tree.add_subzone(0, 0, "core")
    tree.add_subzone(0, 1, "dram")
    assert RaplSensor.open(root=tree.root).domains == ("cpu:package-0", "cpu:dram-0")


def test_multi_die_packages(tmp_path):
    """Fake tree of a multi-die CPU: each die zone is its own domain, its dram follows its name."""
    tree = FakePowercap(tmp_path)
    tree.add_package(0, name="package-0-die-0")
    tree.add_package(1, name="package-0-die-1")
    tree.add_subzone(1, 0, "dram")
    sensor = RaplSensor.open(root=tree.root)
    assert sensor.domains == ("cpu:package-0-die-0", "cpu:package-0-die-1", "cpu:dram-0-die-1")
    assert sensor.describe("cpu:package-0-die-1") == "CPU package 0 die 1 (RAPL)"


def test_permission_denied_is_explained(tree, monkeypatch):
    """Fake tree with energy_uj unreadable (kernel >= 5.10 for non-root; injected when run as root)."""
    tree.deny_read(monkeypatch, "intel-rapl:0")
    with pytest.raises(SensorUnavailable) as info:
        RaplSensor.open(root=tree.root)
    message = str(info.value)
    assert "\n" not in message
    assert "CVE-2020-8694" in message and "5.10" in message
    assert f"sudo chmod o+r {tree.root}/intel-rapl:*/energy_uj" in message


def test_missing_root_is_explained(tmp_path, monkeypatch):
    """No fake tree at all, as in a VM or container: the env var from conftest points nowhere."""
    with pytest.raises(SensorUnavailable) as info:
        RaplSensor.open()
    message = str(info.value)
    assert "\n" not in message
    assert "not exposed" in message and "modprobe" in message and "no-powercap" in message


def test_root_with_only_psys_and_mmio_is_unavailable(tmp_path):
    """Fake tree holding only zones the sensor must ignore: nothing to report."""
    tree = FakePowercap(tmp_path)
    tree.add_psys(0)
    tree.add_mmio(0)
    with pytest.raises(SensorUnavailable, match="no intel-rapl package zone"):
        RaplSensor.open(root=tree.root)


def test_root_from_environment(tree, monkeypatch):
    """Fake tree found through LEPTON_LAB_RAPL_ROOT (the root argument wins over it)."""
    monkeypatch.setenv("LEPTON_LAB_RAPL_ROOT", str(tree.root))
    assert RaplSensor.open().root == tree.root


def test_failed_read_raises_sensor_read_error(tree):
    """Fake tree whose zone disappears mid-run (e.g. module unloaded)."""
    sensor = RaplSensor.open(root=tree.root)
    (tree.zones["intel-rapl:1"].path / "energy_uj").unlink()
    with pytest.raises(SensorReadError, match="intel-rapl:1"):
        sensor.read()


def test_uncertainty_is_small_and_relative(tree):
    """Fake tree: 1% of the energy plus a millijoule."""
    sensor = RaplSensor.open(root=tree.root)
    assert sensor.uncertainty_j("cpu:package-0", 1000.0, 10.0) == pytest.approx(10.001)
    assert sensor.uncertainty_j("cpu:package-0", 0.0, 1.0) > 0


def test_sampler_on_fake_tree_counts_every_wrap(tree):
    """Real Sampler thread on the fake tree: each sample advances fake time 0.05 s at 1 kW.

    A subscriber (which runs on the sampler thread right after each read) moves the counters, so
    sampler reads and counter updates never race, and 50 J per sample keeps under the 100 J range.
    """
    clock = FakeClock()
    sensor = RaplSensor.open(root=tree.root, clock=clock)
    sampler = Sampler([sensor], interval_s=1.0, clock=clock)
    assert sampler.interval_s == sensor.max_read_interval_s == 0.1  # the wrap bound wins
    sampler.interval_s = 0.005  # fake time runs apart from real time: sample fast to finish fast
    done = threading.Event()
    steps = []

    def advance(sample):
        if len(steps) == 60:  # 3 s of fake time
            done.set()
            return
        steps.append(sample.t_s)
        tree.run(lambda t: {"intel-rapl:0": 1000.0, "intel-rapl:0:2": 20.0}, duration_s=0.05, step_s=0.05)
        clock.advance(0.05)

    sampler.subscribe(advance)
    sampler.start()
    try:
        assert done.wait(10.0)
    finally:
        result = sampler.stop()
    assert result.read_errors == 0
    assert result.energy_j("cpu:package-0") == pytest.approx(3000.0, abs=1e-3)  # 30 wraps
    assert result.energy_j("cpu:dram-0") == pytest.approx(60.0, abs=1e-3)
    assert result.energy_j("cpu:package-1") == 0.0
    assert result.peak_w["cpu:package-0"] == pytest.approx(1000.0)
