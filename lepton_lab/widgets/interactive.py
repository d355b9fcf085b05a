"""The interactive figures (bqplot and ipywidgets): the one module of the package that draws them.

- :class:`PowerFigure`: watts per domain and cumulative joules, live under a running cell.
- :class:`ComparisonWidget`: bar charts of several measurements (``Comparison.widget``).
- :func:`grouped_bars`: a lesson's bar chart over a sweep (``tradeoff_figure(...).widget``).
- :class:`FallbackBox`, :func:`hold_all`, :func:`close_widgets`: how they are shown and retired.

Everything they compute (bounds, ticks, units, colours, decimation) comes from the pure modules
(:mod:`.scales`, :mod:`.style`, :mod:`.traces`), which the static SVG figures share. Facts found by
experiment (DESIGN.md §5) shape this module: a bqplot mark fed empty, single-point or constant
data can break its view for good when a scale derives its domain from the data, so every scale
here has explicit bounds; animations are off so live updates never queue up.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack, contextmanager

import ipywidgets as widgets
import numpy as np
from bqplot import Axis, Bars, Figure, LinearScale, Lines, OrdinalScale, Tooltip

from . import scales, style
from .traces import from_origin


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


def widget_bundle(widget: widgets.Widget) -> dict:
    """The widget's display mimebundle, as ipywidgets 8 gives it and ipywidgets 7 displays it."""
    plaintext = repr(widget)
    data: dict = {"text/plain": plaintext[:110] + "…" if len(plaintext) > 110 else plaintext}
    if widget._view_name is not None:
        data["application/vnd.jupyter.widget-view+json"] = {
            "version_major": 2, "version_minor": 0, "model_id": widget.model_id}
    return data


class FallbackBox(widgets.VBox):
    """A VBox whose display also carries ``text/html``: what a notebook shows without a live kernel.

    Front ends with the widget manager draw the widget; nbconvert/nbviewer/GitHub (no widget
    state saved) fall back to the static HTML, so an exported notebook still shows the figure.
    """

    fallback_html = ""
    fallback_text = ""
    # ipywidgets 7 (Colab's 7.7.1) displays a widget itself in _ipython_display_, which drops the
    # display_id and metadata the live view needs to replace it by the static figure: IPython then
    # falls back to _repr_mimebundle_ (ipywidgets 8's own way), defined below for both.
    _ipython_display_ = None

    def _repr_mimebundle_(self, **kwargs):
        data = widget_bundle(self)
        if self.fallback_html:
            data["text/html"] = self.fallback_html
        if self.fallback_text:
            data["text/plain"] = self.fallback_text
        return data


