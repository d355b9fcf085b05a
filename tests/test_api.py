"""The Python API (measure, measured, history, compare) with the labelled estimate — no hardware here."""
from __future__ import annotations

import time

import pytest

import lepton_lab
from lepton_lab.errors import InvalidInput, LedgerWarning, SensorUnavailable


def busy(seconds=0.2):
    import time

    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x


def test_public_api_matches_all():
    assert sorted(lepton_lab.__all__) == sorted(set(lepton_lab.__all__))
    for name in lepton_lab.__all__:
        assert getattr(lepton_lab, name) is not None


def test_measure_context_reports_and_stores():
    before = time.monotonic()
    # The machine's view: on a busy machine "auto" shows the process view, whose ± adds the split's.
    with lepton_lab.measure(label="block", interval=0.02, attribute="machine") as m:
        busy(0.3)
    after = time.monotonic()
    report = m.report
    assert report.label == "block" and report.status == "ok"
    assert 0.3 <= report.duration_s <= after - before  # the body, inside the time the block took
    assert report.kind == "estimated" and not report.is_measurement
    assert report.energy_j > 0 and report.uncertainty_j == pytest.approx(0.5 * report.energy_j)
    assert len(report.trace["t_s"]) >= 5
    assert list(lepton_lab.history()["label"]) == ["block"]
    assert lepton_lab.last_report() is report


def test_measure_records_a_failing_block_and_reraises():
    with pytest.raises(ValueError, match="bad batch"):
        with lepton_lab.measure(label="fails") as m:
            raise ValueError("bad batch")
    assert m.report.status == "error" and m.report.error == "ValueError: bad batch"
    assert lepton_lab.history()["status"].tolist() == ["error"]


def test_measured_decorator():
    @lepton_lab.measured(label="decorated")
    def work(n):
        return sum(range(n))

    assert work(1000) == sum(range(1000))
    assert work.last_report.label == "decorated"

    @lepton_lab.measured
    def plain():
        return 1

    plain()
    assert plain.last_report.label.endswith("plain")


def test_baseline_gives_net_energy():
    with lepton_lab.measure(label="net", baseline=0.2, attribute="machine") as m:  # as above
        busy(0.2)
    domain = next(iter(m.report.domains.values()))
    assert domain.idle_w is not None
    # Net of idle is the machine's energy less idle: on a busy machine `auto` shows this kernel's
    # share as energy_j instead, which has no idle in it to take away.
    assert m.report.net_energy_j == pytest.approx(m.report.machine_energy_j - domain.idle_w * m.report.duration_s)


