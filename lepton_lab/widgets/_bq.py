"""Shared pieces of the power figures: domain names and colours, bounded traces, the bqplot figure.

Facts found by experiment (DESIGN.md §5) shape this module: a bqplot mark fed empty, single-point
or constant data can break its view for good when a scale derives its domain from the data, so
every scale here has an explicit min and max; animations are off so live updates never queue up.
"""
from __future__ import annotations

import html
import math
from contextlib import ExitStack, contextmanager
from typing import Iterable, Mapping, Sequence

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, Figure, LinearScale, Lines

#: Points per line kept for drawing: enough for a smooth trace, small enough to resend 4× a second.
MAX_POINTS = 2000
#: Colour per domain family; more domains of a family cycle through the family's shades.
_PALETTE = {
    "gpu": ["#2e7d32", "#66bb6a", "#1b5e20", "#a5d6a7"],
    "cpu": ["#1565c0", "#42a5f5", "#0d47a1", "#90caf9"],
    "dram": ["#8e24aa", "#ba68c8", "#6a1b9a", "#ce93d8"],
    "other": ["#ef6c00", "#ffa726", "#6d4c41", "#9e9e9e"],
}
ENERGY_COLOUR = "#424242"
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


#: Axis maxima grow through these steps (× 10^k): little wasted headroom, few redraw-jumps.
_FINE_STEPS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
#: Tick spacing uses the classic 1-2-2.5-5 steps, so every fine maximum lands on a tick.
_TICK_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def nice_ceiling(value: float, floor: float = 1.0, steps: Sequence[float] = _FINE_STEPS) -> float:
    """Smallest step × 10^k ≥ value (and ≥ floor): axes that grow in steps, not every update."""
    if not math.isfinite(value) or value <= floor:
        return floor
    exponent = math.floor(math.log10(value))
    for step in steps:
        candidate = step * 10 ** exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10 ** (exponent + 1)


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """0 and round multiples of a 1/2/2.5/5 step up to ``maximum`` (about ``count`` intervals)."""
    if not math.isfinite(maximum) or maximum <= 0:
        return [0.0]
    step = nice_ceiling(maximum / count, floor=0.0, steps=_TICK_STEPS)
    n = int(math.floor(maximum / step + 1e-9))
    return [round(i * step, 12) for i in range(n + 1)]


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


@contextmanager
def hold_all(items: Iterable[widgets.Widget]):
    """Batch trait changes: each widget sends one message for everything set inside the block."""
    with ExitStack() as stack:
        for item in items:
            stack.enter_context(item.hold_sync())
        yield


def close_widgets(roots: Iterable[widgets.Widget]) -> int:
    """Close ``roots`` and every widget they reach through synced traits (children, marks, axes,
    scales, layouts, styles...): ``Widget.close()`` closes one widget only. Returns how many."""
    seen: dict[int, widgets.Widget] = {}
    stack = list(roots)
    while stack:
        item = stack.pop()
        if isinstance(item, widgets.Widget):
            if id(item) in seen:
                continue
            seen[id(item)] = item
            stack.extend(getattr(item, name, None) for name in item.keys)
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    for item in seen.values():
        item.close()
    return len(seen)


