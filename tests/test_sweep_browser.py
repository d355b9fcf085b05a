"""A long sweep in a real JupyterLab (Debian's Chromium through Playwright): issue 18's lesson 07
drew 74 runs. The browser must log no "<rect> attribute width: A negative value" error (bqplot drew
its plot area at a negative width while the comparison waited hidden for its first run), and the
static chart it ends with numbers its bars instead of overlapping 74 labels."""
from __future__ import annotations

import json
import shutil

import pytest

from tests.browser_util import Server, chromium, chromium_path, screenshot
from tests.test_lab_browser import IMAGES, _lab_argv, _lab_settings, _run_all, _start_session

pytestmark = pytest.mark.browser
RUNS = 74
SOURCE = f"""import lepton_lab

with lepton_lab.Sweep(total={RUNS}, title='many runs') as sweep:
    for n in range({RUNS}):
        with sweep.measure(label=f'pair {{n // 2 + 1}} · candidate {{n}} · int8-dynamic · batch 64', save=False):
            sum(i * i for i in range(20_000))
print('sweep done')"""


def _notebook(path) -> None:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
              "source": source} for i, source in enumerate(["%load_ext lepton_lab", SOURCE])]
    path.write_text(json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "display_name": "Python 3", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}))


def test_a_74_run_sweep_logs_no_negative_width_and_numbers_its_bars(tmp_path):
    chromium_path()
    root, settings = tmp_path / "root", tmp_path / "settings"
    root.mkdir()
    _notebook(root / "sweep.ipynb")
    _lab_settings(settings)
    env = {"LEPTON_LAB_LEDGER": str(tmp_path / "ledger.sqlite"), "LEPTON_LAB_RAPL_ROOT": str(tmp_path / "none"),
           "JUPYTER_PLATFORM_DIRS": "1"}
    with Server(_lab_argv(root, settings), name="lab-sweep", ready_path="/api/status", env=env) as server, \
            chromium() as browser:
        _start_session(server, "sweep.ipynb")
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(server.url("/lab/tree/sweep.ipynb"))
        _run_all(page)
        page.locator(".jp-OutputArea-output").get_by_text("sweep done").wait_for(timeout=300_000)
        screenshot(page, "lab-sweep-74")
        images = page.evaluate(IMAGES, [1, ".jp-OutputArea img"])
    negative = [e for e in errors if "negative value" in e]
    assert not negative, negative[:3]
    energy = next((i for i in images if "many runs" in i["alt"]), None)
    assert energy is not None, ([i["alt"][:80] for i in images], errors[:5])
    assert "measurements 1-74" in energy["svg"] and ">70<" in energy["svg"], energy["svg"][-600:]
    shutil.rmtree(root, ignore_errors=True)
