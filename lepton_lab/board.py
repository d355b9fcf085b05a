"""A workshop's challenge board: submissions written into a folder, read back checked, ranked.

``submit()`` writes one JSON file per submission into the board folder (a shared folder on a
JupyterHub, or a local one), atomically: it is written beside its final name and renamed, so a
reader never sees half a file and thirty participants submitting at once lose nothing (each file
has its own name).

``read_board()`` reads the folder safely (:mod:`lepton_lab.board_read`: regular files only, never
blocking, bounded) and checks every file against its own measurement and against physics
(:mod:`lepton_lab.board_checks`). A file that fails is listed as rejected with the reason; a
board never fails because of one file. Names and numbers are shown as they will be read
(:mod:`lepton_lab.board_text`).

``rank()`` orders what passed: submissions below the board's accuracy floor (set once by the
instructor: :func:`set_floor`, or the leaderboard app) are set apart, and results that are not
measurements (estimated, replayed, attributed on a shared machine) are ranked in their own group,
never mixed with measured ones.
"""
from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import board_text
from .board_checks import (
    FORMAT,
    MAX_NAME_CHARS,
    MAX_NOTES_CHARS,
    Rejected,
    Submission,
    check,
    trace_energy_j,
)
from .board_read import FLOOR_FILE, MAX_FILE_BYTES, TOO_LARGE, Board, BoardReader, check_bytes
from .errors import InvalidInput
from .report import EnergyReport

BOARD_ENV = "LEPTON_LAB_BOARD"
__all__ = ["BOARD_ENV", "FLOOR_FILE", "FORMAT", "MAX_FILE_BYTES", "TOO_LARGE", "Board", "Ranking", "Rejected",
           "Submission", "board_path", "check", "check_bytes", "rank", "read_board", "set_floor", "submit",
           "trace_energy_j"]


def board_path(board: str | os.PathLike[str] | None = None) -> Path:
    """The board folder: ``board``, else ``$LEPTON_LAB_BOARD``; a one-line error without either."""
    chosen = board if board is not None else os.environ.get(BOARD_ENV)
    if not chosen:
        raise InvalidInput(f"no board folder: pass board=PATH (a folder everyone can write to) or set ${BOARD_ENV}")
    return Path(chosen).expanduser()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "anonymous"


def _clean_text(value: Any, what: str, limit: int, required: bool = False) -> str:
    text = board_text.shown(value, limit + 1)  # as the board will show it: no controls, no bidi tricks
    if required and not text:
        raise InvalidInput(f"{what} is empty: give your name or team, e.g. participant='Ada'")
    if len(text) > limit:
        raise InvalidInput(f"{what} is over {limit} characters long: keep it under {limit}")
    return text


def machine_description(report: EnergyReport) -> str:
    """Where it ran, in a few words: the host and what measured it."""
    return f"{report.host or socket.gethostname()} ({report.methods or 'no sensor'})"


def submission_dict(report: EnergyReport, *, participant: str, accuracy: float, inferences: int,
                    accuracy_floor: float, notes: str = "") -> dict[str, Any]:
    """The submission for a measured run of ``inferences`` inferences at ``accuracy``."""
    participant = _clean_text(participant, "participant", MAX_NAME_CHARS, required=True)
    notes = _clean_text(notes, "notes", MAX_NOTES_CHARS)
    if not isinstance(report, EnergyReport):
        raise InvalidInput(f"submit() takes the EnergyReport of the scoring run, got {type(report).__name__}: "
                           "use %%energy --var report, or measure() and its .report")
    if isinstance(inferences, bool) or not isinstance(inferences, int) or inferences < 1:
        raise InvalidInput(f"inferences must be a positive whole number, got {inferences!r}")
    for name, value in (("accuracy", accuracy), ("accuracy_floor", accuracy_floor)):
        if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            raise InvalidInput(f"{name} must be a share between 0 and 1 (0.95 for 95 %), got {value!r}")
    if report.energy_j <= 0:
        raise InvalidInput("the report has no energy: measure the scoring run under %%energy first")
    return {
        "format": FORMAT,
        "participant": participant,
        "label": report.label,
        "notes": notes,
        "accuracy": float(accuracy),
        "accuracy_floor": float(accuracy_floor),
        "inferences": inferences,
        "uj_per_inference": report.energy_j * 1e6 / inferences,
        "energy_j": report.energy_j,
        "kind": report.kind,
        "view": report.view,
        "machine": machine_description(report),
        "submitted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "report": report.to_dict(),
    }


