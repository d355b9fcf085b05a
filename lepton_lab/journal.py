"""The ledger's journal: a measurement is kept with one write, and folded into SQLite soon after.

A SQLite transaction per measurement cost ``measure()`` more than everything else it does. So a
measurement is appended to this process's journal as one JSON line with a single ``os.write``:
once that returns, the kernel holds it, and the process may crash or be killed without losing it
(like the ledger's WAL with ``synchronous = NORMAL``, only a power cut can). A background thread
then folds the journal into the ledger, a batch per transaction.

Files: ``<ledger>.journal/<pid>-<n>.jsonl``, one per process and ledger, locked (``flock``) by its
process while it lives. Opening a ledger folds every journal whose lock is free (its process died
before folding it), and this process folds its own at exit and before it reads the ledger, so a
process always reads what it measured. Every report has a ``uid``: a line folded twice (a crash
between the commit and the truncation) is stored once.
"""
from __future__ import annotations

import json
import os
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from .report import EnergyReport

SUFFIX = ".journal"
#: The folding thread waits this long after a first line, so that a burst is folded in one transaction.
FOLD_DELAY_S = 0.05

try:
    import fcntl
except ImportError:  # not a Unix: no journal, measurements are saved directly
    fcntl = None  # type: ignore[assignment]


def folder_of(ledger_path: Path) -> Path:
    return ledger_path.with_name(ledger_path.name + SUFFIX)


def _lock(fd: int) -> bool:
    """Take the journal's lock without waiting; False if its process is alive and holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def read_lines(data: bytes) -> list[EnergyReport]:
    """The reports in a journal's bytes; a torn or unreadable line (a crash mid-write) is skipped."""
    reports = []
    for line in data.split(b"\n"):
        try:
            reports.append(EnergyReport.from_dict(json.loads(line)))
        except ValueError:  # empty, torn, or not a report (InvalidInput is a ValueError too)
            continue
    return reports


class Journal:
    """This process's journal of one ledger."""

    def __init__(self, ledger_path: Path):
        self.ledger_path = ledger_path
        self.folder = folder_of(ledger_path)
        self._fd: int | None = None
        self._path = self.folder
        self._folded = 0  # bytes of the file already in the ledger
        self._lock = threading.Lock()  # appends and truncation
        self._fold_lock = threading.Lock()  # one fold at a time
        self._waiting: weakref.WeakValueDictionary[str, EnergyReport] = weakref.WeakValueDictionary()
        self.trouble: str | None = None  # why the last fold failed (the next measurement says so)

    def append(self, report: EnergyReport) -> None:
        """Journal ``report`` (it must have a uid). Raises OSError where the journal cannot be written."""
        line = json.dumps(report.to_dict(), separators=(",", ":")).encode() + b"\n"
        with self._lock:
            fd = self._file()
            written = os.write(fd, line)
            while written < len(line):  # a regular file takes it whole unless the disk is full
                written += os.write(fd, line[written:])
        self._waiting[report.uid] = report

    def _file(self) -> int:
        if self._fd is None:
            if fcntl is None:
                raise OSError("no journal on this system")
            self.folder.mkdir(parents=True, exist_ok=True)
            name = self.folder / f"{os.getpid()}-{time.monotonic_ns()}.jsonl"
            fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            if not _lock(fd):
                os.close(fd)
                raise OSError(f"cannot lock {name}")
            self._fd, self._path, self._folded = fd, name, 0
        return self._fd

    def pending(self) -> bool:
        with self._lock:
            return self._fd is not None and os.fstat(self._fd).st_size > self._folded

    def fold(self, insert: Callable[[list[EnergyReport]], dict[str, int]]) -> None:
        """Add the journal's new lines to the ledger with ``insert`` (one transaction; uid -> row id),
        then empty the file. Raises what ``insert`` raises: the lines wait for the next fold."""
        with self._fold_lock:
            with self._lock:
                if self._fd is None:
                    return
                fd, start, end = self._fd, self._folded, os.fstat(self._fd).st_size
            if end <= start:
                return
            with open(self._path, "rb") as handle:
                handle.seek(start)
                data = handle.read(end - start)
            ids = insert(read_lines(data))
            for uid, row_id in ids.items():
                report = self._waiting.pop(uid, None)
                if report is not None:
                    report.id = row_id
            with self._lock:
                self._folded = end
                if os.fstat(fd).st_size == end:  # nothing appended meanwhile: start the file again
                    os.ftruncate(fd, 0)
                    self._folded = 0

    def close(self) -> None:
        """Close the file (after a fold): removed if empty, else left for the ledger's next open."""
        with self._lock:
            if self._fd is not None:
                if os.fstat(self._fd).st_size == 0:
                    _unlink(self._path)
                os.close(self._fd)  # releases the lock: a later open folds what is left
                self._fd = None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def fold_orphans(ledger_path: Path, insert: Callable[[list[EnergyReport]], object]) -> None:
    """Fold the journals of this ledger whose process is gone (it crashed before folding them),
    then delete them; one that cannot be folded now (``insert`` raises) waits for the next open."""
    for path, fd in orphans(ledger_path):
        try:
            insert(read_lines(_read_all(fd)))
            _unlink(path)  # while still locked: nobody folds it twice meanwhile
        except Exception:  # the ledger's trouble is reported by the next save that meets it
            pass
        finally:
            os.close(fd)


