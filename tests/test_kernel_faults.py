"""Faults that need a real kernel (jupyter_client): Ctrl-C on a measured cell, Ctrl-C during
``--baseline``, and the kernel killed with SIGKILL in the middle of a measured cell. No hardware
is faked: the measurements are the labelled estimate."""
from __future__ import annotations

import os
import signal
import sqlite3
import time

import pytest
from jupyter_client.manager import start_new_kernel

from lepton_lab.ledger import Ledger, close_connections

pytestmark = pytest.mark.kernel


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_LAB_LEDGER", str(tmp_path / "kernel.sqlite"))
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.execute_interactive("%load_ext lepton_lab", timeout=60)
        yield manager, client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def reply_to(client, msg_id: str) -> dict:
    reply = client.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=30)
    return reply


def printed(client, msg_id: str, text: str, timeout_s: float = 60) -> list[dict]:
    """The cell's iopub messages up to the first stream output holding ``text``: on a busy machine
    a cell may start well after it was sent, so the tests wait for it rather than for a fixed time."""
    seen, deadline = [], time.monotonic() + timeout_s
    while True:
        msg = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id:
            seen.append(msg)
            if msg["msg_type"] == "stream" and text in msg["content"]["text"]:
                return seen


def value_of(client, expression: str) -> str:
    outputs = []
    reply = client.execute_interactive(expression, timeout=30, output_hook=outputs.append)
    results = [m["content"]["data"]["text/plain"] for m in outputs if m["msg_type"] == "execute_result"]
    assert results, (reply["content"], [(m["msg_type"], m["content"]) for m in outputs])
    return results[0]


def ledger_rows(path) -> list[tuple]:
    """The ledger's rows; none while the kernel has created the file but not yet its tables."""
    with sqlite3.connect(path) as db:
        created = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'measurements'").fetchall()
        found = db.execute("SELECT label, status, duration_s FROM measurements").fetchall() if created else []
    db.close()
    return found


def test_interrupted_cell_is_recorded_and_kernel_survives(kernel, tmp_path):
    manager, client = kernel
    # stop_on_error=False: after a failed cell ipykernel aborts the requests that reach it before it
    # has finished failing, and on a busy machine the next one here could (reply 'aborted').
    msg_id = client.execute("%%energy -q -l sleepy\nimport time\nprint('asleep', flush=True)\ntime.sleep(60)",
                            stop_on_error=False)
    printed(client, msg_id, "asleep")
    time.sleep(2.0)
    manager.interrupt_kernel()
    reply = reply_to(client, msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert value_of(client, "1 + 1") == "2"
    rows = ledger_rows(tmp_path / "kernel.sqlite")
    assert len(rows) == 1 and rows[0][:2] == ("sleepy", "interrupted")
    assert 1.5 < rows[0][2] < 30


def test_ctrl_c_during_baseline_runs_nothing_and_leaves_nothing_running(kernel, tmp_path):
    manager, client = kernel
    msg_id = client.execute("%%energy -l idle-first --baseline 30\nran = True", stop_on_error=False)  # as above
    messages = printed(client, msg_id, "measuring idle power for 30 s")  # the cell has begun
    time.sleep(2.0)  # into the 30 s baseline
    manager.interrupt_kernel()
    reply = reply_to(client, msg_id)
    while True:  # everything the cell printed, up to its idle message
        msg = client.get_iopub_msg(timeout=10)
        if msg["parent_header"].get("msg_id") == msg_id:
            messages.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
    assert reply["content"]["status"] == "error"
    errors = [m["content"] for m in messages if m["msg_type"] == "error"]
    assert len(errors) == 1 and errors[0]["traceback"] == [
        "KeyboardInterrupt: interrupted while --baseline measured idle power; "
        "the cell did not run and nothing was recorded"]
    assert value_of(client, "'ran' in dir()") == "False"  # the body never ran
    assert value_of(client, "import threading; [t.name for t in threading.enumerate() "
                            "if t.name.startswith('lepton-sampler')]") == "[]"
    assert not (tmp_path / "kernel.sqlite").exists() or ledger_rows(tmp_path / "kernel.sqlite") == []
    # The next cell measures as usual.
    assert value_of(client, "%%energy -q -l next\n6 * 7") == "42"
    assert [r[:2] for r in ledger_rows(tmp_path / "kernel.sqlite")] == [("next", "ok")]


def test_sigkill_mid_cell_leaves_a_ledger_that_opens_cleanly(kernel, tmp_path):
    """The cell writes measurements as fast as it can (so the kill lands in or between writes)."""
    manager, client = kernel
    path = tmp_path / "kernel.sqlite"
    client.execute("%%energy -q -l killed\nimport lepton_lab\nfor i in range(10**6):\n"
                   "    with lepton_lab.measure(label=f'inner-{i}', interval=0.01):\n        pass")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not path.exists() or len(ledger_rows(path)) < 20):
        time.sleep(0.1)
    os.kill(manager.provisioner.process.pid, signal.SIGKILL)
    manager.provisioner.process.wait(10)
    close_connections()
    ledger = Ledger(path, busy_timeout_s=1.0, attempts=1)  # a stale lock would fail this at once
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    frame = ledger.history()
    assert len(frame) >= 20 and set(frame["status"]) == {"ok"}
    assert all(label.startswith("inner-") for label in frame["label"])  # the outer cell never ended
    from tests.test_ledger import make_report

    assert ledger.save(make_report("after the kill")) > 0
    assert ledger.rows(limit=1)[0]["label"] == "after the kill"
