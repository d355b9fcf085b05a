"""The look of the what-if apps: the page CSS, HTML cards and the bqplot chart helpers.

ipywidgets and bqplot are imported on first use (:func:`ipywidgets`, :func:`bqplot`), never at
import time.
"""
from __future__ import annotations

import html
import re

from ... import carbon
from ...errors import require
from ..scales import D3_TICK_FORMAT, axis_max, nice_ticks

WIDE = {"description_width": "150px"}

CSS = """<style>
.ll-panel {max-width: 1200px; margin: 0 auto; font-family: var(--jp-ui-font-family, sans-serif);}
.ll-columns {gap: 22px; align-items: flex-start; flex-wrap: wrap;}
.ll-controls {flex: 0 0 400px; background: #f6f8fa; border: 1px solid #e1e4e8; border-radius: 10px;
  padding: 6px 14px 14px 10px;}
.ll-results {flex: 1 1 520px; min-width: 0; gap: 10px;}
.ll-h {font-size: 12px; font-weight: 700; color: #57606a; text-transform: uppercase;
  letter-spacing: .06em; margin: 12px 0 2px 4px;}
.ll-cards {display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 10px;}
.ll-card {background: #fff; border: 1px solid #e1e4e8; border-radius: 10px; padding: 10px 14px;}
.ll-card.ll-main {border-color: #2da44e; box-shadow: inset 4px 0 0 #2da44e;}
.ll-label {font-size: 12px; color: #57606a;}
.ll-value {font-size: 23px; font-weight: 650; color: #1f2328; margin: 2px 0; overflow-wrap: anywhere;}
.ll-sub {font-size: 12px; color: #6e7781; line-height: 1.35;}
.ll-msg {background: #fff8c5; border: 1px solid #d4a72c; border-radius: 8px; padding: 8px 12px;
  font-size: 13px; color: #3b2300;}
.ll-badge {font-size: 12.5px; color: #0a3069; background: #ddf4ff; border-radius: 8px; padding: 6px 10px;}
.ll-note {font-size: 12px; color: #6e7781; margin: 0 0 0 4px; line-height: 1.4;}
.ll-assumptions {font-size: 13px; color: #424a53; border-top: 1px solid #e1e4e8; margin-top: 14px;
  padding-top: 6px; line-height: 1.5;}
.ll-assumptions li {margin: 2px 0;}
.ll-panel .widget-upload {width: 100%;}
.ll-panel .widget-dropdown select {min-width: 0;}
</style>"""


def ipywidgets():
    return require("ipywidgets", "lab", "the what-if apps")


def bqplot():
    return require("bqplot", "lab", "the what-if apps' charts")


def show(widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def emphasis(text: str) -> str:
    """Escape ``text`` and turn ``**bold**`` into <b>bold</b> (the models' ASSUMPTIONS use it)."""
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", esc(text))


def cards(items) -> str:
    """HTML cards from (key, label, value, sub) tuples; the first is highlighted."""
    parts = []
    for i, (key, label, value, sub) in enumerate(items):
        main = " ll-main" if i == 0 else ""
        parts.append(
            f'<div class="ll-card{main}"><div class="ll-label">{esc(label)}</div>'
            f'<div class="ll-value" data-key="{esc(key)}">{esc(value)}</div>'
            f'<div class="ll-sub">{esc(sub)}</div></div>')
    return f'<div class="ll-cards">{"".join(parts)}</div>'


def set_y(chart, mark, values, unit: str) -> float:
    """Explicit y range, ticks and unit for ``mark`` drawn with ``values``."""
    top = axis_max(values)
    mark.scales["y"].min, mark.scales["y"].max = 0.0, top
    chart.axes[1].tick_values = nice_ticks(top)
    chart.axes[1].label = unit
    return top


def figure(title: str, marks, x_scale, y_scale, x_label: str, y_label: str, x_format=None, height="300px"):
    bq, W = bqplot(), ipywidgets()
    axes = [bq.Axis(scale=x_scale, label=x_label, tick_format=x_format, grid_lines="none", label_offset="36px"),
            bq.Axis(scale=y_scale, label=y_label, orientation="vertical", tick_format=D3_TICK_FORMAT,
                    grid_lines="dashed", label_offset="50px")]
    return bq.Figure(marks=marks, axes=axes, title=title, animation_duration=0,
                     fig_margin={"top": 44, "bottom": 54, "left": 72, "right": 18},
                     title_style={"font-size": "15px", "font-weight": "600"},
                     layout=W.Layout(width="100%", height=height, min_width="420px"))


def region_options():
    """(label, code) pairs for a region dropdown, from the shipped intensity table."""
    return [(f"{r.name} · {r.g_per_kwh:.0f} g/kWh ({r.year})", r.region) for r in carbon.regions()]
