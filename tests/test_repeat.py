"""Repeat until precise (issue 17): lepton_lab.repeat(), %%energy --repeat and
``lepton-lab measure --repeat``. Real sampler, real shell, real CLI; the sensor is the labelled
CPU estimate (the machine has no GPU), so what is checked is the procedure: warm-up unmeasured,
trials of ~window_s, phases shifted by golden-ratio steps of the update period, the stop rule,
and the errors. What it does to a GPU's sensor is shown on the SC'24 recordings in lesson 05."""
from __future__ import annotations

import math

import pytest

import lepton_lab
from lepton_lab import cli, repetition
from lepton_lab.errors import InvalidInput


def busy(n: int = 20_000) -> int:
    total = 0
    for i in range(n):
        total += i
    return total


def test_repeat_reaches_its_target_and_reports_energy_per_run():
    calls = []
    result = lepton_lab.repeat(lambda: calls.append(busy()), until=0.1, window_s=0.2, max_trials=10, label="busy loop")
    assert isinstance(result, repetition.RepeatResult)
    assert result.trials >= 3  # the busy machine's neighbours move the estimate: the cap may stop it
    assert (result.reached and result.relative_ci <= 0.1) or (result.trials == 10 and not result.reached)
    assert len(calls) == 1 + result.runs  # one unmeasured warm-up run, then runs_per_trial × trials
    assert result.energy_per_run_j == pytest.approx(sum(result.per_run_j) / result.trials)
    assert [r.label for r in result.reports] == [f"busy loop (trial {i + 1})" for i in range(result.trials)]
    assert all(r.duration_s > 0.1 for r in result.reports)  # each trial a window the sensor can see
    text = str(result)
    assert "per run ±" in text and f"{result.runs} runs" in text and "ESTIMATED" in text
    assert "does not shrink with repetition" in text


def test_trials_are_shifted_against_the_update_period_and_cool_down(monkeypatch):
    sleeps = []
    monkeypatch.setattr(repetition, "_sleep", sleeps.append)
    result = lepton_lab.repeat(busy, until=1e-9, min_trials=2, max_trials=4, window_s=0.01, cooldown_s=0.5,
                               period_s=0.1, save=False)
    assert result.trials == 4 and not result.reached  # the cap
    phases = [s for s in sleeps if s != 0.5]
    assert phases == pytest.approx([(i * repetition.GOLDEN % 1) * 0.1 for i in range(4)])
    assert sleeps.count(0.5) == 3  # a cool-down between trials, none after the last


def test_a_failing_run_is_recorded_and_propagates():
    runs = []

    def flaky():
        runs.append(1)
        if len(runs) > 3:
            raise ValueError("bad batch")

    with pytest.raises(ValueError, match="bad batch"):
        lepton_lab.repeat(flaky, until=0.1, window_s=0.001)
    assert lepton_lab.last_report().status == "error"


@pytest.mark.parametrize("kwargs, words", [
    ({"until": 0}, "between 0 and 1"), ({"until": "2 percent"}, "is not a number"),
    ({"until": 0.1, "min_trials": 5, "max_trials": 3}, "min_trials"), ({"until": 0.1, "window_s": 0}, "window_s"),
    ({"until": 0.1, "repeat": 0.1}, "until="),
])
def test_bad_input_is_one_line(kwargs, words):
    with pytest.raises(InvalidInput, match=words) as info:
        lepton_lab.repeat(busy, **kwargs)
    assert "\n" not in str(info.value)


def test_a_with_block_cannot_repeat_and_says_what_to_do():
    with pytest.raises(InvalidInput, match=r"lepton_lab.repeat\(fn, until=0.02\)"):
        lepton_lab.measure(repeat="2%")
    with pytest.raises(InvalidInput, match="function to call"):
        lepton_lab.repeat(42)


def test_the_magic_repeats_the_whole_body(shell, capsys):
    shell.user_ns["runs"] = []
    result = shell.run_cell("%%energy --repeat 0.2 --var rep -l cell-repeat\nruns.append(sum(range(20000)))")
    assert result.success
    rep = shell.user_ns["rep"]
    assert isinstance(rep, repetition.RepeatResult) and rep.label == "cell-repeat"
    assert len(shell.user_ns["runs"]) == 1 + rep.runs  # the body's side effects happen once per run
    assert "per run ±" in capsys.readouterr().out


def test_the_magic_help_says_the_body_runs_several_times(shell, capsys):
    shell.run_cell("%%energy?")
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--repeat" in help_text and "WHOLE BODY, side effects included" in help_text


def test_a_bad_target_stops_the_cell_before_its_body(shell, capsys):
    shell.user_ns["ran"] = False
    result = shell.run_cell("%%energy --repeat 3\nran = True")
    assert not result.success and shell.user_ns["ran"] is False
    assert "repeat target must be between 0 and 1" in capsys.readouterr().err


def test_the_cli_repeats_a_command(capsys):
    assert cli.main(["measure", "--repeat", "0.5", "--", "true"]) == 0
    assert "per run ±" in capsys.readouterr().err
    assert cli.main(["measure", "--repeat", "0.5", "--", "false"]) == 1


def test_the_t_quantiles():
    assert repetition.t95(1) == pytest.approx(12.706) and repetition.t95(30) == pytest.approx(2.042)
    assert repetition.t95(500) == 1.96 and math.isinf(repetition.interval([1.0])[1])
