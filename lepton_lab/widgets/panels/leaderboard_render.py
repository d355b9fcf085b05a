"""The leaderboard's table (pure: a ranking in, escaped HTML out), for
:mod:`lepton_lab.widgets.panels.leaderboard`. Every participant's text is escaped; numbers come
from :mod:`lepton_lab.board_text` with a bounded width, so one file cannot widen the table."""
from __future__ import annotations

from pathlib import Path

from ... import board as board_mod
from ...board import Rejected, Submission
from ...board_text import format_share, format_uj, shown
from ...sensors import kinds
from .look import esc

#: How an uploaded file is named where a folder file shows its file name.
UPLOADED = "uploaded: "

#: Why a group is not ranked with the measured results (the kind's word comes from sensors/kinds).
WHY = {
    "estimated": "Estimated from a model of the processor: no power sensor was read, so these figures cannot be "
                 "compared with measurements.",
    "replayed": "Played back from a recorded power trace, not read from this run's hardware.",
    "attributed": "Measured, but only this kernel's share of a machine shared with other work (the process view).",
}

CSS = """<style>
.ll-leaderboard .ll-controls {flex: 0 0 350px;}
.ll-leaderboard .ll-results {flex: 1 1 600px;}
.ll-leaderboard .ll-sub {overflow-wrap: anywhere;}
.ll-board {display: flex; flex-direction: column; gap: 14px;}
.ll-sec {border: 1px solid #d0d7de; border-radius: 10px; padding: 8px 12px 10px 16px; background: #fff;}
.ll-sec-measured {border-color: #2da44e; box-shadow: inset 5px 0 0 #2da44e;}
.ll-sec-other {border: 1px dashed #bf8700; background: #fffbeb; box-shadow: inset 5px 0 0 #d4a72c;}
.ll-sec-below {background: #f6f8fa; box-shadow: inset 5px 0 0 #8c959f;}
.ll-sec-rejected {border-color: #cf222e; background: #fff8f8; box-shadow: inset 5px 0 0 #cf222e;}
.ll-sec-h {font-size: 13px; font-weight: 700; letter-spacing: .04em; color: #1f2328; margin: 2px 0 4px 0;}
.ll-sec-why {font-size: 12px; color: #57606a; margin: -2px 0 6px 0; line-height: 1.4;}
.ll-empty {font-size: 13px; color: #57606a; padding: 4px 0;}
.ll-rank {width: 100%; border-collapse: collapse; font-size: 13px; line-height: 1.35;}
.ll-rank th {text-align: left; font-size: 11.5px; color: #57606a; font-weight: 600; padding: 4px 6px;
  border-bottom: 1px solid #d0d7de; white-space: nowrap;}
.ll-rank td {padding: 4px 6px; border-bottom: 1px solid #eaeef2; vertical-align: top; overflow-wrap: anywhere;}
.ll-rank tr:last-child td {border-bottom: none;}
.ll-rank .num {text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap;}
.ll-rank td.ll-who {font-weight: 600; max-width: 170px;}
.ll-rank td.ll-what {max-width: 220px;}
.ll-rank td.ll-where {max-width: 200px; color: #424a53; font-size: 12px;}
.ll-rank td.ll-why {color: #82071e;}
.ll-sec-measured tr[data-rank="1"] td {background: #dafbe1;}
.ll-notes {display: block; font-size: 11.5px; color: #6e7781; font-weight: 400;}
.ll-kind {font-size: 11px; font-weight: 700; padding: 1px 6px; border-radius: 6px; white-space: nowrap;
  background: #dafbe1; color: #116329;}
.ll-kind.ll-not-measured {background: #fff1c2; color: #6b4500;}
.ll-more {font-size: 12px; color: #57606a; padding-top: 6px;}
</style>"""

def shown_name(path: str) -> str:
    """What the page calls a file: an upload's name, a folder file's name (never its folder)."""
    return shown(path if path.startswith(UPLOADED) else Path(path).name, 160)


# -- rendering (pure: submissions in, HTML out) --------------------------------------------------
def group_title(group: str) -> str:
    if group == "measured":
        return "MEASURED — ranked by µJ per inference"
    word = "ATTRIBUTED" if group == "attributed" else (kinds.badge(group) or group.upper())
    return f"{word} — not ranked with measured results"


def kind_cell(s: Submission) -> str:
    word = kinds.badge(s.kind) or kinds.MEASURED
    if s.view != "machine":
        word += f" · {s.view} view"
    extra = "" if s.group == "measured" else " ll-not-measured"
    return f'<span class="ll-kind{extra}">{esc(word)}</span>'


