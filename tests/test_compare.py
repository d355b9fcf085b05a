"""Comparison (``lepton_lab.compare``): its static notebook output (SVG images + table) and its
bqplot widget; reports built by hand or measured here (no hardware here: the labelled CPU estimate)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from IPython.utils.capture import capture_output

import lepton_lab
from lepton_lab.report import DomainEnergy, EnergyReport
from lepton_lab.widgets.compare import Comparison, domains_of, unique_labels
from lepton_lab.widgets.svg import svgs_in

WIDGET = "application/vnd.jupyter.widget-view+json"
SVG = "{http://www.w3.org/2000/svg}"


def figures(html: str) -> list[ET.Element]:
    """The SVG documents of the <img> data URIs in ``html``, parsed (an image's SVG must be XML)."""
    assert html.count("<img ") == len(svgs_in(html))
    return [ET.fromstring(svg) for svg in svgs_in(html)]


def texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text")]


def bars(svg: ET.Element) -> list[ET.Element]:
    """Bars (not the legend's 11 px swatches)."""
    return [r for r in svg.iter(f"{SVG}rect") if r.get("width") != "11"]


def report(label: str, joules: dict, duration=2.0, kind="measured") -> EnergyReport:
    return EnergyReport(
        label=label, status="ok", started_at="", duration_s=duration,
        domains={d: DomainEnergy(energy_j=j, mean_w=j / duration if duration else 0.0, peak_w=None, method="x",
                                 kind=kind)
                 for d, j in joules.items()},
    )


def test_different_domain_sets_stack_with_zeros_for_missing_domains():
    gpu_box = report("gpu box", {"gpu:0": 300.0, "cpu:package-0": 40.0})
    laptop = report("laptop", {"cpu:package-0": 25.0, "cpu:dram-0": 5.0}, duration=3.0)
    comparison = Comparison([gpu_box, laptop])
    assert domains_of([gpu_box, laptop]) == ["gpu:0", "cpu:package-0", "cpu:dram-0"]
    _ = comparison.widget  # builds the widget version
    view = comparison.view
    y = np.asarray(view.energy_bars.y)
    assert y.shape == (3, 2)
    assert list(y[:, 0]) == [300.0, 40.0, 0.0] and list(y[:, 1]) == [0.0, 25.0, 5.0]
    assert list(view.energy_bars.labels) == ["GPU 0", "CPU package 0", "DRAM 0"]
    assert view.energy_scale.max >= 340.0
    assert list(np.asarray(view.duration_bars.y)[0]) == [2.0, 3.0]
    energy_svg, duration_svg = figures(comparison.static_html())
    assert len(bars(energy_svg)) == 6 and len(bars(duration_svg)) == 2  # 3 domains × 2 reports; 2 durations
    assert {"gpu box", "laptop", "GPU 0", "CPU package 0", "DRAM 0", "energy (J)"} <= set(texts(energy_svg))
    table = comparison.table
    assert list(table["label"]) == ["gpu box", "laptop"]
    assert table.loc[1, "cpu:dram-0 J"] == 5.0 and np.isnan(table.loc[1, "gpu:0 J"])


def test_repeated_labels_get_distinct_bars():
    reports = [report("run", {"gpu:0": 1.0}), report("run", {"gpu:0": 2.0}), report("other", {"gpu:0": 3.0})]
    assert unique_labels(reports) == ["run", "run (2)", "other"]
    comparison = Comparison(reports)
    _ = comparison.widget  # builds the widget version
    assert list(comparison.view.energy_bars.x) == ["run", "run (2)", "other"]
    assert {"run", "run (2)", "other"} <= set(texts(figures(comparison.static_html())[0]))


def test_estimates_are_labelled():
    all_estimated = Comparison([report("a", {"cpu:estimated": 1.0}, kind="estimated")])
    _ = all_estimated.widget
    assert "ESTIMATED" in all_estimated.view.energy_figure.title
    assert any("ESTIMATED" in t for t in texts(figures(all_estimated.static_html())[0]))
    mixed = Comparison([report("a", {"gpu:0": 1.0}), report("b", {"cpu:estimated": 1.0}, kind="estimated")])
    _ = mixed.widget
    assert list(mixed.view.energy_bars.x) == ["a", "b *"]
    assert "estimated" in mixed.view.energy_figure.title
    assert "b *" in texts(figures(mixed.static_html())[0])


def test_zero_energy_and_single_report_draw():
    comparison = Comparison([report("noop", {"gpu:0": 0.0}, duration=0.0)])
    _ = comparison.widget  # builds the widget version
    assert comparison.view.energy_scale.max > 0 and comparison.view.duration_scale.max > 0
    assert all("nan" not in ET.tostring(svg, encoding="unicode") for svg in figures(comparison.static_html()))


def test_empty_then_updated_in_place():
    comparison = Comparison([])
    assert "no measurement yet" in comparison.static_html() and comparison.table.empty
    _ = comparison.widget  # builds the widget version
    view = comparison.view
    assert view.figures.layout.visibility == "hidden"  # laid out, not display:none (negative widths)
    comparison.add(report("first", {"gpu:0": 10.0}))
    assert view.figures.layout.visibility == "visible"
    assert list(view.energy_bars.x) == ["first"]
    comparison.add(report("second", {"gpu:0": 5.0, "cpu:package-0": 1.0}))
    assert np.asarray(view.energy_bars.y).shape == (2, 2)
    assert len(bars(figures(comparison.static_html())[0])) == 4


def test_notebook_output_is_static():
    """SVG images and the table, no widget mimetype: a notebook reopened without widget state
    (JupyterLab's default), trusted or not, still shows it. No widget is even created."""
    comparison = Comparison([report("a", {"gpu:0": 10.0}), report("b", {"gpu:0": 20.0})])
    bundle = comparison._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    html = bundle["text/html"]
    assert "<svg" not in html  # inline SVG is stripped from untrusted notebooks; images are not
    assert "<table" in html and "20.0 J" in html and "b" in bundle["text/plain"]
    energy_svg, duration_svg = figures(html)
    assert "Energy per measurement" in texts(energy_svg) and "Duration" in texts(duration_svg)
    assert len(bars(energy_svg)) == 2 and len(bars(duration_svg)) == 2
    assert "alt='Energy per measurement: a 10.0 J, b 20.0 J'" in html
    assert comparison.view is None


def test_display_then_update_in_place():
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.instance()
    comparison = Comparison([report("a", {"gpu:0": 10.0})])
    with capture_output() as captured:
        comparison._ipython_display_()
        comparison.add(report("b", {"gpu:0": 20.0}))
    first, final = captured.outputs
    assert WIDGET not in first.data and WIDGET not in final.data
    assert final.update and final.transient == first.transient  # same display_id, redrawn in place
    assert len(bars(figures(first.data["text/html"])[0])) == 1
    assert len(bars(figures(final.data["text/html"])[0])) == 2


def test_widget_on_request_with_static_fallback():
    comparison = Comparison([report("a", {"gpu:0": 10.0}), report("b", {"gpu:0": 20.0})])
    bundle = comparison.widget._repr_mimebundle_()
    assert WIDGET in bundle and bundle["text/html"] == comparison.static_html()
    box = comparison.widget
    assert box is comparison.widget  # built once
    comparison.close()
    assert comparison.view is None and box.comm is None
    assert comparison.widget is not box  # a fresh one after close


def test_compare_api_accepts_reports_and_ledger_labels():
    with lepton_lab.measure(label="short") as short:
        sum(range(10_000))
    with lepton_lab.measure(label="longer") as longer:
        sum(range(300_000))
    comparison = lepton_lab.compare(short.report, "longer")  # a report object, then a ledger label
    assert isinstance(comparison, Comparison)
    assert list(comparison.table["label"]) == ["short", "longer"]
    assert comparison.table.loc[1, "energy_j"] == pytest.approx(longer.report.energy_j)


def _rect_sizes(svg_text: str) -> list[float]:
    root = ET.fromstring(svg_text)
    return [float(r.get(k)) for r in root.iter("{http://www.w3.org/2000/svg}rect") for k in ("width", "height")]


def test_74_runs_are_numbered_readably_and_no_rect_is_negative():
    """Issue 18: lesson 07's sweep chart had 74 labels overlapping into a smear, and the browser
    rejected negative <rect> widths. Numbers 1..74, thinned so that none overlap, and the table's
    order; every rect of every chart has a width and a height of zero or more."""
    labels = [f"pair {i % 3 + 1}/3 · {i}% pruned · int8-dynamic · batch 64" for i in range(74)]
    comparison = Comparison([report(label, {"gpu:0": 1.0 + i % 5}) for i, label in enumerate(labels)])
    for svg in figures(comparison.static_html()):
        text = ET.tostring(svg, encoding="unicode")
        assert min(_rect_sizes(text)) >= 0
        under = [t.text or "" for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "middle"]
        ticks = [t for t in under if t.isdigit()]
        assert ticks[0] == "1" and len(ticks) <= 16
        assert any("measurements 1-74" in t for t in texts(svg))
    _ = comparison.widget
    assert list(comparison.view.energy_bars.x)[:3] == ["1", "2", "3"]
    ticks = list(comparison.view.energy_figure.axes[0].tick_values)
    assert ticks[0] == "1" and 2 <= len(ticks) <= 16
    comparison.close()
    # A few short labels stay labels.
    few = Comparison([report(name, {"gpu:0": 1.0}) for name in ("a", "b", "c")])
    assert {"a", "b", "c"} <= {t for svg in figures(few.static_html()) for t in texts(svg)}
