"""Ctrl-C on a %%energy cell in a real kernel (jupyter_client): the cell stops with
KeyboardInterrupt, the kernel survives, and the measurement is recorded as interrupted."""
from __future__ import annotations

import sqlite3
import time

import pytest
from jupyter_client.manager import start_new_kernel


@pytest.mark.kernel
def test_interrupted_cell_is_recorded_and_kernel_survives(tmp_path, monkeypatch):
    ledger = tmp_path / "kernel.sqlite"
    monkeypatch.setenv("LEPTON_LAB_LEDGER", str(ledger))
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.execute_interactive("%load_ext lepton_lab", timeout=60)
        msg_id = client.execute("%%energy -q -l sleepy\nimport time\ntime.sleep(60)")
        time.sleep(2.0)
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = client.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        after = client.execute_interactive("1 + 1", timeout=30)
        assert after["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT label, status, duration_s FROM measurements").fetchall()
    assert len(rows) == 1 and rows[0][:2] == ("sleepy", "interrupted")
    assert 1.5 < rows[0][2] < 30
