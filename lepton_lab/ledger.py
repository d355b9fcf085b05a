"""The local ledger: every measurement, kept in SQLite.

One file, WAL mode, a connection per operation (so two kernels, or a kernel and the CLI, can
write at once; SQLite serialises the writers and ``busy_timeout`` makes the loser wait instead of
failing). The trace is stored apart from the summary row so that listing history stays cheap.
"""
from __future__ import annotations

import atexit
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

from .errors import InvalidInput, LedgerError
from .report import EnergyReport

SCHEMA_VERSION = 1
ENV_VAR = "LEPTON_LAB_LEDGER"
HISTORY_COLUMNS = (
    "id", "label", "started_at", "duration_s", "energy_j", "net_energy_j", "mean_w", "co2e_g",
    "status", "kind", "methods", "host",
)

#: One open connection per ledger file and process: opening and closing per save costs a WAL
#: checkpoint each time. SQLite's own locking still serialises writers across processes.
_connections: dict[str, sqlite3.Connection] = {}
_connections_lock = threading.RLock()

_DDL = """
CREATE TABLE IF NOT EXISTS measurements (
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
);
CREATE INDEX IF NOT EXISTS measurements_label ON measurements(label);
CREATE TABLE IF NOT EXISTS traces (
    measurement_id INTEGER PRIMARY KEY REFERENCES measurements(id) ON DELETE CASCADE,
    trace TEXT NOT NULL
);
"""


def default_ledger_path() -> Path:
    """``$LEPTON_LAB_LEDGER``, else ``<user data dir>/lepton_lab/ledger.sqlite``."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("lepton_lab", appauthor=False)) / "ledger.sqlite"


class Ledger:
    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path).expanduser() if path else default_ledger_path()

    def _open(self) -> sqlite3.Connection:
        key = str(self.path)
        connection = _connections.get(key)
        if connection is not None and self.path.exists():
            return connection
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # timeout= is SQLite's busy timeout: a writer waits up to 30 s for another one's lock.
            connection = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
            self._initialise(connection)
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(
                f"cannot open the ledger at {self.path} ({exc}): set {ENV_VAR} to a writable file"
            ) from None
        _connections[key] = connection
        return connection

    @contextmanager
    def _connect(self):
        with _connections_lock:
            connection = self._open()
            try:
                with connection:  # one transaction: committed on success, rolled back on error
                    yield connection
            except sqlite3.Error as exc:
                _connections.pop(str(self.path), None)
                connection.close()
                raise LedgerError(
                    f"ledger {self.path} failed ({exc}): set {ENV_VAR} to a writable file"
                ) from None

    def _initialise(self, connection: sqlite3.Connection) -> None:
        connection.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL: a crashed kernel loses nothing committed; only a power cut can lose the
        # last measurement, and no save waits for an fsync.
        connection.execute("PRAGMA synchronous = NORMAL")
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.path} was written by a newer lepton_lab (schema {version}): upgrade lepton_lab"
            )
        connection.executescript(_DDL)
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- writing --------------------------------------------------------------------------
    def save(self, report: EnergyReport) -> int:
        data = report.to_dict()
        trace = data.pop("trace", None) or {"t_s": [], "power_w": {}}
        data.pop("id", None)
        data.pop("saved", None)
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO measurements (label, started_at, duration_s, energy_j, net_energy_j, mean_w,"
                " co2e_g, status, kind, methods, host, report) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    report.label, report.started_at, report.duration_s, report.energy_j,
                    report.net_energy_j, report.mean_w, report.co2e_g, report.status, report.kind,
                    report.methods, report.host, json.dumps(data),
                ),
            )
            row_id = cursor.lastrowid
            db.execute("INSERT INTO traces VALUES (?, ?)", (row_id, json.dumps(trace)))
        return row_id

    # -- reading --------------------------------------------------------------------------
    def rows(self, limit: int | None = None, label: str | None = None) -> list[dict]:
        """Summary rows, newest first."""
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise InvalidInput(f"limit must be a positive whole number, got {limit!r}")
        query = f"SELECT {', '.join(HISTORY_COLUMNS)} FROM measurements"
        params: list = []
        if label is not None:
            query += " WHERE label = ?"
            params.append(label)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        if not self.path.exists():
            return []
        with self._connect() as db:
            return [dict(zip(HISTORY_COLUMNS, row)) for row in db.execute(query, params)]

    def get(self, key: int | str) -> EnergyReport:
        """A full report by ledger id, or the newest one with that label."""
        if not self.path.exists():
            raise InvalidInput(f"no measurement '{key}': the ledger {self.path} is empty")
        with self._connect() as db:
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                row = db.execute(
                    "SELECT m.id, m.report, t.trace FROM measurements m LEFT JOIN traces t"
                    " ON t.measurement_id = m.id WHERE m.id = ?", (int(key),)).fetchone()
            else:
                row = None
            if row is None:
                row = db.execute(
                    "SELECT m.id, m.report, t.trace FROM measurements m LEFT JOIN traces t"
                    " ON t.measurement_id = m.id WHERE m.label = ? ORDER BY m.id DESC LIMIT 1",
                    (str(key),)).fetchone()
        if row is None:
            raise InvalidInput(
                f"no measurement with id or label '{key}' in {self.path}: `%energy history` lists them"
            )
        data = json.loads(row[1])
        data["trace"] = json.loads(row[2]) if row[2] else {"t_s": [], "power_w": {}}
        report = EnergyReport.from_dict(data)
        report.id, report.saved = row[0], True
        return report

    def history(self, limit: int | None = None, label: str | None = None):
        """Summary rows as a pandas DataFrame, newest first."""
        from .errors import require

        pd = require("pandas", "data", "lepton_lab.history()")
        return pd.DataFrame(self.rows(limit=limit, label=label), columns=list(HISTORY_COLUMNS))

    def __len__(self) -> int:
        if not self.path.exists():
            return 0
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]


def close_connections() -> None:
    """Close the cached connections (at exit, or before deleting a ledger file)."""
    with _connections_lock:
        for connection in _connections.values():
            connection.close()
        _connections.clear()


atexit.register(close_connections)
