"""Every what-if app in a real browser: Voila on a free localhost port (sources stripped), headless
Debian Chromium through Playwright. A control is moved like a visitor would; the number and the chart
must then show what the pure model computes. Screenshots go to ``test-artifacts/apps-*.png``.

One Voila server and one browser are shared by the module; each test opens its own page (and
so its own kernel). Chromium missing is a failure, not a skip: ``make browser`` installs it.
"""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from lepton_lab import units
from lepton_lab.carbon import lookup
from lepton_lab.ledger import Ledger
from lepton_lab.report import DomainEnergy, EnergyReport
from lepton_lab.serve import APPS
from lepton_lab.whatif import datacenter, lifecycle, profiles, scheduling
from tests.browser_util import ROOT, chromium, screenshot, voila_server

pytestmark = pytest.mark.browser
panels = pytest.importorskip("lepton_lab.widgets.panels")
# Lines of the apps' code cells: none may reach the page (CSS in the page mentions class names, so
# the markers are the code itself, not generic words).
SOURCE_MARKERS = ("from lepton_lab", "lepton_lab.widgets.panels", "DatacenterPanel", "LifecyclePanel",
                  "CarbonAwarePanel", "().widget")
REPORT_W = 250.0


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("apps") / "ledger.sqlite"
    report = EnergyReport(label="browser-test batch", status="ok", started_at="2026-11-23T10:00:00+00:00",
                          duration_s=4.0, domains={"gpu:0": DomainEnergy(energy_j=REPORT_W * 4.0, mean_w=REPORT_W,
                                                                         peak_w=None, method="nvml-counter")})
    Ledger(path).save(report)
    return path


@pytest.fixture(scope="module")
def server(ledger_path):
    with voila_server(ROOT / "widgets", name="voila-apps", env={"LEPTON_LAB_LEDGER": str(ledger_path)}) as srv:
        yield srv


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def open_app(server, browser):
    pages = []

    def opener(app: str):
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        pages.append(page)
        page.goto(server.url(f"/voila/render/{app}.ipynb"))
        try:
            page.wait_for_selector(".ll-panel .ll-cards", timeout=60_000)
        except Exception:
            screenshot(page, f"apps-{app}-failed")
            pytest.fail(f"{app} did not render; Voila log:\n{server.log_tail()}", pytrace=False)
        return page

    yield opener
    for page in pages:
        page.close()


# -- helpers: read and drive the page like a visitor ----------------------------------------------

def card(page, key: str) -> str:
    return page.locator(f'[data-key="{key}"]').inner_text().strip()


def titles(page) -> list[str]:
    return [t.strip() for t in page.locator(".mainheading").all_text_contents()]


def wait_for_card(page, key: str, expected: str) -> None:
    page.wait_for_function("([k, v]) => { const e = document.querySelector(`[data-key='${k}']`);"
                           " return e && e.textContent.trim() === v; }", arg=[key, expected], timeout=30_000)


def eventually(check, timeout_s: float = 30.0):
    """Retry ``check`` until it passes: bqplot redraws a moment after the numbers change."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def type_into_slider(page, description: str, value: str) -> None:
    readout = page.locator(".widget-slider", has_text=description).first.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def choose(page, description: str, label: str) -> None:
    page.locator(".widget-dropdown", has_text=description).first.locator("select").select_option(label=label)


def _assert_in(item, collection) -> None:
    assert item in collection, f"{item!r} not in {collection!r}"


def _assert_true(value) -> None:
    assert value


def assert_no_source(page) -> None:
    """No code cell in the DOM and no line of the notebook's code anywhere in the HTML."""
    assert page.locator(".jp-CodeCell .jp-InputArea, .cm-editor, .jp-InputPrompt").count() == 0
    html = page.content()
    leaked = [m for m in SOURCE_MARKERS if m in html]
    assert not leaked, f"source code visible in the page: {leaked}"


# -- the tests --------------------------------------------------------------------------------------

