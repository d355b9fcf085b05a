"""Helpers for browser tests: a server subprocess on a free localhost port, Debian's Chromium
driven by Playwright, screenshots in ``test-artifacts/``.

Generic on purpose (Voila apps today, JupyterLab tomorrow)::

    with Server(["jupyter", "lab", "--port={port}", ...], name="lab") as server, chromium() as browser:
        page = browser.new_page()
        page.goto(server.url("/lab"))
        screenshot(page, "lab-start")

Chromium is Debian's package (``apt-get install chromium``, done by ``make browser``); Playwright's
own browser download is never used. A missing Chromium fails the test with that instruction.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_path() -> str:
    """Debian's Chromium, or fail the test (not skip: CI must notice) with how to install it."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Chromium is not installed, so the browser tests cannot run: "
                "`make browser` (or `sudo apt-get install -y chromium`) installs it", pytrace=False)


@contextmanager
def chromium():
    """A headless Chromium Browser (Playwright sync API), closed afterwards."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install 'lepton_lab[test]'", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page, name: str, full_page: bool = True) -> Path:
    """Save ``test-artifacts/<name>.png`` and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


class Server:
    """A server subprocess on a free localhost port, ready once ``ready_path`` answers HTTP.

    ``argv`` items may contain ``{port}``. Output goes to ``test-artifacts/<name>.log`` (quoted in
    the error if the server dies or never answers). The whole process group is stopped on exit,
    so kernels the server started go too.
    """

    def __init__(self, argv, name="server", ready_path="/", env=None, cwd=None, timeout_s=90.0, port=None):
        self.port = port or free_port()
        self.argv = [str(a).replace("{port}", str(self.port)) for a in argv]
        self.name, self.ready_path, self.timeout_s = name, ready_path, timeout_s
        self.env = {**os.environ, **(env or {})}
        self.cwd = cwd or ROOT
        self.log_path = ARTIFACTS / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Server:
        ARTIFACTS.mkdir(exist_ok=True)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.argv, stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
                                        cwd=self.cwd, start_new_session=True)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}", pytrace=False)
            try:
                with urllib.request.urlopen(self.url(self.ready_path), timeout=2) as response:
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"{self.name} did not answer on {self.url(self.ready_path)} within {self.timeout_s:.0f} s:\n"
                    f"{self.log_tail()}", pytrace=False)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        else:  # the leader is gone: what it started (Voila's kernels, say) may still run in its group
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._log.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def voila_server(target, name="voila", env=None, **kwargs) -> Server:
    """Voila serving ``target`` (a notebook or a folder) on 127.0.0.1 with sources stripped."""
    argv = [sys.executable, "-m", "voila", str(target), "--no-browser", "--port={port}", "--Voila.ip=127.0.0.1",
            "--Voila.port_retries=0", "--strip_sources=True"]
    env = {"JUPYTER_PLATFORM_DIRS": "1", **(env or {})}
    return Server(argv, name=name, env=env, **kwargs)


def jupyter_server(root_dir, app="lab", name="jupyter", env=None, wrapper=(), token="lepton-test", **kwargs) -> Server:
    """``jupyter lab`` (or ``server``) on 127.0.0.1 with a known token; ``server.url(path)`` then
    needs ``?token=`` + ``server.token`` (or log in once). ``wrapper`` prefixes the command (e.g.
    ``["binder/start"]``). Root is allowed because CI containers often run as root."""
    jupyter = str(Path(sys.executable).with_name("jupyter"))
    argv = [*wrapper, jupyter, app, "--no-browser", "--ip=127.0.0.1", "--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}", "--allow-root"]
    env = {"JUPYTER_PLATFORM_DIRS": "1", **(env or {})}
    server = Server(argv, name=name, env=env, ready_path=f"/api/status?token={token}", **kwargs)
    server.token = token
    return server
