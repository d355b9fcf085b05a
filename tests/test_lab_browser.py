"""The live figure in a real JupyterLab, driven by Debian's Chromium through Playwright; and the
comparison/report figures in Voila. Screenshots go to test-artifacts/ (look at them).

While a ``%%energy`` cell runs its output is a live bqplot widget; after it, a static figure: an
``<img>`` of an SVG data URI and the summary (no widget). ``compare()`` and a finished ``Sweep``
end static too. So a saved notebook reopened in Lab, which saves no widget state by default,
still shows every figure, and so does an untrusted one (Lab strips inline ``<svg>`` there, not
images).

No hardware here: the numbers are the labelled CPU estimate, which the figures must say.
"""
from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.browser_util import Server, chromium, chromium_path, screenshot, voila_server

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).parent / "notebooks"
SVG = "{http://www.w3.org/2000/svg}"
# Cells of live_energy.ipynb
ENERGY_CELL, COMPARE_CELL, SWEEP_CELL, PROBE_CELL = 1, 3, 4, 5
# JS: the `d` length of the first plotted line (not a legend swatch) in cell `i`'s output.
LINE_LENGTH = """(i) => {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
    const path = cell && cell.querySelector('.jp-OutputArea g.curve path.line');
    return path ? (path.getAttribute('d') || '').length : 0;
}"""
# JS: the images of `root`'s outputs (cell `i` of the notebook, or the page): whether the browser
# decoded them, their drawn size, alt text and the SVG of their data URI (decoded as UTF-8).
IMAGES = """([i, selector]) => {
    const root = i === null ? document : document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
    const prefix = 'data:image/svg+xml;base64,';
    return [...(root ? root.querySelectorAll(selector) : [])].map(img => {
        const box = img.getBoundingClientRect();
        const svg = img.src.startsWith(prefix) ? new TextDecoder().decode(
            Uint8Array.from(atob(img.src.slice(prefix.length)), c => c.charCodeAt(0))) : '';
        return {loaded: img.complete && img.naturalWidth > 0, width: box.width, height: box.height,
                alt: img.alt, svg};
    });
}"""
LOADED = "([i, selector, n]) => (" + IMAGES + ")([i, selector]).filter(x => x.loaded).length >= n"
PROMPT = "(i) => document.querySelectorAll('.jp-Notebook .jp-Cell')[i].querySelector('.jp-InputPrompt').innerText"


def _lab_argv(root: Path, settings: Path) -> list[str]:
    return [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--port={port}", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True", f"--ServerApp.root_dir={root}", "--allow-root",
            f"--LabApp.workspaces_dir={settings.parent / 'workspaces'}", f"--LabApp.user_settings_dir={settings}",
            "--LabApp.extension_manager=readonly"]


def _lab_settings(settings: Path) -> None:
    """No 'get Jupyter news?' toast over the screenshots, no network look-ups. Widget state is NOT
    saved (Lab's default): the reopened notebook must show the figure all the same."""
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')


