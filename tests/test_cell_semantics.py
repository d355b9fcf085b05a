"""The eight ways ``%%energy`` used to change a cell (issue 7), one test each, in a real kernel.

One notebook runs twice through nbclient, in two fresh kernels at once: as written, and with
``%%energy -l LABEL`` on the first line of every cell (live plot on, as a user runs it). Each test
checks one point: the outputs of its cells match the plain run after the corpus normalisation
(addresses, timings, lepton_lab's own tagged outputs), plus what the point is about.
"""
from __future__ import annotations

import sqlite3

import pytest

from tests.corpus.compare import LOAD, PRELUDE, normalise_outputs, run_notebooks

pytestmark = pytest.mark.kernel

#: label -> cell; the measured run puts ``%%energy -l LABEL`` above each.
CELLS = {
    # 1. a cell magic under %%energy runs, and what it makes is there for later cells
    "p1-capture": '%%capture out\nprint("captured")',
    "p1-use-capture": "out.stdout",
    "p1-writefile": "%%writefile point1_mod.py\nVALUE = 41\n",
    "p1-import": "import point1_mod\npoint1_mod.VALUE + 1",
    "p1-bash": "%%bash\necho from-bash",
    "p1-script": '%%script python3\nprint("from python3")',
    "p1-html": "%%html\n<b>html</b>",
    # 2. one-line automagic
    "p2-setup": 'import os\nos.makedirs("point2_dir", exist_ok=True)\nopen("point2_dir/only_file.txt", "w").close()',
    "p2-ls": "ls point2_dir",
    # 3. pasted, uniformly indented code
    "p3-indented": "    a = 20\n    b = 22\n    a + b",
    # 4. tracebacks, SyntaxError and warning locations
    "p4-traceback": "def inner(x):\n    return 1 / x\n\ninner(0)",
    "p4-syntax": "x = 1\ny = (2,\nz = 3",
    "p4-warning": "import warnings\nwarnings.warn('careful')",
    # 5. In[N] holds the cell as run
    "p5-in": "In[len(In) - 1]",
    # 6. %%timeit times the body only: lepton_lab starts once, outside it
    "p6-timeit": "%%timeit -n 5 -r 2\npass",
    # 7. a cell that fails to compile is measured and stored
    "p7-compile-error": "def broken(:\n    pass",
    # 8. the cell's clear_output does not take the summary with it
    "p8-clear-wait": "import time\nfrom IPython.display import clear_output\nprint('progress 1')\ntime.sleep(0.3)\n"
                     "clear_output(wait=True)\nprint('progress 2')\ntime.sleep(0.3)",
    "p8-clear": "clear_output()\nprint('after a full clear')\ntime.sleep(0.5)",
}
LABELS = list(CELLS)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("semantics")
    ledger = root / "ledger.sqlite"
    plain_dir, measured_dir = root / "plain", root / "measured"
    plain_dir.mkdir()
    measured_dir.mkdir()
    plain, measured = run_notebooks(
        [([PRELUDE] + list(CELLS.values()), plain_dir),
         ([PRELUDE + LOAD] + [f"%%energy -l {label}\n{cell}" for label, cell in CELLS.items()], measured_dir)],
        {"LEPTON_LAB_LEDGER": str(ledger), "LEPTON_LAB_RAPL_ROOT": str(root / "no-powercap")},
    )
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT label, status FROM measurements ORDER BY id").fetchall()
    return dict(zip(LABELS, plain[1:])), dict(zip(LABELS, measured[1:])), rows


def outputs(runs, label: str, which: int) -> list[dict]:
    return normalise_outputs(runs[which][label])


def assert_same(runs, *labels: str) -> None:
    for label in labels:
        assert outputs(runs, label, 0) == outputs(runs, label, 1), label


def texts(outs: list[dict]) -> str:
    parts = []
    for o in outs:
        parts.append(o.get("text", "") + o.get("data", {}).get("text/plain", "") + o.get("evalue", ""))
        parts.extend(o.get("traceback", []))
    return "\n".join(parts)