class PowerFigure:
    """Watts per domain (solid, left axis) and cumulative joules (dashed, right axis) over time.

    All domains share one Lines mark (a row of ``y`` per domain): one message per update whatever
    the number of GPUs and CPU packages. ``widget`` is the figure with its legend row under it.
    Axis units follow the data (W or kW, J or kJ: :func:`.scales.power_figure_axes`), like the
    static SVG of the same trace.
    """

    def __init__(self, domains: Sequence[str], labels: Mapping[str, str] | None = None, title: str = "",
                 height: str = "260px"):
        labels = labels or {}
        self.domains = list(domains)
        self.x = LinearScale(min=0.0, max=1.0)
        self.watts = LinearScale(min=0.0, max=1.0)
        self.joules = LinearScale(min=0.0, max=1.0)
        colours = style.domain_colours(self.domains)
        self.power = Lines(x=np.zeros(0), y=np.zeros((len(self.domains), 0)), stroke_width=2,
                           scales={"x": self.x, "y": self.watts}, colors=[colours[d] for d in self.domains],
                           labels=[labels.get(d) or style.domain_label(d) for d in self.domains])
        self.energy = Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": self.x, "y": self.joules},
                            colors=[style.ENERGY_COLOUR], line_style="dashed", stroke_width=1.5)
        ticks = scales.nice_ticks(1.0)
        self.axes = [
            Axis(scale=self.x, label="time (s)", tick_format=scales.D3_TICK_FORMAT, grid_lines="none",
                 tick_values=ticks),
            Axis(scale=self.watts, side="left", label="power (W)", tick_format=scales.D3_TICK_FORMAT,
                 grid_lines="dashed", label_offset="42px", tick_values=ticks),
            Axis(scale=self.joules, side="right", label="energy so far (J)", tick_format=scales.D3_TICK_FORMAT,
                 grid_lines="none", label_offset="48px", color=style.ENERGY_COLOUR, tick_values=ticks),
        ]
        # padding 0: bqplot would otherwise widen our explicit domains and pick odd ticks.
        self.figure = Figure(
            marks=[self.power, self.energy], axes=self.axes, animation_duration=0,
            padding_x=0.0, padding_y=0.0, fig_margin={"top": 30, "bottom": 40, "left": 60, "right": 70},
            layout=widgets.Layout(width="100%", height=height),
        )
        self._entries = [(labels.get(d) or style.domain_label(d), colours[d], "line") for d in self.domains]
        self.legend = widgets.HTML(self._legend("J"))
        self._watts_factor = 1.0  # watts per unit of the power axis (1000 once it reads kW)
        self._joules_factor = 1.0
        self.widget = widgets.VBox([self.figure, self.legend])
        self.set_title(title)

    def _legend(self, energy_unit: str) -> str:
        return style.legend_html([*self._entries, (f"energy so far ({energy_unit}, right axis)",
                                                   style.ENERGY_COLOUR, "dashed")])

    def set_title(self, title: str, measured: bool = True) -> None:
        """The title; orange and bold when the numbers are not a measurement (estimated, replayed)."""
        warn = {"fill": style.KIND_COLOUR, "font-weight": "600"} if not measured else {}
        self.figure.title_style = {"font-size": "14px", **warn}
        self.figure.title = title

    def power_of(self, domain: str) -> np.ndarray:
        """The watts drawn for one domain (its row of the shared mark), in watts."""
        return np.asarray(self.power.y)[self.domains.index(domain)] * self._watts_factor

    def energy_drawn_j(self) -> np.ndarray:
        """The cumulative energy drawn, in joules (whatever unit its axis shows)."""
        return np.asarray(self.energy.y) * self._joules_factor

    def set_data(self, t: np.ndarray, power: Mapping[str, np.ndarray], energy: np.ndarray) -> None:
        """Draw these arrays; scales get explicit, step-wise growing bounds (never min == max)."""
        peak_w = max((float(np.max(p)) for p in power.values() if len(p)), default=0.0)
        last_t = float(t[-1]) if len(t) else 0.0
        last_j = float(np.max(energy)) if len(energy) else 0.0
        axes = scales.power_figure_axes(last_t, peak_w, last_j)
        names = ("time", "power", "energy so far")
        changed = [(scale, axis, shown, name) for scale, axis, shown, name in zip(
            (self.x, self.watts, self.joules), self.axes, axes, names)
            if scale.max != shown.maximum or axis.label != shown.label(name)]
        rows = np.vstack([power.get(d, np.zeros(len(t))) for d in self.domains] or [np.zeros(len(t))])
        self._watts_factor, self._joules_factor = axes[1].factor, axes[2].factor
        # Hold only what changes: every held widget costs a state check at the end of the block.
        held = [self.power, self.energy, *(w for scale, axis, _, _ in changed for w in (scale, axis))]
        with hold_all(held):
            for scale, axis, shown, name in changed:
                scale.max = shown.maximum
                axis.tick_values = np.asarray(scales.nice_ticks(shown.maximum, 8 if scale is self.x else 5))
                axis.label = shown.label(name)
            self.power.x, self.power.y = t, rows[: len(self.domains)] / axes[1].factor
            t0, e0 = from_origin(t, energy)
            self.energy.x, self.energy.y = t0, e0 / axes[2].factor
        legend = self._legend(axes[2].unit)
        if self.legend.value != legend:
            self.legend.value = legend


# -- comparisons -----------------------------------------------------------------------------------
def _bar_figure(y_label: str, title: str, flex: str):
    """A bar chart with explicit y bounds and ticks; returns (figure, bars, y scale, y axis)."""
    x, y = OrdinalScale(), LinearScale(min=0.0, max=1.0)
    bars = Bars(x=[], y=[], scales={"x": x, "y": y}, type="stacked", padding=0.3,
                tooltip=Tooltip(fields=["x", "y"], formats=["", ".4~g"], labels=["", y_label]))
    y_axis = Axis(scale=y, side="left", label=y_label, tick_format=scales.D3_TICK_FORMAT, grid_lines="dashed",
                  label_offset="42px", tick_values=scales.nice_ticks(1.0))
    figure = Figure(marks=[bars], axes=[Axis(scale=x, grid_lines="none"), y_axis], title=title,
                    animation_duration=0, padding_y=0.0,
                    fig_margin={"top": 36, "bottom": 36, "left": 60, "right": 16},
                    title_style={"font-size": "14px"},
                    layout=widgets.Layout(flex=flex, min_width="280px", height="280px"))
    return figure, bars, y, y_axis


