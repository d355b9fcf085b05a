"""Lessons in Colab: the install cell first in every notebook, what it does on Colab and nowhere
else, the README's links, and the GPU paths a Colab GPU runtime takes.

Colab cannot be reached from here, so its pieces are fakes and say so: a fake ``google.colab``
module, a recorded ``subprocess.run``, a fake ``torch`` whose CUDA is available, and the fake NVML
module (``tests/fakes/fake_nvml.py``) as a T4 (Turing: it has the energy counter).
"""
from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from tests import notebooks_colab_cell as colab
from tests.fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_lesson_and_the_readme_are_up_to_date():
    assert LESSONS and colab.updates() == {}, "run: python -m tests.notebooks_colab_cell"
    readme = (ROOT / "README.md").read_text()
    for path in LESSONS:
        first = json.loads(path.read_text())["cells"][0]
        assert first["id"] == colab.CELL_ID and "".join(first["source"]) == colab.CELL_SOURCE, path.name
        assert f"({colab.colab_url(path.name)})" in readme, path.name


def test_the_script_is_idempotent_and_leaves_the_other_cells_alone():
    text = LESSONS[0].read_text()
    once = colab.with_install_cell(text)
    assert colab.with_install_cell(once) == once
    before, after = json.loads(text)["cells"], json.loads(once)["cells"]
    assert after[1:] == [c for c in before if c["id"] != colab.CELL_ID]
    without = json.dumps({**json.loads(text), "cells": before[1:]}, indent=1, ensure_ascii=False) + "\n"
    assert colab.with_install_cell(without) == once  # a notebook without the cell gets it first


def _run_cell(monkeypatch, on_colab: bool, gpu: bool = True) -> tuple[list, dict]:
    calls: list = []
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: calls.append((args, kwargs)))
    monkeypatch.setattr("shutil.which", lambda name: "/usr/bin/nvidia-smi" if gpu else None)
    if on_colab:  # fake: Colab's own package, importable only there
        google = types.ModuleType("google")
        google.__path__ = []
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.setitem(sys.modules, "google.colab", None)  # import google.colab raises ImportError
    namespace: dict = {}
    exec(compile(colab.CELL_SOURCE, "<colab-install>", "exec"), namespace)
    namespace.pop("__builtins__")
    return calls, namespace


def test_the_install_cell_does_nothing_and_says_nothing_elsewhere(monkeypatch, capfd):
    calls, namespace = _run_cell(monkeypatch, on_colab=False)
    assert calls == [] and namespace == {}
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("gpu", [True, False])
def test_on_colab_the_install_cell_installs_the_colab_extra(monkeypatch, capsys, gpu):
    calls, _ = _run_cell(monkeypatch, on_colab=True, gpu=gpu)
    assert calls == [(([sys.executable, "-m", "pip", "install", "--quiet", colab.REQUIREMENT],), {"check": True})]
    assert colab.REQUIREMENT.startswith("lepton_lab[colab] @ git+https://github.com/")
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and ("read NVML" in out if gpu else "Change runtime type > T4 GPU" in out)


def _fake_cuda_torch() -> types.ModuleType:
    """Fake: torch on a Colab T4 runtime, as far as the lessons ask it."""
    torch = types.ModuleType("torch")
    torch.__version__ = "2.9.0+cu126"
    torch.cuda = types.SimpleNamespace(is_available=lambda: True, current_device=lambda: 0,
                                       get_device_name=lambda index: "Tesla T4")
    return torch


def test_on_a_colab_gpu_the_lessons_take_the_cuda_path_and_say_so(monkeypatch):
    from lepton_lab.tradeoffs import workloads

    monkeypatch.setitem(sys.modules, "torch", _fake_cuda_torch())
    device = workloads.pick_device()
    assert device == "cuda"
    assert workloads.describe_device(device) == "GPU: Tesla T4 (cuda:0, torch 2.9.0+cu126)"


def test_on_a_colab_gpu_the_measurement_reads_nvmls_energy_counter(monkeypatch):
    from lepton_lab import sensors
    from lepton_lab.sensors import nvml

    clock = FakeClock(0.0)
    fake = FakeNvml([FakeGpu(name="Tesla T4", power_w=lambda t: 70.0)], clock)
    monkeypatch.setattr(nvml, "_load_nvml", lambda: fake)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    found = sensors.discover(clock=clock)
    try:
        assert [s.name for s in found.sensors] == ["nvml"] and not found.is_estimate
        assert found.sensors[0].method("gpu:0") == nvml.COUNTER
    finally:
        found.close()


def test_on_a_colab_gpu_energy_sensors_shows_the_counter(shell, monkeypatch, capsys):
    from lepton_lab import sensors
    from lepton_lab.sensors import nvml

    clock = FakeClock(0.0)
    monkeypatch.setattr(nvml, "_load_nvml", lambda: FakeNvml([FakeGpu(name="Tesla T4")], clock))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    sensors.close_cached()  # what %load_ext found before the fake GPU was there
    shell.run_line_magic("energy", "sensors")
    out = capsys.readouterr().out
    assert "✔ gpu:0" in out and "Tesla T4 (NVML) (nvml-counter)" in out
