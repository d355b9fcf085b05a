"""The apps load nothing from other hosts (issue 18): every app, and the listing, served the way
``lepton-lab serve`` serves them (its Voila command line and environment), opened in headless
Debian Chromium; a Playwright request listener fails the test on ANY request that is not to the
local server. Voila's own lab template links Font Awesome from cdn.jsdelivr.net; the
``lepton_lab`` template drops it and the apps use no icons. Nothing is faked.
"""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

from lepton_lab import board, serve
from tests.browser_util import Server, chromium, free_port, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
LOCAL_SCHEMES = ("data", "blob", "about")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("offline")
    (folder / "board").mkdir()
    port = free_port()
    env = serve.serve_env("127.0.0.1", {"LEPTON_LAB_LEDGER": str(folder / "ledger.sqlite"),
                                        board.BOARD_ENV: str(folder / "board"), "JUPYTER_PLATFORM_DIRS": "1"})
    with Server(serve.voila_argv(None, port), name="voila-offline", env=env, port=port) as srv:
        yield srv


@pytest.mark.parametrize("path", ["/", *(f"/voila/render/{app}.ipynb" for app in serve.APPS)])
def test_no_request_leaves_the_machine(server, path):
    foreign: list[str] = []
    local = f"127.0.0.1:{server.port}"

    def watch(request):
        url = urlparse(request.url)
        if url.scheme not in LOCAL_SCHEMES and url.netloc != local:
            foreign.append(request.url)

    with chromium() as browser:
        page = browser.new_page()
        page.on("request", watch)
        page.goto(server.url(path))
        if path == "/":
            page.wait_for_function("() => document.body.innerText.includes('leaderboard')", timeout=60_000)
        else:
            try:
                page.wait_for_selector(".ll-panel .ll-cards", timeout=90_000)
            except Exception:
                screenshot(page, "offline-failed")
                pytest.fail(f"{path} did not render; Voila log:\n{server.log_tail()}", pytrace=False)
        page.wait_for_timeout(1500)  # late requests (fonts are fetched once CSS applies)
        page.close()
    assert foreign == [], f"{path} asked other hosts for: {foreign}"
