"""CONTRIBUTING.md's steps, followed once: a throwaway sensor (tests/fakes/constant_sensor.py, a
42 W meter that stands in for hardware) plus its registry line, and every way in picks it up."""
from __future__ import annotations

import time

import pytest

import lepton_lab
from lepton_lab import cli
from lepton_lab.sensors import close_cached, registry
from tests.fakes.constant_sensor import WATTS


@pytest.fixture
def constant_sensor():
    registry.register(registry.SensorType("constant", "tests.fakes.constant_sensor", "ConstantSensor"))
    close_cached()
    yield
    registry.unregister("constant")
    close_cached()


def test_a_new_sensor_is_one_module_and_one_registry_line(constant_sensor, shell, capsys):
    assert any(s.name == "constant" for s in lepton_lab.discover().sensors)
    assert "psu:0" in lepton_lab.sensor_summary()
    with lepton_lab.measure(sensors="constant") as block:
        time.sleep(0.05)
    api = block.report
    shell.run_cell("%%energy -q --sensors constant --var magic_report\nimport time\ntime.sleep(0.05)")
    magic = shell.user_ns["magic_report"]
    assert cli.main(["measure", "--sensors", "constant", "--", "sleep", "0.05"]) == 0
    command = lepton_lab.last_report()
    for report in (api, magic, command):
        assert list(report.domains) == ["psu:0"] and report.kind == "measured"
        assert report.methods == "constant-meter"
        assert report.energy_j == pytest.approx(WATTS * report.duration_s, rel=0.02)
    # Not asked for by name, a real sensor is read by default: no estimate any more.
    with lepton_lab.measure() as default:
        pass
    assert "psu:0" in default.report.domains and default.report.kind == "measured"
    capsys.readouterr()
    assert cli.main(["measure", "--sensors", "nothing", "--", "true"]) == 2
    assert "choose from nvml, rapl, constant, replay, estimate" in capsys.readouterr().err
