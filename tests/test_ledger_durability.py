"""No measurement is lost when its process dies right after it: the journal (lepton_lab.journal).

``measure()`` journals its report with one write and folds it into SQLite a moment later; these
tests kill the measuring process in that moment (``os._exit``, SIGKILL) and find the measurement
afterwards. Real processes, real files, real SQLite: nothing is faked.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

import lepton_lab
from lepton_lab import journal
from lepton_lab.ledger import Ledger, close_connections

# Measures one block, says so, then dies: os._exit skips atexit (no fold at exit), SIGKILL comes
# while the process sleeps; the folding thread is held back, so the block is only in the journal.
MEASURE_THEN_DIE = """
import os, sys, time
import lepton_lab
from lepton_lab import journal
journal.FOLD_DELAY_S = 3600
with lepton_lab.measure(label=sys.argv[1]):
    pass
print("measured", flush=True)
if sys.argv[2] == "exit":
    os._exit(0)
time.sleep(60)
"""


def _measure_then_die(label: str, how: str) -> None:
    process = subprocess.Popen([sys.executable, "-c", MEASURE_THEN_DIE, label, how], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "measured"
    if how == "kill":
        process.send_signal(signal.SIGKILL)
    process.wait(30)


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_a_process_that_dies_right_after_a_block_loses_nothing(how):
    with lepton_lab.measure(label="before"):
        pass
    close_connections()  # folded, as at the end of an earlier kernel
    _measure_then_die(f"then {how}", how)
    assert os.listdir(journal.folder_of(Ledger().path))  # not folded: only the journal has it
    labels = [row["label"] for row in Ledger().rows()]
    assert labels == [f"then {how}", "before"], labels
    report = Ledger().get(f"then {how}")
    assert report.status == "ok" and report.uid and report.energy_j >= 0


def test_the_first_measurement_into_a_new_ledger_survives_too(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_LAB_LEDGER", str(tmp_path / "new" / "ledger.sqlite"))
    _measure_then_die("first ever", "exit")
    assert [row["label"] for row in Ledger().rows()] == ["first ever"]
    assert not any((tmp_path / "new" / "ledger.sqlite.journal").iterdir())  # folded, then removed


def test_a_process_reads_what_it_measured_at_once():
    with lepton_lab.measure(label="just now") as block:
        pass
    assert lepton_lab.history()["label"].tolist() == ["just now"]
    assert block.report.saved and block.report.id is not None  # set when the journal was folded


def test_a_torn_last_line_is_skipped_and_a_line_folded_twice_is_stored_once():
    """A crash mid-write leaves half a line; a crash between the commit and the emptying of the
    journal leaves lines that are in the ledger already."""
    with lepton_lab.measure(label="whole") as block:
        pass
    Ledger().rows()  # folded
    path = Ledger().path
    folder = journal.folder_of(path)
    folder.mkdir(exist_ok=True)
    line = json.dumps(block.report.to_dict())
    (folder / "999999999-1.jsonl").write_text(line + "\n" + line[: len(line) // 2])  # a dead process's
    close_connections()
    rows = Ledger().rows()
    assert [row["label"] for row in rows] == ["whole"], rows
    assert not (folder / "999999999-1.jsonl").exists()


def test_a_live_processs_journal_is_left_to_it():
    """Another process's journal is folded by that process, not by a reader who finds it locked."""
    code = ("import sys, lepton_lab, time\n"
            "from lepton_lab import journal\n"
            "journal.FOLD_DELAY_S = 3600\n"  # hold it unfolded while the test looks
            "with lepton_lab.measure(label='held'):\n    pass\n"
            "print('measured', flush=True)\nsys.stdin.readline()\n")
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout.readline().strip() == "measured"
        assert Ledger().rows() == []  # still its own: locked
    finally:
        process.communicate("\n", timeout=30)  # it ends normally: folded at exit
    close_connections()
    assert [row["label"] for row in Ledger().rows()] == ["held"]
    assert os.listdir(journal.folder_of(Ledger().path)) == []


def test_a_ledger_that_cannot_be_opened_keeps_the_journal_and_says_so():
    """A directory where the ledger file should be: every fold fails, the blocks stay in the
    journal, the next block warns, and they are folded once the ledger can be written."""
    import warnings

    from lepton_lab import ledger as ledger_module

    path = Ledger().path
    path.mkdir()
    with lepton_lab.measure(label="refused"):
        pass
    ledger_module._fold(journal.journal_for(path))  # what the folding thread does, and fails to
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with lepton_lab.measure(label="warned") as block:
            pass
    message = " ".join(str(w.message) for w in caught)
    assert "not saved in the ledger yet" in message and ".journal" in message, message
    assert not block.report.saved
    path.rmdir()
    assert [row["label"] for row in Ledger().rows()] == ["warned", "refused"]


def test_a_cell_saved_right_after_a_journaled_block_comes_after_it():
    """The magic saves directly: the block this process journaled just before is stored first."""
    from lepton_lab.measurement import Measurement
    from lepton_lab.options import MeasureOptions

    with lepton_lab.measure(label="block"):
        pass
    cell = Measurement(MeasureOptions.from_user(label="cell")).start()  # as %%energy does: saved at once
    cell.stop()
    rows = Ledger().rows()
    assert [row["label"] for row in rows] == ["cell", "block"] and rows[0]["id"] > rows[1]["id"]
