"""Hand-written SVG figures (no matplotlib: a few polylines, bars and ticks, and a static figure
must not pull a plotting stack into the kernel), shown as ``<img src="data:image/svg+xml;base64,...">``.

Why an image and not inline ``<svg>``: JupyterLab sanitises the HTML outputs of untrusted
notebooks (one shared by a colleague, cloned from git) and strips inline SVG, leaving its text
jumbled; an ``<img>`` with a data URI survives, and so do nbconvert, Voila and GitHub. An SVG
image cannot read the page's CSS (no ``--jp-ui-font-family``): it names its fonts itself.
"""
from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence

import numpy as np

from . import scales, style
from .traces import from_origin

#: Close to JupyterLab's UI font stack (the live bqplot figure's), written into every SVG.
FONT_FAMILY = "system-ui, -apple-system, \"Segoe UI\", Roboto, \"Helvetica Neue\", Arial, sans-serif"
_TICK = "font-size='12' fill='#757575'"  # tick labels: grey, as bqplot draws them
_LABEL = "font-size='13' fill='#424242'"  # axis labels
_AXIS_COLOUR = "#9e9e9e"
_GRID_COLOUR = "#e0e0e0"
_W, _H = 860, 300
_MARGIN = {"top": 34, "bottom": 62, "left": 64, "right": 62}
#: The power figure's margins: as the live figure's (60 / 70 px beside the plot for ticks and labels).
_POWER_MARGIN = {"top": 36, "bottom": 62, "left": 70, "right": 76}
_DATA_URI = re.compile(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)")


def img_tag(svg: str, alt: str) -> str:
    """``svg`` as an ``<img>`` (base64 data URI) at its own size, shrinking to narrow outputs.

    ``alt``: what the figure says in a few words (title and totals), for screen readers and for
    front ends that show no images.
    """
    size = re.match(r"<svg [^>]*?width='(\d+)' height='(\d+)'", svg)
    width, height = size.groups() if size else (_W, _H)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (f"<img src='data:image/svg+xml;base64,{data}' alt='{html.escape(alt, True)}' width='{width}' "
            f"height='{height}' style='display:block;max-width:100%;height:auto'>")


def svgs_in(fragment: str) -> list[str]:
    """The SVG documents of every ``img_tag`` in an HTML fragment, decoded (for tests and tools)."""
    return [base64.b64decode(data).decode("utf-8") for data in _DATA_URI.findall(fragment)]


# -- text -----------------------------------------------------------------------------------------
def text_width(text: str, size: float = 12.0) -> float:
    """About how wide ``text`` is in a sans-serif font (for laying out legends; no font metrics here)."""
    narrow, wide = set("ijlrtf.,:;'!|()[] "), set("mwMW@%")
    em = sum(0.32 if c in narrow else 0.9 if c in wide else 0.7 if c.isupper() else 0.6 for c in text)
    return em * size


class _Frame:
    """Maps data to pixels inside the plot area of a ``width`` × ``height`` SVG."""

    def __init__(self, x_max: float, y_max: float, width: int = _W, height: int = _H,
                 margin: Mapping[str, int] = _MARGIN):
        self.x_max, self.y_max, self.width, self.height = x_max, y_max, width, height
        self.left, self.top = margin["left"], margin["top"]
        self.right = width - margin["right"]
        self.bottom = height - margin["bottom"]

    def px(self, x) -> np.ndarray:
        return self.left + np.asarray(x, dtype=float) / self.x_max * (self.right - self.left)

    def py(self, y, y_max: float | None = None) -> np.ndarray:
        top = y_max or self.y_max
        return self.bottom - np.asarray(y, dtype=float) / top * (self.bottom - self.top)


def _polyline(xs: np.ndarray, ys: np.ndarray, colour: str, width: float = 2.0, extra: str = "") -> str:
    if len(xs) == 0:
        return ""
    if len(xs) == 1:  # one sample: a dot, so a single reading is still visible
        return f"<circle cx='{xs[0]:.1f}' cy='{ys[0]:.1f}' r='3' fill='{colour}'/>"
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    return (f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='{width}' "
            f"stroke-linejoin='round' stroke-linecap='round' {extra}/>")