class ComparisonWidget:
    """The bqplot version: two bar charts (tooltips), a legend row and the table."""

    def __init__(self, title: str):
        self.title = title
        self.energy_figure, self.energy_bars, self.energy_scale, self.energy_axis = _bar_figure(
            "energy (J)", title, "2 1 0")
        self.duration_figure, self.duration_bars, self.duration_scale, self.duration_axis = _bar_figure(
            "duration (s)", "Duration", "1 1 0")
        self.legend = widgets.HTML()
        self.figures = widgets.HBox([self.energy_figure, self.duration_figure],
                                    layout=widgets.Layout(width="100%", flex_flow="row wrap"))
        self.table_html = widgets.HTML()
        self.box = FallbackBox([self.figures, self.legend, self.table_html])

    def draw(self, data, table_html: str, bundle: dict[str, str]) -> None:
        """Draw ``data`` (a ``Comparison``'s: categories, domains, energy per domain and category in
        ``energy_unit``, durations in s, title, warn), or only the table when it is None."""
        self.box.fallback_html, self.box.fallback_text = bundle["text/html"], bundle["text/plain"]
        self.table_html.value = table_html
        if data is None:
            # Hidden, not display:none: a bqplot figure laid out at zero width draws its plot area
            # (and clip rects) at a negative width, which the browser rejects once per rect.
            self.figures.layout.visibility = "hidden"
            return
        colours = style.domain_colours(data.domains)
        labels = [style.domain_label(d) for d in data.domains]
        bars = [self.energy_bars, self.duration_bars]
        held = [self.energy_scale, self.duration_scale, self.energy_axis, self.duration_axis]
        with hold_all([*bars, *held, self.energy_figure]):
            # Explicit bounds: all-zero bars (a no-op cell) must still draw an axis, not NaN.
            self.energy_scale.max = scales.nice_ceiling(float(data.energy.sum(axis=0).max()) * 1.05, 1.0)
            self.duration_scale.max = scales.nice_ceiling(float(data.durations.max()) * 1.05, 0.1)
            self.energy_axis.tick_values = scales.nice_ticks(self.energy_scale.max)
            self.energy_axis.label = f"energy ({data.energy_unit})"
            self.duration_axis.tick_values = scales.nice_ticks(self.duration_scale.max)
            self.energy_bars.colors, self.energy_bars.labels = [colours[d] for d in data.domains], labels
            categories, ticks = _category_ticks(data.categories)
            self.energy_bars.x, self.energy_bars.y = categories, data.energy
            self.duration_bars.colors = [style.DURATION_COLOUR]
            self.duration_bars.x, self.duration_bars.y = categories, data.durations
            for figure in (self.energy_figure, self.duration_figure):
                figure.axes[0].tick_values = ticks
            self.energy_figure.title = data.title
            warn = {"fill": style.KIND_COLOUR, "font-weight": "600"} if data.warn else {}
            self.energy_figure.title_style = {"font-size": "14px", **warn}
        self.legend.value = style.legend_html([(label, colours[d], "box") for label, d in zip(labels, data.domains)])
        self.figures.layout.visibility = "visible"

    def close(self) -> None:
        close_widgets([self.box])


#: The narrowest width a comparison's bar chart gets (its min_width), for thinning its labels.
_BAR_FIGURE_PX = 280 - 76


def _category_ticks(categories: Sequence[str]) -> tuple[list[str], list[str] | None]:
    """(the bars' x values, the ticks drawn): the labels themselves where they fit the narrowest
    figure, else numbers 1..n with every k-th drawn, as the static chart does (``svg.bar_labels``)."""
    from .svg import bar_labels

    shown, numbered = bar_labels(categories, _BAR_FIGURE_PX / max(1, len(categories)))
    if not numbered:
        return list(categories), None
    numbers = [str(i + 1) for i in range(len(categories))]
    return numbers, [label for label in shown if label]


# -- lesson figures --------------------------------------------------------------------------------
def grouped_bars(categories: Sequence, series: Mapping[str, Sequence[float]], colours: Sequence[str], title: str,
                 y_label: str, y_max: float, tick_format: str = scales.D3_TICK_FORMAT) -> Figure:
    """Bars per category, one colour per series (a legend when there are several), explicit y range."""
    x_scale = OrdinalScale()
    y_scale = LinearScale(min=0.0, max=y_max)  # bqplot views break for good on data-derived domains
    bars = Bars(x=[str(c) for c in categories], y=list(series.values()), type="grouped",
                colors=list(colours[:len(series)]), labels=list(series), padding=0.2,
                display_legend=len(series) > 1, scales={"x": x_scale, "y": y_scale})
    axes = [Axis(scale=x_scale, grid_lines="none"),
            Axis(scale=y_scale, orientation="vertical", label=y_label, tick_format=tick_format,
                 grid_lines="dashed", label_offset="50px")]
    return Figure(marks=[bars], axes=axes, title=title, animation_duration=0,
                  fig_margin={"top": 40, "bottom": 40, "left": 70, "right": 16},
                  title_style={"font-size": "14px"}, legend_location="top-right",
                  layout=widgets.Layout(flex="1 1 0", min_width="300px", height="300px"))


def row(children: Sequence[widgets.Widget]) -> widgets.HBox:
    """Figures side by side, wrapping on narrow outputs."""
    return widgets.HBox(list(children), layout=widgets.Layout(width="100%", flex_flow="row wrap"))
