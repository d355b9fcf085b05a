"""%%energy in a real IPython shell (InteractiveShell, in process): the cell must behave exactly as
without the magic. No hardware here, so the measurement is the labelled CPU estimate."""
from __future__ import annotations

import sqlite3

import pytest

import lepton_lab


def ledger_rows(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT label, status FROM measurements ORDER BY id").fetchall()


def test_last_value_is_the_cell_result_and_underscore_is_set(shell):
    result = shell.run_cell("%%energy -q -l answer\nx = 40\nx + 2", store_history=True)
    assert result.success and result.result == 42
    assert shell.user_ns["_"] == 42
    assert lepton_lab.last_report().label == "answer"


def test_cell_output_and_summary_are_shown(shell, capsys):
    shell.run_cell("%%energy -l shown\nprint('hello from the cell')")
    out = capsys.readouterr().out
    assert "hello from the cell" in out
    assert "shown" in out and "ESTIMATED" in out  # the text summary says what kind of number it is


def test_magics_and_shell_lines_work_inside(shell, capfd):
    result = shell.run_cell("%%energy -q\nv = %sx echo from-shell\n!echo bang-line\nv[0]")
    assert result.success and result.result == "from-shell"
    assert "bang-line" in capfd.readouterr().out


def test_top_level_await(shell):
    result = shell.run_cell("%%energy -q\nimport asyncio\nawait asyncio.sleep(0.01)\n'awaited'")
    assert result.success and result.result == "awaited"


def _last_line(error) -> int:
    tb = error.__traceback__
    while tb.tb_next:
        tb = tb.tb_next
    return tb.tb_lineno


def test_exception_propagates_unchanged_with_the_same_line_numbers(shell, tmp_path):
    body = "a = 1\nb = 0\na / b\n"
    plain = shell.run_cell(body).error_in_exec
    result = shell.run_cell("%%energy -q -l boom\n" + body)
    error = result.error_in_exec
    assert isinstance(error, ZeroDivisionError) and not result.success
    assert _last_line(error) == _last_line(plain) == 3  # the body's own numbering, as without the magic
    assert ledger_rows(tmp_path / "ledger.sqlite") == [("boom", "error")]
    assert lepton_lab.last_report().error.startswith("ZeroDivisionError")


def test_keyboard_interrupt_is_recorded_as_interrupted(shell, tmp_path):
    result = shell.run_cell("%%energy -q -l ctrl-c\nraise KeyboardInterrupt\n")
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert ledger_rows(tmp_path / "ledger.sqlite") == [("ctrl-c", "interrupted")]


def test_var_stores_the_report(shell):
    shell.run_cell("%%energy -q --var rep\nsum(range(1000))")
    report = shell.user_ns["rep"]
    assert report.duration_s >= 0 and report.kind == "estimated"
    assert report.carbon.region == "WORLD" and report.carbon.pue == 1.0


def test_region_and_pue_are_used(shell):
    shell.run_cell("%%energy -q --var rep --region FR --pue 1.5\npass")
    report = shell.user_ns["rep"]
    assert report.carbon.region.upper() in ("FR", "FRA") and report.carbon.pue == 1.5


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("-i -1", "interval must be positive"),
        ("-i 0", "interval must be positive"),
        ("-i fast", "not a number"),
        ("-i 1e9", "too long"),
        ("--bogus", "unrecognized arguments"),
        ("--sensors nvml,thermometer", "unknown sensor 'thermometer'"),
        ("--region XYZ", "unknown region"),
        ("--pue 0.9", "PUE"),
        ("--baseline -2", "baseline must be 0 or more"),
        ("--var 1abc", "not a valid Python variable name"),
        ("--gpus 0", "GPU"),
        ("stray-word", "unexpected argument(s) 'stray-word'"),
        ("-l 'unclosed", "close the quote"),
    ],
)
def test_bad_input_is_one_usage_line_and_the_cell_does_not_run(shell, capsys, tmp_path, flags, expected):
    shell.user_ns["ran"] = False
    result = shell.run_cell(f"%%energy {flags}\nran = True")
    err = capsys.readouterr().err
    assert not result.success
    assert shell.user_ns["ran"] is False
    assert expected in err, err
    assert "Traceback" not in err and "lepton_lab/" not in err
    assert len([line for line in err.splitlines() if line.strip()]) == 1
    assert not (tmp_path / "ledger.sqlite").exists()


def test_help_is_shown_for_question_mark(shell, capsys):
    shell.run_cell("%%energy?")
    out = capsys.readouterr().out
    assert "--baseline" in out and "Measure the energy of a cell" in out