def _axes(frame: _Frame, x_label: str, y_label: str, y2_max: float | None = None, y2_label: str = "",
          x_ticks: bool = True, y2_colour: str = style.ENERGY_COLOUR) -> list[str]:
    """Axes drawn as bqplot draws them: dashed horizontal grid, a line per axis with 6 px outer
    ticks, small grey tick labels and the axis labels beside them (no frame around the plot)."""
    grid, parts = [], []
    left, right, top, bottom = frame.left, frame.right, frame.top, frame.bottom
    for value in scales.nice_ticks(frame.y_max):
        y = float(frame.py(value))
        if value > 0:
            grid.append(f"<line x1='{left}' x2='{right}' y1='{y:.1f}' y2='{y:.1f}' stroke='{_GRID_COLOUR}' "
                        "stroke-dasharray='5,5'/>")
        parts.append(f"<line x1='{left - 6}' x2='{left}' y1='{y:.1f}' y2='{y:.1f}' stroke='{_AXIS_COLOUR}'/>")
        parts.append(f"<text x='{left - 9}' y='{y + 4:.1f}' text-anchor='end' {_TICK}>"
                     f"{scales.format_tick(value)}</text>")
    for value in scales.nice_ticks(frame.x_max, 8) if x_ticks else []:
        x = float(frame.px(value))
        parts.append(f"<line x1='{x:.1f}' x2='{x:.1f}' y1='{bottom}' y2='{bottom + 6}' stroke='{_AXIS_COLOUR}'/>")
        parts.append(f"<text x='{x:.1f}' y='{bottom + 19}' text-anchor='middle' {_TICK}>"
                     f"{scales.format_tick(value)}</text>")
    parts.append(f"<line x1='{left}' x2='{left}' y1='{top}' y2='{bottom}' stroke='{_AXIS_COLOUR}'/>")
    parts.append(f"<line x1='{left}' x2='{right}' y1='{bottom}' y2='{bottom}' stroke='{_AXIS_COLOUR}'/>")
    if y2_max:
        for value in scales.nice_ticks(y2_max):
            y = float(frame.py(value, y2_max))
            parts.append(f"<line x1='{right}' x2='{right + 6}' y1='{y:.1f}' y2='{y:.1f}' stroke='{y2_colour}'/>")
            parts.append(f"<text x='{right + 9}' y='{y + 4:.1f}' font-size='12' fill='{y2_colour}'>"
                         f"{scales.format_tick(value)}</text>")
        parts.append(f"<line x1='{right}' x2='{right}' y1='{top}' y2='{bottom}' stroke='{y2_colour}'/>")
        parts.append(_vertical_label(frame.width - 14, frame, y2_label, colour=y2_colour))
    if x_label:
        parts.append(f"<text x='{(left + right) / 2:.0f}' y='{bottom + 36}' text-anchor='middle' {_LABEL}>"
                     f"{html.escape(x_label)}</text>")
    parts.append(_vertical_label(16, frame, y_label))
    return grid + parts


def _vertical_label(x: float, frame: _Frame, text: str, colour: str = "#424242") -> str:
    y = (frame.top + frame.bottom) / 2
    return (f"<text x='{x}' y='{y:.0f}' transform='rotate(-90 {x} {y:.0f})' text-anchor='middle' "
            f"font-size='13' fill='{colour}'>{html.escape(text)}</text>")


def _legend_rows(entries: Sequence[tuple[str, str, str]], x0: float, x_max: float) -> list[list[tuple]]:
    """Entries laid out left to right from ``x0``, wrapping before ``x_max``: rows of (x, entry)."""
    rows: list[list[tuple]] = [[]]
    x = x0
    for entry in entries:
        width = 26 + text_width(entry[0]) + 20
        if rows[-1] and x + width - 20 > x_max:
            rows.append([])
            x = x0
        rows[-1].append((x, entry))
        x += width
    return rows


def _legend(rows: Sequence[Sequence[tuple]], y0: float) -> list[str]:
    """Swatches and labels (``line``, ``dashed`` or ``box``), like the widget's legend row under
    the plot: an in-plot legend would hide data."""
    parts = []
    for i, row in enumerate(rows):
        y = y0 + 18 * i
        for x, (label, colour, swatch) in row:
            if swatch == "box":
                parts.append(f"<rect x='{x + 4:.1f}' y='{y - 9}' width='11' height='11' fill='{colour}'/>")
            else:
                dash = " stroke-dasharray='5,3'" if swatch == "dashed" else ""
                parts.append(f"<line x1='{x:.1f}' x2='{x + 20:.1f}' y1='{y - 4}' y2='{y - 4}' stroke='{colour}' "
                             f"stroke-width='2'{dash}/>")
            parts.append(f"<text x='{x + 26:.1f}' y='{y}' font-size='12' fill='#212121'>{html.escape(label)}</text>")
    return parts


