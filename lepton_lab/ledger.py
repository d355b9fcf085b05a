"""The local ledger: every measurement, kept in SQLite.

One file in WAL mode, one connection per file and process (opening and closing per save costs a
WAL checkpoint each time). Several kernels and the CLI write at once: every write is a
``BEGIN IMMEDIATE`` transaction, so a writer waits for the write lock (SQLite's busy timeout)
instead of failing on a read-to-write upgrade, and the first open, which switches the file to
WAL and creates the schema, is retried while another process does the same. A save that still
cannot be written is spooled (:mod:`lepton_lab.spool`) and added at the next open: nothing is
lost. ``measure()`` writes its journal instead (:mod:`lepton_lab.journal`, one write per block),
folded in here a moment later. The tables and their rows: :mod:`lepton_lab.ledger_schema`.
"""
from __future__ import annotations

import atexit
import json
import os
import random
import sqlite3
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from . import journal, spool
from .errors import InvalidInput, LedgerBusy, LedgerError
from .ledger_schema import HISTORY_COLUMNS, SCHEMA_VERSION, insert, insert_many, row_values
from .ledger_schema import MIGRATIONS as _MIGRATIONS  # (tests build old ledgers from them)
from .report import EnergyReport

ENV_VAR = "LEPTON_LAB_LEDGER"
#: SQLite waits this long for another writer's lock before a save attempt gives up ...
BUSY_TIMEOUT_S = 5.0
#: ... and a save makes this many attempts before the measurement is spooled instead.
SAVE_ATTEMPTS = 3
#: Idle power is remembered from this many of the host's latest baselines (their median).
REMEMBERED_BASELINES = 5
#: ... read again after this long, or at once after this process saves a baseline.
REMEMBERED_IDLE_TTL_S = 60.0

@dataclass(frozen=True)
class RememberedIdle:
    """Idle power per domain from a host's latest baselines in the ledger."""

    watts: dict[str, float] = field(default_factory=dict)
    baselines: int = 0
    newest: str = ""

    def describe(self) -> str:
        return (f"idle remembered from {self.baselines} baseline{'s' if self.baselines > 1 else ''} on this "
                f"machine (newest {self.newest[:16].replace('T', ' ')})")


_connections: dict[str, sqlite3.Connection] = {}
_idle_cache: dict[tuple[str, str], tuple[float, RememberedIdle]] = {}
_connections_lock = threading.RLock()
#: Ledger files this process has spooled to: replayed after its next successful save too.
_spooled: set[str] = set()

T = TypeVar("T")


