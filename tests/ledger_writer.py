"""Processes that write one ledger at the same time as their peers (the ledger stress tests).

    python tests/ledger_writer.py measure NAME COUNT GO_FILE
        COUNT measured empty blocks (10 ms interval) into $LEPTON_LAB_LEDGER
    python tests/ledger_writer.py open-new COUNT GO_FILE FOLDER
        one saved report into each of FOLDER/new-0.sqlite ... new-(COUNT-1).sqlite, in order

Everything is loaded first; then the process prints "ready" and spins until GO_FILE exists, so
that peers started together hit the ledger in the same instant. Warnings and errors go to
stderr, one line each: the tests require it to stay empty.
"""
from __future__ import annotations

import os
import sys
import warnings

import lepton_lab
from lepton_lab.ledger import Ledger
from lepton_lab.report import DomainEnergy, EnergyReport
from lepton_lab.sensors import discover


def _wait_for(go_file: str) -> None:
    print("ready", flush=True)
    while not os.path.exists(go_file):
        pass


def measure(name: str, count: int, go_file: str) -> None:
    discover(cached=True)
    from lepton_lab import measurement  # noqa: F401  (loaded before the start)

    _wait_for(go_file)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(count):
            with lepton_lab.measure(label=f"{name}-{i}", interval=0.01):
                pass
    for warning in caught:
        print(f"WARNING: {warning.message}", file=sys.stderr)


def open_new(count: int, go_file: str, folder: str) -> None:
    _wait_for(go_file)
    for i in range(count):
        report = EnergyReport(label=str(i), status="ok", started_at="2026-12-03T00:00:00", duration_s=1.0,
                              domains={"cpu:estimated": DomainEnergy(1.0, 1.0, 1.0, "estimate")})
        try:
            Ledger(os.path.join(folder, f"new-{i}.sqlite")).save(report)
        except Exception as exc:
            print(f"ERROR: new-{i}.sqlite: {type(exc).__name__}: {exc}", file=sys.stderr)


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "measure":
        measure(args[0], int(args[1]), args[2])
    else:
        open_new(int(args[0]), args[1], args[2])