def _start_session(server: Server, path: str) -> None:
    # Starting the kernel before the page opens avoids Lab's start-up race (a first kernel replaced
    # by a second one while "Run All" is already queued on the first).
    body = json.dumps({"path": path, "name": path, "type": "notebook", "kernel": {"name": "python3"}}).encode()
    request = urllib.request.Request(server.url("/api/sessions"), data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    chromium_path()  # fail first, and clearly, when Chromium is missing
    base = tmp_path_factory.mktemp("lab")
    root, settings = base / "root", base / "settings"
    root.mkdir()
    shutil.copy(NOTEBOOKS / "live_energy.ipynb", root)
    _lab_settings(settings)
    # LEPTON_LAB_LIVE=widget: "Run All" starts the 4 s cell right after %load_ext, before the
    # background import of bqplot ends; asked for by name, the widget waits for it (auto would
    # draw that one cell's live view as an image).
    env = {"LEPTON_LAB_LEDGER": str(base / "ledger.sqlite"), "LEPTON_LAB_RAPL_ROOT": str(base / "no-powercap"),
           "JUPYTER_PLATFORM_DIRS": "1", "LEPTON_LAB_LIVE": "widget"}
    with Server(_lab_argv(root, settings), name="lab-live", ready_path="/api/status", env=env) as server:
        _start_session(server, "live_energy.ipynb")
        server.root = root
        yield server


def _run_all(page) -> None:
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()


def _cell_output(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea")


def _check_mid_cell(page) -> None:
    """The line exists and grows while the prompt still says the cell is running."""
    page.wait_for_function(f"() => ({LINE_LENGTH})(1) > 0", timeout=30_000)
    first = page.evaluate(LINE_LENGTH, 1)
    time.sleep(1.5)
    second = page.evaluate(LINE_LENGTH, 1)
    running = page.evaluate(PROMPT, 1)
    screenshot(page, "lab-live-mid-cell")
    _cell_output(page, 1).screenshot(path=str(screenshot_path("lab-live-mid-cell-output")))
    assert "*" in running, f"the cell finished too early for a mid-cell check (prompt {running!r})"
    assert second > first, f"the line did not grow mid-cell ({first} -> {second} characters of path)"


def _images(page, cell: int | None, selector: str = ".jp-OutputArea img", count: int = 1) -> list[dict]:
    """The output images of a cell (``cell=None``: of the page) once ``count`` are decoded and drawn;
    each with its SVG parsed (``root``) and its text labels (``labels``)."""
    page.wait_for_function(f"({LOADED})", arg=[cell, selector, count], timeout=30_000)
    images = page.evaluate(IMAGES, [cell, selector])
    for image in images:
        assert image["svg"], "not an SVG data URI"
        image["root"] = ET.fromstring(image["svg"])
        image["labels"] = [t.text or "" for t in image["root"].iter(f"{SVG}text")]
    return images


def _no_widget_error(output) -> None:
    text = output.inner_text()
    assert "Error displaying widget" not in text and "model not found" not in text
    assert output.locator(".bqplot").count() == 0 and output.locator(".jupyter-widgets").count() == 0


def _check_final_figure(page, name: str) -> None:
    """The static figure: axes with ticks and labels, a trace with the whole run, the ESTIMATED
    title, the summary under it; no widget left (nor Lab's 'Error displaying widget')."""
    (image,) = _images(page, ENERGY_CELL)
    output = _cell_output(page, ENERGY_CELL)
    output.scroll_into_view_if_needed()
    output.screenshot(path=str(screenshot_path(name)))
    _no_widget_error(output)
    labels = image["labels"]
    assert {"time (s)", "power (W)", "energy so far (J)"} <= set(labels)
    assert sum(label.replace(".", "").isdigit() or label[-1:] in "km" for label in labels) >= 9  # 3 axes ticked
    solid = [p for p in image["root"].iter(f"{SVG}polyline") if not p.get("stroke-dasharray")]
    assert solid and len(solid[0].get("points").split()) >= 15  # ~40 samples over 4 s (fewer on a loaded machine)
    assert image["width"] > 500 and image["height"] > 150  # drawn, at a readable size
    assert "browser-4s — ESTIMATED" in labels and image["alt"].startswith("browser-4s — ESTIMATED: power over")
    assert "browser-4s" in output.inner_text() and "ESTIMATED" in output.inner_text()  # the summary, as HTML


def _static_output(page, cell: int, name: str):
    """The cell's two SVG images and its output, screenshotted; fails on a widget error."""
    images = _images(page, cell, count=2)
    output = _cell_output(page, cell)
    output.scroll_into_view_if_needed()
    output.screenshot(path=str(screenshot_path(name)))
    _no_widget_error(output)
    return images, output


def _check_comparison(page, name: str) -> None:
    """Two bar charts (SVG images) over 'browser-4s' and 'short', the table under them; no widget."""
    (energy, duration), output = _static_output(page, COMPARE_CELL, name)
    for image in (energy, duration):
        assert {"browser-4s", "short"} <= set(image["labels"]) and image["width"] > 150
        assert len([r for r in image["root"].iter(f"{SVG}rect") if r.get("width") != "11"]) == 2
    assert any("ESTIMATED" in label for label in energy["labels"]) and "Duration" in duration["labels"]
    text = output.inner_text()
    assert "short" in text and "browser-4s" in text and "estimated" in text  # the table


def _check_sweep(page, name: str) -> None:
    """The finished sweep: static comparison of its two runs (the widgets are gone)."""
    (energy, _), output = _static_output(page, SWEEP_CELL, name)
    assert {"n=1", "n=2"} <= set(energy["labels"]) and "2/2" in output.inner_text()


def _save_stop_and_reopen(page, lab: Server) -> None:
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=15_000)
    for session in json.load(urllib.request.urlopen(lab.url("/api/sessions"), timeout=10)):
        request = urllib.request.Request(lab.url(f"/api/kernels/{session['kernel']['id']}"), method="DELETE")
        urllib.request.urlopen(request, timeout=30)
    page.reload()


def _untrusted_copy(lab: Server) -> str:
    """The saved notebook as a colleague would send it: same outputs, but not signed here (its
    content changed), so Lab renders it untrusted. A last cell holds an inline-SVG probe output."""
    nb = json.loads((lab.root / "live_energy.ipynb").read_text())
    nb["metadata"]["shared_by"] = "a colleague"
    probe = "<svg xmlns='http://www.w3.org/2000/svg' width='60' height='20'><text y='15'>probe</text></svg>"
    nb["cells"].append({"cell_type": "code", "execution_count": 9, "id": "probe", "metadata": {}, "source": "probe",
                        "outputs": [{"output_type": "display_data", "metadata": {},
                                     "data": {"text/html": probe, "text/plain": "probe"}}]})
    (lab.root / "untrusted.ipynb").write_text(json.dumps(nb))
    model = json.load(urllib.request.urlopen(lab.url("/api/contents/untrusted.ipynb"), timeout=10))
    assert not any(c["metadata"].get("trusted") for c in model["content"]["cells"] if c["cell_type"] == "code")
    return "untrusted.ipynb"


def test_live_figure_grows_while_the_cell_runs_then_shows_the_whole_trace(lab):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(lab.url("/lab/tree/live_energy.ipynb"))
        _run_all(page)
        _check_mid_cell(page)
        page.wait_for_function(f"() => ({PROMPT})({ENERGY_CELL}).includes('2')", timeout=30_000)
        _check_final_figure(page, "lab-live-final-output")
        _check_comparison(page, "lab-compare-output")
        _check_sweep(page, "lab-sweep-output")
        # Saved, kernel gone, reopened (no widget state saved, Lab's default): the static figures
        # are part of the saved outputs, so they are drawn again as they were.
        _save_stop_and_reopen(page, lab)
        _check_final_figure(page, "lab-reopened-output")
        _check_comparison(page, "lab-reopened-compare-output")
        _check_sweep(page, "lab-reopened-sweep-output")
        screenshot(page, "lab-reopened")
        # The same notebook, untrusted: Lab sanitises its HTML outputs (the inline-SVG probe is
        # stripped), and the figures, images, still show.
        page.close()
        untrusted = browser.new_page(viewport={"width": 1280, "height": 1000})
        # ?reset: a fresh workspace, with this notebook alone open (not live_energy.ipynb restored too)
        untrusted.goto(lab.url(f"/lab/tree/{_untrusted_copy(lab)}?reset"))
        cells = "document.querySelectorAll('.jp-Notebook .jp-Cell').length"
        untrusted.wait_for_function(f"() => {cells} == {PROBE_CELL + 1}", timeout=60_000)
        probe = _cell_output(untrusted, PROBE_CELL)
        probe.get_by_text("probe").wait_for(timeout=15_000)
        assert probe.locator("svg").count() == 0  # sanitised: the inline SVG is gone, its text left
        _check_final_figure(untrusted, "lab-untrusted-output")
        _check_comparison(untrusted, "lab-untrusted-compare-output")
        _check_sweep(untrusted, "lab-untrusted-sweep-output")
        screenshot(untrusted, "lab-untrusted")


#: A day's measured cells: short ones (no live view at all), ones long enough for a live widget
#: (built, then closed when the static figure replaces it), and cells that end with a pending
#: ``clear_output(wait=True)``, which must keep their last output as without the magic.
HELLO = 'print("Hello world", end="")\nclear_output(wait=True)  # nbclient\'s Clear Output, cell 3'
PROGRESS = "for i in range(4):\n    clear_output(wait=True)\n    print(f'epoch {i} done')\n    time.sleep(0.2)\n" \
           "clear_output(wait=True)"
DAY = ["%load_ext lepton_lab", "import time\nfrom IPython.display import clear_output",
       *(f"%%energy\nx = {i}" if i % 2 else "%%energy\ntime.sleep(0.6)" for i in range(20)),
       f"%%energy -l hello\n{HELLO}", f"%%energy -l progress\n{PROGRESS}", "%%energy --no-plot -l hello-np\n" + HELLO,
       "import ipywidgets\nipywidgets.IntSlider(value=7)"]  # the control: a live widget, whose state is saved


def _notebook(cells: list[str]) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
        for i, c in enumerate(cells)]})