def test_datacenter_pue_slider_changes_number_and_chart(open_app):
    page = open_app("datacenter")
    d = panels.DatacenterPanel.DEFAULTS
    assert card(page, "pue") == "1.58"
    screenshot(page, "apps-datacenter")
    choose(page, "PUE from", "Your value (slider)")
    type_into_slider(page, "PUE", "2")
    expected = datacenter.facility(d["power_w"] * d["machines"], d["hours"], 2.0, lookup(d["region"]).g_per_kwh)
    wait_for_card(page, "facility", units.format_wh(expected.facility_energy_j))
    assert card(page, "co2e") == f"{units.format_mass_g(expected.co2e_g)} CO2e"
    title = f"Facility energy {units.format_wh(expected.facility_energy_j)}, by use"
    eventually(lambda: _assert_in(title, titles(page)))

    def equal_bars():
        heights = [float(r.get_attribute("height")) for r in page.locator(".bargroup rect").all()]
        assert len(heights) == 2 and heights[0] == pytest.approx(heights[1], rel=1e-3)  # PUE 2: overhead = IT

    eventually(equal_bars)
    assert_no_source(page)
    screenshot(page, "apps-datacenter-pue2")


def test_lifecycle_lifetime_slider_changes_number_and_chart(open_app):
    page = open_app("lifecycle")
    d = panels.LifecyclePanel.DEFAULTS
    path_before = page.locator(".curve path.line").first.get_attribute("d")
    type_into_slider(page, "Lifetime (days)", "730")
    r = lifecycle.lifetime(units.kwh_to_j(d["training_kwh"]), d["per_inference_j"], d["per_day"] * 730,
                           units.kwh_to_j(d["optimisation_kwh"]), d["per_inference_j"] * d["optimised_pct"] / 100)
    wait_for_card(page, "lifetime", f"{units.format_wh(r.baseline_j)} → {units.format_wh(r.optimised_j)}")
    assert card(page, "saving") == units.format_wh(r.saving_j)
    title = f"After 730 days: {units.format_wh(r.baseline_j)} vs {units.format_wh(r.optimised_j)}"
    eventually(lambda: _assert_in(title, titles(page)))
    eventually(lambda: _assert_true(page.locator(".curve path.line").first.get_attribute("d") != path_before))
    assert_no_source(page)
    screenshot(page, "apps-lifecycle")


def test_carbon_aware_hour_slider_changes_number_and_chart(open_app):
    page = open_app("carbon_aware")
    d = panels.CarbonAwarePanel.DEFAULTS
    handle = page.locator(".widget-slider", has_text="Now is").first.locator(".noUi-handle")
    handle.focus()
    page.keyboard.press("Home")  # the keyboard moves the slider to its minimum: midnight
    p = scheduling.plan(profiles.profile(d["shape"], lookup(d["region"]).g_per_kwh), d["duration_h"],
                        d["power_w"], 0, d["max_delay_h"])
    wait_for_card(page, "now", f"{units.format_mass_g(p.now_g)} CO2e")
    assert card(page, "saving") == f"{units.format_mass_g(p.saving_g)} CO2e"
    assert card(page, "best").startswith(f"+{p.best_offset_h:.0f} h")
    expected_title = f"Emissions by start time: best +{p.best_offset_h:.0f} h, {units.format_mass_g(p.best_g)} CO2e"
    eventually(lambda: _assert_in(expected_title, titles(page)))

    def best_bar_is_green():
        fills = [r.evaluate("e => getComputedStyle(e).fill") for r in page.locator(".bargroup rect").all()]
        assert len(fills) == len(p.offsets_h) and fills[p.best_index] == "rgb(31, 136, 61)"

    eventually(best_bar_is_green)
    assert_no_source(page)
    screenshot(page, "apps-carbon_aware")


