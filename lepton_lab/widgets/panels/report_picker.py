"""Start a what-if panel from a measurement: a recent ledger entry or an uploaded report file.

Both sources are untrusted input (a browser can forge a dropdown value or send any bytes), so a
ledger id must be one the menu listed and an upload must parse as a report; anything else becomes
a visible message, never an exception.
"""
from __future__ import annotations

import os

from ... import units
from ...errors import LeptonError
from ...ledger import Ledger
from ...sensors import kinds
from ...whatif.reports import check_report, report_from_bytes
from .look import WIDE, esc, ipywidgets

#: Set to "off" (``lepton-lab serve`` does it on a non-local address) to hide this machine's
#: ledger from visitors; they can still upload their own report.
LEDGER_ENV = "LEPTON_LAB_APPS_LEDGER"


class ReportPicker:
    """Start from a measurement: a recent ledger entry or an uploaded report JSON file."""

    def __init__(self, on_report, ledger_path=None, limit: int = 20):
        W = ipywidgets()
        self._on_report, self._ledger_path, self._limit = on_report, ledger_path, limit
        self._ids: set[int] = set()
        # min_width 0 lets long entry labels shrink instead of pushing the reload button out of view.
        self.dropdown = W.Dropdown(description="Ledger entry", style=WIDE,
                                   layout=W.Layout(flex="1 1 0%", width="auto", min_width="0"))
        # no icon: the icon font would come from a CDN, and the apps load nothing from other hosts
        self.reload = W.Button(description="↻", tooltip="Reload the ledger", layout=W.Layout(flex="0 0 36px"))
        self.upload = W.FileUpload(accept=".json,application/json", multiple=False,
                                   description="Upload report .json", layout=W.Layout(width="auto"),
                                   tooltip="A file saved with report.save(path) or lepton-lab export")
        self.status = W.HTML().add_class("ll-note")
        self.dropdown.observe(self._picked, names="value")
        self.upload.observe(self._uploaded, names="value")
        self.reload.on_click(lambda _: self.load_ledger())
        row = W.HBox([self.dropdown, self.reload], layout=W.Layout(width="100%"))
        self.widget = W.VBox([row, self.upload, self.status])
        self.shows_ledger = os.environ.get(LEDGER_ENV, "").strip().lower() != "off"
        if self.shows_ledger:
            self.load_ledger()
        else:
            row.layout.display = "none"
            self.dropdown.options = [("(hidden)", 0)]

    def load_ledger(self) -> None:
        try:
            rows = Ledger(self._ledger_path).rows(self._limit)
        except LeptonError as exc:
            rows = []
            self.say(str(exc))
        self._ids = {row["id"] for row in rows}
        first = "(none: type values in)" if rows else "(ledger is empty)"
        # 0 is never a ledger id; None would leave the dropdown blank instead of showing the hint.
        self.dropdown.options = [(first, 0)] + [(self._label(row), row["id"]) for row in rows]
        self.dropdown.value = 0

    @staticmethod
    def _label(row) -> str:
        kind = f" [{kinds.badge(row['kind'])}]" if kinds.badge(row["kind"]) else ""
        return (f"#{row['id']} {row['label']}: {units.format_energy(row['energy_j'])}, "
                f"{units.format_power(row['mean_w'] or 0)}{kind}")

    def say(self, text: str, warn: bool = True) -> None:
        style = ' style="color:#9a6700"' if warn else ""
        self.status.value = f"<span{style}>{'⚠ ' if warn else ''}{esc(text)}</span>" if text else ""

    def _picked(self, change) -> None:
        key = change["new"]
        if key == 0 or not self.shows_ledger:
            return
        if key not in self._ids:  # forged: only listed entries may be opened
            self.say(f"ledger entry {key!r} is not in the list; pick one from the menu")
            return
        try:
            report = check_report(Ledger(self._ledger_path).get(int(key)), f"ledger entry #{key}")
        except LeptonError as exc:
            self.say(str(exc))
            return
        self.say("")
        self._on_report(report, "the ledger")

    def _uploaded(self, change) -> None:
        files = change["new"]
        if not files:
            return
        try:
            name = str(files[0].get("name", "the file"))[:80]
            report = report_from_bytes(files[0]["content"], name=f"'{name}'")
        except LeptonError as exc:
            self.say(str(exc))
            return
        except (TypeError, KeyError, IndexError, AttributeError):
            self.say("the upload could not be read: choose a report .json file")
            return
        finally:
            self.upload.value = ()  # so the same file can be chosen again
        self.say("")
        self._on_report(report, f"file '{name}'")