def _svg(parts: Sequence[str], title: str, width: int = _W, height: int = _H, warn: bool = False) -> str:
    colour = style.KIND_COLOUR if warn else "#212121"
    weight = "600" if warn else "500"
    head = (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='{width}' "
            f"height='{height}' style='background:white;font-family:{FONT_FAMILY}'>"
            f"<title>{html.escape(title)}</title>")
    size = min(14.0, max(10.0, 14.0 * (width - 16) / max(1.0, text_width(title, 14.0) * 1.18)))  # bold: wider
    title_svg = (f"<text x='{width / 2:.0f}' y='22' text-anchor='middle' font-size='{size:.3g}' "
                 f"font-weight='{weight}' fill='{colour}'>{html.escape(title)}</text>")
    return head + title_svg + "".join(parts) + "</svg>"


def svg_power_figure(t, power: Mapping[str, np.ndarray], energy, *, title: str = "",
                     labels: Mapping[str, str] | None = None, warn: bool = False) -> str:
    """The live figure as SVG: watts per domain (left axis), cumulative joules (right).

    Axes are the live figure's (``scales.power_figure_axes``): the same data draws alike.
    """
    labels = labels or {}
    t = np.asarray(t, dtype=float)
    energy = np.asarray(energy, dtype=float)
    colours = style.domain_colours(list(power))
    peak = max((float(np.max(p)) for p in power.values() if len(p)), default=0.0)
    x_axis, w_axis, j_axis = scales.power_figure_axes(float(t[-1]) if len(t) else 0.0, peak,
                                                      float(np.max(energy)) if len(energy) else 0.0)
    entries = [(labels.get(d) or style.domain_label(d), colours[d], "line") for d in power]
    entries.append((f"energy so far ({j_axis.unit}, right axis)", style.ENERGY_COLOUR, "dashed"))
    rows = _legend_rows(entries, _POWER_MARGIN["left"], _W - 8)
    height = _H + 18 * (len(rows) - 1)
    frame = _Frame(x_axis.maximum, w_axis.maximum, _W, height,
                   {**_POWER_MARGIN, "bottom": _POWER_MARGIN["bottom"] + 18 * (len(rows) - 1)})
    parts = _axes(frame, x_axis.label("time"), w_axis.label("power"), j_axis.maximum, j_axis.label("energy so far"))
    t0, e0 = from_origin(t, energy)
    # The dashed energy line under the power lines, as in the live figure (its mark comes second
    # there, but the solid lines are what one reads first).
    parts.append(_polyline(frame.px(t0), frame.py(e0 / j_axis.factor, j_axis.maximum), style.ENERGY_COLOUR, 1.5,
                           "stroke-dasharray='6,4'"))
    for domain, watts in power.items():
        parts.append(_polyline(frame.px(t), frame.py(np.asarray(watts, dtype=float) / w_axis.factor),
                               colours[domain]))
    if not len(t):
        parts.append(f"<text x='{(frame.left + frame.right) / 2:.0f}' y='{(frame.top + frame.bottom) / 2:.0f}' "
                     f"text-anchor='middle' font-size='12' fill='#757575'>no samples: the run was shorter than "
                     "one sampling interval</text>")
    return _svg(parts + _legend(rows, frame.bottom + 56), title, _W, height, warn=warn)