def test_start_from_a_ledger_entry_and_reject_a_bad_upload(open_app):
    page = open_app("carbon_aware")
    choose(page, "Ledger entry", page.locator(".widget-dropdown select option", has_text="browser-test batch")
           .first.inner_text())
    page.wait_for_selector("[data-key='badge']", timeout=30_000)
    assert "browser-test batch" in card(page, "badge")
    d = panels.CarbonAwarePanel.DEFAULTS
    p = scheduling.plan(profiles.profile(d["shape"], lookup(d["region"]).g_per_kwh), d["duration_h"], REPORT_W,
                        d["now_h"], d["max_delay_h"])
    wait_for_card(page, "now", f"{units.format_mass_g(p.now_g)} CO2e")
    with page.expect_file_chooser() as chooser:
        page.locator(".widget-upload").click()
    chooser.value.set_files(files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a report"}])
    page.wait_for_selector("text=is not a lepton_lab report", timeout=30_000)
    screenshot(page, "apps-carbon_aware-report")


@pytest.mark.parametrize("app", APPS)
def test_notebook_files_are_not_served(server, app):
    try:
        with urllib.request.urlopen(server.url(f"/voila/files/{app}.ipynb"), timeout=10) as response:
            body = response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        assert exc.code in (403, 404)
        return
    assert "from lepton_lab" not in body, "the raw notebook (with its source) is downloadable"


FORGE = """async ([description, value]) => {
    const app = window.jupyterapp;
    const manager = app.widgetManager || await app.widgetManagerPromise.promise;
    const models = await Promise.all(Object.values(manager._models));
    const model = models.find(m => m.get('description') === description);
    model.set({max: value, value: value});  // what a visitor's console can do: limits raised too
    model.save_changes();
    return model.model_id;
}"""


def test_forged_value_from_the_browser_is_clamped_on_the_page(open_app):
    """A comm message sent by page script, as a malicious visitor could, bypassing min/max."""
    page = open_app("datacenter")
    assert page.evaluate(FORGE, ["Renewable share (%)", 1e9])
    page.wait_for_selector("[data-key='message']", timeout=30_000)
    text = card(page, "message")
    assert "Renewable share 1e+09 % is outside 0 % to 100 %; using 100 %" in text
    d = panels.DatacenterPanel.DEFAULTS
    expected = datacenter.facility(d["power_w"] * d["machines"], d["hours"], 1.58, lookup(d["region"]).g_per_kwh, 1.0)
    wait_for_card(page, "co2e", f"{units.format_mass_g(expected.co2e_g)} CO2e")
    readout = page.locator(".widget-slider", has_text="Renewable share").first.locator(".widget-readout")
    eventually(lambda: _assert_true(readout.inner_text().strip() == "100"))  # the widget was put back in range
    screenshot(page, "apps-datacenter-forged")


def test_lepton_lab_serve_publishes_one_app(browser):
    """``lepton-lab serve APP --port N`` (here ``python -m lepton_lab.serve``) serves a working app at /."""
    import sys

    from tests.browser_util import Server

    argv = [sys.executable, "-m", "lepton_lab.serve", "lifecycle", "--port", "{port}"]
    with Server(argv, name="serve-lifecycle", env={"JUPYTER_PLATFORM_DIRS": "1"}) as srv:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            page.goto(srv.url("/"))
            page.wait_for_selector(".ll-panel .ll-cards", timeout=60_000)
            assert card(page, "break_even").endswith("million")
            assert_no_source(page)
        finally:
            page.close()
    assert f"http://127.0.0.1:{srv.port}/" in srv.log_path.read_text()


def test_stopping_lepton_lab_serve_stops_voila_and_its_kernels():
    """``kill PID`` of ``lepton-lab serve`` alone (a supervisor's stop, not the terminal's Ctrl-C to
    the whole group): Voila and its kernels stop with it instead of serving on, orphaned."""
    import os
    import signal
    import sys
    import time

    from tests.browser_util import Server

    argv = [sys.executable, "-m", "lepton_lab.serve", "lifecycle", "--port", "{port}"]
    with Server(argv, name="serve-sigterm", env={"JUPYTER_PLATFORM_DIRS": "1"}) as srv:
        urllib.request.urlopen(srv.url("/"), timeout=60).read()  # the page starts a kernel
        os.kill(srv.process.pid, signal.SIGTERM)  # the serve process only, not its group
        srv.process.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(srv.process.pid, 0)  # anyone left in the group it started?
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.killpg(srv.process.pid, signal.SIGKILL)  # Server.stop skips a group whose leader is gone
            pytest.fail(f"Voila or a kernel outlived lepton-lab serve:\n{srv.log_tail()}")


def test_binder_setup_serves_the_apps(browser, tmp_path):
    """binder/postBuild then binder/start around JupyterLab, as Binder runs them: the apps open
    under /voila/render/ with sources stripped, and the ledger goes somewhere writable."""
    import os
    import subprocess
    import sys

    from tests.browser_util import jupyter_server

    env = {"HOME": str(tmp_path), "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    subprocess.run([str(ROOT / "binder" / "postBuild")], env={**os.environ, **env}, check=True, timeout=120)
    full_env = {**env, "LEPTON_LAB_LEDGER": ""}  # unset in effect: start must choose the path
    with jupyter_server(ROOT, name="binder-lab", env=full_env, wrapper=[str(ROOT / "binder" / "start")]) as srv:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            page.goto(srv.url(f"/voila/render/widgets/carbon_aware.ipynb?token={srv.token}"))
            page.wait_for_selector(".ll-panel .ll-cards", timeout=60_000)
            assert_no_source(page)
            screenshot(page, "apps-binder-carbon_aware")
        finally:
            page.close()
    assert (tmp_path / ".local" / "share" / "lepton_lab").is_dir()
