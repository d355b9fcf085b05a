"""The live views: LivePowerView with real ipywidgets/bqplot widgets (no front end: their comms
are inert here), SvgLiveView (an image redrawn in place), and which one a cell gets.

Samples are built by hand with a fake clock, so throttling and decimation are checked exactly;
the real-kernel and browser behaviour is in test_kernel_live.py and test_lab_browser.py.
After the cell the widgets hold the whole trace, then the display becomes a static figure
(text/html: an <img> of an SVG data URI + the summary; no widget mimetype) and the widgets are closed.
"""
from __future__ import annotations

import threading
import xml.etree.ElementTree as ET

import ipywidgets as widgets
import numpy as np
import pytest
from IPython.utils.capture import capture_output

from lepton_lab.report import DomainEnergy, EnergyReport
from lepton_lab.sampler import Sample
from lepton_lab.sensors.kinds import combined as combined_kind
from lepton_lab.widgets import interactive, scales, style, traces
from lepton_lab.widgets.live import LivePowerView
from lepton_lab.widgets.static import StaticFigure, report_figure
from lepton_lab.widgets.svg import FONT_FAMILY, svg_power_figure, svgs_in

DOMAINS = ["gpu:0", "cpu:package-0", "cpu:dram-0"]
WIDGET = "application/vnd.jupyter.widget-view+json"
SVG = "{http://www.w3.org/2000/svg}"


def figure_of(html: str) -> ET.Element:
    """The one SVG image of a static output, decoded from its data URI and parsed (it must be XML:
    an SVG image is not parsed as forgivingly as inline HTML)."""
    assert "<svg" not in html  # inline SVG: stripped by JupyterLab from untrusted notebooks
    (svg,) = svgs_in(html)
    assert html.count("<img ") == 1
    return ET.fromstring(svg)


def texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text")]


def polylines(svg: ET.Element) -> list[ET.Element]:
    return list(svg.iter(f"{SVG}polyline"))


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def make_report(n: int, watts: float = 50.0, domains=DOMAINS, kind="measured", dt=0.1) -> EnergyReport:
    t = [round((i + 1) * dt, 4) for i in range(n)]
    duration = t[-1] if t else 0.05
    return EnergyReport(
        label="test", status="ok", started_at="", duration_s=duration,
        domains={d: DomainEnergy(energy_j=watts * duration, mean_w=watts, peak_w=watts, method="x", kind=kind)
                 for d in domains},
        trace={"t_s": t, "power_w": {d: [watts] * n for d in domains}},
    )


def feed(view: LivePowerView, clock: FakeClock, n: int, watts=lambda i: 40.0, dt=0.1) -> None:
    for i in range(n):
        clock.now = (i + 1) * dt
        power = {d: watts(i) for d in view.domains}
        energy = {d: watts(i) * (i + 1) * dt for d in view.domains}
        view.on_sample(Sample(t_s=clock.now, power_w=power, energy_j=energy))


def assert_drawable(figure: interactive.PowerFigure) -> None:
    """Every scale has explicit, finite, non-degenerate bounds: bqplot never derives a NaN domain."""
    for scale in (figure.x, figure.watts, figure.joules):
        assert scale.min == 0 and np.isfinite(scale.max) and scale.max > scale.min


def test_updates_are_throttled_to_a_few_per_second():
    clock = FakeClock()
    view = LivePowerView(DOMAINS, clock=clock)
    feed(view, clock, 100)  # 10 s at 10 Hz
    assert 20 <= view.updates <= 50  # 2-5 Hz (2.5 Hz here: every 4th sample at 10 Hz)
    assert 96 <= len(view.figure.power.x) <= 100  # drawn up to the last push
    assert view.figure.power_of("gpu:0")[-1] == pytest.approx(40.0)
    assert view.errors == 0


