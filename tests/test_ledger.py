"""The ledger on real SQLite files."""
from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from lepton_lab import ledger as ledger_module
from lepton_lab.errors import InvalidInput, LedgerBusy, LedgerError
from lepton_lab.ledger import SCHEMA_VERSION, Ledger, close_connections, default_ledger_path
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
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


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


# -- losing nothing (issue 7) ---------------------------------------------------------------
def _locker(path, ready, release):
    """Another process that takes the ledger's write lock and holds it until told to let go."""
    import sqlite3

    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    ready.set()
    release.wait(60)
    db.execute("ROLLBACK")


def test_a_lock_held_longer_than_the_save_waits_spools_and_the_next_open_replays(tmp_path):
    path = tmp_path / "held.sqlite"
    Ledger(path).save(make_report("before"))
    close_connections()
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    locker = ctx.Process(target=_locker, args=(path, ready, release))
    locker.start()
    try:
        assert ready.wait(30)
        row_id, warning = Ledger(path, busy_timeout_s=0.2, attempts=2).keep(make_report("during"))
        assert row_id is None
        assert "another process holds the ledger" in warning and "retried 2 times" in warning
        assert "waits in" in warning and str(path) + ".spool" in warning and "\n" not in warning
    finally:
        release.set()
        locker.join(30)
    close_connections()  # the next open, as in a new kernel
    labels = [r["label"] for r in Ledger(path).rows()]
    assert labels == ["during", "before"]
    assert not list((tmp_path / "held.sqlite.spool").glob("*.json"))


def test_a_full_disk_spools_and_the_spool_is_replayed(tmp_path):
    """A real SQLITE_FULL: the connection may not grow the file past its current size."""
    path = tmp_path / "full.sqlite"
    ledger = Ledger(path)
    ledger.save(make_report("fits"))
    db = ledger_module._connections[str(path)]
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    big = make_report("too big")
    big.notes = ["x" * 200_000]  # more than the free pages can take
    row_id, warning = ledger.keep(big)
    assert row_id is None and "full" in warning and "waits in" in warning
    assert "another process" not in warning  # not mistaken for a lock
    spooled = list((tmp_path / "full.sqlite.spool").glob("*.json"))
    assert len(spooled) == 1
    close_connections()
    assert [r["label"] for r in Ledger(path).rows()] == ["too big", "fits"]
    assert Ledger(path).get("too big").notes == big.notes
    assert not spooled[0].exists()


def test_a_spooled_report_replayed_twice_is_stored_once(tmp_path):
    from lepton_lab import spool

    path = tmp_path / "twice.sqlite"
    Ledger(path).save(make_report("first"))
    report = make_report("spooled")
    report.uid = "0123456789abcdef"
    copy = spool.write(path, report.to_dict())
    (copy.parent / "copy.json").write_text(copy.read_text())  # as if two processes had spooled it
    close_connections()
    assert [r["label"] for r in Ledger(path).rows()] == ["spooled", "first"]


def test_a_permission_problem_is_told_apart_from_a_lock(tmp_path):
    """SQLite's read-only error (query_only): as root, file modes do not stop a write."""
    path = tmp_path / "ro.sqlite"
    ledger = Ledger(path)
    ledger.save(make_report())
    ledger_module._connections[str(path)].execute("PRAGMA query_only = ON")
    with pytest.raises(LedgerError) as info:
        ledger.save(make_report())
    message = str(info.value)
    assert "readonly" in message and "make it writable" in message and "another process" not in message
    assert not isinstance(info.value, LedgerBusy)


def test_the_spool_goes_to_the_user_data_folder_when_the_ledgers_folder_refuses_it(tmp_path, monkeypatch):
    from lepton_lab import spool

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = tmp_path / "l.sqlite"
    (tmp_path / "l.sqlite.spool").write_text("a file where the spool folder would go")
    where = spool.write(path, make_report("elsewhere").to_dict())
    assert str(where).startswith(str(tmp_path / "data" / "lepton_lab" / "spool"))
    assert [r["label"] for r in Ledger(path).rows()] == ["elsewhere"]
    assert not where.exists()


def test_a_deleted_ledger_is_recreated_by_the_next_save(tmp_path):
    path = tmp_path / "gone.sqlite"
    ledger = Ledger(path)
    ledger.save(make_report("old"))
    for leftover in tmp_path.glob("gone.sqlite*"):
        leftover.unlink()
    ledger.save(make_report("new"))
    assert [r["label"] for r in Ledger(path).rows()] == ["new"]


def test_a_version_1_ledger_is_migrated_and_keeps_its_rows(tmp_path):
    import sqlite3

    path = tmp_path / "v1.sqlite"
    with sqlite3.connect(path) as db:
        for statement in ledger_module._MIGRATIONS[1]:
            db.execute(statement)
        db.execute("PRAGMA user_version = 1")
        db.execute("INSERT INTO measurements (label, started_at, duration_s, energy_j, status, kind, methods, report)"
                   " VALUES ('old', '2026-01-01T00:00:00', 1.0, 2.0, 'ok', 'measured', 'rapl', ?)",
                   (json.dumps(make_report("old").to_dict()),))
    db.close()
    ledger = Ledger(path)
    ledger.save(make_report("new"))
    rows = ledger.rows()
    assert [r["label"] for r in rows] == ["new", "old"]
    # A row older than attribution saw the whole machine: it says so, with its figure as the machine's.
    assert (rows[1]["view"], rows[1]["machine_energy_j"], rows[1]["process_energy_j"]) == ("machine", 2.0, None)
    assert (rows[0]["hosts"], rows[1]["hosts"]) == (1, 1)  # one machine each, before and after --dask existed
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def _run_together(tmp_path, commands: list[list[str]], env: dict[str, str]) -> list[tuple[str, str]]:
    """Start the writer processes, release them at one instant, return their (stdout, stderr)."""
    import subprocess
    import sys

    writer = os.path.join(os.path.dirname(__file__), "ledger_writer.py")
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, writer, *command, str(go), *rest], env={**os.environ, **env},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for command, rest in commands]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    return outputs


@pytest.mark.parametrize("round_", range(20))
def test_stress_four_new_processes_lose_nothing_and_warn_nothing(tmp_path, round_):
    """Issue 7's floor, one round per test: a *new* ledger, 4 processes × 40 measurements at a
    10 ms interval, released at the same instant so that their first opens collide."""
    path = tmp_path / "new.sqlite"
    outputs = _run_together(tmp_path, [(["measure", name, "40"], []) for name in "abcd"],
                            {"LEPTON_LAB_LEDGER": str(path), "LEPTON_LAB_RAPL_ROOT": str(tmp_path / "none")})
    assert not any(err.strip() for _, err in outputs), [err for _, err in outputs if err.strip()]
    assert len(Ledger(path)) == 160
    assert not list(tmp_path.glob("new.sqlite.spool/*.json"))


def test_first_opens_that_collide_250_times_all_succeed(tmp_path):
    """The race behind the lost measurements, made frequent: 4 processes each create the same 250
    new ledgers in the same order. (The ledger before this fix failed 4-9 of these 1000 saves.)"""
    outputs = _run_together(tmp_path, [(["open-new", "250"], [str(tmp_path)]) for _ in range(4)], {})
    assert not any(err.strip() for _, err in outputs), [err for _, err in outputs if err.strip()][:3]
    assert all(len(Ledger(tmp_path / f"new-{i}.sqlite")) == 4 for i in range(250))
