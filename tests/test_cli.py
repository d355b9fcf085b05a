"""The lepton-lab command, run as a real subprocess (no hardware here: the estimate is used)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


def run(*args, env_extra=None, timeout=120):
    env = dict(os.environ, **(env_extra or {}))
    exe = shutil.which("lepton-lab", path=os.path.dirname(sys.executable))
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=timeout)


def test_sensors_lists_what_is_missing_and_why():
    out = run("sensors")
    assert out.returncode == 0
    assert "rapl" in out.stdout and "nvml" in out.stdout and "ESTIMATE" in out.stdout


def test_measure_runs_the_command_reports_and_keeps_its_exit_code():
    ok = run("measure", "--label", "cli-ok", "--", sys.executable, "-c", "print('child ran')")
    assert ok.returncode == 0 and "child ran" in ok.stdout
    assert "cli-ok" in ok.stderr and "ESTIMATED" in ok.stderr
    failing = run("measure", "--", sys.executable, "-c", "import sys; sys.exit(3)")
    assert failing.returncode == 3 and "error" in failing.stderr
    history = run("history", "--csv")
    lines = history.stdout.strip().splitlines()
    assert lines[0].startswith("id,label") and len(lines) == 3
    assert ",cli-ok," in lines[2] and ",error," in lines[1]


def test_history_empty_and_table():
    out = run("history")
    assert out.returncode == 0 and "no measurements yet" in out.stdout


@pytest.mark.parametrize("args, message", [
    (["measure"], "measure needs a command"),
    (["measure", "--interval", "-3", "--", "true"], "interval must be positive"),
    (["measure", "--region", "XX1", "--", "true"], "unknown region"),
    (["history", "--limit", "0"], "--limit must be at least 1"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(args, message):
    out = run(*args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_missing_command_is_127():
    out = run("measure", "--", "definitely-not-a-command-xyz")
    assert out.returncode == 127 and "command not found" in out.stderr


def test_unwritable_ledger_still_prints_report(tmp_path):
    blocker = tmp_path / "f"
    blocker.write_text("")
    out = run("measure", "--", "true", env_extra={"LEPTON_LAB_LEDGER": str(blocker / "l.sqlite")})
    assert out.returncode == 0 and "measurement not saved" in out.stderr and "energy" in out.stderr


def test_export_writes_a_report_the_apps_can_read(tmp_path):
    run("measure", "--label", "to-export", "--", "true")
    target = tmp_path / "r.json"
    out = run("export", "to-export", "-o", str(target))
    assert out.returncode == 0 and "wrote" in out.stderr
    from lepton_lab.report import EnergyReport
    from lepton_lab.whatif.reports import report_from_bytes

    assert EnergyReport.load(target).label == "to-export"
    assert report_from_bytes(target.read_bytes()).label == "to-export"
    missing = run("export", "nope")
    assert missing.returncode == 2 and "no measurement with id or label 'nope'" in missing.stderr