def _settle_after_run_all(page, cells: int) -> None:
    last = f"document.querySelectorAll('.jp-Notebook .jp-Cell')[{cells - 1}]"
    page.wait_for_function(f"() => {{ const cell = {last}; return !!cell && "
                           "/\\[\\d+\\]/.test(cell.querySelector('.jp-InputPrompt').innerText); }",
                           timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)


def test_a_saved_notebook_keeps_no_widget_state_and_pending_clears_keep_their_output(lab):
    """20 measured cells in Lab with "save widget state" ON: the saved notebook holds no widget
    state (short cells build no widget; long cells' widgets are closed when the static figure
    replaces them). Cells ending with clear_output(wait=True) keep their last output, with the
    summary (screenshots: lab-pending-clear-*.png)."""
    (lab.root / "day.ipynb").write_text(_notebook(DAY))
    request = urllib.request.Request(lab.url("/lab/api/settings/@jupyter-widgets/jupyterlab-manager:plugin"),
                                     data=json.dumps({"raw": '{"saveState": true}'}).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30)
    _start_session(lab, "day.ipynb")
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(lab.url("/lab/tree/day.ipynb?reset"))
        _run_all(page)
        _settle_after_run_all(page, len(DAY))
        texts = {}
        for name, index in (("hello", len(DAY) - 4), ("progress", len(DAY) - 3), ("hello-np", len(DAY) - 2)):
            output = _cell_output(page, index)
            output.get_by_text(name, exact=False).first.wait_for(timeout=30_000)  # the summary's label
            output.scroll_into_view_if_needed()
            output.screenshot(path=str(screenshot_path(f"lab-pending-clear-{name}")))
            texts[name] = output.inner_text()
        assert "Hello world" in texts["hello"] and "Hello world" in texts["hello-np"]
        assert "epoch 3 done" in texts["progress"] and "epoch 2" not in texts["progress"]
        assert all("ESTIMATED" in text for text in texts.values())
        page.keyboard.press("Control+s")
        page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=15_000)
    saved = json.loads((lab.root / "day.ipynb").read_text())
    state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    # The slider's models only (the slider, its layout and style): saving was on, and no model of
    # a live view that no longer exists was kept.
    assert sorted(m["model_name"] for m in state.values()) == ["IntSliderModel", "LayoutModel", "SliderStyleModel"]
    long_cells = [c for c in saved["cells"] if "time.sleep(0.6)" in "".join(c["source"])]
    assert len(long_cells) == 10 and all("<img" in "".join(c["outputs"][-1]["data"]["text/html"])
                                         for c in long_cells)


