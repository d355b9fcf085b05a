"""Measurements waiting for their ledger: one JSON file each, for saves that could not be written.

A save that still fails after its retries (a lock held for minutes, a full disk, a read-only
file) must not lose the measurement. It goes to ``<ledger>.spool/`` beside the ledger, or, where
that folder cannot be written, to the user data directory (``spool/<hash of the ledger path>/``).
The next time the ledger is opened, :class:`~lepton_lab.ledger.Ledger` adds these files to it and
deletes them. Each report carries a unique ``uid``, so a file that two processes replay at once
is still stored once.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, cast

SUFFIX = ".spool"
SPOOL_FORMAT = 1


def _fallback_dir(ledger_path: Path) -> Path:
    import platformdirs

    digest = hashlib.sha1(str(ledger_path.resolve()).encode()).hexdigest()[:16]
    return Path(platformdirs.user_data_dir("lepton_lab", appauthor=False)) / "spool" / digest


def spool_dirs(ledger_path: Path) -> list[Path]:
    """Where spooled measurements of ``ledger_path`` may wait, in the order they are tried."""
    return [ledger_path.with_name(ledger_path.name + SUFFIX), _fallback_dir(ledger_path)]


def write(ledger_path: Path, report: dict[str, Any]) -> Path:
    """Spool one report (``EnergyReport.to_dict()``); returns its file. Raises OSError if no folder takes it."""
    payload = json.dumps({"format": SPOOL_FORMAT, "ledger": str(ledger_path), "report": report})
    errors = []
    for folder in spool_dirs(ledger_path):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{report.get('uid') or os.urandom(8).hex()}.json"
            # Write then rename: a reader never sees half a file, whatever else runs at once.
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(payload)
            target = folder / name
            os.replace(temporary, target)
            return target
        except OSError as exc:
            errors.append(f"{folder}: {exc.strerror or exc}")
    raise OSError("; ".join(errors))


def pending(ledger_path: Path) -> list[Path]:
    """Spooled files waiting for ``ledger_path``, oldest first."""
    files: list[Path] = []
    for folder in spool_dirs(ledger_path):
        try:
            files.extend(p for p in folder.iterdir() if p.suffix == ".json")
        except OSError:  # no such folder (the usual case), or unreadable
            continue
    return sorted(files, key=lambda p: _mtime(p))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def read(path: Path) -> dict[str, Any] | None:
    """The report in a spooled file; None if it is gone (another process replayed it)."""
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("report"), dict):
        raise ValueError(f"{path} is not a spooled lepton_lab measurement")
    return cast(dict[str, Any], data["report"])


def remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def set_aside(path: Path) -> None:
    """Keep an unreadable file out of the way without deleting anything."""
    try:
        path.rename(path.with_suffix(".unreadable"))
    except OSError:
        pass
