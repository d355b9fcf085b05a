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


def combined(kinds: Iterable[str]) -> str:
    """The kind of a total over domains of these kinds: one kind, or 'partly estimated' /
    'partly replayed' when measured and other numbers are added together (estimated wins, being
    the weaker claim)."""
    found = set(kinds) or {MEASURED}
    if found == {MEASURED}:
        return MEASURED
    if len(found) == 1:
        return next(iter(found))
    for weaker in (ESTIMATED, REPLAYED):
        if any(weaker in kind for kind in found):
            return f"partly {weaker}"
    return "partly " + "/".join(sorted(found - {MEASURED}))


def is_measurement(kind: str) -> bool:
    return kind == MEASURED


def tag(kind: str) -> str:
    """Appended to a title: '' for a measurement, else ' — ESTIMATED', ' — PARTLY REPLAYED' ..."""
    return "" if is_measurement(kind) else f" — {kind.upper()}"


def banner(kind: str) -> str:
    """How a summary's header says it: 'measured', or 'ESTIMATED, not a measurement'."""
    return MEASURED if is_measurement(kind) else f"{kind.upper()}, not a measurement"


def badge(kind: str) -> str:
    """The short label of a live header or a table cell: '' or 'ESTIMATED'."""
    return "" if is_measurement(kind) else kind.upper()


#: Marks a non-measured item among measured ones in a comparison (its category gets a '*').
MIXED_MARK = " *"
MIXED_NOTE = " (* not measured: estimated or replayed)"