def default_ledger_path() -> Path:
    """``$LEPTON_LAB_LEDGER``, else ``<user data dir>/lepton_lab/ledger.sqlite``."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("lepton_lab", appauthor=False)) / "ledger.sqlite"


def _is_busy(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""  # Python 3.11+
    if name:
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Ledger:
    def __init__(self, path: str | os.PathLike | None = None, *, busy_timeout_s: float = BUSY_TIMEOUT_S,
                 attempts: int = SAVE_ATTEMPTS):
        self.path = Path(path).expanduser() if path else default_ledger_path()
        self.busy_timeout_s = busy_timeout_s
        self.attempts = max(1, attempts)

    # -- errors ---------------------------------------------------------------------------
    def _error(self, exc: BaseException, attempts: int = 1) -> LedgerError:
        """One line that tells a lock from a problem with the file, and what to do."""
        if isinstance(exc, sqlite3.Error) and _is_busy(exc):
            waited = attempts * self.busy_timeout_s
            return LedgerBusy(f"another process holds the ledger {self.path} (retried {attempts} times over "
                              f"{waited:.0f} s)")
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
        else:
            reason = str(exc)
        return LedgerError(f"cannot write the ledger {self.path} ({reason}): make it writable or set "
                           f"{ENV_VAR} to a writable file")

    def _retry(self, operation: Callable[[], T], attempts: int, pause_s: float = 0.05) -> T:
        """Run ``operation``, again after a short random pause while SQLite reports a lock."""
        for attempt in range(1, attempts + 1):
            try:
                return operation()
            except sqlite3.Error as exc:
                if not _is_busy(exc) or attempt == attempts:
                    raise self._error(exc, attempt) from None
            time.sleep(pause_s * (1 + random.random()) * min(attempt, 8))
        raise AssertionError("unreachable")

    # -- opening --------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        key = str(self.path)
        connection = _connections.get(key)
        if connection is not None:
            if self.path.exists():
                return connection
            _connections.pop(key).close()  # the file was deleted: start a new one
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                                         check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise self._error(exc) from None
        try:
            # Many processes may create the same new ledger at once: switching to WAL needs the
            # file to itself, so a loser retries rather than fail.
            self._retry(lambda: self._initialise(connection), attempts=60)
        except LedgerError:
            connection.close()
            raise
        _connections[key] = connection
        self._replay_spool(connection)
        journal.fold_orphans(self.path, lambda reports: self._insert_now(connection, reports))
        return connection

    def _insert_now(self, connection: sqlite3.Connection, reports: list[EnergyReport]) -> dict[str, int]:
        with self._transaction(connection):
            return insert_many(connection, reports)

    def _initialise(self, connection: sqlite3.Connection) -> None:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"ledger {self.path} was written by a newer lepton_lab (schema {version}): upgrade lepton_lab"
            )
        # WAL + NORMAL: a crashed kernel loses nothing committed; only a power cut can lose the
        # last measurement, and no save waits for an fsync.
        if connection.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        if version == SCHEMA_VERSION:
            return
        with self._transaction(connection):
            version = connection.execute("PRAGMA user_version").fetchone()[0]  # under the lock now
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @staticmethod
    @contextmanager
    def _transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _run(self, operation: Callable[[sqlite3.Connection], T], *, write: bool, attempts: int = 1) -> T:
        """``operation(connection)`` under this process's lock, in a write transaction if ``write``."""
        def attempt() -> T:
            with _connections_lock:
                connection = self._open()
                if not write:
                    return operation(connection)
                with self._transaction(connection):
                    return operation(connection)

        try:
            return self._retry(attempt, attempts=attempts, pause_s=0.1)
        except LedgerBusy:
            raise
        except LedgerError:
            self._forget_connection()
            raise
        except OSError as exc:
            self._forget_connection()
            raise self._error(exc) from None

    def _forget_connection(self) -> None:
        with _connections_lock:
            connection = _connections.pop(str(self.path), None)
            if connection is not None:
                connection.close()

    # -- writing --------------------------------------------------------------------------
    def save(self, report: EnergyReport) -> int | None:
        """Store ``report``; its row id (None if its uid is stored already). Raises :class:`LedgerBusy` or
        :class:`LedgerError`."""
        self._fold_own()  # blocks this process journaled come first: the ledger keeps their order
        values = row_values(report)
        row_id = self._run(lambda db: insert(db, *values), write=True, attempts=self.attempts)
        if report.baseline_s:
            _idle_cache.pop((str(self.path), report.host), None)
        if str(self.path) in _spooled:
            with _connections_lock:
                self._replay_spool(self._open())
        return row_id

    def keep(self, report: EnergyReport) -> tuple[int | None, str | None]:
        """Save, or spool what cannot be saved now: ``(row id, None)`` or ``(None, one-line warning)``."""
        try:
            return self.save(report), None
        except LedgerError as exc:
            try:
                where = spool.write(self.path, report.to_dict())
            except OSError as spool_error:
                return None, (f"measurement not saved: {exc}; it could not be set aside either ({spool_error}), "
                              "so it is only in lepton_lab.last_report()")
            _spooled.add(str(self.path))
            return None, (f"measurement not saved in the ledger yet: {exc}; it waits in {where} "
                          "and is added the next time the ledger is opened")

    def record(self, report: EnergyReport) -> tuple[int | None, str | None]:
        """Keep a measurement that just ended: journaled with one write (:mod:`lepton_lab.journal`),
        in the ledger a moment later, its row id then set on ``report``. Saved at once where no
        journal can be written, and for a baseline (the next measurement reads the idle it remembers)."""
        if report.baseline_s:
            return self.keep(report)
        report.uid = report.uid or uuid.uuid4().hex  # a line folded twice is stored once
        own = journal.journal_for(self.path)
        try:
            own.append(report)
        except OSError:
            return self.keep(report)
        journal.request_fold(own, _fold)
        if own.trouble:  # the last fold failed: the measurement is safe, but say it is not in the ledger
            return None, (f"measurement not saved in the ledger yet: {own.trouble}; it waits in {own.folder} "
                          "and is added when the ledger can be written")
        return None, None

    def prepare(self) -> None:
        """Open the ledger (replaying its spool, folding crashed processes' journals) and start the
        journal's folding thread: what a first measurement would wait for (prewarm). A ledger that
        does not exist yet is left to the first save to create. Raises LedgerError."""
        if self._anything_stored():
            self._run(lambda db: None, write=False)
        journal.prepare(_fold)

    def _anything_stored(self) -> bool:
        return self.path.exists() or bool(spool.pending(self.path)) or journal.any_waiting(self.path)

    def _fold_own(self) -> None:
        """Fold what this process journaled into this ledger, so that it reads what it measured."""
        own = journal.journal_for(self.path)
        if own.pending():
            _fold(own)

    def _replay_spool(self, connection: sqlite3.Connection) -> int:
        """Add spooled measurements of this ledger (best effort: what fails waits for the next open)."""
        added = 0
        for path in spool.pending(self.path):
            try:
                data = spool.read(path)
                report = EnergyReport.from_dict(data) if data is not None else None
            except (OSError, ValueError):  # InvalidInput is a ValueError too
                spool.set_aside(path)
                continue
            if report is None:
                continue
            try:
                with self._transaction(connection):
                    added += insert(connection, *row_values(report)) is not None
            except sqlite3.Error:
                return added  # locked or unwritable again: leave the rest for later
            spool.remove(path)
        if not spool.pending(self.path):
            _spooled.discard(str(self.path))
        return added

    # -- reading --------------------------------------------------------------------------
    def rows(self, limit: int | None = None, label: str | None = None) -> list[dict]:
        """Summary rows, newest first."""
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise InvalidInput(f"limit must be a positive whole number, got {limit!r}")
        query = f"SELECT {', '.join(HISTORY_COLUMNS)} FROM measurements"
        params: list[Any] = []
        if label is not None:
            query += " WHERE label = ?"
            params.append(label)
        query += " ORDER BY id DESC"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        self._fold_own()
        if not self._anything_stored():
            return []
        return self._run(lambda db: [dict(zip(HISTORY_COLUMNS, row)) for row in db.execute(query, params)],
                         write=False, attempts=self.attempts)

    def get(self, key: int | str) -> EnergyReport:
        """A full report by ledger id, or the newest one with that label."""
        self._fold_own()
        if not self._anything_stored():
            raise InvalidInput(f"no measurement '{key}': the ledger {self.path} is empty")
        select = ("SELECT m.id, m.report, t.trace FROM measurements m LEFT JOIN traces t"
                  " ON t.measurement_id = m.id WHERE ")

        def find(db: sqlite3.Connection) -> tuple[Any, ...] | None:
            row: tuple[Any, ...] | None = None
            if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                row = db.execute(select + "m.id = ?", (int(key),)).fetchone()
            if row is None:
                row = db.execute(select + "m.label = ? ORDER BY m.id DESC LIMIT 1", (str(key),)).fetchone()
            return row

        row = self._run(find, write=False, attempts=self.attempts)
        if row is None:
            raise InvalidInput(
                f"no measurement with id or label '{key}' in {self.path}: `%energy history` lists them"
            )
        data = json.loads(row[1])
        data["trace"] = json.loads(row[2]) if row[2] else {"t_s": [], "power_w": {}}
        report = EnergyReport.from_dict(data)
        report.id, report.saved = row[0], True
        return report

    def remembered_idle(self, host: str) -> RememberedIdle:
        """Idle watts per domain: the median of ``host``'s latest successful baselines (cached a minute)."""
        key = (str(self.path), host)
        cached = _idle_cache.get(key)
        if cached is not None and time.monotonic() - cached[0] < REMEMBERED_IDLE_TTL_S:
            return cached[1]
        if not self.path.exists():
            return RememberedIdle()
        query = ("SELECT started_at, report FROM measurements WHERE host = ? AND net_energy_j IS NOT NULL "
                 "AND status = 'ok' ORDER BY id DESC LIMIT ?")
        try:
            rows = self._run(lambda db: db.execute(query, (host, REMEMBERED_BASELINES)).fetchall(),
                             write=False, attempts=self.attempts)
        except LedgerError:
            return RememberedIdle()  # the split then says idle is unknown; the save reports the ledger's trouble
        found: dict[str, list[float]] = {}
        for _, text in rows:
            for domain, values in (json.loads(text).get("domains") or {}).items():
                if isinstance(values, dict) and values.get("idle_w") is not None:
                    found.setdefault(domain, []).append(float(values["idle_w"]))
        remembered = RememberedIdle({d: statistics.median(w) for d, w in found.items()}, len(rows),
                                    rows[0][0] if rows else "")
        _idle_cache[key] = (time.monotonic(), remembered)
        return remembered

    def history(self, limit: int | None = None, label: str | None = None) -> Any:  # a pandas DataFrame (untyped)
        """Summary rows as a pandas DataFrame, newest first."""
        from .errors import require

        pd = require("pandas", "data", "lepton_lab.history()")
        return pd.DataFrame(self.rows(limit=limit, label=label), columns=list(HISTORY_COLUMNS))

    def __len__(self) -> int:
        self._fold_own()
        if not self._anything_stored():
            return 0
        return cast(int, self._run(lambda db: db.execute("SELECT COUNT(*) FROM measurements").fetchone()[0],
                                   write=False, attempts=self.attempts))


def _fold(own: journal.Journal) -> None:
    """Fold a journal of this process into its ledger; on trouble its lines wait for the next fold."""
    ledger = Ledger(own.ledger_path)
    try:
        own.fold(lambda reports: ledger._run(lambda db: insert_many(db, reports), write=True,
                                             attempts=ledger.attempts))
        own.trouble = None
    except (LedgerError, OSError) as exc:
        own.trouble = str(exc)


def close_connections() -> None:
    """Fold this process's journals, then close the cached connections (at exit, or before deleting
    a ledger file)."""
    for own in journal.all_journals():
        _fold(own)
        own.close()
    with _connections_lock:
        for connection in _connections.values():
            connection.close()
        _connections.clear()


atexit.register(close_connections)
