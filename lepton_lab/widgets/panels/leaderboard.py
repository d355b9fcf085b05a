"""The workshop leaderboard (``widgets/leaderboard.ipynb``): the submissions of a challenge board
(:mod:`lepton_lab.board`), ranked by µJ per inference among those meeting the accuracy floor.

Sources: the board folder it was started with (``board=`` or ``$LEPTON_LAB_BOARD``: the *board
root*), polled every :data:`POLL_S` seconds with a cheap look at names and lstat keys (the table
is rebuilt only when one changed), and submission files uploaded in the page. Both go through the
library's one reader and checker (:mod:`lepton_lab.board_read`, :mod:`lepton_lab.board_checks`):
regular files only, never blocking, bounded; a file is parsed again only when it changed.

The folder box is confined to the board root: it accepts the root and folders inside it, and
answers anything else with the same words whether or not it exists, so a visitor learns nothing
about the server's other folders. Served to a network (``lepton-lab serve --ip 0.0.0.0``) it is
fixed to the root. Without a root it is read-only (uploads still work).

The accuracy floor is the board's: the instructor's file in the folder (``accuracy-floor.txt``,
written by :func:`lepton_lab.board.set_floor`) fixes it; without one, the slider here sets it.
A submission's own floor is only shown.

Measured results are ranked first; estimated, replayed and attributed ones each get their own
section, never interleaved with measured ones. Submissions below the floor and rejected files are
listed apart. Everything a participant wrote is shown as read (:mod:`lepton_lab.board_text`) and
escaped: the table is one HTML widget. The page uses no icon font (Voila's lab template loads
Font Awesome from a CDN; ``lepton-lab serve`` uses a template without it).
"""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any, ClassVar

from ... import board as board_mod
from ...board import Rejected, Submission, check_bytes
from ...board_read import BoardReader, Scan, scan
from ...board_text import format_share, format_uj, shown
from ...sensors import kinds
from ...whatif.checks import Bound
from .base import Panel
from .look import cards, esc, ipywidgets, show
from .report_picker import LEDGER_ENV

#: Seconds between two looks at the board folder.
POLL_S = 2.0
#: Longest folder path accepted from the text box (a browser can send any string).
MAX_PATH_CHARS = 1024
#: Uploaded files kept in the page at most (each is up to board.MAX_FILE_BYTES).
MAX_UPLOADS = 1000
#: Width of the controls' descriptions (narrower than the other apps': this column is narrower).
NARROW = "125px"
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

ASSUMPTIONS = (
    "Ranked by **µJ per inference** (the scoring run's energy ÷ its inferences), lowest first, among "
    "submissions whose accuracy is at or above **the board's floor** (the instructor's file in the board folder, "
    "else the slider here). A submission's own floor is shown, never used.",
    "**Only measured results are ranked together.** Estimated, replayed and attributed (a process's share of a "
    "shared machine) figures are listed in their own sections: they are not comparable with measurements.",
    "With 'best result only', each participant appears once per section, with their lowest µJ per inference; "
    "names that read the same (case, invisible characters, look-alike widths) are one participant.",
    "Every file is checked against its own measurement: energy, µJ per inference and power trace agree; kind and "
    "method are those of the sensor its domains name; the kernel's share is recomputed from its CPU times; power "
    "per host, µJ and duration are physical. Edits by hand are rejected; a determined forger who rewrites a "
    "consistent trace is not caught (a workshop board, not an audit: see the workshop guide).",
    f"The board folder is looked at every {POLL_S:g} s; the table changes only when a file did.",
)


# -- reading: the library's reader, confined to the board root --------------------------------
def shown_name(path: str) -> str:
    """What the page calls a file: an upload's name, a folder file's name (never its folder)."""
    return shown(path if path.startswith(UPLOADED) else Path(path).name, 160)


