"""Sweep: many measured runs, one progress bar, one comparison (real sensors: the CPU estimate)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from IPython.utils.capture import capture_output

from lepton_lab.errors import InvalidInput
from lepton_lab.sweep import Sweep
from lepton_lab.widgets.svg import svgs_in

WIDGET = "application/vnd.jupyter.widget-view+json"
SVG = "{http://www.w3.org/2000/svg}"


def busy(n: int) -> int:
    return sum(i * i for i in range(n))


def test_sweep_records_every_run_with_its_params():
    with Sweep(total=3, title="sizes", show=False) as sweep:
        for n in (1_000, 10_000, 100_000):
            with sweep.measure(label=f"n={n}", params={"n": n}) as m:
                busy(n)
            assert m.report is sweep.reports[-1]
    table = sweep.table
    assert list(table["label"]) == ["n=1000", "n=10000", "n=100000"]
    assert list(table["n"]) == [1_000, 10_000, 100_000]
    assert (table["kind"] == "estimated").all()  # no hardware here, and it says so


def test_without_widgets_one_line_per_run(capsys):
    with Sweep(total=2, show=False) as sweep:
        for _ in range(2):
            with sweep.measure():
                busy(1000)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("[1/2") and "Sweep #1" in lines[0]


def test_widgets_show_one_bar_and_one_comparison():
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.instance()
    with capture_output() as captured:
        with Sweep(total=3, title="loop", show=True) as sweep:
            for i in range(3):
                with sweep.measure(label=f"run {i}"):
                    busy(1000)
    view = sweep._view
    assert view.progress.value == 3 and view.progress.bar_style == "success"
    outputs = captured.outputs
    assert len({o.transient["display_id"] for o in outputs}) == 1  # one display, updated in place
    assert WIDGET in outputs[0].data  # widgets while it runs
    # At exit: the static comparison (SVG images + table), no widget, and the widgets are closed.
    final = outputs[-1]
    assert final.update and set(final.data) == {"text/html", "text/plain"} and final.data == view.final_bundle
    html = final.data["text/html"]
    energy_svg, _ = [ET.fromstring(svg) for svg in svgs_in(html)]
    labels = [t.text for t in energy_svg.iter(f"{SVG}text")]
    assert {"run 0", "run 1", "run 2", "loop — ESTIMATED"} <= set(labels)
    assert len([r for r in energy_svg.iter(f"{SVG}rect") if r.get("width") != "11"]) == 3
    assert "<table" in html and "3/3" in html and "run 2" in final.data["text/plain"]
    assert view.box.comm is None and view.progress.comm is None and view.comparison.view is None


def test_a_failing_sweep_says_so_and_ends_static():
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.instance()
    with capture_output() as captured, pytest.raises(ZeroDivisionError):
        with Sweep(total=2, title="boom", show=True) as sweep:
            with sweep.measure(label="ok"):
                busy(1000)
            1 / 0  # noqa: B018
    final = captured.outputs[-1]
    assert WIDGET not in final.data and "stopped by an error" in final.data["text/html"]
    assert sweep._view.progress.bar_style == "danger" and len(svgs_in(final.data["text/html"])) == 2


def test_a_failing_run_is_recorded_and_propagates():
    with pytest.raises(ZeroDivisionError):
        with Sweep(total=2, show=False) as sweep:
            with sweep.measure(label="boom"):
                1 / 0  # noqa: B018
    assert [r.status for r in sweep.reports] == ["error"]


def test_unknown_total_and_bad_total():
    with Sweep(show=False) as sweep:
        with sweep.measure():
            pass
    assert "1 run(s)" in sweep.progress_text()
    with pytest.raises(InvalidInput):
        Sweep(total=0)


def test_exported_from_the_package():
    import lepton_lab

    assert lepton_lab.Sweep is Sweep and "Sweep" in lepton_lab.__all__
