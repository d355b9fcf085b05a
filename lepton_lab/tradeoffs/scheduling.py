"""How and when to run: batch size, threads, power caps, clocks, and the hour of the day.

- **batch size**: bigger batches amortise per-call overhead, so energy *per sample* usually falls
  steeply and then flattens (until memory or latency limits bite).
- **threads** (CPU): more cores finish sooner but draw more power; whether joules fall depends on
  how well the work scales.
- **power caps / locked clocks** (GPU, needs root): a lower cap often costs little speed and saves
  a larger share of energy, because power rises faster than clock speed.
- **carbon-aware timing**: the same measured joules emit different grams at different hours.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import InvalidInput
from ..sensors.gpu_control import ControlUnavailable, GpuControl
from .runs import Setting, frame, measure_settings
from .workloads import inference_pool, torch_module

DEFAULT_BATCH_SIZES = {"cpu": (1, 4, 16, 64, 256, 1024), "cuda": (1, 16, 256, 4096, 16384)}
DEFAULT_CAP_FRACTIONS = (1.0, 0.8, 0.6, 0.45)
MEASURED_COLUMNS = ["energy_j", "duration_s", "mean_w", "uj_per_sample", "samples_per_s", "latency_ms", "spread",
                    "kind"]


def batch_size_sweep(model, data, batch_sizes=None, target_s: float | None = None, rounds: int | None = None,
                     show: bool | None = None, **measure_options):
    """One measured row per batch size: energy per sample, throughput, latency per batch."""
    sizes = tuple(int(b) for b in (batch_sizes or DEFAULT_BATCH_SIZES[data.device]))
    if not sizes or min(sizes) < 1:
        raise InvalidInput(f"batch sizes must be positive whole numbers, got {sizes!r}")
    pool = inference_pool(data, max(4096, max(sizes)))
    settings = [Setting(f"batch {b}", {"batch_size": b}, model, pool, b) for b in sizes]
    rows = measure_settings("Batch size: inference energy", settings, target_s, rounds, show, **measure_options)
    return frame(rows, ["batch_size"] + MEASURED_COLUMNS)


def default_thread_counts() -> tuple[int, ...]:
    """1, 2, 4, ... up to (and including) the CPUs this process may use."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    counts, n = [], 1
    while n < available:
        counts.append(n)
        n *= 2
    return tuple(counts + [available])


@contextmanager
def torch_threads(count: int) -> Iterator[int]:
    """``torch.set_num_threads(count)`` inside the block; the previous count afterwards."""
    torch = torch_module()
    before = torch.get_num_threads()
    torch.set_num_threads(int(count))
    try:
        yield int(count)
    finally:
        torch.set_num_threads(before)  # process-wide: never leave the user's kernel changed


def thread_sweep(model, data, threads=None, batch_size: int = 64, target_s: float | None = None,
                 rounds: int | None = None, show: bool | None = None, **measure_options):
    """CPU only: one measured row per ``torch.set_num_threads`` value (restored after each run)."""
    if data.device != "cpu":
        raise InvalidInput("the thread sweep is for CPU workloads: on a GPU use power_cap_sweep or clock_sweep")
    counts = tuple(int(n) for n in (threads or default_thread_counts()))
    pool = inference_pool(data, max(4096, batch_size))
    settings = [Setting(f"{n} thread(s)", {"threads": n}, model, pool, batch_size,
                        context=functools.partial(torch_threads, n)) for n in counts]
    rows = measure_settings("Threads: inference energy", settings, target_s, rounds, show, **measure_options)
    return frame(rows, ["threads", "batch_size"] + MEASURED_COLUMNS)


def _skipped(reason: str):
    """An empty table that carries why the sweep did not run (``table.attrs['skipped']``)."""
    table = frame([], [])
    table.attrs["skipped"] = reason
    return table


def _gpu_sweep(data, nvml, what: str, plan: Callable, columns: list[str]):
    """Open the GPU's controls, build the settings with ``plan(control)``, measure; or say why not."""
    if data.device != "cuda" and nvml is None:
        return _skipped(f"no GPU: the workload runs on the CPU, so there are no GPU {what} to set")
    try:
        control = GpuControl.open(0, nvml)
    except ControlUnavailable as exc:
        return _skipped(str(exc))
    with control:
        try:
            return frame(plan(control), columns)
        except ControlUnavailable as exc:
            return _skipped(str(exc))


def power_cap_sweep(model, data, fractions=DEFAULT_CAP_FRACTIONS, batch_size: int = 4096,
                    target_s: float | None = None, rounds: int | None = None, show: bool | None = None,
                    nvml=None, **measure_options):
    """GPU: one measured row per power cap (fractions of the maximum limit); the old limit is restored.

    Where caps cannot be set (no GPU, not root), returns an empty table whose ``attrs['skipped']``
    is the one-line reason.
    """
    pool = inference_pool(data, max(4096, batch_size))

    def plan(control):
        control.check_power_permission()
        limits = control.power_limits_w()
        caps = sorted({round(max(limits["min"], f * limits["max"])) for f in fractions}, reverse=True)
        settings = [Setting(f"cap {cap} W", {"cap_w": cap}, model, pool, batch_size,
                            context=functools.partial(control.power_cap, cap)) for cap in caps]
        return measure_settings("Power cap: inference energy", settings, target_s, rounds, show, **measure_options)

    return _gpu_sweep(data, nvml, "power caps", plan, ["cap_w", "batch_size"] + MEASURED_COLUMNS)