def any_waiting(ledger_path: Path) -> bool:
    """Whether any journal of this ledger may hold lines (cheap: one directory listing)."""
    try:
        return any(name.endswith(".jsonl") for name in os.listdir(folder_of(ledger_path)))
    except OSError:
        return False


def orphans(ledger_path: Path) -> list[tuple[Path, int]]:
    """Journals of this ledger whose process is gone, each opened and locked: (path, fd)."""
    found = []
    try:
        names = sorted(os.listdir(folder_of(ledger_path)))
    except OSError:
        return []
    for name in names:
        path = folder_of(ledger_path) / name
        if not name.endswith(".jsonl") or fcntl is None:
            continue
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            continue
        if _lock(fd):
            found.append((path, fd))
        else:
            os.close(fd)
    return found


# -- this process's journals and the thread that folds them ---------------------------------------
_journals: dict[str, Journal] = {}
_journals_lock = threading.Lock()
_folder: _Folder | None = None


def journal_for(ledger_path: Path) -> Journal:
    with _journals_lock:
        journal = _journals.get(str(ledger_path))
        if journal is None:
            journal = _journals[str(ledger_path)] = Journal(ledger_path)
        return journal


class _Folder:
    """The daemon thread that folds journals a moment after they are written; woken once per burst."""

    def __init__(self, fold: Callable[[Journal], None]):
        self._fold = fold
        self._cond = threading.Condition()
        self._due: set[Journal] = set()
        self._thread = threading.Thread(target=self._serve, name="lepton-ledger-journal", daemon=True)
        self._thread.start()

    def request(self, journal: Journal) -> None:
        with self._cond:
            if journal in self._due:
                return  # already waiting to be folded: no wake-up
            self._due.add(journal)
            self._cond.notify()

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not self._due:
                    self._cond.wait()
            time.sleep(FOLD_DELAY_S)
            with self._cond:
                due, self._due = self._due, set()
            for journal in due:
                try:
                    self._fold(journal)
                except Exception:  # left in the journal for the next fold; this thread goes on
                    pass


def request_fold(journal: Journal, fold: Callable[[Journal], None]) -> None:
    """Have ``fold(journal)`` run on the folding thread soon."""
    _ensure_folder(fold).request(journal)


def _ensure_folder(fold: Callable[[Journal], None]) -> _Folder:
    global _folder
    with _journals_lock:
        if _folder is None or not _folder._thread.is_alive():
            _folder = _Folder(fold)
        return _folder


def prepare(fold: Callable[[Journal], None]) -> None:
    """Start the folding thread (prewarm). The journal file itself waits for a first measurement:
    a kernel that only measures cells never has one."""
    _ensure_folder(fold)


def all_journals() -> list[Journal]:
    with _journals_lock:
        return list(_journals.values())


def _forget_after_fork() -> None:
    """In a forked child: the parent's journals and thread are the parent's (and so is their lock)."""
    global _folder, _journals_lock
    for journal in _journals.values():
        if journal._fd is not None:
            os.close(journal._fd)  # the child's copy: the parent keeps its file and lock
    _journals.clear()
    _journals_lock = threading.Lock()
    _folder = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
