"""What kind of numbers a sensor gives, and the one way every view says it.

A measurement is read from hardware counters. Anything else, an estimate from a model or a
replay of a recorded trace, must say so wherever its numbers appear: the report's header and
summary, the live figure's title, comparisons, lesson tables, the ledger. Every view takes its
words from here, so they cannot drift apart.
"""
from __future__ import annotations

from collections.abc import Iterable

MEASURED = "measured"
ESTIMATED = "estimated"
REPLAYED = "replayed"
KINDS = (MEASURED, ESTIMATED, REPLAYED)
#: Why an estimate has no idle power to subtract: its model (utilisation × TDP) has no idle term,
#: so a baseline read with it is the model's figure for whatever else ran, not the machine's idle.
ESTIMATE_HAS_NO_IDLE = "the estimate's model has no idle part"


def combined(kinds: Iterable[str]) -> str:
    """The kind of a total over domains of these kinds: one kind; 'partly estimated', 'partly
    replayed' (or 'partly estimated/replayed') when measured and other numbers are added
    together; 'estimated/replayed' when nothing of it is measured."""
    found = {part for kind in kinds for part in kind.removeprefix("partly ").split("/")} or {MEASURED}
    others = sorted(found - {MEASURED})
    if not others:
        return MEASURED
    mixed = "partly " if MEASURED in found or any(k.startswith("partly ") for k in kinds) else ""
    return mixed + "/".join(others)


def is_measurement(kind: str) -> bool:
    return kind == MEASURED


def _from(source: str) -> str:
    return f" from {source}" if source else ""


def tag(kind: str, source: str = "") -> str:
    """Appended to a title: '' for a measurement, else ' — ESTIMATED', ' — REPLAYED from NAME' ..."""
    return "" if is_measurement(kind) else f" — {kind.upper()}{_from(source)}"


def banner(kind: str, source: str = "") -> str:
    """How a summary's header says it: 'measured', or 'REPLAYED from NAME, not a measurement'."""
    return MEASURED if is_measurement(kind) else f"{kind.upper()}{_from(source)}, not a measurement"


def badge(kind: str) -> str:
    """The short label of a live header or a table cell: '' or 'ESTIMATED'."""
    return "" if is_measurement(kind) else kind.upper()


#: Marks a non-measured item among measured ones in a comparison (its category gets a '*').
MIXED_MARK = " *"
MIXED_NOTE = " (* not measured: estimated or replayed)"
