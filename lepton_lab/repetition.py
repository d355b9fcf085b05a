"""Repeat until precise: the energy of a short workload, per run, with a confidence interval.

    result = lepton_lab.repeat(step, until=0.02)        # ±2 % (95 % CI) or at most 30 trials
    result.energy_per_run_j, result.ci_j, result.runs

A GPU's sensor updates every ~100 ms and, on A100/H100, reads only about a quarter of that
(SC'24), so one short run is mostly sensor artefact (the report's ± says so). The good practice
SC'24 and Zeus's "thermally stable profiling" describe, in that order:

1. warm up (unmeasured): compile, allocate, fill caches;
2. make each measured trial long enough for the sensor (``window_s``, 1 s by default: ten
   updates) by running the workload ``k`` times back to back;
3. shift each trial's start against the sensor's update period (golden-ratio steps of
   ``period_s``), so that the partial sampling does not always see the same phase of the work;
4. optionally cool down between trials (``cooldown_s``), so that a hot GPU does not bias the next;
5. stop when the confidence interval of the energy per run is within ``until`` of it, or at
   ``max_trials``.

The interval is the trials' spread (Student's t): it covers run-to-run and sampling scatter. A
sensor's calibration offset (±5 % + 5-10 W on NVIDIA GPUs, :mod:`lepton_lab.sensors.gpu_models`) is
the same in every trial and does not shrink with repetition: the result says so.
"""
from __future__ import annotations

import html
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from . import units
from .errors import InvalidInput
from .options import MeasureOptions, validate_repeat
from .report import EnergyReport, status_for

GOLDEN = (math.sqrt(5) - 1) / 2
_sleep = time.sleep  # the one way this module waits (tests replace it, not time.sleep itself)
#: Student's t, two-sided 95 %, by degrees of freedom (1-30); beyond, the normal 1.96 (within 2 %).
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)
SYSTEMATIC_NOTE = ("the interval is the trials' spread; a sensor's calibration offset (±5 % + 5-10 W on NVIDIA GPUs) "
                   "is the same in every trial and does not shrink with repetition")


def t95(df: int) -> float:
    return _T95[df - 1] if 1 <= df <= len(_T95) else 1.96


@dataclass
class RepeatResult:
    """Energy per run ± CI (95 %) over the trials, how many runs it took, and each trial's report."""

    label: str
    energy_per_run_j: float
    ci_j: float
    target: float
    reached: bool
    runs_per_trial: int
    per_run_j: list[float]
    """Energy per run of each trial (warm-up excluded)."""
    reports: list[EnergyReport] = field(repr=False, default_factory=list)

    @property
    def trials(self) -> int:
        return len(self.per_run_j)

    @property
    def runs(self) -> int:
        return self.trials * self.runs_per_trial

    @property
    def relative_ci(self) -> float:
        return self.ci_j / abs(self.energy_per_run_j) if self.energy_per_run_j else math.inf

    @property
    def kind(self) -> str:
        return self.reports[-1].kind if self.reports else "measured"

    def summary(self) -> str:
        reached = "reached" if self.reached else f"not reached after {self.trials} trials (the cap)"
        return (f"{self.label}: {units.format_energy(self.energy_per_run_j)} per run "
                f"± {units.format_energy(self.ci_j)} ({self.relative_ci:.1%}, 95 % CI) over {self.trials} trials "
                f"of {self.runs_per_trial} runs = {self.runs} runs; target ±{self.target:.1%}: {reached}"
                f"{'' if self.kind == 'measured' else f' [{self.kind.upper()}]'}")

    def __str__(self) -> str:
        return f"{self.summary()}\n   note: {SYSTEMATIC_NOTE}"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        return (f"<div class='lepton-repeat'><b>{html.escape(self.summary())}</b>"
                f"<div style='opacity:.8'>{html.escape(SYSTEMATIC_NOTE)}</div></div>")


def interval(values: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.inf
    return mean, t95(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))


def _check(until: Any, min_trials: int, max_trials: int, window_s: float, cooldown_s: float,
           period_s: float) -> float:
    target = validate_repeat(until)
    if target is None:
        raise InvalidInput("repeat needs a target: until=0.02 (±2 %)")
    if not 2 <= int(min_trials) <= int(max_trials):
        raise InvalidInput(f"need 2 <= min_trials <= max_trials, got {min_trials} and {max_trials}")
    if not (window_s > 0 and cooldown_s >= 0 and period_s >= 0):
        raise InvalidInput("window_s must be above 0 s, cooldown_s and period_s 0 s or more")
    return target