def test_header_shows_watts_joules_and_elapsed_time():
    clock = FakeClock()
    view = LivePowerView(DOMAINS, clock=clock, period_s=0.0)  # push every sample
    feed(view, clock, 31)
    header = view.header.value
    assert "120 W" in header  # 3 domains × 40 W now
    assert "372 J" in header  # 3 × 40 W × 3.1 s so far
    assert "3.10 s" in header
    assert "GPU 0" in header and "CPU package 0" in header and "DRAM 0" in header


def test_constant_trace_draws_with_explicit_bounds():
    clock = FakeClock()
    view = LivePowerView(["gpu:0"], clock=clock)
    feed(view, clock, 20, watts=lambda i: 0.0)  # an idle GPU at exactly 0 W
    assert_drawable(view.figure)
    view.finish(make_report(20, watts=0.0, domains=["gpu:0"]))
    assert_drawable(view.figure)


def test_single_sample_and_zero_samples_draw():
    clock = FakeClock()
    single = LivePowerView(DOMAINS, clock=clock)
    feed(single, clock, 1)
    assert single.updates == 1 and len(single.figure.power.x) == 1
    single.finish(make_report(1))
    assert_drawable(single.figure)
    empty = LivePowerView(DOMAINS, clock=FakeClock())
    empty.finish(make_report(0))
    assert_drawable(empty.figure)
    assert len(empty.figure.power.x) == 0 and np.asarray(empty.figure.power.y).shape == (3, 0)
    # Too short to draw: the cell ends with its summary alone; report.plot() still draws it.
    for view in (single, empty):
        assert "<img" not in view.final_bundle["text/html"] and "lepton-report" in view.final_bundle["text/html"]
    assert any("no samples" in t for t in texts(figure_of(report_figure(make_report(0)).html)))


def test_long_cell_keeps_a_bounded_number_of_points():
    clock = FakeClock()
    # One push per 100 s of samples keeps the test quick; bounds hold whatever the push rate.
    view = LivePowerView(DOMAINS, clock=clock, max_points=2000, period_s=100.0)
    feed(view, clock, 100_000, watts=lambda i: 10.0 + (i % 7))  # ~2.8 h at 10 Hz
    assert len(view.buffer) <= 2001
    assert len(view.figure.power.x) <= 2001
    # averaging buckets keeps the mean power (hence the area, the energy) of the trace
    assert np.mean(view.figure.power_of("gpu:0")) == pytest.approx(13.0, rel=0.01)
    report = make_report(100_000, watts=12.0)
    view.finish(report)
    energy = view.figure.energy_drawn_j()
    assert len(view.figure.power.x) <= 2000
    assert energy[-1] == pytest.approx(report.energy_j)  # the final point is the counter's total


def test_final_figure_holds_the_whole_trace():
    view = LivePowerView(DOMAINS, clock=FakeClock())
    report = make_report(300)
    view.finish(report)
    assert len(view.figure.power.x) == 300 and view.figure.power.x[-1] == pytest.approx(30.0)
    assert np.asarray(view.figure.power.y).shape == (3, 300)
    assert view.figure.energy_drawn_j()[0] == 0 and view.figure.energy_drawn_j()[-1] == pytest.approx(report.energy_j)
    html = view.final_bundle["text/html"]
    assert "lepton-report" in html and "test" in html  # the figure, the summary under it
    solid = [p for p in polylines(figure_of(html)) if not p.get("stroke-dasharray")]
    assert len(solid) == 3 and all(len(p.get("points").split()) == 300 for p in solid)


def test_samples_after_finish_are_ignored_and_bad_samples_never_raise():
    clock = FakeClock()
    view = LivePowerView(DOMAINS, clock=clock)
    view.on_sample(object())  # not a Sample at all
    assert view.errors == 1
    view.finish(make_report(5))
    feed(view, clock, 10)
    assert len(view.figure.power.x) == 5


