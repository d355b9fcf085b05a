"""Comparison (``lepton_lab.compare``) with real widgets; reports built by hand or measured here
(no hardware on this machine: the labelled CPU estimate)."""
from __future__ import annotations

import numpy as np
import pytest

import lepton_lab
from lepton_lab.report import DomainEnergy, EnergyReport
from lepton_lab.widgets.compare import Comparison, domains_of, unique_labels


def report(label: str, joules: dict, duration=2.0, kind="measured") -> EnergyReport:
    return EnergyReport(
        label=label, status="ok", started_at="", duration_s=duration,
        domains={d: DomainEnergy(energy_j=j, mean_w=j / duration if duration else 0.0, peak_w=None, method="x", kind=kind)
                 for d, j in joules.items()},
    )


def test_different_domain_sets_stack_with_zeros_for_missing_domains():
    gpu_box = report("gpu box", {"gpu:0": 300.0, "cpu:package-0": 40.0})
    laptop = report("laptop", {"cpu:package-0": 25.0, "cpu:dram-0": 5.0}, duration=3.0)
    comparison = Comparison([gpu_box, laptop])
    assert domains_of([gpu_box, laptop]) == ["gpu:0", "cpu:package-0", "cpu:dram-0"]
    y = np.asarray(comparison.energy_bars.y)
    assert y.shape == (3, 2)
    assert list(y[:, 0]) == [300.0, 40.0, 0.0] and list(y[:, 1]) == [0.0, 25.0, 5.0]
    assert list(comparison.energy_bars.labels) == ["GPU 0", "CPU package 0", "DRAM 0"]
    assert comparison.energy_scale.max >= 340.0
    assert list(np.asarray(comparison.duration_bars.y)[0]) == [2.0, 3.0]
    table = comparison.table
    assert list(table["label"]) == ["gpu box", "laptop"]
    assert table.loc[1, "cpu:dram-0 J"] == 5.0 and np.isnan(table.loc[1, "gpu:0 J"])


def test_repeated_labels_get_distinct_bars():
    reports = [report("run", {"gpu:0": 1.0}), report("run", {"gpu:0": 2.0}), report("other", {"gpu:0": 3.0})]
    assert unique_labels(reports) == ["run", "run (2)", "other"]
    assert list(Comparison(reports).energy_bars.x) == ["run", "run (2)", "other"]


def test_estimates_are_labelled():
    all_estimated = Comparison([report("a", {"cpu:estimated": 1.0}, kind="estimated")])
    assert "ESTIMATED" in all_estimated.energy_figure.title
    mixed = Comparison([report("a", {"gpu:0": 1.0}), report("b", {"cpu:estimated": 1.0}, kind="estimated")])
    assert list(mixed.energy_bars.x) == ["a", "b *"]
    assert "estimated" in mixed.energy_figure.title


def test_zero_energy_and_single_report_draw():
    comparison = Comparison([report("noop", {"gpu:0": 0.0}, duration=0.0)])
    assert comparison.energy_scale.max > 0 and comparison.duration_scale.max > 0


def test_empty_then_updated_in_place():
    comparison = Comparison([])
    assert comparison.figures.layout.display == "none" and comparison.table.empty
    comparison.add(report("first", {"gpu:0": 10.0}))
    assert comparison.figures.layout.display is None
    assert list(comparison.energy_bars.x) == ["first"]
    comparison.add(report("second", {"gpu:0": 5.0, "cpu:package-0": 1.0}))
    assert np.asarray(comparison.energy_bars.y).shape == (2, 2)


def test_display_has_widget_and_static_fallback():
    comparison = Comparison([report("a", {"gpu:0": 10.0}), report("b", {"gpu:0": 20.0})])
    bundle = comparison.widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    html = bundle["text/html"]
    assert html.count("<svg") == 2 and "<table" in html and "20.0 J" in html


def test_compare_api_accepts_reports_and_ledger_labels():
    with lepton_lab.measure(label="short") as short:
        sum(range(10_000))
    with lepton_lab.measure(label="longer") as longer:
        sum(range(300_000))
    comparison = lepton_lab.compare(short.report, "longer")  # a report object, then a ledger label
    assert isinstance(comparison, Comparison)
    assert list(comparison.table["label"]) == ["short", "longer"]
    assert comparison.table.loc[1, "energy_j"] == pytest.approx(longer.report.energy_j)