class TraceBuffer:
    """A trace that never holds more than ``max_points`` points, whatever the cell's length.

    Samples are averaged in buckets of ``stride`` samples (power is averaged, so the area under the
    line, the energy, is kept; time and cumulative energy are those of the bucket's last sample).
    When the buffer is full, neighbouring points merge pairwise and the stride doubles.
    """

    def __init__(self, domains: Sequence[str], max_points: int = MAX_POINTS):
        self.domains = list(domains)
        self.max_points = max(8, int(max_points))
        self.stride = 1
        self.t: list[float] = []
        self.energy: list[float] = []
        self.power: dict[str, list[float]] = {d: [] for d in self.domains}
        self._last_w = {d: 0.0 for d in self.domains}
        self._bucket: dict[str, float] = {}
        self._count = 0
        self._bucket_t = self._bucket_e = 0.0

    def add(self, t_s: float, power_w: Mapping[str, float], energy_j: float) -> None:
        for domain in self.domains:
            watts = power_w.get(domain)
            if watts is not None and math.isfinite(watts):
                self._last_w[domain] = watts  # a domain missing from one sample keeps its last value
            self._bucket[domain] = self._bucket.get(domain, 0.0) + self._last_w[domain]
        self._count += 1
        self._bucket_t, self._bucket_e = t_s, energy_j
        if self._count >= self.stride:
            self._push_bucket()

    def _push_bucket(self) -> None:
        self.t.append(self._bucket_t)
        self.energy.append(self._bucket_e)
        for domain in self.domains:
            self.power[domain].append(self._bucket.get(domain, 0.0) / self._count)
        self._bucket, self._count = {}, 0
        if len(self.t) > self.max_points:
            self._halve()

    def _halve(self) -> None:
        # Keep an odd last point as it is: it is the most recent one, which the live header shows.
        self.t = self.t[1::2] + ([self.t[-1]] if len(self.t) % 2 else [])
        self.energy = self.energy[1::2] + ([self.energy[-1]] if len(self.energy) % 2 else [])
        for domain, values in self.power.items():
            pairs = [(a + b) / 2 for a, b in zip(values[0::2], values[1::2])]
            self.power[domain] = pairs + ([values[-1]] if len(values) % 2 else [])
        self.stride *= 2

    def __len__(self) -> int:
        return len(self.t) + (1 if self._count else 0)

    def arrays(self) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """Time, power per domain and cumulative energy, the unfinished bucket included."""
        t, energy = list(self.t), list(self.energy)
        power = {d: list(v) for d, v in self.power.items()}
        if self._count:
            t.append(self._bucket_t)
            energy.append(self._bucket_e)
            for domain in self.domains:
                power[domain].append(self._bucket.get(domain, 0.0) / self._count)
        return (np.asarray(t, dtype=float), {d: np.asarray(v, dtype=float) for d, v in power.items()},
                np.asarray(energy, dtype=float))


def decimate_trace(trace: Mapping, domains: Sequence[str], total_j: float | None,
                   max_points: int = MAX_POINTS):
    """A report's trace as (t, power per domain, cumulative energy), at most ``max_points`` long.

    The cumulative energy is integrated from the full trace (each sample's power over the interval
    that ends at it) before decimating, then scaled to the report's exact counter total.
    """
    t = np.asarray(trace.get("t_s") or [], dtype=float)
    watts = trace.get("power_w") or {}
    power = {d: _fit(np.asarray(watts.get(d) or [], dtype=float), len(t)) for d in domains}
    total_w = sum(power.values()) if power else np.zeros(len(t))
    steps = np.diff(np.concatenate(([0.0], t))) if len(t) else t
    energy = np.cumsum(total_w * np.clip(steps, 0, None))
    if total_j is not None and len(energy) and energy[-1] > 0 and total_j > 0:
        energy = energy * (total_j / energy[-1])
    stride = max(1, math.ceil(len(t) / max_points))
    if stride == 1:
        return t, power, energy
    last = np.arange(stride - 1, len(t) + stride - 1, stride).clip(max=len(t) - 1)
    return t[last], {d: _bucket_means(p, stride) for d, p in power.items()}, energy[last]