def ours(outs: list[dict]) -> list[int]:
    return [i for i, o in enumerate(outs) if "lepton_lab" in (o.get("metadata") or {})]


def test_1_a_cell_magic_below_runs_and_later_cells_use_what_it_made(runs):
    assert_same(runs, "p1-capture", "p1-use-capture", "p1-writefile", "p1-import", "p1-bash", "p1-script",
                "p1-html")
    assert "'captured\\n'" in texts(outputs(runs, "p1-use-capture", 1))
    assert "42" in texts(outputs(runs, "p1-import", 1))
    assert "from-bash" in texts(outputs(runs, "p1-bash", 1))
    assert "from python3" in texts(outputs(runs, "p1-script", 1))
    html = [o for o in outputs(runs, "p1-html", 1) if "text/html" in o.get("data", {})]
    assert html and "<b>html</b>" in html[0]["data"]["text/html"]


def test_2_one_line_automagic_is_expanded(runs):
    assert_same(runs, "p2-setup", "p2-ls")
    assert "only_file.txt" in texts(outputs(runs, "p2-ls", 1))


def test_3_pasted_indented_code_is_dedented(runs):
    assert_same(runs, "p3-indented")
    assert texts(outputs(runs, "p3-indented", 1)).strip() == "42"


def test_4_tracebacks_syntax_errors_and_warnings_keep_their_line_numbers(runs):
    assert_same(runs, "p4-traceback", "p4-syntax", "p4-warning")
    traceback = texts(outputs(runs, "p4-traceback", 1))
    # IPython 8+ names the line ("Cell In[3], line 4"); IPython 7.34 (Colab) marks it with its arrow.
    assert ("line 4" in traceback or "----> 4 inner(0)" in traceback) and "----> 2     return 1 / x" in traceback
    assert "lepton_lab" not in traceback and "__import__" not in traceback
    assert "line 2" in texts(outputs(runs, "p4-syntax", 1))
    assert ":2: UserWarning: careful" in texts(outputs(runs, "p4-warning", 1))


def test_5_in_holds_the_cell_as_run(runs):
    assert_same(runs, "p5-in")
    assert texts(outputs(runs, "p5-in", 1)).strip() == "'In[len(In) - 1]'"


def test_6_timeit_under_the_magic_times_only_the_body(runs):
    assert_same(runs, "p6-timeit")
    rows = runs[2]
    # Started once, around the whole %%timeit (10 runs of the body): not once per timed run.
    assert [r for r in rows if r[0] == "p6-timeit"] == [("p6-timeit", "ok")]


def test_7_a_cell_that_fails_to_compile_is_measured_and_stored(runs):
    assert_same(runs, "p7-compile-error")
    measured = runs[1]["p7-compile-error"]
    assert any(o["output_type"] == "error" and o["ename"] == "SyntaxError" for o in measured)
    assert ours(measured), "no summary for the failed cell"
    assert ("p7-compile-error", "error") in runs[2]


def test_8_the_summary_survives_the_cells_clear_output(runs):
    """The live view is shown again right after each clear (a progress loop keeps its plot), so
    the final figure and summary sit above what the cell printed after its last clear."""
    assert_same(runs, "p8-clear-wait", "p8-clear")
    for label, last_print in (("p8-clear-wait", "progress 2"), ("p8-clear", "after a full clear")):
        measured = runs[1][label]
        shown = ours(measured)
        assert len(shown) == 1, f"{label}: the summary was wiped with the cell's output, or doubled"
        summary = measured[shown[0]]["data"]
        assert label in summary["text/plain"] and "<img" in summary["text/html"]
        printed = [i for i, o in enumerate(measured) if last_print in o.get("text", "")]
        assert printed and shown[0] < printed[0]


def test_every_cell_was_recorded_once(runs):
    assert [label for label, _ in runs[2]] == LABELS
