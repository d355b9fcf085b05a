"""Shared fixtures.

Every test runs with its own ledger file and with the RAPL root pointed at an empty folder, so
that nothing a test does reads this machine's sensors or writes the user's ledger by accident.
Tests that fake hardware say so in their docstring.
"""
from __future__ import annotations

import sys
import threading
import time

import pytest
from hypothesis import HealthCheck, settings

# Property-based tests: bounded in `make test`; `pytest --hypothesis-profile=long` hunts longer.
settings.register_profile("ci", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("ci")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LEPTON_LAB_LEDGER", str(tmp_path / "ledger.sqlite"))
    monkeypatch.setenv("LEPTON_LAB_RAPL_ROOT", str(tmp_path / "no-powercap"))
    monkeypatch.delenv("LEPTON_LAB_REGION", raising=False)
    monkeypatch.delenv("LEPTON_LAB_PUE", raising=False)
    # One view per session (--attribute auto): not shared, whoever else uses the test machine; a
    # test that wants a shared machine sets LEPTON_LAB_SHARED=1 (and resets the decision in-process).
    monkeypatch.setenv("LEPTON_LAB_SHARED", "0")
    for name in ("JUPYTERHUB_USER", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_SERVICE_PREFIX"):
        monkeypatch.delenv(name, raising=False)
    neighbours = sys.modules.get("lepton_lab.neighbours")
    if neighbours is not None:
        neighbours.reset_session_view()
    yield
    # %load_ext prewarms in a background thread: while it still imports lepton_lab.ledger, that
    # module is partly initialised (no close_connections yet), so let it finish before cleaning up.
    for thread in threading.enumerate():
        if thread.name == "lepton-prewarm":
            thread.join(timeout=30)
    sensors = sys.modules.get("lepton_lab.sensors")
    if sensors is not None:  # sensors opened for one test (a fake GPU, say) must not serve the next
        sensors.close_cached()
    ledger = sys.modules.get("lepton_lab.ledger")
    if ledger is not None:  # each test has its own ledger file: do not keep them all open
        ledger.close_connections()


@pytest.fixture(scope="module")
def shell():
    """A real IPython shell (in process) with lepton_lab loaded, shared by a test module."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "lepton_lab")
    yield ip
    ip.run_line_magic("unload_ext", "lepton_lab")


@pytest.fixture(autouse=True)
def no_leaked_sampler_threads():
    """Fail any test that leaves a sampler thread running after it returns."""
    yield
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        leaked = [t.name for t in threading.enumerate() if t.name.startswith("lepton-sampler-") and t.is_alive()]
        if not leaked:
            return
        time.sleep(0.05)
    pytest.fail(f"sampler thread(s) still running after the test: {leaked}")


# LEPTON_TEST_BURN=1 (or --burn 1): a neighbour process burns a CPU for the whole session.
pytest_plugins = ("tests.busy",)
