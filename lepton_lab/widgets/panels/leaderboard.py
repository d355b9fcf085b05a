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
from ...board_text import format_uj, shown
from ...whatif.checks import Bound
from .base import Panel
from .leaderboard_render import CSS, UPLOADED, render, shown_name  # noqa: F401 (shown_name: the page's words)
from .look import cards, ipywidgets, show
from .report_picker import LEDGER_ENV

#: Seconds between two looks at the board folder.
POLL_S = 2.0
#: Longest folder path accepted from the text box (a browser can send any string).
MAX_PATH_CHARS = 1024
#: Uploaded files kept in the page at most (each is up to board.MAX_FILE_BYTES).
MAX_UPLOADS = 1000
FLOOR_NOTE = ("The board's floor: no submission below it is ranked (their own floors are only shown). "
              f"A file {board_mod.FLOOR_FILE} in the board folder fixes it.")
FIXED_NOTE = (f"Fixed by the instructor's file {board_mod.FLOOR_FILE} in the board folder: no submission below "
              "it is ranked (their own floors are only shown).")
#: Width of the controls' descriptions (narrower than the other apps': this column is narrower).
NARROW = "125px"

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
def confine(root: Path, text: str) -> Path | None:
    """``text`` (absolute, or relative to the root) resolved, if it is the root or inside it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(Path(text).expanduser() if os.path.isabs(os.path.expanduser(text)) else root / text)
    return Path(real) if os.path.commonpath([real, real_root]) == real_root else None


def open_confined(folder: Path, root: Path) -> int:
    """The folder opened, checked to be inside the root once open (a folder swapped for a link
    between the check and the open is refused); OSError otherwise."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else str(folder)
    except OSError:
        opened = str(folder)
    real_root = os.path.realpath(root)
    if os.path.commonpath([opened, real_root]) != real_root:
        os.close(fd)
        raise PermissionError(1, "outside the board root")
    return fd


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
        self.floor_note = self.note(FLOOR_NOTE)
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
        self.floor_note.value = self.note(FLOOR_NOTE if fixed is None else FIXED_NOTE).value
        if fixed is None:
            return chosen
        if abs(chosen - fixed) > 1e-9:
            busy, self._busy = self._busy, True
            try:
                slider.value = fixed * 100
            finally:
                self._busy = busy
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
            ("files", "Files", f"{len(found)} found, {len(rejected)} rejected",  # a rejected FIFO is not read
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