def confine(root: Path, text: str) -> Path | None:
    """``text`` (absolute, or relative to the root) resolved, if it is the root or inside it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(Path(text).expanduser() if os.path.isabs(os.path.expanduser(text)) else root / text)
    return Path(real) if os.path.commonpath([real, real_root]) == real_root else None


def open_confined(folder: Path, root: Path) -> int:
    """The folder opened, checked to be inside the root once open (a folder swapped for a link
    between the check and the open is refused); OSError otherwise."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else str(folder)
    except OSError:
        opened = str(folder)
    real_root = os.path.realpath(root)
    if os.path.commonpath([opened, real_root]) != real_root:
        os.close(fd)
        raise PermissionError(1, "outside the board root")
    return fd


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


class LeaderboardPanel(Panel):
    """The challenge board: measured results ranked, the others apart, bad files said why."""

    DEFAULTS: ClassVar[dict[str, Any]] = dict(floor_pct=0.0, rows=50, best=True)
    BOUNDS: ClassVar[dict[str, Bound]] = dict(floor_pct=Bound("Accuracy floor", 0.0, 100.0, "%"))
    ROWS: ClassVar[list[tuple[str, int]]] = [("20", 20), ("50", 50), ("100", 100), ("all", 0)]
    ASSUMPTIONS = ASSUMPTIONS

    def __init__(self, board=None, ledger_path=None, poll_s: float = POLL_S):
        # Served to a network (the ledger hidden from visitors, as ReportPicker does): the folder is
        # the server's $LEPTON_LAB_BOARD, fixed.
        served = os.environ.get(LEDGER_ENV, "").strip().lower() == "off"
        root = str(board) if board is not None and not served else os.environ.get(board_mod.BOARD_ENV, "")
        self.root = Path(root).expanduser() if root.strip() else None
        self.locked = served or self.root is None
        self._reader = BoardReader()
        self._uploads: dict[str, Submission | Rejected] = {}
        self._seen: Scan | tuple | None = None  # the folder's scan at the last rebuild
        self._folder_key: str | None = None
        self._board = board_mod.Board()
        self.poll_s = poll_s
        self.rebuilds = 0
        self.last_rebuild_s = 0.0
        self._task: asyncio.Task | None = None
        super().__init__(ledger_path)
        self.widget.add_class("ll-leaderboard")
        self.start_polling()

    # -- page ---------------------------------------------------------------------------------
    def _controls(self):
        W = ipywidgets()
        d = self.DEFAULTS
        hint = "the board folder, or a folder inside it" if self.root else \
            f"none: start the app with ${board_mod.BOARD_ENV} set"
        self.folder = W.Text(value=str(self.root or ""), placeholder=hint, tooltip="The board folder",
                             continuous_update=False, layout=W.Layout(flex="1 1 0%", width="auto", min_width="0"))
        self.folder.disabled = self.locked
        # no icon: icon fonts come from a CDN, and the apps load nothing from other hosts
        self.reload = W.Button(description="↻", tooltip="Look at the folder now", layout=W.Layout(flex="0 0 36px"))
        self.upload = W.FileUpload(accept=".json,application/json", multiple=True,
                                   description="Upload submission .json", icon="", layout=W.Layout(width="auto"),
                                   tooltip="Files written by lepton_lab.board.submit()")
        self.forget = W.Button(description="Forget uploaded files", layout=W.Layout(width="auto"))
        self.folder.observe(self._changed, names="value")
        self.reload.on_click(lambda _: self.refresh())
        self.upload.observe(self._uploaded, names="value")
        self.forget.on_click(lambda _: self.forget_uploads())
        show(self.forget, False)
        floor = self.slider("floor_pct", self.BOUNDS["floor_pct"], d["floor_pct"], "Accuracy floor (%)", step=0.5,
                            fmt=".1f")
        per = self.choice("best", [("best result only", True), ("every submission", False)], d["best"],
                          "Per participant")
        rows = self.choice("rows", self.ROWS, d["rows"], "Rows per section")
        for w in (floor, per, rows):
            w.style.description_width = NARROW
        self.floor_note = self.note("The board's floor: no submission below it is ranked (their own floors are "
                                    f"only shown). A file {board_mod.FLOOR_FILE} in the board folder fixes it.")
        return [
            self.heading("Board folder"),
            W.HBox([self.folder, self.reload], layout=W.Layout(width="100%")),
            self.upload, self.forget,
            self.note("A folder everyone can write to (lepton_lab.board.submit writes into it), looked at every "
                      f"{self.poll_s:g} s; or submission files uploaded here."),
            self.heading("Rules"), floor, self.floor_note, per,
            self.heading("Display"), rows,
        ]

    def _charts(self):
        W = ipywidgets()
        self.table = W.HTML()  # stretched by its column (width 100% plus the widget margin would overflow)
        self.show_all = W.Button(description="Show all rows", layout=W.Layout(width="auto"))
        self.show_all.on_click(lambda _: self._show_everything())
        show(self.show_all, False)
        return [W.HTML(CSS), self.table, self.show_all]

    def _show_everything(self) -> None:
        self.widget_of("rows").value = 0  # observed: refreshes

    # -- sources ------------------------------------------------------------------------------
    def folder_path(self) -> Path | None:
        """The folder to read: the text box, confined to the board root (a visitor's browser can
        send anything). Every refusal reads the same, whether or not the path exists."""
        text, root_text = self.folder.value, str(self.root or "")
        if not isinstance(text, str) or len(text) > MAX_PATH_CHARS or "\x00" in text:
            self.notes.append(f"the board folder must be a path under {MAX_PATH_CHARS} characters")
            text = self._set_folder(root_text)
        if self.locked and text != root_text:
            self.notes.append("the board folder is fixed on this server" if self.root else
                              f"no board folder: start the app with ${board_mod.BOARD_ENV} set")
            text = self._set_folder(root_text)
        if self.root is None:
            return None
        folder = confine(self.root, text.strip() or root_text)
        if folder is None:
            self.notes.append("only the board folder and the folders inside it can be shown")
            self._set_folder(root_text)
            return self.root
        return folder

    def _set_folder(self, text: str) -> str:
        busy, self._busy = self._busy, True
        try:
            self.folder.value = text
        finally:
            self._busy = busy
        return text

    def _look(self, folder: Path | None) -> tuple[Scan | tuple | None, int | None]:
        """(the folder's scan, its open descriptor) or (an error tuple, None)."""
        if folder is None or self.root is None:
            return None, None
        try:
            fd = open_confined(folder, self.root)
        except OSError:
            return ("error",), None
        try:
            return scan(fd), fd
        except OSError:
            os.close(fd)
            return ("error",), None

    def _read_folder(self, folder: Path | None) -> board_mod.Board:
        key = str(folder) if folder else None
        found, fd = self._look(folder)
        try:
            if found == ("error",):  # same words for missing, unreadable, not a folder
                self.notes.append("cannot read the board folder there: check the path")
                self._board, self._seen, self._folder_key = board_mod.Board(), found, key
            elif key != self._folder_key or found != self._seen:
                board = self._reader.read(folder, found, fd) if folder and isinstance(found, Scan) else None
                self._board, self._seen, self._folder_key = board or board_mod.Board(), found, key
        finally:
            if fd is not None:
                os.close(fd)
        return self._board

    def _uploaded(self, change) -> None:
        files = change["new"]
        if not files:
            return
        try:
            for item in files:
                if len(self._uploads) >= MAX_UPLOADS:
                    self.notes.append(f"only {MAX_UPLOADS} uploaded files are kept: forget some first")
                    break
                name = UPLOADED + str(item.get("name", "file"))[:120]
                content = item["content"]
                if not isinstance(content, (bytes, bytearray, memoryview)):
                    raise TypeError("content")
                self._uploads[name] = check_bytes(content, name)
        except (TypeError, KeyError, AttributeError, ValueError):
            self.notes.append("an upload could not be read: choose submission .json files")
        finally:
            self.upload.value = ()  # so the same file can be chosen again
        show(self.forget, bool(self._uploads))
        self.refresh()

    def forget_uploads(self) -> None:
        self._uploads.clear()
        show(self.forget, False)
        self.refresh()

    # -- refresh cycle ------------------------------------------------------------------------
    def update(self, v: dict) -> None:
        started = time.perf_counter()
        folder = self.folder_path()
        board = self._read_folder(folder)
        uploads = list(self._uploads.values())
        found = [*board.submissions, *board.rejected, *uploads]
        submissions = [x for x in found if isinstance(x, Submission)]
        rejected = [x for x in found if isinstance(x, Rejected)]
        floor = self._board_floor(board.floor, v["floor_pct"] / 100.0)
        self.ranking = board_mod.rank(submissions, floor=floor, best_per_participant=v["best"])
        self.rejected = rejected
        html, hidden = render(self.ranking, rejected, v["rows"])
        self.table.value = html
        show(self.show_all, hidden > 0)
        self.show_all.description = f"Show all rows ({hidden} hidden)"
        self.numbers.value = self._cards(folder, found, rejected)
        self.rebuilds += 1
        self.last_rebuild_s = time.perf_counter() - started

    def _board_floor(self, fixed: float | None, chosen: float) -> float:
        """The instructor's file fixes the floor (the slider follows it, disabled); else the slider."""
        slider = self.widget_of("floor_pct")
        slider.disabled = fixed is not None
        if fixed is None:
            self.floor_note.value = self.floor_note.value.replace(" (fixed by the board's file)", "")
            return chosen
        if abs(chosen - fixed) > 1e-9:
            busy, self._busy = self._busy, True
            try:
                slider.value = fixed * 100
            finally:
                self._busy = busy
        if "(fixed by" not in self.floor_note.value:
            self.floor_note.value = self.floor_note.value.replace("</", " (fixed by the board's file)</", 1)
        return fixed

    def _cards(self, folder, found, rejected) -> str:
        measured = self.ranking.groups.get("measured", [])
        others = sum(len(items) for group, items in self.ranking.groups.items() if group != "measured")
        if measured:
            best = measured[0]
            first = ("best", "Best measured", f"{format_uj(best.uj_per_inference)} µJ/inference",
                     f"{best.participant}: {best.label}")
        else:
            first = ("best", "Best measured", "none yet", "no measured submission meets the floor")
        if folder is None:
            where = f"no board folder (start the app with ${board_mod.BOARD_ENV} set): upload files"
        else:
            where = "in the board folder" if self.locked else f"in {shown(folder, 200)}"
        return cards([
            first,
            ("ranked", "Ranked", f"{len(measured)} measured",
             f"{others} not measured (apart), {len(self.ranking.below_floor)} below the floor"),
            ("files", "Files", f"{len(found)} read, {len(rejected)} rejected",
             f"{where}; updated {time.strftime('%H:%M:%S')}"),
        ])

    def apply_report(self, report) -> None:
        """Not used: a leaderboard takes submission files, not one report (the picker is not shown)."""

    # -- polling ------------------------------------------------------------------------------
    def poll(self) -> bool:
        """Look at the folder (names, sizes, times); rebuild only if something changed. True if rebuilt."""
        if self._busy:
            return False
        folder = self.folder_path()
        key = str(folder) if folder else None
        found, fd = self._look(folder)
        if fd is not None:
            os.close(fd)
        if self.notes or key != self._folder_key or found != self._seen:
            self.refresh()
            return True
        return False

    def start_polling(self) -> bool:
        """Poll on the kernel's event loop (no thread: callbacks and polls never overlap)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop running (plain Python, tests): call poll() yourself
            return False
        self._task = loop.create_task(self._poll_forever())
        return True

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            if getattr(self.widget, "comm", None) is None:  # the page is gone: stop
                return
            try:
                self.poll()
            except Exception as exc:  # never let the poll die silently: say it on the page
                self.notes.append(f"the board could not be read ({type(exc).__name__})")
                self.show_notes()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