def test_missing_domain_keeps_its_last_value():
    buffer = traces.TraceBuffer(["a", "b"])
    buffer.add(0.1, {"a": 1.0, "b": 2.0}, 0.3)
    buffer.add(0.2, {"a": 1.0}, 0.6)
    _, power, _ = buffer.arrays()
    assert list(power["b"]) == [2.0, 2.0]


@pytest.mark.parametrize("kind", ["estimated", "replayed"])
def test_non_measurements_are_labelled(kind):
    clock = FakeClock()
    view = LivePowerView(["cpu:estimated"], kind=kind, note="no sensor readable", clock=clock)
    assert kind.upper() in view.figure.figure.title
    feed(view, clock, 3)
    assert kind.upper() in view.header.value and "not a measurement" in view.header.value
    view.finish(make_report(3, domains=["cpu:estimated"], kind=kind))
    assert kind.upper() in view.figure.figure.title
    assert f"test — {kind.upper()}" in texts(figure_of(view.final_bundle["text/html"]))


def test_kind_of_mixed_sensors():
    assert combined_kind({"measured"}) == "measured"
    assert combined_kind({"estimated"}) == "estimated"
    assert combined_kind({"measured", "estimated"}) == "partly estimated"


def test_for_measurement_uses_the_sensors_domains_and_kind():
    from lepton_lab.api import measure

    block = measure(label="live", save=False)
    with block:
        view = LivePowerView.for_measurement(block.measurement)
    assert view.domains == ["cpu:estimated"]  # no hardware here: the labelled estimate
    assert view.kind == "estimated" and view.note
    assert view.label == "live"


def test_display_then_finish_replaces_the_widget_with_the_static_figure():
    from IPython.core.interactiveshell import InteractiveShell

    InteractiveShell.instance()  # display() publishes through the current shell
    clock = FakeClock()
    view = LivePowerView(DOMAINS, clock=clock)
    with capture_output() as captured:
        view.display()
        feed(view, clock, 10)
        view.finish(make_report(10))
    first, final = captured.outputs[0], captured.outputs[-1]
    assert WIDGET in first.data
    assert final.update and final.transient == first.transient  # same display_id, updated in place
    # Static only: JupyterLab would prefer a widget mimetype and show "model not found" once the
    # notebook is reopened without widget state (Lab's default), instead of this HTML.
    assert set(final.data) == {"text/html", "text/plain"}
    html = final.data["text/html"]
    assert polylines(figure_of(html)) and "lepton-report" in html
    assert "<img src='data:image/svg+xml;base64," in html and "alt='test: power over 1.00 s" in html
    assert "test" in final.data["text/plain"]
    assert final.data == view.final_bundle


def test_static_figure_looks_like_the_live_one():
    view = LivePowerView(DOMAINS, labels={"gpu:0": "A100"}, kind="estimated", clock=FakeClock())
    view.finish(make_report(30, domains=DOMAINS, kind="estimated"))
    svg = figure_of(view.final_bundle["text/html"])
    title = next(t for t in svg.iter(f"{SVG}text") if t.text == "test — ESTIMATED")  # the live title, orange
    assert title.get("fill") == style.KIND_COLOUR
    assert {"time (s)", "power (W)", "energy so far (J)", "A100", "CPU package 0", "DRAM 0"} <= set(texts(svg))
    lines = polylines(svg)
    assert len(lines) == 4  # three domains and the cumulative energy
    assert {p.get("stroke") for p in lines} == {*style.domain_colours(DOMAINS).values(), style.ENERGY_COLOUR}
    # An SVG image cannot read Lab's CSS variables: it names a UI font stack itself, and a size.
    assert FONT_FAMILY in svg.get("style") and "var(" not in svg.get("style")
    assert svg.get("width") == "860" and svg.get("viewBox") == f"0 0 860 {svg.get('height')}"


def _all_widgets(view):
    reached, stack = [], [view.box]
    while stack:
        item = stack.pop()
        if isinstance(item, widgets.Widget) and item not in reached:
            reached.append(item)
            stack.extend(getattr(item, name) for name in item.keys)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return reached


