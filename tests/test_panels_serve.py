"""``lepton-lab serve``: the Voila command it builds (no server started here; the browser tests
start one)."""
from __future__ import annotations

import pytest

from lepton_lab import serve
from lepton_lab.errors import InvalidInput


def test_apps_are_found_in_the_source_tree():
    folder = serve.apps_dir()
    assert all((folder / f"{name}.ipynb").is_file() for name in serve.APPS)


def test_voila_command_strips_sources_and_listens_on_localhost():
    argv = serve.voila_argv("datacenter", 9999)
    assert argv[1:3] == ["-m", "voila"] and argv[3].endswith("datacenter.ipynb")
    for flag in ("--strip_sources=True", "--VoilaConfiguration.show_tracebacks=False", "--no-browser",
                 "--Voila.ip=127.0.0.1", "--port=9999", "--Voila.port_retries=0"):
        assert flag in argv
    assert "--no-browser" not in serve.voila_argv(None, 9999, open_browser=True)
    assert serve.voila_argv(None, 9999)[3] == str(serve.apps_dir())


def test_urls_for_one_app_or_all():
    assert serve.urls("lifecycle", 8000) == ["http://127.0.0.1:8000/"]
    assert serve.urls(None, 8000, ip="0.0.0.0")[0] == "http://127.0.0.1:8000/voila/render/datacenter.ipynb"


@pytest.mark.parametrize("port", [80, 70000, "8866", True, 1.5])
def test_bad_ports_are_refused(port):
    with pytest.raises(InvalidInput, match="port must be"):
        serve.pick_port(port)


def test_unknown_app_is_refused():
    with pytest.raises(InvalidInput, match="unknown app 'x'"):
        serve.voila_argv("x", 9999)


def test_main_reports_errors_in_one_line(capsys):
    assert serve.main(["--port", "80"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lepton-lab serve: port must be") and err.count("\n") == 1
    with pytest.raises(SystemExit):
        serve.main(["nope"])


def test_each_app_is_one_model_one_panel_module_and_one_notebook():
    """CONTRIBUTING.md: a panel module named like its notebook, imported by it from widgets.panels."""
    import importlib
    import json

    import lepton_lab.widgets.panels as panels

    for name in serve.APPS:
        module = importlib.import_module(f"lepton_lab.widgets.panels.{name}")
        classes = [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, panels.Panel)
                   and c is not panels.Panel]
        assert len(classes) == 1, name
        notebook = json.loads((serve.apps_dir() / f"{name}.ipynb").read_text())
        source = "".join("".join(cell["source"]) for cell in notebook["cells"])
        assert f"from lepton_lab.widgets.panels import {classes[0].__name__}" in source
