"""A workshop's challenge board: submissions written into a folder, read back checked, ranked.

``submit()`` writes one JSON file per submission into the board folder (a shared folder on a
JupyterHub, or a local one), atomically: it is written beside its final name and renamed, so a
reader never sees half a file and thirty participants submitting at once lose nothing (each file
has its own name).

``read_board()`` checks every file. A file that is not a submission, or whose summary disagrees
with its own measurement (the energy is not the integral of its power trace, the µJ per inference
is not the energy over the inferences, the report's own energy differs), is listed as rejected
with the reason; a board never fails because of one file. The checks catch a number edited by
hand, not a determined forger, who can rewrite the trace as well: a workshop board, not an audit.

``rank()`` orders what passed: submissions below the accuracy floor are set apart, and results
that are not measurements (estimated, replayed, attributed on a shared machine) are ranked in
their own group, never mixed with measured ones.
"""
from __future__ import annotations

import json
import math
import os
import re
import socket
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import InvalidInput
from .report import EnergyReport
from .sensors import kinds

FORMAT = "lepton_lab-submission/1"
BOARD_ENV = "LEPTON_LAB_BOARD"
MAX_NAME_CHARS = 80
MAX_NOTES_CHARS = 500
#: The trace's integral and the report's energy may differ this much (relative) before a
#: submission is rejected: sampled power misses the edges of a run and the counters' steps.
TRACE_TOLERANCE = 0.20
#: Figures written from one another must agree this closely (rounding only).
EXACT = 1e-6
#: Files larger than this are not read (a board is a folder anyone in the room can write to).
MAX_FILE_BYTES = 2_000_000
TOO_LARGE = f"larger than {MAX_FILE_BYTES // 1_000_000} MB"


@dataclass(frozen=True)
class Submission:
    """One checked submission."""

    path: str
    participant: str
    label: str
    notes: str
    accuracy: float
    accuracy_floor: float
    inferences: int
    uj_per_inference: float
    energy_j: float
    kind: str
    view: str
    machine: str
    submitted_at: str

    @property
    def meets_floor(self) -> bool:
        return self.accuracy >= self.accuracy_floor

    @property
    def group(self) -> str:
        """'measured', or what else the figure is (estimated, replayed, attributed)."""
        if not kinds.is_measurement(self.kind):
            return self.kind
        return "measured" if self.view == "machine" else "attributed"


@dataclass(frozen=True)
class Rejected:
    path: str
    reason: str


@dataclass
class Board:
    submissions: list[Submission] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def board_path(board: str | os.PathLike[str] | None = None) -> Path:
    """The board folder: ``board``, else ``$LEPTON_LAB_BOARD``; a one-line error without either."""
    chosen = board if board is not None else os.environ.get(BOARD_ENV)
    if not chosen:
        raise InvalidInput(f"no board folder: pass board=PATH (a folder everyone can write to) or set ${BOARD_ENV}")
    return Path(chosen).expanduser()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:40] or "anonymous"


