"""The supported stacks (lepton_lab/stacks.py): the one line for an unsupported one, the cell runner
rule, and the pins that the Colab install line must keep (tests/stack_pins.py).

`make test` runs this file on both stacks: the newest (.venv) and Colab's pins (.venv-colab, with
LEPTON_STACK=colab), where the last test checks that the environment really is Colab's.
"""
from __future__ import annotations

import asyncio
import importlib.metadata
import os
import sqlite3
from pathlib import Path

import pytest
from IPython.core.error import UsageError

from lepton_lab import stacks
from tests.stack_pins import moved, pinned

PINS = Path(__file__).with_name("colab-pins.txt")


@pytest.mark.parametrize(("package", "version", "expected"), [
    ("IPython", "7.34.0", None),
    ("IPython", "9.18.1", None),
    ("IPython", "7.33.0", "lepton_lab needs IPython >= 7.34 (this kernel has 7.33.0): "
                          "pip install 'ipython>=7.34' and restart the kernel"),
    ("IPython", "6.5.0", "IPython >= 7.34"),
    ("ipykernel", "5.5.6", None),
    ("ipykernel", "6.29.5", None),
    ("ipykernel", "7.0.2", None),
    ("ipykernel", "7.4.0", None),
    ("ipykernel", "5.1.4", "ipykernel >= 5.5.6 (this kernel has 5.1.4)"),
    ("ipykernel", "7.0.0", "ipykernel 7.0.0 drops widget updates sent from threads"),
    ("ipykernel", "7.0.1rc1", "ipykernel 7.0.1rc1 drops widget updates"),
    ("ipywidgets", "7.7.1", None),
    ("ipywidgets", "7.6.5", "ipywidgets >= 7.7.1"),
])
def test_one_line_for_a_version_outside_the_tested_range(package, version, expected):
    found = stacks.problem(package, version)
    if expected is None:
        assert found is None
    else:
        assert expected in found and "\n" not in found and "pip install '" in found


def test_too_old_an_ipython_stops_load_ext_with_one_line(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "__version__", "7.16.1")
    with pytest.raises(UsageError, match=r"^lepton_lab needs IPython >= 7\.34 \(this kernel has 7\.16\.1\)"):
        stacks.check()


def test_a_kernel_outside_the_range_still_loads_and_says_so_in_one_line(monkeypatch, capsys):
    import types

    monkeypatch.setitem(__import__("sys").modules, "ipykernel", types.SimpleNamespace(__version__="7.0.1"))
    stacks.check()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ipykernel 7.0.1" in err and "pip install 'ipykernel>=5.5.6,!=7.0.0,!=7.0.1'" in err


@pytest.mark.parametrize(("version", "foreground"), [("5.5.6", True), ("6.29.5", False), ("7.1.0", False)])
def test_load_ext_imports_in_the_foreground_where_a_background_import_reorders_output(monkeypatch, version,
                                                                                        foreground):
    """ipykernel 5 skips a flush's wait while another thread imports (the corpus test on Colab's
    pins caught prints arriving after displays): there %load_ext's imports are not left running."""
    import types

    monkeypatch.setitem(__import__("sys").modules, "ipykernel", types.SimpleNamespace(__version__=version))
    assert stacks.imports_reorder_output() is foreground


def test_the_declared_floor_is_pyprojects():
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    for requirement in stacks.FIX.values():
        assert f'"{requirement}"' in text, requirement


def _rows(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT label, status FROM measurements").fetchall()


def test_an_unknown_cell_runner_gets_one_line_and_the_classic_path(shell, capsys, tmp_path):
    """A front end that transforms the cell itself and hands the result to the shell: lepton_lab
    cannot see that the cell runs as a cell, so the magic runs the body (measured), never drops it."""
    def foreign_runner(raw: str):
        transformed = shell.transform_cell(raw)  # called from here: neither the shell nor a kernel
        return asyncio.run(shell.run_cell_async(raw, transformed_cell=transformed))

    for label in ("foreign-1", "foreign-2"):
        shell.user_ns.pop("ran", None)
        result = foreign_runner(f"%%energy -q -l {label}\nran = 1 + 1\n")
        assert result.success and shell.user_ns["ran"] == 2
    err = capsys.readouterr().err
    assert err.count("runs cells in a way lepton_lab does not recognise") == 1, err  # once per session
    assert "pip install 'ipykernel>=5.5.6,!=7.0.0,!=7.0.1'" in err
    assert _rows(tmp_path / "ledger.sqlite") == [("foreign-1", "ok"), ("foreign-2", "ok")]


def test_a_silent_run_keeps_the_line_and_measures_through_the_magic(shell, tmp_path, capsys):
    result = shell.run_cell("%%energy -q -l quiet-run\nsilent_ran = True\n", silent=True)
    assert result.success and shell.user_ns["silent_ran"] is True
    assert _rows(tmp_path / "ledger.sqlite") == [("quiet-run", "ok")]
    assert "does not recognise" not in capsys.readouterr().err  # a documented case, not an unknown runner


def test_a_moved_pin_is_one_line_naming_it():
    pins = pinned("# Colab\nipython==7.34.0\njupyter_client==7.4.9  # < 8\n")
    assert pins == {"ipython": "7.34.0", "jupyter-client": "7.4.9"}
    assert moved(pins, "ipython==7.34.0\njupyter-client==7.4.9\n-e /src\n") == []
    assert moved(pins, "ipython==9.18.1\n") == ["ipython is 9.18.1, pinned 7.34.0",
                                                 "jupyter-client is not installed, pinned 7.4.9"]
    with pytest.raises(ValueError, match="name==version"):
        pinned("ipython>=7.34\n")


@pytest.mark.skipif(os.environ.get("LEPTON_STACK") != "colab", reason="runs in .venv-colab (make test-colab)")
def test_this_is_colabs_stack():
    for name, version in pinned(PINS.read_text()).items():
        assert importlib.metadata.version(name) == version, name