def test_unwritable_ledger_still_reports_and_warns(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("LEPTON_LAB_LEDGER", str(blocker / "ledger.sqlite"))
    with pytest.warns(LedgerWarning, match="not saved"):
        with lepton_lab.measure(label="unsaved") as m:
            pass
    assert m.report is not None and not m.report.saved
    assert "not saved" in str(m.report)


@pytest.mark.parametrize("kwargs, message", [
    ({"interval": 0}, "interval must be positive"),
    ({"sensors": "nvml,foo"}, "unknown sensor 'foo'"),
    ({"region": "Atlantis"}, "unknown region"),
    ({"pue": 0.5}, "PUE"),
    ({"baseline": -1}, "baseline"),
    ({"gpus": "a"}, "not a whole number"),
])
def test_bad_arguments_raise_one_line(kwargs, message):
    with pytest.raises(InvalidInput, match=message) as info:
        lepton_lab.measure(**kwargs)
    assert "\n" not in str(info.value)


def test_explicitly_requested_missing_sensor_says_why():
    with pytest.raises(SensorUnavailable, match="RAPL") as info:
        with lepton_lab.measure(sensors="rapl"):
            pass
    assert "\n" not in str(info.value)


def test_report_round_trips_through_dict_and_renders():
    with lepton_lab.measure(label="rt", region="SE", pue=1.2) as m:
        busy(0.1)
    report = m.report
    back = lepton_lab.EnergyReport.from_dict(report.to_dict())
    assert back.energy_j == report.energy_j and back.carbon == report.carbon
    assert back.co2e_g == pytest.approx(report.energy_j / 3.6e6 * 1.2 * report.carbon.g_per_kwh)
    html = report._repr_html_()
    assert "ESTIMATED" in html and "rt" in html and "PUE 1.20" in html
    frame = report.samples
    assert list(frame.columns) == ["t_s", "cpu:estimated W"] and len(frame) == len(report.trace["t_s"])
    with pytest.raises(InvalidInput):
        lepton_lab.EnergyReport.from_dict({"nope": 1})


def test_compare_by_label_and_report():
    with lepton_lab.measure(label="a") as first:
        busy(0.05)
    with lepton_lab.measure(label="b"):
        busy(0.1)
    result = lepton_lab.compare(first.report, "b")
    table = getattr(result, "table", result)
    assert list(table["label"]) == ["a", "b"]
    with pytest.raises(InvalidInput):
        lepton_lab.compare("no-such-label")


def test_report_save_and_load(tmp_path):
    with lepton_lab.measure(label="saved-file") as m:
        busy(0.05)
    path = m.report.save(tmp_path / "report.json")
    back = lepton_lab.EnergyReport.load(path)
    assert back.label == "saved-file" and back.energy_j == m.report.energy_j
    with pytest.raises(InvalidInput, match="cannot write"):
        m.report.save(tmp_path / "no-such-dir" / "r.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(InvalidInput, match="not a lepton_lab report"):
        lepton_lab.EnergyReport.load(tmp_path / "bad.json")


def test_the_summary_shows_warnings_and_folds_how_the_machine_is_measured():
    """What went wrong in this run is in plain sight; the setup notes (true of every run here) fold."""
    from lepton_lab.report import DomainEnergy, EnergyReport

    report = EnergyReport("folded", "ok", "", 2.0, {"cpu:estimated": DomainEnergy(10.0, 5.0, 6.0, "estimate",
                                                                                 kind="estimated")},
                          notes=["no energy sensor can be read here", "estimate model: 12 W per CPU"],
                          warnings=["short measurement (2 ms < 3 estimate updates of 10 ms)"], saved=True)
    page = report._repr_html_()
    fold = page.index("<details")
    assert page.index("⚠ short measurement") < fold  # the warning is not folded away
    assert "how this was measured (2 notes)" in page and page.index("estimate model") > fold
    text = str(report)
    assert "warning: short measurement" in text and "note: estimate model" in text  # terminals show all
    assert "ESTIMATED, not a measurement" in text and "ESTIMATED, not a measurement" in page


# -- the cost of measure() (issue 19): its timing is benchmarks/overhead.py's, these check the means --
def test_prewarm_prepares_the_first_measurement_and_may_run_in_the_background():
    import lepton_lab.magic  # %load_ext imports the module behind prewarm: the name must stay the function

    assert lepton_lab.prewarm() is None  # done when it returns
    thread = lepton_lab.prewarm(background=True)
    with lepton_lab.measure(label="during prewarm") as m:  # waits for what it needs, safely
        pass
    thread.join(30)
    assert m.report.saved and lepton_lab.history()["label"].tolist() == ["during prewarm"]


def test_prewarm_in_the_background_is_off_with_the_env_var(monkeypatch):
    monkeypatch.setenv("LEPTON_LAB_PREWARM", "0")
    assert lepton_lab.prewarm(background=True) is None


def test_back_to_back_blocks_start_no_thread_and_write_one_session_marker_per_process(tmp_path, monkeypatch):
    """One sampling thread serves every block (none started or woken per block), and the
    --charge-idle session marker is one file per process, rewritten, not one per block."""
    import os
    import threading

    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))  # where the markers go
    with lepton_lab.measure():
        pass
    threads = {t.ident for t in threading.enumerate()}
    for _ in range(30):
        with lepton_lab.measure(interval=0.01) as m:
            pass
        assert m.report.saved
    assert {t.ident for t in threading.enumerate()} == threads
    markers = os.listdir(tmp_path / "lepton_lab-sessions")
    assert len(markers) == 1 and markers[0].startswith(f"{os.getpid()}-")
    assert len(open(tmp_path / "lepton_lab-sessions" / markers[0]).read().split()) == 2  # start and end
    assert len(lepton_lab.history()) == 31