def from_origin(t: np.ndarray, energy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative energy starts at (0 s, 0 J), before the first sample."""
    if not len(t) or t[0] <= 0:
        return np.asarray(t, dtype=float), np.asarray(energy, dtype=float)
    return np.concatenate(([0.0], t)), np.concatenate(([0.0], energy))


def _fit(values: np.ndarray, length: int) -> np.ndarray:
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    if len(values) >= length:
        return values[:length]
    return np.concatenate((values, np.zeros(length - len(values))))


def _bucket_means(values: np.ndarray, stride: int) -> np.ndarray:
    sums = np.add.reduceat(values, np.arange(0, len(values), stride))
    counts = np.diff(np.append(np.arange(0, len(values), stride), len(values)))
    return sums / counts


class PowerFigure:
    """Watts per domain (solid, left axis) and cumulative joules (dashed, right axis) over time.

    All domains share one Lines mark (a row of ``y`` per domain): one message per update whatever
    the number of GPUs and CPU packages. ``widget`` is the figure with its legend row under it.
    """

    def __init__(self, domains: Sequence[str], labels: Mapping[str, str] | None = None, title: str = "",
                 height: str = "260px"):
        labels = labels or {}
        self.domains = list(domains)
        self.x = LinearScale(min=0.0, max=1.0)
        self.watts = LinearScale(min=0.0, max=1.0)
        self.joules = LinearScale(min=0.0, max=1.0)
        colours = domain_colours(self.domains)
        self.power = Lines(x=np.zeros(0), y=np.zeros((len(self.domains), 0)), stroke_width=2,
                           scales={"x": self.x, "y": self.watts}, colors=[colours[d] for d in self.domains],
                           labels=[labels.get(d) or domain_label(d) for d in self.domains])
        self.energy = Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": self.x, "y": self.joules},
                            colors=[ENERGY_COLOUR], line_style="dashed", stroke_width=1.5)
        self.axes = [
            Axis(scale=self.x, label="time (s)", tick_format="~g", grid_lines="none", tick_values=nice_ticks(1.0)),
            Axis(scale=self.watts, side="left", label="power (W)", tick_format="~s", grid_lines="dashed",
                 label_offset="42px", tick_values=nice_ticks(1.0)),
            Axis(scale=self.joules, side="right", label="energy so far (J)", tick_format="~s", grid_lines="none",
                 label_offset="48px", color=ENERGY_COLOUR, tick_values=nice_ticks(1.0)),
        ]
        # padding 0: bqplot would otherwise widen our explicit domains and pick odd ticks.
        self.figure = Figure(
            marks=[self.power, self.energy], axes=self.axes, animation_duration=0,
            padding_x=0.0, padding_y=0.0, fig_margin={"top": 30, "bottom": 40, "left": 60, "right": 70},
            layout=widgets.Layout(width="100%", height=height),
        )
        entries = [(labels.get(d) or domain_label(d), colours[d], "line") for d in self.domains]
        self.legend = widgets.HTML(legend_html([*entries, ("energy so far (J, right axis)", ENERGY_COLOUR,
                                                           "dashed")]))
        self.widget = widgets.VBox([self.figure, self.legend])
        self.set_title(title)

    def set_title(self, title: str, measured: bool = True) -> None:
        """The title; orange and bold when the numbers are not a measurement (estimated, replayed)."""
        warn = {"fill": KIND_COLOUR, "font-weight": "600"} if not measured else {}
        self.figure.title_style = {"font-size": "14px", **warn}
        self.figure.title = title

    def power_of(self, domain: str) -> np.ndarray:
        """The watts drawn for one domain (its row of the shared mark)."""
        return np.asarray(self.power.y)[self.domains.index(domain)]

    def set_data(self, t: np.ndarray, power: Mapping[str, np.ndarray], energy: np.ndarray) -> None:
        """Draw these arrays; scales get explicit, step-wise growing bounds (never min == max)."""
        peak_w = max((float(np.max(p)) for p in power.values() if len(p)), default=0.0)
        last_t = float(t[-1]) if len(t) else 0.0
        last_j = float(np.max(energy)) if len(energy) else 0.0
        bounds = (nice_ceiling(last_t), nice_ceiling(peak_w * 1.1), nice_ceiling(last_j * 1.05))
        scales = zip((self.x, self.watts, self.joules), self.axes, bounds)
        grown = [(scale, axis, top) for scale, axis, top in scales if scale.max != top]
        rows = np.vstack([power.get(d, np.zeros(len(t))) for d in self.domains] or [np.zeros(len(t))])
        # Hold only what changes: every held widget costs a state check at the end of the block.
        held = [self.power, self.energy, *(w for scale, axis, _ in grown for w in (scale, axis))]
        with hold_all(held):
            for scale, axis, top in grown:
                scale.max = top
                axis.tick_values = np.asarray(nice_ticks(top, 8 if scale is self.x else 5))
            self.power.x, self.power.y = t, rows[: len(self.domains)]
            self.energy.x, self.energy.y = from_origin(t, energy)


class FallbackBox(widgets.VBox):
    """A VBox whose display also carries ``text/html``: what a notebook shows without a live kernel.

    Front ends with the widget manager draw the widget; nbconvert/nbviewer/GitHub (no widget
    state saved) fall back to the static HTML, so an exported notebook still shows the figure.
    """

    fallback_html = ""
    fallback_text = ""

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs) or {}
        if self.fallback_html:
            data["text/html"] = self.fallback_html
        if self.fallback_text:
            data["text/plain"] = self.fallback_text
        return data
