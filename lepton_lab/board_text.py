"""What a challenge board shows of a participant's text and numbers, made safe to show.

A board folder is written by everyone in the room, so its text is shown as it will be *read*:
NFKC-normalised (a full-width "Ａｄａ" is "Ada"), without control characters (ANSI escapes,
newlines, tabs), zero-width or bidirectional formatting characters (a right-to-left override
reverses a name on screen), on one line. Two names that read the same are one participant
(:func:`name_key`). Numbers are printed with a bounded width, whatever a file claims.
"""
from __future__ import annotations

import math
import unicodedata

#: Unicode categories never shown: controls (Cc: ANSI's ESC, newlines), formats (Cf: zero-width
#: spaces and joiners, bidi overrides and isolates, the BOM), surrogates, private use, unassigned,
#: and the line/paragraph separators (Zl, Zp).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: Combining marks kept on one character (more stack up into a smear above and below the row).
MAX_MARKS = 2


def shown(text: object, limit: int, normalize: bool = True) -> str:
    """``text`` as a board shows it: NFKC (unless ``normalize`` is False: our own wording, whose
    µ NFKC would turn into a Greek mu), hidden characters removed, spaces collapsed, at most
    ``limit`` characters."""
    raw = "" if text is None else str(text)[: limit * 8]
    normal = unicodedata.normalize("NFKC", raw) if normalize else raw
    kept, marks = [], 0
    for char in normal:
        category = unicodedata.category(char)
        if category in HIDDEN_CATEGORIES:
            # a control that spaces words (a tab, a newline) still separates them; ESC and the rest go
            kept.append(" " if char.isspace() else "")
            continue
        marks = marks + 1 if category.startswith("M") else 0
        if marks <= MAX_MARKS:
            kept.append(char)
    return " ".join("".join(kept).split())[:limit]


def name_key(name: str) -> str:
    """Names that read the same are the same participant ("Ada", "ada", "A\\u200bda", "Ａｄａ")."""
    return shown(name, len(name) + 1).casefold()


def format_uj(value: float) -> str:
    """µJ with a bounded width (at most 9 characters): 0.0123, 414.5, 1,144, 3.912e+07."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    if abs(value) >= 1e6:
        return f"{value:.3e}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def format_share(value: float) -> str:
    """A share (0..1) as a percentage, bounded: '95.3 %'."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return f"{min(max(value, -9.99), 9.99) * 100:.1f} %"