def _who(s: Submission) -> str:
    return f'<td class="ll-who">{esc(s.participant)}</td>'


def _what(s: Submission) -> str:
    notes = f'<span class="ll-notes">{esc(s.notes)}</span>' if s.notes else ""
    return f'<td class="ll-what">{esc(s.label)}{notes}</td>'


HEAD = ("<tr><th class='num'>#</th><th>Participant</th><th>Label</th><th class='num'>µJ / inference</th>"
        "<th class='num'>Accuracy</th><th>Kind</th><th>Machine</th></tr>")
BELOW_HEAD = ("<tr><th>Participant</th><th>Label</th><th class='num'>Accuracy</th><th class='num'>Own floor</th>"
              "<th class='num'>µJ / inference</th><th>Kind</th><th>Machine</th></tr>")


def _ranked_rows(items: list[Submission]) -> list[str]:
    return [f'<tr data-rank="{i}"><td class="num">{i}</td>{_who(s)}{_what(s)}'
            f'<td class="num">{format_uj(s.uj_per_inference)}</td><td class="num">{format_share(s.accuracy)}</td>'
            f'<td>{kind_cell(s)}</td><td class="ll-where">{esc(s.machine)}</td></tr>'
            for i, s in enumerate(items, 1)]


def _below_rows(items: list[Submission]) -> list[str]:
    return [f'<tr>{_who(s)}{_what(s)}<td class="num">{format_share(s.accuracy)}</td>'
            f'<td class="num">{format_share(s.accuracy_floor)}</td><td class="num">{format_uj(s.uj_per_inference)}</td>'
            f'<td>{kind_cell(s)}</td><td class="ll-where">{esc(s.machine)}</td></tr>' for s in items]


def _rejected_rows(items: list[Rejected]) -> list[str]:
    return [f'<tr><td class="ll-who">{esc(shown_name(r.path))}</td><td class="ll-why">{esc(r.reason)}</td></tr>'
            for r in items]


def _section(css: str, group: str, title: str, why: str, head: str, rows: list[str], limit: int,
             empty: str = "") -> tuple[str, int]:
    hidden = max(0, len(rows) - limit) if limit else 0
    shown = rows[:limit] if limit else rows
    why_html = f'<div class="ll-sec-why">{esc(why)}</div>' if why else ""
    if shown:
        body = f'<table class="ll-rank"><thead>{head}</thead><tbody>{"".join(shown)}</tbody></table>'
    else:
        body = f'<div class="ll-empty">{esc(empty)}</div>'
    more = f'<div class="ll-more">… and {hidden} more (choose “all” in Rows per section)</div>' if hidden else ""
    return (f'<section class="ll-sec {css}" data-group="{esc(group)}"><div class="ll-sec-h">{esc(title)}</div>'
            f"{why_html}{body}{more}</section>"), hidden


def render(ranking: board_mod.Ranking, rejected: list[Rejected], limit: int = 0) -> tuple[str, int]:
    """The board as HTML (every participant's text escaped) and how many rows the limit hid."""
    parts, hidden = [], 0
    measured = ranking.groups.get("measured", [])
    html, n = _section("ll-sec-measured", "measured", group_title("measured"), "", HEAD, _ranked_rows(measured),
                       limit, "No measured submission yet: estimated or replayed results are listed below, apart.")
    parts.append(html)
    hidden += n
    for group, items in ranking.groups.items():
        if group == "measured":
            continue
        html, n = _section("ll-sec-other", group, group_title(group), WHY.get(group, ""), HEAD,
                           _ranked_rows(items), limit)
        parts.append(html)
        hidden += n
    if ranking.below_floor:
        html, n = _section("ll-sec-below", "below-floor", "BELOW THE ACCURACY FLOOR — not ranked",
                           f"Their accuracy is under the board's floor ({format_share(ranking.floor)}), so their "
                           "energy does not count. Their own floor is shown, not used.", BELOW_HEAD,
                           _below_rows(ranking.below_floor), limit)
        parts.append(html)
        hidden += n
    if rejected:
        html, n = _section("ll-sec-rejected", "rejected", f"REJECTED FILES ({len(rejected)})",
                           "Not counted: each says why.", "<tr><th>File</th><th>Reason</th></tr>",
                           _rejected_rows(rejected), limit)
        parts.append(html)
        hidden += n
    return f'<div class="ll-board" data-key="board">{"".join(parts)}</div>', hidden