def test_classic_path_run_cell_magic(shell, tmp_path):
    assert shell.run_cell_magic("energy", "-q -l classic", "y = 3\ny * 2") == 6
    with pytest.raises(ZeroDivisionError):
        shell.run_cell_magic("energy", "-q -l classic-error", "1/0")
    assert ledger_rows(tmp_path / "ledger.sqlite") == [("classic", "ok"), ("classic-error", "error")]


def test_line_subcommands(shell, capsys):
    shell.run_line_magic("energy", "sensors")
    out = capsys.readouterr().out
    assert "nvml" in out and "rapl" in out and "ESTIMATE" in out
    shell.run_cell("%%energy -q -l for-history\npass")
    table = shell.run_line_magic("energy", "history -n 5")
    assert list(table["label"])[:1] == ["for-history"]
    assert shell.run_line_magic("energy", "last").label == "for-history"


def test_unknown_subcommand_is_one_usage_line(shell, capsys):
    shell.run_cell("%energy frobnicate")
    err = capsys.readouterr().err
    assert "unknown %energy subcommand 'frobnicate'" in err and "Traceback" not in err


def test_loading_twice_keeps_one_transformer(shell):
    shell.run_line_magic("reload_ext", "lepton_lab")
    shell.run_line_magic("load_ext", "lepton_lab")
    from lepton_lab.cell_hooks import StartFailureGate, strip_energy_line

    assert shell.input_transformers_cleanup.count(strip_energy_line) == 1
    assert sum(isinstance(t, StartFailureGate) for t in shell.ast_transformers) == 1
    handlers = [getattr(h, "__qualname__", "") for h in shell.events.callbacks["pre_run_cell"]]
    assert handlers.count("CellHooks.pre_run_cell") == 1
    assert shell.run_cell("%%energy -q\n5").result == 5


def test_cell_not_starting_with_the_magic_is_untouched(shell):
    assert shell.run_cell("z = '%%energy is just text'\nz").result == "%%energy is just text"


def test_baseline_reports_net_energy_beside_gross(shell, capsys):
    shell.run_cell("%%energy --baseline 0.2 --var rep -l net\nsum(range(10**5))")
    report = shell.user_ns["rep"]
    out, err = capsys.readouterr()
    assert "measuring idle power for 0.2 s" in err
    assert report.baseline_s == 0.2 and report.net_energy_j is not None
    if report.kind == "estimated":  # this machine's usual sensor: its baseline is not idle, and it says so
        assert "above the 0.2 s baseline" in out and "not net of idle: the estimate's model has no idle part" in out
    else:
        assert "net of idle (0.2 s baseline)" in out


def test_with_a_fake_gpu_the_report_is_a_measurement(shell, monkeypatch, capsys):
    """Fake NVML (this machine has no GPU): one H100 drawing a constant 250 W on the real clock."""
    import time

    from lepton_lab.sensors import nvml as nvml_module
    from tests.fakes.fake_nvml import h100s

    fake = h100s(1, time.monotonic, power_w=lambda t: 250.0)
    monkeypatch.setattr(nvml_module, "_load_nvml", lambda: fake)
    result = shell.run_cell("%%energy --var rep -l gpu-cell\nimport time\ntime.sleep(0.5)\n'done'")
    assert result.result == "done"
    report = shell.user_ns["rep"]
    assert report.kind == "measured" and report.methods == "nvml-counter"
    assert list(report.domains) == ["gpu:0"] and "H100" in report.domains["gpu:0"].label
    assert report.energy_j == pytest.approx(250.0 * report.duration_s, rel=0.05)
    out, err = capsys.readouterr()
    assert "ESTIMATE" not in out + err and "rapl not measured" in out
    shell.run_cell("%%energy --gpus 3\npass")
    assert "GPU 3 does not exist: 1 visible" in capsys.readouterr().err


def test_terminal_ipython_waits_for_a_blank_line_as_for_any_cell_magic(shell):
    """check_complete is what terminal IPython asks after each Enter."""
    assert shell.check_complete("%%energy -q\nx = 1\n")[0] == "incomplete"
    assert shell.check_complete("%%capture\nx = 1\n")[0] == "incomplete"  # IPython's own rule
    assert shell.check_complete("%%energy -q\nx = 1\n\n")[0] == "complete"


def test_a_magic_above_the_energy_line_calls_it_the_classic_way(shell, capsys):
    """%%time transforms its body itself: the line stays and IPython runs %%energy as a magic."""
    result = shell.run_cell("%%time\n%%energy -q -l under-time\nsum(range(10))")
    assert result.success and "Wall time" in capsys.readouterr().out
    assert lepton_lab.last_report().label == "under-time" and lepton_lab.last_report().saved


def test_a_silent_run_is_measured_the_classic_way(shell):
    result = shell.run_cell("%%energy -q -l silent\nsilent_value = 5", silent=True)
    assert result.success and shell.user_ns["silent_value"] == 5
    assert lepton_lab.last_report().label == "silent"
