"""The fault battery of issue 7 in a real IPython shell: whatever breaks, the cell's outcome is
unchanged, nothing is lost and nothing is left running.

Faked, because this machine has neither: an NVIDIA GPU (``tests/fakes/fake_nvml.py``, which
raises nvidia-ml-py's own error classes and codes) and a RAPL powercap tree
(``tests/fakes/fake_sysfs.py``). The shell, the sampler thread, SQLite and the files are real.
"""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest

import lepton_lab
from lepton_lab.sampler import active_samplers
from tests.fakes.fake_nvml import NVML_ERROR_GPU_IS_LOST, h100s
from tests.fakes.fake_sysfs import FakePowercap


def rows(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT label, status, kind FROM measurements ORDER BY id").fetchall()
    db.close()
    return found


# Cell lines: wait until the sampler has read for T seconds (however slowly a busy machine lets it),
# note when, and give the cell's own clock before the fault, so that the tests need no timing.
READ_FOR = ("import time\nfrom lepton_lab.sampler import active_samplers\nsampler = active_samplers()[-1]\n"
            "while not sampler.snapshot() or sampler.snapshot()[-1].t_s < {t}:\n    time.sleep(0.005)\n"
            "read_s = sampler.snapshot()[-1].t_s\n")


def test_a_gpu_lost_mid_cell_keeps_the_other_gpu_and_says_which_and_from_when(shell, monkeypatch, tmp_path, capsys):
    """Fake NVML: two H100s at 200 W; the cell itself makes GPU 1 report GPU_IS_LOST once the
    sampler has read both for 0.4 s."""
    from lepton_lab.sensors import nvml as nvml_module

    fake = h100s(2, time.monotonic, power_w=lambda t: 200.0)
    monkeypatch.setattr(nvml_module, "_load_nvml", lambda: fake)
    shell.user_ns["gpu_1"] = fake.gpus[1]
    before = time.monotonic()
    result = shell.run_cell(
        "%%energy --var rep -l gpu-lost --no-plot\n" + READ_FOR.format(t=0.4)
        + f"gpu_1.fail_with, gpu_1.fail_calls = {NVML_ERROR_GPU_IS_LOST}, -1\nbroken_at = time.monotonic()\n"
        "time.sleep(1.0)\n'cell done'")
    assert result.success and result.result == "cell done"  # the cell's outcome is untouched
    report = shell.user_ns["rep"]
    gpu0, gpu1 = report.domains["gpu:0"], report.domains["gpu:1"]
    assert gpu0.read_until_s is None and gpu0.energy_j == pytest.approx(200 * report.duration_s, rel=0.05)
    # Read until the fault: at least as long as the cell saw it read, at most until it broke
    # (the sampler started after `before`).
    read_s, broken_s = shell.user_ns["read_s"], shell.user_ns["broken_at"] - before
    assert read_s <= gpu1.read_until_s <= broken_s, (read_s, gpu1.read_until_s, broken_s)
    assert gpu1.energy_j == pytest.approx(200 * gpu1.read_until_s, rel=0.1)
    note = next(n for n in report.warnings if n.startswith("gpu:1: reads failed from"))
    assert "GPU is lost" in note and "covers the first" in note
    assert "gpu:1: reads failed from" in capsys.readouterr().out  # in the summary the user sees
    assert rows(tmp_path / "ledger.sqlite") == [("gpu-lost", "ok", "measured")]
    assert not active_samplers()


def test_a_sensor_failing_on_every_read_from_mid_cell_is_given_up_and_the_sampler_stops(shell, monkeypatch, tmp_path):
    """Fake powercap tree: once the sampler has read it for 0.3 s, the cell replaces package-0's
    energy_uj by a folder, so every later read raises; the cell waits for the sampler to give up
    (it must, by itself), then fails, and its exception still reaches the user unchanged."""
    from lepton_lab.sensors import close_cached

    cap = FakePowercap(tmp_path)
    zone = cap.add_package(0)
    monkeypatch.setenv("LEPTON_LAB_RAPL_ROOT", str(cap.root))
    close_cached()
    shell.user_ns["energy_file"] = zone.path / "energy_uj"
    before = time.monotonic()
    result = shell.run_cell(
        "%%energy -q --var rep -l rapl-gone --sensors rapl -i 0.02\n" + READ_FOR.format(t=0.3)
        + "energy_file.unlink(); energy_file.mkdir()\nbroken_at = time.monotonic()\n"
        "while sampler.running and time.monotonic() < broken_at + 30:\n    time.sleep(0.01)\n"
        "gave_up = not sampler.running\nraise ValueError('the cell failed by itself')")
    assert isinstance(result.error_in_exec, ValueError) and str(result.error_in_exec) == "the cell failed by itself"
    report = shell.user_ns["rep"]
    domain = report.domains["cpu:package-0"]
    read_s, broken_s = shell.user_ns["read_s"], shell.user_ns["broken_at"] - before
    assert read_s <= domain.read_until_s <= broken_s, (read_s, domain.read_until_s, broken_s)
    note = next(n for n in report.warnings if n.startswith("cpu:package-0: reads failed from"))
    assert "energy_uj" in note
    assert report.status == "error" and report.error.startswith("ValueError")
    # The sampler gave the domain up and stopped while the cell still ran: no sample after the
    # last good read, but the final one.
    assert shell.user_ns["gave_up"] is True
    assert max(report.trace["t_s"][:-1]) <= domain.read_until_s + 1e-4, (report.trace["t_s"], domain)
    assert not active_samplers()
    assert rows(tmp_path / "ledger.sqlite") == [("rapl-gone", "error", "measured")]


def test_the_sampler_thread_ends_by_itself_once_every_domain_is_lost(tmp_path):
    from lepton_lab.sampler import Sampler
    from lepton_lab.sensors.rapl import RaplSensor

    cap = FakePowercap(tmp_path)
    zone = cap.add_package(0)
    sensor = RaplSensor.open(root=cap.root)
    sampler = Sampler([sensor], interval_s=0.01)
    sampler.start()
    (zone.path / "energy_uj").unlink()
    deadline = time.monotonic() + 5
    while sampler.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sampler.running  # stopped reading a sensor that is gone, before anyone called stop()
    result = sampler.stop()
    assert set(result.lost) == {"cpu:package-0"} and result.energy_j("cpu:package-0") == 0.0


def test_the_ledger_deleted_between_two_cells_is_recreated(shell, tmp_path):
    shell.run_cell("%%energy -q -l before\npass")
    for leftover in tmp_path.glob("ledger.sqlite*"):
        leftover.unlink()
    shell.run_cell("%%energy -q -l after\npass")
    assert lepton_lab.last_report().saved
    assert rows(tmp_path / "ledger.sqlite") == [("after", "ok", "estimated")]


def test_a_thread_the_cell_starts_is_not_taken_for_the_sampler(shell):
    """It outlives the cell, even under a name like the sampler's: the cell ends when its body
    does, the thread runs on, and lepton_lab knows its own sampler is gone."""
    release = threading.Event()
    shell.user_ns["release"] = release
    started = time.monotonic()
    result = shell.run_cell(
        "%%energy -q -l spawns\nimport threading\n"
        "worker = threading.Thread(target=release.wait, args=(30,), name='lepton-sampler-999', daemon=True)\n"
        "worker.start()")
    try:
        assert result.success and time.monotonic() - started < 10
        assert shell.user_ns["worker"].is_alive()
        assert not active_samplers()
        assert lepton_lab.last_report().label == "spawns" and lepton_lab.last_report().saved
    finally:
        release.set()
        shell.user_ns["worker"].join(5)
