"""Every guided lesson runs top to bottom in a real kernel (nbclient), in quick mode (LEPTON_FAST=1).

Lessons 01, 06 and 07 run beside a neighbour burning a CPU (the busy 2-CPU laptop of issue 18), and
their printed claims are read back and checked against their own printed numbers
(``tests/lesson_claims.py``): the wording is generated from the numbers in code, so these checks
catch a sentence that no longer follows them."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests import lesson_claims as claims

LESSONS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
#: Lessons whose text is checked against their numbers, run with a neighbour burning a CPU.
CHECKED = {"01": claims.lesson_01, "06": claims.lesson_06, "07": claims.lesson_07}


@pytest.mark.kernel
@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_in_quick_mode(path, monkeypatch, tmp_path):
    from lepton_lab.tradeoffs.background import BackgroundBurner

    monkeypatch.setenv("LEPTON_FAST", "1")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    check = CHECKED.get(path.stem[:2])
    if check is not None:
        with BackgroundBurner(threads=1, max_seconds=900):  # someone else's load, as on a laptop
            client.execute()
    else:
        client.execute()
    text = claims.all_text(notebook)
    assert "Traceback" not in text
    if "%%energy" in "".join(cell.source for cell in notebook.cells):
        # no sensor on CI: the lesson must show the estimate as such
        assert "ESTIMATED" in text or "measured" in text
    claims.load_notes_agree(text)
    if check is not None:
        check(notebook)
    if path.stem.startswith("02_"):  # issue 12: the same dense model, measured twice, agrees with itself
        # The rule calls two equal settings different ~2 % of the time (simulated in test_tradeoffs),
        # so one run can only show that it never calls them far apart.
        again = next(line for line in text.splitlines() if "dense model measured again" in line)
        factor = re.search(r"×(\d+\.\d+) of the first", again)
        assert "no measurable difference" in again or (factor and 0.8 <= float(factor.group(1)) <= 1.25), again
    if path.stem == "challenge":  # scored, submitted, and read back from the board
        assert "submitted: " in text and "µJ/inference" in text and "rejected files" not in text


def test_there_are_lessons():
    assert any(p.name.startswith("01_") for p in LESSONS)