def svg_bars(categories: Sequence[str], stacks: Sequence[tuple[str, str, Sequence[float]]], *,
             title: str, y_label: str, width: int = 420, height: int = _H,
             warn: bool = False, y_max: float | None = None) -> str:
    """Vertical bars, stacked: ``stacks`` is (legend label, colour, one value per category), in the
    unit ``y_label`` names (ticks are plain numbers of that unit).

    ``y_max`` fixes the top of the axis (100 for percentages), else it is a round number above the data.
    """
    n = max(1, len(categories))
    totals = [sum(max(0.0, values[i]) for _, _, values in stacks) for i in range(len(categories))]
    rows = _legend_rows([(label, colour, "box") for label, colour, _ in stacks], _MARGIN["left"], width - 8)
    extra = 18 * (len(rows) - 1) if len(stacks) > 1 else 0  # legend rows below the first: a taller SVG
    slot = max(0.0, width - _MARGIN["left"] - _MARGIN["right"]) / n
    shown, numbered = bar_labels(categories, slot)
    note = 16 if numbered else 0  # a line under the numbers says what they are
    height += extra + note
    top = max(totals, default=0.0) * 1.05
    # A round top above the data, however small; all-zero bars (a no-op cell) still get an axis.
    frame = _Frame(float(n), y_max or (scales.nice_ceiling(top, floor=1e-9) if top > 0 else 1.0), width, height,
                   {**_MARGIN, "bottom": _MARGIN["bottom"] + extra + note})
    parts = _axes(frame, "", y_label, x_ticks=False)
    for i in range(len(categories)):
        x, base = frame.left + slot * (i + 0.15), 0.0
        for _label, colour, values in stacks:
            # Clamped to the axis: a value past a fixed top (a share over 100 %) must not leave the plot.
            top = min(base + max(0.0, values[i]), frame.y_max)
            y0, y1 = float(frame.py(base)), float(frame.py(top))
            parts.append(f"<rect x='{x:.1f}' y='{y1:.1f}' width='{slot * 0.7:.1f}' height='{max(0.0, y0 - y1):.1f}' "
                         f"fill='{colour}'/>")
            base = top
    for i, label in enumerate(shown):
        if label:
            parts.append(f"<text x='{frame.left + slot * (i + 0.5):.1f}' y='{frame.bottom + 17}' "
                         f"text-anchor='middle' {_TICK}>{html.escape(label)}</text>")
    if numbered:
        parts.append(f"<text x='{(frame.left + frame.right) / 2:.0f}' y='{frame.bottom + 33}' text-anchor='middle' "
                     f"font-size='11' fill='#616161'>{html.escape(numbered)}</text>")
    if len(stacks) > 1:
        parts += _legend(rows, frame.bottom + 36 + note)
    return _svg(parts, title, width, height, warn)


#: A bar's label is kept (shortened) only if this many characters of it fit its slot.
MIN_LABEL_CHARS = 8
#: Strides between numbered labels: a round step, so that readers can count.
_STRIDES = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)


def bar_labels(categories: Sequence[str], slot_px: float) -> tuple[list[str], str]:
    """(the label under each bar, "" where none is drawn; an axis note, "" if none is needed).

    Labels that fit their slot (shortened, at least :data:`MIN_LABEL_CHARS` characters) are drawn;
    otherwise the bars are numbered 1..n in order, every k-th number drawn so that none overlap,
    and the note says the numbers follow the table's rows: 74 overlapping labels are a smear."""
    labels = [str(c) for c in categories]
    if slot_px * 0.95 >= max((min(text_width(c), text_width("x" * MIN_LABEL_CHARS + "…")) for c in labels),
                             default=0.0):
        return [_shorten(c, slot_px) for c in labels], ""
    widest = text_width(str(len(labels))) + 6
    stride = next((k for k in _STRIDES if k * max(slot_px, 1e-9) >= widest), len(labels))
    shown = [str(i + 1) if (i + 1) % stride == 0 or i == 0 else "" for i in range(len(labels))]
    return shown, f"measurements 1-{len(labels)}, in the order of the table's rows"


def _shorten(text: str, slot_px: float) -> str:
    """``text``, cut with an ellipsis to fit a bar's slot (12 px tick labels), at least 3 characters."""
    if text_width(text) <= slot_px * 0.95:
        return text
    cut = len(text)
    while cut > 3 and text_width(text[:cut] + "…") > slot_px * 0.95:
        cut -= 1
    return text[:cut].rstrip() + "…"