def repeat(fn: Callable[..., Any], until: Any = 0.02, *, args: tuple[Any, ...] = (),
           kwargs: dict[str, Any] | None = None, warmup: int = 1, min_trials: int = 3, max_trials: int = 30,
           window_s: float = 1.0, cooldown_s: float = 0.0, period_s: float = 0.1, label: str | None = None,
           **options: Any) -> RepeatResult:
    """Run ``fn(*args, **kwargs)`` in measured trials until the energy per run is known to ``until``.

    ``options`` are :func:`lepton_lab.measure`'s (``sensors``, ``gpus``, ``replay``, ...); every
    trial is one measurement (stored in the ledger as ``LABEL (trial i)`` unless ``save=False``)."""
    if not callable(fn):
        raise InvalidInput(f"repeat needs a function to call, got {type(fn).__name__}")
    if "repeat" in options:
        raise InvalidInput("give the target as until=, not repeat=")
    measure_options = MeasureOptions.from_user(label=label or getattr(fn, "__qualname__", "repeat"), repeat=until,
                                               **options)
    return run_trials(lambda: fn(*args, **(kwargs or {})), measure_options.repeat, measure_options, warmup=warmup,
                      min_trials=min_trials, max_trials=max_trials, window_s=window_s, cooldown_s=cooldown_s,
                      period_s=period_s)


def run_trials(call: Callable[[], Any], until: Any, options: Any, *, warmup: int = 1, min_trials: int = 3,
               max_trials: int = 30, window_s: float = 1.0, cooldown_s: float = 0.0,
               period_s: float = 0.1) -> RepeatResult:
    """The loop behind :func:`repeat`, ``%%energy --repeat`` and ``lepton-lab measure --repeat``:
    ``options`` is a checked :class:`~lepton_lab.options.MeasureOptions`."""
    target = _check(until, min_trials, max_trials, window_s, cooldown_s, period_s)
    label = options.label or "repeat"
    took = 0.0
    for _ in range(max(1, int(warmup))):  # warm-up: unmeasured, and times one run
        began = time.perf_counter()
        call()
        took = time.perf_counter() - began
    runs = max(1, min(10**6, math.ceil(window_s / max(took, 1e-7))))
    per_run: list[float] = []
    reports: list[EnergyReport] = []
    mean, half = 0.0, math.inf
    for trial in range(int(max_trials)):
        _sleep((trial * GOLDEN % 1.0) * period_s)  # a new phase against the sensor's updates
        report = _trial(call, runs, replace(options, label=f"{label} (trial {trial + 1})", repeat=None))
        reports.append(report)
        per_run.append(report.energy_j / runs)
        mean, half = interval(per_run)
        if len(per_run) >= int(min_trials) and half <= target * abs(mean):
            break
        if cooldown_s and trial < int(max_trials) - 1:
            _sleep(cooldown_s)
    return RepeatResult(label, mean, half, target, half <= target * abs(mean), runs, per_run, reports)


def _trial(call: Callable[[], Any], runs: int, options: Any) -> EnergyReport:
    """One measured trial of ``runs`` calls; a failing call stops it, is recorded, and propagates."""
    from .measurement_choice import measurement_for

    measurement = measurement_for(options)
    measurement.start()
    error: BaseException | None = None
    try:
        for _ in range(runs):
            call()
    except BaseException as exc:
        error = exc
        raise
    finally:
        report: EnergyReport = measurement.stop(status_for(error), error)
    return report


def repeat_cell(shell: Any, args: Any, cell: str) -> None:
    """``%%energy --repeat TARGET``: the cell's whole body is one run; shows (and with ``--var``
    stores) the :class:`RepeatResult`. Its side effects happen once per run, warm-up included."""
    from .cell_runner import OUTPUT_METADATA, run_body
    from .options import validate_variable_name

    var = validate_variable_name(args.var) if args.var is not None else None
    options = MeasureOptions.from_namespace(args)
    result = run_trials(lambda: run_body(shell, cell), options.repeat, options)
    if var:
        shell.user_ns[var] = result
    if not args.quiet:
        from IPython.display import display

        display(result, metadata=OUTPUT_METADATA)