def test_finish_closes_every_widget_after_setting_the_final_state():
    clock = FakeClock()
    view = LivePowerView(DOMAINS, clock=clock)
    feed(view, clock, 5)
    parts = _all_widgets(view)
    assert len(parts) > 15 and all(w.comm is not None for w in parts)  # figure, marks, axes, scales, layouts
    view.finish(make_report(40))
    assert view.closed and all(w.comm is None for w in parts)
    assert len(view.figure.power.x) == 40  # set before closing: the last state the front end got
    feed(view, clock, 10)  # late samples: ignored, nothing touches the closed widgets
    view.close()  # idempotent
    assert view.errors == 0 and len(view.figure.power.x) == 40


def test_finish_while_the_sampler_thread_pushes():
    view = LivePowerView(DOMAINS, period_s=0.0)  # push on every sample
    stop = threading.Event()

    def sampler():
        i = 0
        while not stop.is_set():
            i += 1
            view.on_sample(Sample(t_s=i * 0.01, power_w=dict.fromkeys(DOMAINS, 5.0),
                                  energy_j=dict.fromkeys(DOMAINS, 0.05 * i)))

    thread = threading.Thread(target=sampler)
    thread.start()
    try:
        while view.updates < 20:
            threading.Event().wait(0.001)
        view.finish(make_report(25))
        updates = view.updates
        threading.Event().wait(0.05)
    finally:
        stop.set()
        thread.join()
    assert view.updates == updates and view.errors == 0  # no push after finish
    assert len(view.figure.power.x) == 25 and view.closed


def test_report_figure_is_static_with_a_widget_on_request():
    figure = report_figure(make_report(50, kind="estimated"))
    bundle = figure._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}  # no widget: a reopened notebook still shows it
    svg = figure_of(bundle["text/html"])
    assert "test — ESTIMATED" in texts(svg) and "lepton-report" in bundle["text/html"]
    assert all(len(p.get("points").split()) == 50 for p in polylines(svg) if not p.get("stroke-dasharray"))
    box = figure.widget  # the bqplot version, for Voila apps
    assert box is figure.widget and WIDGET in box._repr_mimebundle_()
    assert box.fallback_html == bundle["text/html"] and len(box.power_figure.power.x) == 50


def test_report_plot_uses_report_figure():
    figure = make_report(5).plot()
    assert isinstance(figure, StaticFigure) and len(polylines(figure_of(figure.html))) == 4


def test_svg_of_empty_single_and_constant_traces():
    for n in (0, 1, 2):
        svg = svg_power_figure(np.arange(n) * 0.1, {"gpu:0": np.full(n, 3.0)}, np.arange(n) * 0.3)
        assert svg.startswith("<svg") and svg.endswith("</svg>") and "nan" not in svg
        ET.fromstring(svg)


def test_nice_ceiling():
    assert scales.nice_ceiling(0.0) == 1.0
    assert scales.nice_ceiling(7.0) == 8.0
    assert scales.nice_ceiling(26.4) == 30.0
    assert scales.nice_ceiling(110.0) == 150.0
    assert scales.nice_ceiling(float("nan")) == 1.0
    for maximum in (1.0, 1.5, 3.0, 8.0, 30.0, 150.0):  # every axis maximum lands on a tick
        ticks = scales.nice_ticks(maximum)
        assert ticks[0] == 0 and ticks[-1] == pytest.approx(maximum) and 3 <= len(ticks) <= 7