def clock_sweep(model, data, count: int = 4, batch_size: int = 4096, target_s: float | None = None,
                rounds: int | None = None, show: bool | None = None, nvml=None, **measure_options):
    """GPU: one measured row per locked graphics clock (``count`` spread over the supported range)."""
    pool = inference_pool(data, max(4096, batch_size))

    def plan(control):
        clocks = _spread(control.graphics_clocks_mhz(), count)
        settings = [Setting(f"{mhz} MHz", {"clock_mhz": mhz}, model, pool, batch_size,
                            context=functools.partial(control.locked_clock, mhz)) for mhz in clocks]
        return measure_settings("Locked clock: inference energy", settings, target_s, rounds, show,
                                **measure_options)

    return _gpu_sweep(data, nvml, "clocks", plan, ["clock_mhz", "batch_size"] + MEASURED_COLUMNS)


def _spread(values: list[int], count: int) -> list[int]:
    """``count`` values evenly spaced through a sorted list, highest first."""
    if not values:
        raise ControlUnavailable("not supported: the GPU lists no graphics clocks to lock; skipping that sweep")
    count = max(1, min(int(count), len(values)))
    picks = {values[round(i * (len(values) - 1) / max(count - 1, 1))] for i in range(count)}
    return sorted(picks, reverse=True)


def carbon_by_hour(energy_j: float, duration_s: float, region: str | None = None, shape: str = "solar",
                   pue: float = 1.0):
    """Emissions of a job with this measured energy and duration, for each start hour of a day.

    The hourly intensities are a *synthetic* daily shape scaled to the region's real annual mean
    (:mod:`lepton_lab.whatif.profiles`); the table's ``attrs`` say which region, source and shape.
    """
    from .. import carbon

    if energy_j <= 0 or duration_s <= 0:
        raise InvalidInput("carbon_by_hour needs a positive measured energy and duration")
    intensity = carbon.lookup(region)
    hourly, shape_label = _hourly_profile(shape, intensity.g_per_kwh)
    result = _plan(hourly, energy_j, duration_s, pue)
    rows = [{"start_hour": int(offset), "g_per_kwh": result.mean_intensity(i), "co2e_g": result.emissions_g[i]}
            for i, offset in enumerate(result.offsets_h)]
    table = frame(rows, ["start_hour", "g_per_kwh", "co2e_g"])
    worst = max(result.emissions_g)
    table.attrs.update(region=intensity.describe(), shape=shape_label, best_hour=int(result.best_offset_h),
                       saving_vs_worst=(worst - result.best_g) / worst if worst > 0 else 0.0)
    return table


def _plan(hourly: list[float], energy_j: float, duration_s: float, pue: float):
    from ..whatif.scheduling import plan

    return plan(hourly, duration_h=duration_s / 3600, power_w=energy_j / duration_s,
                now_h=0.0, max_delay_h=23.0, step_h=1.0, pue=pue)


def _hourly_profile(shape: str, mean_g_per_kwh: float) -> tuple[list[float], str]:
    from ..whatif.profiles import SHAPES, profile

    return profile(shape, mean_g_per_kwh), SHAPES[shape][0]


def summary(table, setting: str) -> list[str]:
    """Sentences from a batch/thread/cap/clock sweep: each setting's energy per sample and speed vs
    the first, and the least energy per sample, with every setting no measurably different from it."""
    from .runs import energy_change, measurably_different, ratio

    if table.empty:
        return [table.attrs.get("skipped", "nothing was measured")]
    def name(row) -> str:  # a whole number stays one, even where pandas made the row float
        value = row[setting]
        return f"{setting} {int(value) if isinstance(value, float) and value.is_integer() else value}"

    first = table.iloc[0]
    best = table.loc[table["uj_per_sample"].idxmin()]
    lines = [f"{name(first)}: {first['uj_per_sample']:.3g} µJ per sample (the reference)"]
    lines += [f"{name(row)}: {row['uj_per_sample']:.3g} µJ per sample, {energy_change(row, first, name(first))}; "
              f"throughput {ratio(row['samples_per_s'], first['samples_per_s'])}"
              for _, row in table.iloc[1:].iterrows()]
    ties = [name(row).split(" ", 1)[1] for _, row in table.iterrows()
            if row[setting] != best[setting] and measurably_different(row, best) is False]
    tied = f" (no measurable difference from {setting} {', '.join(ties)})" if ties else ""
    lines.append(f"least energy per sample: {name(best)}{tied}")
    return lines
