"""The ledger on real SQLite files."""
from __future__ import annotations

import multiprocessing
import os
import stat

import pytest

from lepton_lab.errors import InvalidInput, LedgerError
from lepton_lab.ledger import Ledger, default_ledger_path
from lepton_lab.report import CarbonInfo, DomainEnergy, EnergyReport


def make_report(label="r", energy=10.0, status="ok"):
    return EnergyReport(
        label=label, status=status, started_at="2026-11-23T10:00:00.000+00:00", duration_s=2.0,
        domains={"gpu:0": DomainEnergy(energy_j=energy, mean_w=energy / 2, peak_w=9.0, method="nvml-counter",
                                       uncertainty_j=0.2, label="GPU 0")},
        carbon=CarbonInfo("WORLD", "World", 480.0, 2023, "Ember", 1.2),
        trace={"t_s": [0.0, 1.0, 2.0], "power_w": {"gpu:0": [4.0, 5.0, 6.0]}},
    )


def test_round_trip_keeps_report_and_trace(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    row_id = ledger.save(make_report("train"))
    back = ledger.get(row_id)
    assert back.label == "train" and back.energy_j == 10.0 and back.saved and back.id == row_id
    assert back.trace["power_w"]["gpu:0"] == [4.0, 5.0, 6.0]
    assert back.carbon.pue == 1.2 and back.co2e_g == pytest.approx(10 / 3.6e6 * 1.2 * 480)
    assert ledger.get("train").id == row_id


def test_rows_newest_first_and_history_frame(tmp_path):
    ledger = Ledger(tmp_path / "l.sqlite")
    for i in range(3):
        ledger.save(make_report(f"r{i}", energy=i + 1.0, status="error" if i == 1 else "ok"))
    rows = ledger.rows(limit=2)
    assert [r["label"] for r in rows] == ["r2", "r1"]
    frame = ledger.history()
    assert list(frame["label"]) == ["r2", "r1", "r0"]
    assert {"label", "started_at", "duration_s", "energy_j", "status", "methods"} <= set(frame.columns)
    assert list(frame["status"]) == ["ok", "error", "ok"]


def test_wal_mode_and_schema_version(tmp_path):
    import sqlite3

    Ledger(tmp_path / "l.sqlite").save(make_report())
    with sqlite3.connect(tmp_path / "l.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1


def _writer(path, prefix, count):
    ledger = Ledger(path)
    for i in range(count):
        ledger.save(make_report(f"{prefix}-{i}"))


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "shared.sqlite"
    Ledger(path).save(make_report("seed"))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, name, 40)) for name in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    labels = {r["label"] for r in Ledger(path).rows()}
    assert len(labels) == 81


def test_unwritable_path_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(LedgerError) as info:
        Ledger(blocker / "ledger.sqlite").save(make_report())
    assert "LEPTON_LAB_LEDGER" in str(info.value) and "\n" not in str(info.value)


def test_unknown_key_and_env_default(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_LAB_LEDGER", str(tmp_path / "env.sqlite"))
    assert default_ledger_path() == tmp_path / "env.sqlite"
    ledger = Ledger()
    ledger.save(make_report())
    with pytest.raises(InvalidInput, match="no measurement with id or label 'nope'"):
        ledger.get("nope")
    with pytest.raises(InvalidInput):
        ledger.rows(limit=0)