def test_comparison_and_report_figure_in_voila(tmp_path):
    """The static outputs (SVG images + tables) and, on request, the bqplot widgets, in Voila."""
    chromium_path()
    env = {"LEPTON_LAB_LEDGER": str(tmp_path / "ledger.sqlite")}
    with voila_server(NOTEBOOKS / "compare_voila.ipynb", name="voila-compare", env=env) as server, \
            chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 2100})  # the whole page in the picture
        page.goto(server.url("/"))
        page.wait_for_function("() => document.querySelectorAll('rect.bar').length >= 4"
                               " && document.querySelectorAll('g.curve path.line').length >= 3", timeout=60_000)
        energy, duration, trace = _images(page, None, "img", count=3)  # compare(), report_figure(gpu)
        time.sleep(0.5)  # let the last redraw settle before the picture
        screenshot(page, "voila-compare")
        assert {"gpu box", "laptop", "GPU 0", "CPU package 0", "DRAM 0"} <= set(energy["labels"])
        bars = [r for r in energy["root"].iter(f"{SVG}rect") if r.get("width") != "11"]  # not legend swatches
        assert len(bars) == 6  # 3 domains × 2 reports (the laptop's GPU: 0 J)
        assert {"gpu box", "laptop", "Duration"} <= set(duration["labels"])
        assert "gpu box" in trace["labels"] and len(list(trace["root"].iter(f"{SVG}polyline"))) == 4
        assert all(image["width"] > 200 for image in (energy, duration, trace))
        text = page.locator("body").inner_text()
        assert "gpu box" in text and "laptop" in text and "DRAM 0" in text
        assert page.locator("table.lepton-compare-table").count() == 2  # static output and widget
        paths = page.locator("g.curve path.line")
        assert all((paths.nth(i).get_attribute("d") or "") for i in range(paths.count()))


def screenshot_path(name: str) -> Path:
    """Where an element screenshot goes (same folder as browser_util.screenshot)."""
    from tests.browser_util import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
