"""The workshop challenge's scoring (notebooks/challenge.ipynb): serve the test set, count, check.

The participant's served model answers every test image, in batches, at its precision, over and
over for at least ``min_seconds`` (a sensor needs time to see the work; see lesson 05). The
accuracy is that of the first pass over the test set; the inferences are every image answered.
Energy per inference is then the measured energy of the scoring cell over those inferences,
which ``lepton_lab.submit`` writes to the board with the accuracy and the floor.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from .quantization import _quiet_quantized
from .workloads import predict

#: Seconds the scoring run lasts at least (quick mode: shorter, as CI runs it).
SCORING_S = {"fast": 1.0, "full": 5.0}


@dataclass(frozen=True)
class Scored:
    accuracy: float
    inferences: int
    passes: int


def score(model, data, batch_size: int = 1, precision: str | None = None, min_seconds: float | None = None) -> Scored:
    """Serve the whole test set at ``batch_size`` until ``min_seconds`` have passed."""
    from .workloads import fast_mode

    seconds = min_seconds if min_seconds is not None else SCORING_S["fast" if fast_mode() else "full"]
    x, y = data.x_test, data.y_test
    if precision == "int8-dynamic":
        x, y = x.cpu(), y.cpu()
    started, passes, correct = time.perf_counter(), 0, 0
    with _quiet_quantized():
        while passes == 0 or time.perf_counter() - started < seconds:
            answers = predict(model, x, batch_size=batch_size, precision=precision)
            if passes == 0:
                correct = int((answers == y).sum())
            passes += 1
    return Scored(accuracy=correct / len(y), inferences=passes * len(y), passes=passes)


def standings(board_folder) -> str:
    """The board as the challenge notebook prints it ("Where do you stand?"): one line per
    entry, names and reasons shown as read (no ANSI escapes, no newlines: a name cannot print a
    fake ranking line), numbers with a bounded width."""
    from ..board import rank, read_board
    from ..board_text import format_share, format_uj, shown

    board = read_board(board_folder)
    ranking = rank(board.submissions, floor=board.floor)
    lines = [f"the board's accuracy floor: {format_share(board.floor)}" if board.floor is not None else
             "the board has no accuracy floor yet (the instructor sets it): every accuracy is ranked"]
    for group, entries in ranking.groups.items():
        lines.append(group.upper())
        lines += [f"  {place}. {entry.participant}: {format_uj(entry.uj_per_inference)} µJ/inference, "
                  f"accuracy {format_share(entry.accuracy)}" for place, entry in enumerate(entries, 1)]
    if ranking.below_floor:
        lines.append("below the floor: " + ", ".join(e.participant for e in ranking.below_floor))
    if board.rejected:
        lines.append("rejected files: " + "; ".join(f"{shown(os.path.basename(r.path), 80)}: {r.reason}"
                                                    for r in board.rejected[:20]))
        if len(board.rejected) > 20:
            lines.append(f"  … and {len(board.rejected) - 20} more rejected files")
    return "\n".join(lines)
