"""How the figures look: colours per domain, legend names, the warning colour, small HTML pieces.

Pure: no plotting library. The live bqplot figure and its static SVG take their colours and
names from here, so that the two look alike.
"""
from __future__ import annotations

import html
from collections.abc import Sequence

#: Colour per domain family; more domains of a family cycle through the family's shades.
_PALETTE = {
    "gpu": ["#2e7d32", "#66bb6a", "#1b5e20", "#a5d6a7"],
    "cpu": ["#1565c0", "#42a5f5", "#0d47a1", "#90caf9"],
    "dram": ["#8e24aa", "#ba68c8", "#6a1b9a", "#ce93d8"],
    "other": ["#ef6c00", "#ffa726", "#6d4c41", "#9e9e9e"],
}
ENERGY_COLOUR = "#424242"
DURATION_COLOUR = "#757575"
#: Titles and badges of numbers that are not a measurement (estimated, replayed).
KIND_COLOUR = "#e65100"


def domain_label(domain: str) -> str:
    """Short legend name: ``gpu:0`` → GPU 0, ``cpu:package-1`` → CPU package 1, ``cpu:dram-0`` → DRAM 0."""
    family, _, rest = domain.partition(":")
    if family == "gpu":
        return f"GPU {rest}"
    if rest.startswith("package-"):
        return f"CPU package {rest[len('package-'):]}"
    if rest.startswith("dram-"):
        return f"DRAM {rest[len('dram-'):]}"
    if rest == "estimated":
        return "CPU (estimated)"
    return domain


def domain_colours(domains: Sequence[str]) -> dict[str, str]:
    used: dict[str, int] = {}
    colours = {}
    for domain in domains:
        family = "gpu" if domain.startswith("gpu") else "dram" if "dram" in domain else (
            "cpu" if domain.startswith("cpu") else "other")
        index = used.get(family, 0)
        used[family] = index + 1
        shades = _PALETTE[family]
        colours[domain] = shades[index % len(shades)]
    return colours


def legend_html(entries: Sequence[tuple[str, str, str]], indent_px: int = 64) -> str:
    """A row of swatches (``line``, ``dashed`` or ``box``) and labels, drawn above a figure.

    HTML rather than bqplot's in-plot legend: that one overlaps the data and draws odd glyphs.
    """
    items = []
    for label, colour, style in entries:
        if style == "box":
            swatch = f"width:11px;height:11px;background:{colour}"
        else:
            swatch = f"width:20px;border-top:2px {'dashed' if style == 'dashed' else 'solid'} {colour}"
        items.append(f"<span style='display:inline-flex;align-items:center;gap:5px;margin-right:14px'>"
                     f"<span style='display:inline-block;{swatch}'></span>{html.escape(label)}</span>")
    return (f"<div style='font-family:var(--jp-ui-font-family,sans-serif);font-size:12px;line-height:1.4;"
            f"padding-left:{indent_px}px'>{''.join(items)}</div>")


def compact_html(fragment: str) -> str:
    """Widget HTML inherits a 28 px line height from ipywidgets; text blocks read better at 1.45."""
    return f"<div style='line-height:1.45'>{fragment}</div>"