# -- the image view, and which view a cell gets ------------------------------------------------
def test_the_image_view_redraws_in_place_at_a_few_hertz_and_ends_as_the_widget_view_does():
    from lepton_lab.widgets.live import SvgLiveView

    clock = FakeClock()
    view = SvgLiveView(DOMAINS, clock=clock, kind="estimated", label="test")
    shown = []
    view.show = shown.append
    assert "waiting for the first sample" in view.bundle()["text/html"]
    feed(view, clock, 50)  # 5 s at 10 Hz
    assert len(shown) == view.updates and 11 <= view.updates <= 14  # ~2.5 Hz
    assert all(WIDGET not in b and set(b) == {"text/html", "text/plain"} for b in shown)
    latest = figure_of(shown[-1]["text/html"])
    assert "test — ESTIMATED" in texts(latest) and len(polylines(latest)) == 4
    report = make_report(50, kind="estimated")
    widget = LivePowerView(DOMAINS, clock=FakeClock(), kind="estimated", label="test")
    assert view.finish(report) == widget.finish(report)  # the same final figure whatever the live view
    assert shown[-1] == view.final_bundle and view.closed


def test_which_live_view(monkeypatch, capsys):
    from lepton_lab import live_start

    monkeypatch.setattr(live_start, "_found", {"ipywidgets": True, "bqplot": True, "google": False})
    monkeypatch.setattr(live_start, "_said_svg", False)
    for value, mode in (("", "widget"), ("auto", "widget"), ("svg", "svg"), ("widget", "widget"), ("off", "off")):
        monkeypatch.setenv(live_start.LIVE_ENV, value)
        assert live_start.live_mode() == mode
    monkeypatch.setenv(live_start.LIVE_ENV, "fancy")
    assert live_start.live_mode() == "widget"
    assert "LEPTON_LAB_LIVE='fancy' is not one of auto, widget, svg, off" in capsys.readouterr().err
    # Colab renders no third-party widget by default: the image, silently.
    monkeypatch.setenv(live_start.LIVE_ENV, "auto")
    colab = {"ipywidgets": True, "bqplot": True, "google": True, "google.colab": True}
    monkeypatch.setattr(live_start, "_found", colab)
    assert live_start.live_mode() == "svg" and capsys.readouterr().err == ""
    # No bqplot: the image, and one line (once) on how to get the interactive view.
    monkeypatch.setattr(live_start, "_found", {"ipywidgets": True, "bqplot": False, "google": False})
    assert live_start.live_mode() == live_start.live_mode() == "svg"
    monkeypatch.setenv(live_start.LIVE_ENV, "widget")
    assert live_start.live_mode() == "svg"
    assert capsys.readouterr().err.count("pip install 'lepton_lab[lab]'") == 1


def test_a_cell_that_clears_its_output_gets_the_image_live_view(monkeypatch):
    """Each clear re-shows the view as a new output: the front end would build a bqplot view per
    clear (JupyterLab logs 'reading addWidget' for each one disposed unrendered); the image costs
    next to nothing. Asked for by name, the widget stays the widget."""
    from types import SimpleNamespace

    from lepton_lab import live_start
    from lepton_lab.widgets.live import SvgLiveView

    measurement = SimpleNamespace(live_description=lambda: (DOMAINS, "estimated", "", ""),
                                  options=SimpleNamespace(label="loop"))
    monkeypatch.setattr(live_start._warm, "is_set", lambda: True)  # bqplot imported already
    samples = [Sample(t, dict.fromkeys(DOMAINS, 5.0), dict.fromkeys(DOMAINS, 5.0 * t)) for t in (0.1, 0.2, 0.35)]
    built = {}
    for env, clears in (("auto", 0), ("auto", 3), ("widget", 3)):
        monkeypatch.setenv(live_start.LIVE_ENV, env)
        shown = []
        slot = SimpleNamespace(clears=clears, show=shown.append)
        starter = live_start.LiveStarter(measurement, slot, "widget")
        for sample in samples:
            starter.on_sample(sample)
        built[env, clears] = type(starter.view)
        assert shown and starter.failed is None
        starter.close()
    assert built == {("auto", 0): LivePowerView, ("auto", 3): SvgLiveView, ("widget", 3): LivePowerView}
