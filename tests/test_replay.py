"""The replay sensor: a recorded real trace (package data) played through the real sampler, magic,
report and ledger. Nothing is faked: the trace is third-party data, the clock is real."""
from __future__ import annotations

import re
import sqlite3

import numpy as np
import pytest

import lepton_lab
from lepton_lab import cli, traces
from lepton_lab.errors import LeptonError
from lepton_lab.sensors.replay import TracePlayer

H100 = "h100-llama-3.1-8b-batch-64"


def trace_integral(name: str, seconds: float) -> float:
    """The trace's energy over its first ``seconds`` (straight lines between samples), with numpy."""
    t, w = (np.asarray(v) for v in traces.series(name))
    t = t - t[0]
    end = np.interp(seconds, t, w)
    inside = t < seconds
    return float(np.trapezoid(np.append(w[inside], end), np.append(t[inside], seconds)))


def test_the_player_integrates_exactly_and_loops():
    player = TracePlayer([0.0, 1.0, 2.0], [100.0, 300.0, 100.0])  # loop: 3 s, back to the start value
    assert player.period_s == 3.0
    assert player.at(0.5) == (pytest.approx(200.0), pytest.approx(0.5 * (100 + 200) / 2))
    assert player.at(2.0)[1] == pytest.approx(400.0) and player.loop_energy_j == pytest.approx(500.0)
    power, energy = player.at(3.0 * 4 + 1.0)  # four loops and one second
    assert power == pytest.approx(300.0) and energy == pytest.approx(4 * 500 + 200)


def test_replay_a_2_s_cell_gives_the_traces_energy_labelled_replayed(shell, capsys, tmp_path):
    result = shell.run_cell(f"%%energy --replay {H100} -q --no-plot --var rep -l replayed-cell\n"
                            "import time\ntime.sleep(2)")
    assert result.success
    report = shell.user_ns["rep"]
    assert report.kind == "replayed" and list(report.domains) == ["gpu:replay-h100"]
    assert report.methods == f"replay:{H100}" and report.replayed_from == H100
    assert report.energy_j == pytest.approx(trace_integral(H100, report.duration_s), rel=0.02)
    text = str(report)
    assert f"REPLAYED from {H100}, not a measurement" in text and "gpu2grid/openg2g" in text
    assert f"REPLAYED from {H100}" in report._repr_html_()
    # Issue 18 item 9: its ± is printed, and comes from the recording's own H100 sensor.
    assert report.uncertainty_j > 0 and " ± " in text
    assert any("from the recording's own H100 sensor" in n for n in report.notes)
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        row = db.execute("SELECT kind, methods FROM measurements WHERE label = 'replayed-cell'").fetchone()
    assert row == ("replayed", f"replay:{H100}")
    history = lepton_lab.history()
    assert history.loc[0, "kind"] == "replayed" and history.loc[0, "methods"] == f"replay:{H100}"


def test_a_cell_longer_than_the_trace_loops_it():
    """The A100 meter trace lasts 10 s: a 12 s replay plays one loop and two more seconds."""
    player = TracePlayer(*traces.series("a100-square-wave"))
    _, energy = player.at(player.period_s + 2.0)
    assert energy == pytest.approx(player.loop_energy_j + player.at(2.0)[1])
    assert player.loop_energy_j == pytest.approx(1155, rel=0.01)  # the meter's 10 s (PROVENANCE: 1,155 J)


BAD = [
    ("--replay nope", "no recorded trace named 'nope': choose from a100-square-wave, h100-llama-3.1-8b-batch-1024"),
    (f"--replay {H100} --gpus 0", "--gpus picks GPUs of this machine and --replay plays a recorded one"),
    (f"--replay {H100} --baseline 1", "--baseline measures this machine's idle power"),
    ("--sensors replay", "choose one with --replay NAME"),
]


@pytest.mark.parametrize("flags, error", BAD)
def test_a_bad_name_or_combination_is_one_line_everywhere(shell, capsys, flags, error):
    capsys.readouterr()
    result = shell.run_cell(f"%%energy -q {flags}\nran = True")
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert not result.success and len(lines) == 1 and lines[0].startswith("UsageError: ") and error in lines[0]
    assert cli.main(["measure", *flags.split(), "--", "true"]) == 2
    assert error in capsys.readouterr().err
    words = flags.split()
    options = {w.removeprefix("--"): v for w, v in zip(words[::2], words[1::2])}
    with pytest.raises(LeptonError, match=re.escape(error)):
        with lepton_lab.measure(**options):
            pass


def test_replay_beside_a_measured_sensor_says_partly_replayed(shell, monkeypatch, tmp_path):
    """Fake powercap tree (this machine has no RAPL): a measured CPU package next to the replay."""
    from lepton_lab.sensors import close_cached
    from tests.fakes.fake_sysfs import FakePowercap

    cap = FakePowercap(tmp_path)
    cap.add_package(0)
    monkeypatch.setenv("LEPTON_LAB_RAPL_ROOT", str(cap.root))
    close_cached()
    with lepton_lab.measure(replay=H100, sensors="rapl") as block:
        pass
    report = block.report
    assert report.kind == "partly replayed" and set(report.domains) == {"cpu:package-0", "gpu:replay-h100"}
    assert f"PARTLY REPLAYED from {H100}, not a measurement" in str(report)
    from lepton_lab.widgets.compare import Comparison

    with lepton_lab.measure(label="plain") as plain:
        pass
    title = Comparison([report, plain.report]).static_html()
    assert "not measured: estimated or replayed" in title


def test_the_live_view_draws_the_traces_watts():
    """The view a notebook gets, fed by the sampler thread while a replay plays."""
    import time

    from lepton_lab.widgets.live import LivePowerView

    with lepton_lab.measure(replay=H100, interval=0.05) as block:
        view = LivePowerView.for_measurement(block.measurement)
        block.subscribe(view.on_sample)
        time.sleep(1.5)
    view.close()
    assert view.figure.figure.title.endswith(f"— REPLAYED from {H100}")
    t, power, _ = view.buffer.arrays()
    watts = power["gpu:replay-h100"]
    player = TracePlayer(*traces.series(H100))
    expected = np.array([player.at(x)[0] for x in t])
    assert len(t) >= 10 and np.max(np.abs(watts - expected)) < 25.0  # the trace's shape, sample by sample
    assert np.ptp(watts) > 50.0  # and it moves: not a constant stand-in
