"""The what-if panels as Python objects: numbers equal the models, forged widget values are clamped
with a visible message, and a measured report (ledger or uploaded file) drives the inputs.

Widgets here are real ipywidgets/bqplot objects without a front end; "forged" values are applied
the way a browser's comm message is (``set_state`` / ``_handle_msg``), bypassing min/max.
"""
from __future__ import annotations

import json
import math
import re

import pytest

from lepton_lab import units
from lepton_lab.carbon import lookup
from lepton_lab.ledger import Ledger
from lepton_lab.report import DomainEnergy, EnergyReport
from lepton_lab.whatif import datacenter, lifecycle, profiles, scheduling

panels = pytest.importorskip("lepton_lab.widgets.panels")
PANELS = [panels.DatacenterPanel, panels.LifecyclePanel, panels.CarbonAwarePanel]


def numbers(panel) -> dict[str, str]:
    import html

    return {k: html.unescape(v) for k, v in re.findall(r'data-key="(\w+)">([^<]*)<', panel.numbers.value)}


def message(panel) -> str:
    import html

    return html.unescape(re.sub(r"<[^>]+>", " ", panel.message.value))


def browser_update(widget, **state) -> None:
    """Apply ``state`` exactly as a comm 'update' message from the browser is applied."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
                        "buffers": []})


def sample_report(energy=600.0, duration=2.0, label="gpu batch") -> EnergyReport:
    return EnergyReport(label=label, status="ok", started_at="2026-11-23T10:00:00+00:00", duration_s=duration,
                        domains={"gpu:0": DomainEnergy(energy_j=energy, mean_w=energy / duration, peak_w=None,
                                                       method="nvml-counter")})


def upload(panel, content: bytes, name="report.json") -> None:
    """Upload ``content`` the way the browser does: a comm update with the file in a binary buffer."""
    state = {"value": [{"name": name, "type": "application/json", "size": len(content), "last_modified": 0}]}
    panel.picker.upload._handle_msg({"content": {"data": {"method": "update", "state": state,
                                                          "buffer_paths": [["value", 0, "content"]]}},
                                     "buffers": [memoryview(content)]})


# -- defaults: the page shows what the model computes -----------------------------------------

def test_datacenter_defaults_match_the_model():
    panel = panels.DatacenterPanel()
    d = panel.DEFAULTS
    expected = datacenter.facility(d["power_w"] * d["machines"], d["hours"], datacenter.PUE_INDUSTRY_AVERAGE,
                                   lookup(d["region"]).g_per_kwh, 0.0)
    shown = numbers(panel)
    assert shown["facility"] == units.format_wh(expected.facility_energy_j)
    assert shown["co2e"] == f"{units.format_mass_g(expected.co2e_g)} CO2e" and shown["pue"] == "1.58"
    assert list(panel.bars.y) == pytest.approx([j / 3.6e9 for j in expected.breakdown_j.values()])  # MWh
    assert panel.chart.axes[1].label == "MWh" and message(panel).strip() == ""


def test_lifecycle_defaults_match_the_model():
    panel = panels.LifecyclePanel()
    d = panel.DEFAULTS
    r = lifecycle.lifetime(units.kwh_to_j(d["training_kwh"]), d["per_inference_j"], d["per_day"] * d["days"],
                           units.kwh_to_j(d["optimisation_kwh"]), d["per_inference_j"] * d["optimised_pct"] / 100)
    shown = numbers(panel)
    assert shown["lifetime"] == f"{units.format_wh(r.baseline_j)} → {units.format_wh(r.optimised_j)}"
    assert shown["break_even"] == units.format_count(r.break_even) and shown["saving"] == units.format_wh(r.saving_j)
    assert panel.marker.visible and panel.marker.x[0] == pytest.approx(r.break_even / d["per_day"])
    assert panel.lines.y[0][-1] == pytest.approx(units.j_to_kwh(r.baseline_j))


def test_carbon_aware_defaults_match_the_model():
    panel = panels.CarbonAwarePanel()
    d = panel.DEFAULTS
    p = scheduling.plan(profiles.profile(d["shape"], lookup(d["region"]).g_per_kwh), d["duration_h"], d["power_w"],
                        d["now_h"], d["max_delay_h"])
    shown = numbers(panel)
    assert shown["saving"] == f"{units.format_mass_g(p.saving_g)} CO2e"
    assert shown["best"].startswith(f"+{p.best_offset_h:.0f} h")
    assert list(panel.bars.y) == pytest.approx([g / 1000 for g in p.emissions_g])  # kg
    assert panel.bars.colors[p.best_index] == "#1f883d" and panel.bars.colors[0] == "#bc4c00"
    assert "synthetic" in panel.profile_chart.title


# -- forged values ------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", PANELS)
def test_every_forged_slider_value_is_clamped_with_a_visible_message(cls):
    panel = cls()
    for key, (widget, bound, limits) in panel._inputs.items():
        too_big = bound.hi * 1000 + 1000
        state = {"value": too_big}
        if "max" in limits:  # a browser can raise the limit in the same message
            state["max"] = math.log10(too_big) + 1 if "base" in limits else too_big
        browser_update(widget, **state)
        assert widget.value == pytest.approx(bound.hi), key
        if "max" in limits:
            assert widget.max == limits["max"], key
        assert f"{bound.label} " in message(panel) and "outside" in message(panel), key
        widget.value = limits.get("min", bound.lo) if "base" not in limits else bound.lo  # back in range


def test_forged_pue_is_not_used_by_the_model():
    panel = panels.DatacenterPanel()
    panel.widget_of("pue_mode").value = "custom"
    browser_update(panel.widget_of("pue"), max=1e9, value=1e9)
    assert panel.result.pue == 3.0 and "PUE 1e+09 is outside 1 to 3; using 3" in message(panel)
    assert numbers(panel)["pue"] == "3.00"


def test_nan_from_the_browser_falls_back_to_the_minimum():
    panel = panels.CarbonAwarePanel()
    browser_update(panel.widget_of("duration_h"), value=math.nan)
    assert panel.widget_of("duration_h").value == 0.25 and panel.result.duration_h == 0.25
    assert "finite" in message(panel)


def test_forged_dropdown_index_is_refused_and_state_kept():
    panel = panels.DatacenterPanel()
    before = numbers(panel)
    browser_update(panel.widget_of("pue_mode"), index=99)  # ipywidgets refuses it (and logs)
    assert panel.widget_of("pue_mode").value == "average" and numbers(panel) == before


def test_a_clean_change_clears_the_message():
    panel = panels.DatacenterPanel()
    browser_update(panel.widget_of("renewable"), max=1e6, value=1e6)
    assert "Renewable share" in message(panel)
    panel.widget_of("renewable").value = 50
    assert message(panel).strip() == "" and numbers(panel)["co2e"].endswith("CO2e")


# -- controls move the numbers ---------------------------------------------------------------------

def test_full_renewables_and_cooling_model():
    panel = panels.DatacenterPanel()
    panel.widget_of("renewable").value = 100
    assert numbers(panel)["co2e"] == "0 g CO2e"
    panel.widget_of("pue_mode").value = "cooling"
    assert panel.result.pue == pytest.approx(datacenter.CoolingModel().pue)
    assert list(panel.bars.x) == ["IT", "Cooling", "Power losses", "Lighting & other"]
    assert panel.widget_of("cop").layout.display is None and panel.widget_of("pue").layout.display == "none"


def test_zero_load_keeps_the_chart_drawable():
    panel = panels.DatacenterPanel()
    panel.widget_of("hours").value = 0
    assert numbers(panel)["facility"] == "0 Wh" and list(panel.bars.y) == [0.0, 0.0]
    assert panel.bars.scales["y"].max == 1.0 and panel.chart.axes[1].tick_values is not None


def test_lifecycle_never_breaks_even_when_optimised_costs_more():
    panel = panels.LifecyclePanel()
    panel.widget_of("optimised_pct").value = 120
    assert numbers(panel)["break_even"] == "never" and not panel.marker.visible


def test_carbon_aware_job_longer_than_a_day():
    panel = panels.CarbonAwarePanel()
    panel.widget_of("duration_h").value = 60
    assert panel.result.duration_h == 60 and max(panel.profile_line.x) == 24 + 60


# -- starting from a measured report ---------------------------------------------------------------

def test_ledger_entry_sets_the_power():
    row = Ledger().save(sample_report())
    panel = panels.DatacenterPanel()
    assert row in [value for _, value in panel.picker.dropdown.options]
    panel.picker.dropdown.value = row
    assert panel.widget_of("power_w").value == pytest.approx(300.0)
    assert f"the ledger: #{row} gpu batch" in panel.badge.value


def test_forged_ledger_id_is_refused():
    panel = panels.CarbonAwarePanel()
    panel.picker._picked({"new": 12345})
    assert "not in the list" in panel.picker.status.value and panel.report is None


def test_uploaded_report_sets_power_and_bad_file_says_why():
    panel = panels.CarbonAwarePanel()
    upload(panel, json.dumps(sample_report(energy=50.0, duration=1.0).to_dict()).encode())
    assert panel.widget_of("power_w").value == pytest.approx(50.0) and "report.json" in panel.badge.value
    upload(panel, b"<html>hello</html>", name="notes.html")
    assert "not a lepton_lab report" in panel.picker.status.value and "notes.html" in panel.picker.status.value
    assert panel.widget_of("power_w").value == pytest.approx(50.0) and panel.picker.upload.value == ()


def test_forged_upload_structure_is_refused():
    panel = panels.DatacenterPanel()
    panel.picker._uploaded({"new": [{"no": "content"}]})
    assert "could not be read" in panel.picker.status.value


def test_report_too_big_for_the_slider_is_clamped_and_said():
    panel = panels.DatacenterPanel()
    upload(panel, json.dumps(sample_report(energy=1e9, duration=1.0).to_dict()).encode())
    assert panel.widget_of("power_w").value == pytest.approx(1e5) and "outside" in message(panel)


@pytest.mark.parametrize("role, key, expected", [
    ("baseline", "per_inference_j", 600.0 / 30), ("training", "training_kwh", 600.0 / 3.6e6),
    ("optimisation", "optimisation_kwh", 600.0 / 3.6e6), ("optimised", "optimised_pct", 600.0 / 30 / 2.0 * 100),
])
def test_lifecycle_report_roles(role, key, expected):
    panel = panels.LifecyclePanel()
    panel.widget_of("role").value = role
    panel.widget_of("items").value = 30
    if role == "optimised":
        panel.widget_of("per_inference_j").value = 2.0  # baseline 2 J, measured 20 J: 1000 %, clamped to 200
        expected = 200.0
    upload(panel, json.dumps(sample_report().to_dict()).encode())
    assert panel.widget_of(key).value == pytest.approx(expected, rel=1e-6)


def test_changing_the_role_reapplies_the_report():
    panel = panels.LifecyclePanel()
    upload(panel, json.dumps(sample_report().to_dict()).encode())
    assert panel.widget_of("per_inference_j").value == pytest.approx(600.0)
    panel.widget_of("items").value = 100
    assert panel.widget_of("per_inference_j").value == pytest.approx(6.0)


def test_ledger_can_be_hidden_from_visitors(monkeypatch):
    Ledger().save(sample_report())
    monkeypatch.setenv("LEPTON_LAB_APPS_LEDGER", "off")
    panel = panels.DatacenterPanel()
    assert not panel.picker.shows_ledger and panel.picker.dropdown.options == (("(hidden)", 0),)
    panel.picker._picked({"new": 1})  # even a forged pick opens nothing
    assert panel.report is None