def submit(report: EnergyReport, board: str | os.PathLike[str] | None = None, *, participant: str,
           accuracy: float, inferences: int, accuracy_floor: float, notes: str = "") -> Path:
    """Write a submission into the board folder, atomically; its path."""
    data = submission_dict(report, participant=participant, accuracy=accuracy, inferences=inferences,
                           accuracy_floor=accuracy_floor, notes=notes)
    folder = board_path(board)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        target = folder / f"{stamp}-{_slug(data['participant'])}-{uuid.uuid4().hex[:8]}.json"
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the instructor must read it
        os.replace(temporary, target)
    except OSError as exc:
        raise InvalidInput(f"cannot write to the board {folder} ({exc.strerror}): check the folder exists and "
                           "is writable (ask the instructor for its path)") from None
    return target


# -- reading -----------------------------------------------------------------------------------
def read_board(board: str | os.PathLike[str] | None = None) -> Board:
    """Every submission in the folder, checked, and the board's floor; never raises for a bad
    file (it is rejected), never blocks on one, and reads a bounded amount."""
    folder = board_path(board)
    try:
        return BoardReader().read(folder)
    except OSError as exc:
        raise InvalidInput(f"cannot read the board {folder} ({exc.strerror}): check the path") from None


def set_floor(floor: float, board: str | os.PathLike[str] | None = None) -> Path:
    """Set the board's accuracy floor (a share, 0.955 for 95.5 %), once: the instructor's call.
    Submissions' own floors are informational; this one ranks. To change it, delete the file."""
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0.0 <= float(floor) <= 1.0:
        raise InvalidInput(f"the floor must be a share between 0 and 1 (0.955 for 95.5 %), got {floor!r}")
    target = board_path(board) / FLOOR_FILE
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        raise InvalidInput(f"the board's floor is already set in {target}: delete that file to set another") from None
    except OSError as exc:
        raise InvalidInput(f"cannot write {target} ({exc.strerror}): check the board folder exists and is yours")\
            from None
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(f"{float(floor)!r}\n")
    return target


@dataclass(frozen=True)
class Ranking:
    """Groups in order: 'measured' first, then each other kind; each ranked by µJ per inference."""

    groups: dict[str, list[Submission]]
    below_floor: list[Submission]
    floor: float = 0.0
    """The board's accuracy floor the ranking used."""


def rank(submissions: list[Submission], floor: float | None = None, best_per_participant: bool = True) -> Ranking:
    """Rank by µJ per inference among submissions at or above the board's ``floor`` (a share;
    None or 0: every submission); measured results and the others (estimated, replayed,
    attributed) in separate groups. A submission's own declared floor does not count. Names
    that read the same (:func:`lepton_lab.board_text.name_key`) are one participant."""
    floor = floor or 0.0
    eligible = [s for s in submissions if s.accuracy >= floor]
    below = sorted((s for s in submissions if s.accuracy < floor), key=lambda s: s.key)
    if best_per_participant:
        best: dict[tuple[str, str], Submission] = {}
        for s in eligible:
            key = (s.key, s.group)
            if key not in best or s.uj_per_inference < best[key].uj_per_inference:
                best[key] = s
        eligible = list(best.values())
    groups: dict[str, list[Submission]] = {}
    for s in sorted(eligible, key=lambda s: (s.uj_per_inference, s.submitted_at)):
        groups.setdefault(s.group, []).append(s)
    ordered = dict(sorted(groups.items(), key=lambda item: (item[0] != "measured", item[0])))
    return Ranking(ordered, below, floor)