def _clean_text(value: Any, what: str, limit: int, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if required and not text:
        raise InvalidInput(f"{what} is empty: give your name or team, e.g. participant='Ada'")
    if len(text) > limit:
        raise InvalidInput(f"{what} is {len(text)} characters long: keep it under {limit}")
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
def trace_energy_j(trace: dict[str, Any]) -> float | None:
    """The integral of a report's power trace over every domain, or None without samples.

    A sample's watts are the mean since the sample before (the first: since the start, t = 0),
    as the sampler derives them from its counters; so each is held over the interval it ends."""
    times = trace.get("t_s") or []
    powers = trace.get("power_w") or {}
    if not times or not powers:
        return None
    steps = [b - a for a, b in zip([0.0, *times[:-1]], times)]
    total = 0.0
    for series in powers.values():
        if len(series) != len(times):
            raise ValueError("a power series and the times differ in length")
        total += sum(step * watts for step, watts in zip(steps, series))
    return total


def _finite(data: dict[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} is not a number")
    return float(value)


def check(data: Any, path: str = "") -> Submission:
    """A checked submission from a parsed file; ValueError saying what is wrong otherwise."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a lepton_lab submission")
    try:
        accuracy, floor = _finite(data, "accuracy"), _finite(data, "accuracy_floor")
        energy, uj = _finite(data, "energy_j"), _finite(data, "uj_per_inference")
        inferences = data["inferences"]
        participant = str(data["participant"])[:MAX_NAME_CHARS]
    except KeyError as exc:
        raise ValueError(f"missing {exc.args[0]}") from None
    if isinstance(inferences, bool) or not isinstance(inferences, int) or inferences < 1:
        raise ValueError("inferences is not a positive whole number")
    if not (0.0 <= accuracy <= 1.0 and 0.0 <= floor <= 1.0):
        raise ValueError("accuracy is not between 0 and 1")
    if energy <= 0:
        raise ValueError("energy is not positive")
    try:
        report = EnergyReport.from_dict(data["report"])
    except (InvalidInput, KeyError, TypeError) as exc:
        raise ValueError(f"its report is unreadable ({str(exc)[:80]})") from None
    if abs(report.energy_j - energy) > EXACT * energy:
        raise ValueError(f"energy {energy:.4g} J is not its report's {report.energy_j:.4g} J (edited?)")
    if abs(uj - energy * 1e6 / inferences) > EXACT * uj:
        raise ValueError(f"µJ/inference {uj:.4g} is not energy ÷ inferences ({energy * 1e6 / inferences:.4g}) "
                         "(edited?)")
    try:
        integral = trace_energy_j(report.trace)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"its power trace is unreadable ({exc})") from None
    if integral is None:
        raise ValueError("its power trace is too short to check (measure a longer scoring run)")
    machine = report.machine_energy_j
    if abs(integral - machine) > TRACE_TOLERANCE * machine:
        raise ValueError(f"its power trace integrates to {integral:.4g} J, not the {machine:.4g} J it reports "
                         "(edited?)")
    return Submission(
        path=path, participant=participant or "anonymous", label=str(data.get("label") or "")[:200],
        notes=str(data.get("notes") or "")[:MAX_NOTES_CHARS], accuracy=accuracy, accuracy_floor=floor,
        inferences=inferences, uj_per_inference=uj, energy_j=energy, kind=report.kind, view=report.view,
        machine=str(data.get("machine") or report.host)[:120], submitted_at=str(data.get("submitted_at") or ""),
    )


def check_bytes(content: bytes | bytearray | memoryview, path: str = "") -> Submission | Rejected:
    """A file's bytes (from a board folder or an upload) checked; a Rejected with the reason
    otherwise. Never raises for what a file holds."""
    try:
        if len(content) > MAX_FILE_BYTES:
            raise ValueError(TOO_LARGE)
        return check(json.loads(bytes(content).decode("utf-8")), path)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejected(path, f"not readable JSON ({type(exc).__name__})")
    except (ValueError, RecursionError) as exc:
        return Rejected(path, str(exc) or type(exc).__name__)
    except (TypeError, AttributeError, KeyError, IndexError) as exc:  # a string where a number goes, say
        return Rejected(path, f"not a valid submission ({type(exc).__name__})")


def read_board(board: str | os.PathLike[str] | None = None) -> Board:
    """Every submission in the folder, checked; never raises for a bad file (it is rejected)."""
    folder = board_path(board)
    result = Board()
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix == ".json" and not p.name.startswith("."))
    except OSError as exc:
        raise InvalidInput(f"cannot read the board {folder} ({exc.strerror}): check the path") from None
    for path in paths:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:  # do not even read it
                checked: Submission | Rejected = Rejected(str(path), TOO_LARGE)
            else:
                checked = check_bytes(path.read_bytes(), str(path))
        except OSError as exc:
            checked = Rejected(str(path), f"not readable ({exc.strerror})")
        if isinstance(checked, Submission):
            result.submissions.append(checked)
        else:
            result.rejected.append(checked)
    return result


@dataclass(frozen=True)
class Ranking:
    """Groups in order: 'measured' first, then each other kind; each ranked by µJ per inference."""

    groups: dict[str, list[Submission]]
    below_floor: list[Submission]


def rank(submissions: list[Submission], best_per_participant: bool = True) -> Ranking:
    """Rank by µJ per inference among submissions at or above their accuracy floor; measured
    results and the others (estimated, replayed, attributed) in separate groups."""
    eligible = [s for s in submissions if s.meets_floor]
    below = sorted((s for s in submissions if not s.meets_floor), key=lambda s: s.participant.lower())
    if best_per_participant:
        best: dict[tuple[str, str], Submission] = {}
        for s in eligible:
            key = (s.participant.lower(), s.group)
            if key not in best or s.uj_per_inference < best[key].uj_per_inference:
                best[key] = s
        eligible = list(best.values())
    groups: dict[str, list[Submission]] = {}
    for s in sorted(eligible, key=lambda s: (s.uj_per_inference, s.submitted_at)):
        groups.setdefault(s.group, []).append(s)
    ordered = dict(sorted(groups.items(), key=lambda item: (item[0] != "measured", item[0])))
    return Ranking(ordered, below)
