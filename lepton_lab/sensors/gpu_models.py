"""What each NVIDIA GPU's on-board power sensor does, and the ± it implies for an energy.

The on-board sensor is not a meter. Yang et al. (SC'24, "Accurate and Convenient Energy
Measurements for GPUs: A Detailed Study of NVIDIA GPU's Built-in Power Sensor", arXiv:2312.02741)
measured over 70 GPUs of 12 generations against an external meter and found per-generation
behaviour: how often the reading is refreshed, whether it is an instant value or a moving average
(over how long), what share of the runtime the reading actually samples (about 25 % on A100 and
H100), a lag of tens of ms at a load step, and calibration offsets of several percent.

:data:`TABLE` holds one row per family, matched on the name NVML reports; :func:`lookup` picks
the row (an unknown GPU gets :data:`DEFAULT`, conservative, with a note saying so).
:func:`estimate` turns a row, the energy sensed over a window and the powers read during it into
the ± a report prints, split into named terms so that the report can say which one dominates.

Where a number is not published, the row says so and the value is the conservative end of what
the recordings in ``shared/traces`` show (A100 SXM square wave and load step, RTX 3090 square
wave: see ``benchmarks/uncertainty.py`` and ``docs/uncertainty.md``).
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

SC24 = "Yang et al., SC'24 (arXiv:2312.02741)"
NVML_DOC = "NVIDIA NVML API reference (nvmlDeviceGetPowerUsage, nvmlDeviceGetTotalEnergyConsumption)"
SMI_DOC = "nvidia-smi manual (power.draw: 'accurate to within +/- 5 watts')"
RECORDED = "lepton_lab's SC'24 recordings (shared/traces, PROVENANCE.md)"

INSTANT = "instant"
USAGE = "usage"
FIELDS = (INSTANT, USAGE)

#: The power swing a workload can hide inside one update period, relative to the power seen.
#: A prior, not a fit: a load that alternates between idle and full power faster than the sensor
#: updates (the SC'24 square wave) swings by about its own mean.
SWING = 1.15
#: How long phase-locked (aliased) readings can persist: the beat between a periodic load and the
#: update period. The A100 square wave stays on one phase for about a second (RECORDED).
ALIAS_PERSISTENCE_S = 1.0
#: Share of an update period's swing left unresolved at a window's two edges together
#: (each edge falls uniformly within a period: mean |offset| a quarter period, combined in quadrature).
_EDGE_RESOLUTION = 0.35


@dataclass(frozen=True)
class SensorModel:
    """How one family of GPUs reports power (one row of :data:`TABLE`)."""

    family: str
    pattern: str
    """Regular expression matched (case-insensitive) against the name NVML reports."""
    update_period_s: float
    instant_window_s: float
    """The instant field averages over this long (SC'24: 25 ms of each 100 ms on A100/H100)."""
    usage_window_s: float
    """nvmlDeviceGetPowerUsage averages over this long (1 s on Ampere and newer, except GA100)."""
    lag_s: float
    """Delay from a load step to the first reading that shows it, on top of the update period."""
    offset_relative: float
    offset_w: float
    """Calibration class: the reading may be off by offset_relative × power + offset_w."""
    sources: tuple[str, ...]
    note: str = ""

    def window_s(self, field: str) -> float:
        return self.instant_window_s if field == INSTANT else self.usage_window_s

    def sampled_share(self, field: str) -> float:
        """Share of the runtime the field's readings cover (1: nothing between updates is missed)."""
        return min(1.0, self.window_s(field) / self.update_period_s)

    def matches(self, name: str) -> bool:
        return re.search(self.pattern, name, re.IGNORECASE) is not None


# NVIDIA's own accuracy statements: ±5 % of the power (NVML, Fermi/Kepler) and ±5 W (nvidia-smi),
# made for datacentre boards. The recordings show offsets of that size on an A100 (-5 % at load,
# -4.8 W at idle) and beyond it on a consumer board (RTX 3090: -5 % overall, -6.4 W at idle), and
# lepton_lab's issue 17 reports -26 % at idle on another GPU: boards without a datacentre
# calibration get twice the watts.
_OFFSET = {"offset_relative": 0.05, "offset_w": 5.0}
_LOOSE_OFFSET = {"offset_relative": 0.05, "offset_w": 10.0}

TABLE: tuple[SensorModel, ...] = (
    SensorModel("Hopper/Blackwell datacentre (H100, H200, GH200, B200)", r"\b(H100|H200|GH200|B100|B200|GB200)\b",
                0.1, 0.025, 1.0, 0.05, **_OFFSET,
                sources=(SC24 + ": 100 ms updates, 25 ms averaged, ~25 % of runtime sampled on H100",
                         NVML_DOC + ": nvmlDeviceGetPowerUsage is a 1 s average on Ampere and newer (GA100 "
                                    "excepted)", SMI_DOC),
                note="the instant field averages 25 ms of every 100 ms (loads faster than that can alias); "
                     "the usage field is a 1 s average"),
    SensorModel("Ampere GA100 (A100, A800, A30)", r"\b(A100|A800|A30)\b",
                0.1, 0.025, 0.025, 0.05, **_OFFSET,
                sources=(SC24 + ": ~25 % of runtime sampled on A100",
                         NVML_DOC + ": GA100 is the Ampere exception whose usage field is not a 1 s average",
                         RECORDED + ": updates every ~104 ms, first reading of a load step 45-73 ms after it"),
                note="the sensor averages 25 ms of every 100 ms: loads faster than that can alias"),
    SensorModel("Ampere/Ada/Blackwell other (GeForce RTX 30/40/50, A10, A40, L4, L40, RTX A/Ada)",
                r"(RTX\s*[345]0\d\d|RTX\s*A\d|RTX\s*\d+\s*Ada|\bA10G?\b|\bA16\b|\bA2\b|\bA40\b|\bA6000\b|\bL4\b|\bL40S?\b)",
                0.1, 0.1, 1.0, 0.05, **_LOOSE_OFFSET,
                sources=(NVML_DOC + ": nvmlDeviceGetPowerUsage is a 1 s moving average on Ampere and newer",
                         RECORDED + ": RTX 3090 instant field changes every ~100 ms and follows the mean of a "
                                    "50 ms square wave (averages its whole period); power.draw is a 1 s average"),
                note="the usage field is a 1 s moving average: the instant field is the one to integrate"),
    SensorModel("Volta/Turing (V100, Titan V, T4, GeForce RTX 20 and GTX 16, Quadro RTX)",
                r"(V100|TITAN V|\bT4\b|RTX\s*20\d\d|GTX\s*16\d\d|Quadro RTX|TITAN RTX)",
                0.1, 0.1, 0.1, 0.1, **_LOOSE_OFFSET,
                sources=(SC24 + ": update periods of 20-100 ms on these generations",
                         NVML_DOC + ": energy counter from Volta on"),
                note="window and lag not tabulated here: the conservative end (100 ms window, 100 ms lag) is used"),
)

DEFAULT = SensorModel("unknown GPU", r"$^", 0.1, 0.025, 1.0, 0.1, offset_relative=0.07, offset_w=10.0,
                      sources=(SC24 + ": across 70 GPUs, 20-100 ms updates, as little as 25 % sampled",),
                      note="not in lepton_lab's table of GPU sensors: the widest behaviour SC'24 reports is "
                           "assumed (25 % sampled, 1 s usage average, 100 ms lag, ±7 % + 10 W)")


def lookup(name: str) -> SensorModel:
    """The row for the GPU NVML names ``name`` (e.g. ``"NVIDIA A100-SXM4-40GB"``), else :data:`DEFAULT`."""
    for row in TABLE:
        if row.matches(name):
            return row
    return DEFAULT


def check_field(field: str) -> str:
    from ..errors import InvalidInput

    if field not in FIELDS:
        raise InvalidInput(f"unknown power field '{field}': use 'instant' (NVML's instant power, nvidia-smi "
                           "power.draw.instant) or 'usage' (nvmlDeviceGetPowerUsage, nvidia-smi power.draw)")
    return field


@dataclass
class Seen:
    """The powers read since a measurement began, as the ± needs them: first, lowest, highest, last."""

    powers_w: list[float] = dataclasses.field(default_factory=list)

    def add(self, watts: float | None) -> None:
        if watts is None:
            return
        if not self.powers_w:
            self.powers_w = [watts, watts, watts, watts]
        else:
            first, low, high, _ = self.powers_w
            self.powers_w = [first, min(low, watts), max(high, watts), watts]


@dataclass(frozen=True)
class Estimate:
    """The ± of one energy: its terms (J) and their total."""

    energy_j: float
    duration_s: float
    terms: dict[str, float]
    total_j: float

    @property
    def relative(self) -> float:
        return self.total_j / abs(self.energy_j) if self.energy_j else math.inf

    @property
    def dominant(self) -> str:
        return max(self.terms, key=lambda k: self.terms[k])

    def note(self, domain: str) -> str:
        """'gpu:0: ±12 %: mostly the sensor's lag at the edges of a 0.2 s window'."""
        share = f"{self.relative:.0%}" if math.isfinite(self.relative) else "—"
        return (f"{domain}: ±{share}: mostly {WORDS[self.dominant]} of a {_seconds(self.duration_s)} "
                "measurement")


WORDS = {
    "lag": "the sensor's lag and smoothing at the edges",
    "sampling": "partial sampling (the sensor reads only part of each update period, so loads can alias)",
    "resolution": "power changes inside one sensor update at the edges",
    "counter": "the energy counter's update steps at the edges",
    "offset": "the sensor's calibration offset",
    "meter": "the external meter's accuracy (assumed: not published)",
}


def _seconds(value: float) -> str:
    return f"{value:.2g} s" if value < 10 else f"{value:.0f} s"


def estimate(model: SensorModel, field: str, energy_j: float, duration_s: float,
             powers_w: Sequence[float], counter: bool = False) -> Estimate:
    """The ± of ``energy_j`` sensed over ``duration_s`` from readings ``powers_w`` of ``field``.

    - lag: the readings trail the load by up to lag + one update period + half the averaging
      window; what that misplaces at the edges is bounded by the power change the readings show
      (scaled up when the window is shorter than a moving average, which shows only part of it);
    - sampling: a field that averages only part of each update period can alias with the load;
      the unseen swing is bounded by the power seen (never by the energy sensed, which shrinks
      when the sensor under-reads) and by the swing the readings show once the window is long
      enough to see the beat;
    - resolution: a change inside the update period at each edge is invisible to any reading;
    - counter: the energy counter moves in steps of one update period at each edge;
    - offset: calibration, proportional to the energy plus a few watts, added linearly: it does
      not average out and dominates long runs.
    """
    duration = max(duration_s, 1e-9)
    powers = [p for p in powers_w if math.isfinite(p)] or [abs(energy_j) / duration]
    mean_w = abs(energy_j) / duration
    seen_w = max(mean_w, max(powers))
    spread_w = max(powers) - min(powers)
    window = model.window_s(field)
    period = model.update_period_s
    delay = model.lag_s + period + window  # a step shows in full only after a whole averaging window
    lag = delay * spread_w * max(1.0, window / duration)
    # Within the time an alias can persist, nothing in the readings rules it out: the prior swing
    # holds; over twice that, the readings have seen the beat and their own spread bounds it.
    beyond = min(1.0, max(0.0, duration / ALIAS_PERSISTENCE_S - 1.0))
    swing_w = max(spread_w, (1 - beyond) * SWING * seen_w)
    sampling = ((1 - model.sampled_share(field)) * swing_w * duration
                * min(1.0, math.sqrt(ALIAS_PERSISTENCE_S / duration)))
    resolution = _EDGE_RESOLUTION * SWING * seen_w * period
    terms = {"lag": lag, "sampling": sampling, "resolution": resolution}
    if counter:
        # each edge falls uniformly within a counter step, whose size is a whole update of the power
        # read then (as high as any seen): the difference of the two is triangular, 95 % within 0.78
        # of a step; 0.85 leaves room for updates that come late
        terms["counter"] = 0.85 * period * seen_w
    terms["offset"] = model.offset_relative * abs(energy_j) + model.offset_w * duration
    random = math.sqrt(sum(v * v for k, v in terms.items() if k != "offset"))
    return Estimate(energy_j, duration_s, terms, random + terms["offset"])
