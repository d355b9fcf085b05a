"""One option table (lepton_lab/options.py): ``%%energy``, ``lepton-lab measure`` and ``measure()``
accept exactly the same options, with the same defaults and the same one-line errors.

All three run for real: the magic in an IPython shell, the CLI's ``main`` on ``true``, the API
in a ``with`` block. No hardware: the reports are the labelled estimate.
"""
from __future__ import annotations

import shlex

import pytest

import lepton_lab
from lepton_lab import cli
from lepton_lab.errors import LeptonError
from lepton_lab.options import OPTIONS

#: (option, value as typed) and, for the bad ones, the words every presenter's error must hold.
CASES = [
    ("interval", "0.05", None),
    ("label", "table test", None),
    ("region", "FR", None),
    ("pue", "1.3", None),
    ("baseline", "0.05", None),
    ("sensors", "estimate", None),
    ("attribute", "process", None),
    ("attribute", "MACHINE", None),
    ("interval", "0", "interval must be positive"),
    ("interval", "-1", "interval must be positive"),
    ("interval", "abc", "is not a number"),
    ("interval", "1e9", "too long"),
    ("sensors", "thermometer", "unknown sensor 'thermometer'"),
    ("sensors", "rapl", "RAPL/powercap is not exposed"),
    ("gpus", "0", "--gpus was given but no GPU can be read"),
    ("gpus", "a", "GPU index 'a' is not a whole number"),
    ("region", "XYZ", "unknown region 'XYZ'"),
    ("pue", "0.9", "invalid PUE"),
    ("baseline", "-2", "baseline must be 0 or more"),
    ("baseline", "abc", "is not a number"),
    ("label", "x" * 300, "characters long"),
    ("attribute", "bogus", "is not a view: use auto, machine or process"),
    # --repeat's good values repeat the work, which a with block cannot: tests/test_repeat.py has them
    ("repeat", "0", "repeat target must be between 0 and 1"),
    ("repeat", "150%", "repeat target must be between 0 and 1"),
    ("repeat", "tight", "repeat target 'tight' is not a number"),
]


def flag(name: str) -> str:
    return next(o for o in OPTIONS if o.name == name).flags[-1]


def via_magic(shell, capsys, name, value):
    capsys.readouterr()
    result = shell.run_cell(f"%%energy -q {flag(name)} {shlex.quote(value)}\npass")
    err = capsys.readouterr().err
    if result.success:
        return "ok", lepton_lab.last_report()
    (line,) = [text for text in err.splitlines() if text.strip()]
    return line.removeprefix("UsageError: "), None


def via_cli(capsys, name, value):
    capsys.readouterr()
    code = cli.main(["measure", flag(name), value, "--", "true"])
    err = capsys.readouterr().err
    if code == 0:
        return "ok", lepton_lab.last_report()
    (line,) = [text for text in err.splitlines() if text.strip()]
    return line.removeprefix("lepton-lab: error: "), None


def via_api(name, value):
    try:
        with lepton_lab.measure(**{name: value}) as block:
            pass
    except LeptonError as exc:
        return str(exc), None
    return "ok", block.report


@pytest.mark.parametrize("name, value, error", CASES, ids=[f"{n}={v[:12]}" for n, v, _ in CASES])
def test_the_three_presenters_agree(shell, capsys, name, value, error):
    outcomes = {"magic": via_magic(shell, capsys, name, value), "cli": via_cli(capsys, name, value),
                "api": via_api(name, value)}
    messages = {presenter: message for presenter, (message, _) in outcomes.items()}
    assert len(set(messages.values())) == 1, messages  # the very same line everywhere
    message = messages["api"]
    if error is None:
        assert message == "ok"
        reports = [report for _, report in outcomes.values()]
        assert len({r.uid for r in reports}) == 3
        assert len({(r.interval_s, r.carbon.region, r.carbon.pue, r.baseline_s) for r in reports}) == 1
    else:
        assert error in message and "\n" not in message and "Traceback" not in message


def test_the_defaults_are_the_same_everywhere(shell, capsys):
    shell.run_cell("%%energy -q\npass")
    magic = lepton_lab.last_report()
    assert cli.main(["measure", "--", "true"]) == 0
    command = lepton_lab.last_report()
    with lepton_lab.measure() as block:
        pass
    for report in (magic, command, block.report):
        assert report.interval_s == 0.1 and report.baseline_s is None
        assert report.carbon.region == "WORLD" and report.carbon.pue == 1.0
        # The default view is auto, which shows this kernel's share when others load the machine
        # (a busy CI runner, LEPTON_TEST_BURN=1): the sensor is the estimate either way.
        assert report.attribution.asked == "auto" and report.methods.split("+")[0] == "estimate"


def test_an_unknown_keyword_is_one_line_naming_the_options():
    with pytest.raises(LeptonError) as info:
        lepton_lab.measure(intervall=0.1)
    assert str(info.value).startswith("unknown option 'intervall' (did you mean 'interval'?)")
    assert "label, interval, sensors" in str(info.value)


ONE_MORE_ENTRY = """
import inspect, sys
import lepton_lab.options as options
source = inspect.getsource(options).replace(
    "OPTIONS: tuple[Option, ...] = (",
    "OPTIONS: tuple[Option, ...] = (\\n    Option('note', ('--note',), 'none', 'a note', str.upper, 'TEXT'),", 1)
exec(compile(source, options.__file__, "exec"), options.__dict__)   # the table, one entry longer

from IPython.core.interactiveshell import InteractiveShell
import lepton_lab
from lepton_lab import cli
shell = InteractiveShell.instance()
shell.run_line_magic("load_ext", "lepton_lab")
shell.run_cell("%%energy -q --note from-the-magic\\npass")
magic = lepton_lab.last_report()
assert cli.main(["measure", "--note", "from-the-cli", "--", "true"]) == 0
with lepton_lab.measure(note="from-the-api") as block:
    pass
print(cli._build_parser().parse_args(["measure", "--note", "n", "--", "true"]).note, block.measurement.options.note,
      options.MeasureOptions().note, magic.label is not None)
"""


def test_adding_an_option_is_one_entry(tmp_path):
    """One more entry in OPTIONS (the module re-run with it, in a fresh interpreter) and the magic,
    the CLI, measure() and MeasureOptions all take it, default included."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "LEPTON_LAB_LEDGER": str(tmp_path / "l.sqlite"), "LEPTON_LAB_PREWARM": "0"}
    out = subprocess.run([sys.executable, "-c", ONE_MORE_ENTRY], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-4:] == ["n", "FROM-THE-API", "none", "True"]


def test_every_cli_subcommand_has_a_real_parser():
    parser = cli._build_parser()
    serve = parser.parse_args(["serve", "--port", "8870"])
    assert serve.command == "serve" and serve.port == 8870 and serve.app is None
    assert parser.parse_args(["serve", "lifecycle", "--ip", "0.0.0.0"]).app == "lifecycle"
    for command in ("sensors", "measure", "history", "export", "regions", "serve"):
        with pytest.raises(SystemExit) as done:
            parser.parse_args([command, "--help"])
        assert done.value.code == 0
