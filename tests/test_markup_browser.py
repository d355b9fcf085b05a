"""Injected markup in a real JupyterLab (headless Debian Chromium through Playwright): labels that
are HTML must show as text in ``lepton_lab.compare()`` and in a report's own view, and no script
of theirs may run.

A notebook executed in the session is trusted, so Lab does NOT sanitise its outputs: whatever the
library puts in its HTML reaches the page as is, and only its own escaping stands between a label
like ``<img src=x onerror=alert(1)>`` and a script running in the reader's browser (a label comes
from anyone whose reports you compare: a shared ledger, a colleague's file, a workshop board).
Each notebook is run in its own page; a dialog opening (``alert``) fails the test.

No hardware here: the measurements are the labelled CPU estimate (``sensors="estimate"``).
Screenshots: ``test-artifacts/markup-*.png``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.browser_util import Server, chromium, chromium_path, screenshot
from tests.test_lab_browser import _images, _lab_argv, _lab_settings, _run_all, _start_session

pytestmark = pytest.mark.browser

XSS_LABEL = "<script>alert(1)</script>"
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_DOMAIN = "<img src=x onerror=alert(3)>"

MEASURE = f"""import time
import lepton_lab

def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

with lepton_lab.measure(label={XSS_LABEL!r}, save=False, sensors="estimate", interval=0.05) as a:
    busy(0.4)
with lepton_lab.measure(label={XSS_NAME!r}, save=False, sensors="estimate", interval=0.05) as b:
    busy(0.4)"""
# A report from someone else's file whose domain (a name the library does not make itself) is markup.
FOREIGN = f"""from lepton_lab.report import EnergyReport

data = b.report.to_dict()
data["label"] = "from a colleague"
data["domains"] = {{{XSS_DOMAIN!r}: d for d in data["domains"].values()}}
data["trace"]["power_w"] = {{{XSS_DOMAIN!r}: w for w in data["trace"]["power_w"].values()}}
foreign = EnergyReport.from_dict(data)"""


def notebook(*sources: str) -> str:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
              "source": source} for i, source in enumerate(sources)]
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                                                   "name": "python3"}},
                       "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    chromium_path()
    base = tmp_path_factory.mktemp("markup")
    root, settings = base / "root", base / "settings"
    root.mkdir()
    (root / "labels.ipynb").write_text(notebook(MEASURE, "lepton_lab.compare(a.report, b.report)", "b.report"))
    (root / "domains.ipynb").write_text(notebook(MEASURE, FOREIGN, "lepton_lab.compare(a.report, foreign)"))
    _lab_settings(settings)
    env = {"LEPTON_LAB_LEDGER": str(base / "ledger.sqlite"), "LEPTON_LAB_RAPL_ROOT": str(base / "no-powercap"),
           "JUPYTER_PLATFORM_DIRS": "1"}
    with Server(_lab_argv(root, settings), name="lab-markup", ready_path="/api/status", env=env) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def run_notebook(lab, browser, name: str, cells: int):
    """Open ``name`` in Lab, run every cell, wait until the last has an output; (page, dialogs)."""
    _start_session(lab, name)
    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(lab.url(f"/lab/tree/{name}?reset"))
    _run_all(page)
    last = f"document.querySelectorAll('.jp-Notebook .jp-Cell')[{cells - 1}]"
    page.wait_for_function(f"() => {last} && {last}.querySelector('.jp-OutputArea-output')", timeout=60_000)
    return page, dialogs


def no_markup_ran(page, dialogs) -> None:
    page.wait_for_timeout(1000)  # an onerror fires once the broken image fails: give it the time
    assert dialogs == [], f"a dialog opened: {dialogs}"
    assert page.locator("img[src=x]").count() == 0
    assert page.locator(".jp-OutputArea script").count() == 0


def test_html_labels_show_as_text_in_compare_and_the_report(lab, browser):
    page, dialogs = run_notebook(lab, browser, "labels.ipynb", cells=3)
    try:
        images = _images(page, 1, count=2)  # the comparison's two SVG charts: they parsed, so escaped
        output = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea")
        page.wait_for_selector("table.lepton-compare-table", timeout=30_000)
        first_column = output.locator("table.lepton-compare-table tr td:first-child").all_text_contents()
        assert first_column == [XSS_LABEL, XSS_NAME]
        svg_text = " ".join(" ".join(image["labels"]) for image in images)
        assert "<script>" in svg_text and "<img" in svg_text  # literal text in the figures
        report = page.locator(".jp-Notebook .jp-Cell").nth(2).locator(".lepton-report")
        assert XSS_NAME in report.inner_text()
        no_markup_ran(page, dialogs)
        shot = screenshot(page, "markup-labels")
        shutil.copy(shot, Path("/tmp") / "markup-labels.png")
    finally:
        page.close()


def test_a_domain_name_that_is_markup_shows_as_text_in_compare(lab, browser):
    page, dialogs = run_notebook(lab, browser, "domains.ipynb", cells=3)
    try:
        page.wait_for_selector("table.lepton-compare-table", timeout=30_000)
        screenshot(page, "markup-domains")
        no_markup_ran(page, dialogs)
        head = page.locator("table.lepton-compare-table tr").first.locator("th").all_text_contents()
        assert XSS_DOMAIN in head
    finally:
        page.close()
