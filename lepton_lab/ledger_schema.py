"""The ledger's tables: the migrations that build them, and how a report becomes a row.

The summary columns are kept apart from the full report (JSON) and its trace (a table of its own)
so that listing history stays cheap. Every report is stored once: its ``uid`` is unique.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from .report import EnergyReport

SCHEMA_VERSION = 4
HISTORY_COLUMNS = (
    "id", "label", "started_at", "duration_s", "energy_j", "net_energy_j", "mean_w", "co2e_g",
    "status", "kind", "methods", "host", "view", "machine_energy_j", "process_energy_j", "hosts",
)
INSERT_COLUMNS = HISTORY_COLUMNS[1:] + ("uid", "report")

#: Statements that take a ledger from version N-1 to N (applied in order, in one transaction).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS measurements (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            label TEXT NOT NULL,
            started_at TEXT NOT NULL,
            duration_s REAL NOT NULL,
            energy_j REAL NOT NULL,
            net_energy_j REAL,
            mean_w REAL,
            co2e_g REAL,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            methods TEXT NOT NULL,
            host TEXT,
            report TEXT NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS measurements_label ON measurements(label)",
        """CREATE TABLE IF NOT EXISTS traces (
            measurement_id INTEGER PRIMARY KEY REFERENCES measurements(id) ON DELETE CASCADE,
            trace TEXT NOT NULL
        )""",
    ),
    # A unique id per measurement: a spooled report replayed by two processes is stored once.
    2: (
        "ALTER TABLE measurements ADD COLUMN uid TEXT",
        "CREATE UNIQUE INDEX IF NOT EXISTS measurements_uid ON measurements(uid)",
    ),
    # Attribution: whose energy energy_j is, and both figures. Older rows saw the whole machine.
    3: (
        "ALTER TABLE measurements ADD COLUMN view TEXT",
        "ALTER TABLE measurements ADD COLUMN machine_energy_j REAL",
        "ALTER TABLE measurements ADD COLUMN process_energy_j REAL",
        "UPDATE measurements SET view = 'machine', machine_energy_j = energy_j",
        "CREATE INDEX IF NOT EXISTS measurements_baselines ON measurements(host) WHERE net_energy_j IS NOT NULL",
    ),
    # Cluster measurements (--dask): how many hosts a row sums. Older rows measured one.
    4: (
        "ALTER TABLE measurements ADD COLUMN hosts INTEGER",
        "UPDATE measurements SET hosts = 1",
    ),
}


def row_values(report: EnergyReport) -> tuple[tuple[Any, ...], str]:
    """(measurement row values, trace JSON) of a report."""
    data = report.to_dict()
    trace = data.pop("trace", None) or {"t_s": [], "power_w": {}}
    data.pop("id", None)
    data.pop("saved", None)
    row = (report.label, report.started_at, report.duration_s, report.energy_j, report.net_energy_j,
           report.mean_w, report.co2e_g, report.status, report.kind, report.methods, report.host,
           report.view, report.machine_energy_j, report.process_energy_j, report.host_count, report.uid or None,
           json.dumps(data))
    return row, json.dumps(trace)


def insert(db: sqlite3.Connection, row: tuple[Any, ...], trace: str) -> int | None:
    """Insert one measurement; its row id, or None if one with the same uid is there already."""
    cursor = db.execute(
        f"INSERT OR IGNORE INTO measurements ({', '.join(INSERT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})", row)
    if cursor.rowcount == 0:
        return None
    row_id = cursor.lastrowid
    db.execute("INSERT INTO traces VALUES (?, ?)", (row_id, trace))
    return row_id


def insert_many(db: sqlite3.Connection, reports: list[EnergyReport]) -> dict[str, int]:
    """Insert reports (in the caller's transaction); uid -> row id of those not stored before."""
    ids = {}
    for report in reports:
        row_id = insert(db, *row_values(report))
        if row_id is not None:
            ids[report.uid] = row_id
    return ids