def svg_lines(series: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, title: str, x_label: str,
              y_label: str, colours: Sequence[str] | None = None, width: int = _W, height: int = _H,
              step: Sequence[str] = (), warn: bool = False) -> str:
    """Lines of (x, y) by label on one set of axes, from 0, with a legend under the plot.

    ``step``: labels drawn as steps (a reading holds until the next one), not straight lines."""
    palette = list(colours or ("#1565c0", "#ef6c00", "#2e7d32", "#8e24aa", "#6d4c41"))
    x_top = max((float(np.max(x)) for x, _ in series.values() if len(x)), default=0.0)
    y_top = max((float(np.max(y)) for _, y in series.values() if len(y)), default=0.0)
    entries = [(label, palette[i % len(palette)], "line") for i, label in enumerate(series)]
    rows = _legend_rows(entries, _MARGIN["left"], width - 8)
    height += 18 * len(rows)  # the x label, then the legend rows under it
    frame = _Frame(scales.nice_ceiling(x_top, floor=1e-9) if x_top > 0 else 1.0,
                   scales.nice_ceiling(y_top * 1.05, floor=1e-9) if y_top > 0 else 1.0, width, height,
                   {**_MARGIN, "bottom": _MARGIN["bottom"] + 18 * len(rows)})
    parts = _axes(frame, x_label, y_label)
    for (label, (x, y)), (_, colour, _) in zip(series.items(), entries):
        xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if label in step and len(xs) > 1:  # hold each reading until the next
            xs, ys = np.repeat(xs, 2)[1:], np.repeat(ys, 2)[:-1]
        parts.append(_polyline(frame.px(xs), frame.py(ys), colour, 1.6))
    return _svg(parts + _legend(rows, frame.bottom + 56), title, width, height, warn=warn)


def svg_scatter(groups: Mapping[str, tuple[Sequence[float], Sequence[float]]], *, title: str, x_label: str,
                y_label: str, line: tuple[Sequence[float], Sequence[float]] | None = None, line_label: str = "",
                colours: Sequence[str] | None = None, width: int = _W, height: int = 340, warn: bool = False) -> str:
    """Points by group (x from 0; y over its own range, e.g. an accuracy between 90 and 97 %), and
    an optional line through some of them (a Pareto frontier), with a legend under the plot."""
    palette = list(colours or ("#1565c0", "#9e9e9e", "#ef6c00", "#2e7d32"))
    xs_all = [float(x) for xs, _ in groups.values() for x in xs]
    ys_all = [float(y) for _, ys in groups.values() for y in ys]
    x_top = scales.nice_ceiling(max(xs_all, default=1.0) * 1.05, floor=1e-9)
    low, high = min(ys_all, default=0.0), max(ys_all, default=1.0)
    pad = max((high - low) * 0.1, abs(high) * 1e-3, 1e-9)
    span = scales.nice_ceiling(high - low + 2 * pad, floor=1e-9)
    ticks = scales.nice_ticks(span)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else span
    y_low = np.floor((low - pad) / step) * step
    entries = [(label, palette[i % len(palette)], "box") for i, label in enumerate(groups)]
    if line is not None:
        entries.append((line_label, style.ENERGY_COLOUR, "dashed"))
    rows = _legend_rows(entries, _MARGIN["left"], width - 8)
    height += 18 * len(rows)
    frame = _Frame(x_top, span, width, height, {**_MARGIN, "bottom": _MARGIN["bottom"] + 18 * len(rows)})
    parts = [p for p in _axes(frame, x_label, y_label) if "text-anchor='end'" not in p]  # y ticks: redrawn below
    for value in scales.nice_ticks(span):
        y = float(frame.py(value))
        parts.append(f"<text x='{frame.left - 9}' y='{y + 4:.1f}' text-anchor='end' {_TICK}>"
                     f"{scales.format_tick(float(y_low + value))}</text>")
    if line is not None and len(line[0]):
        order = np.argsort(np.asarray(line[0], dtype=float))
        lx, ly = np.asarray(line[0], dtype=float)[order], np.asarray(line[1], dtype=float)[order] - y_low
        parts.append(_polyline(frame.px(lx), frame.py(ly), style.ENERGY_COLOUR, 1.5, "stroke-dasharray='5,3'"))
    for (x, y), (_, colour, _) in zip(groups.values(), entries):
        for px, py in zip(frame.px(np.asarray(x, dtype=float)), frame.py(np.asarray(y, dtype=float) - y_low)):
            parts.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='4.5' fill='{colour}' fill-opacity='0.85'/>")
    return _svg(parts + _legend(rows, frame.bottom + 56), title, width, height, warn=warn)
