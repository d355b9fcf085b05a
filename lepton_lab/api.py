"""The Python API: ``measure()``, ``@measured``, ``history()``, ``last_report()``, ``compare()``."""
from __future__ import annotations

import functools
import warnings

from .errors import LedgerWarning
from .measurement import Measurement, last_report
from .measurement_choice import measurement_for
from .options import MeasureOptions
from .report import EnergyReport, status_for

__all__ = ["compare", "history", "last_report", "measure", "measured", "resolve_reports", "sensor_summary"]


class measure:
    """Measure a block: ``with measure(label="train") as m: ...``; then ``m.report``.

    Options are those of ``%%energy`` and ``lepton-lab measure`` (:data:`lepton_lab.options.OPTIONS`):
    ``label``, ``interval``, ``sensors``, ``gpus``, ``region``, ``pue``, ``baseline``, ``attribute``,
    ``dask`` (a ``distributed.Client``, an address, or True for the default client); and
    ``save=False`` keeps the report out of the ledger. The report is built, stored and available
    at ``m.report`` also when the block raises or is interrupted; the exception then propagates
    unchanged.
    """

    def __init__(self, label=None, **options):
        checked = MeasureOptions.from_user(label=label, **options)
        if checked.repeat is not None:
            from .errors import InvalidInput

            raise InvalidInput("a with block runs once: to repeat until precise, pass the work as a function, "
                               f"lepton_lab.repeat(fn, until={checked.repeat:g})")
        self._measurement = measurement_for(checked, journaled=True)
        self.report: EnergyReport | None = None

    def subscribe(self, callback):
        """Receive each sample (on the sampler thread) while the block runs."""
        return self._measurement.subscribe(callback)

    @property
    def measurement(self) -> Measurement:
        return self._measurement

    def __enter__(self) -> measure:
        self._measurement.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.report = self._measurement.stop(status_for(exc), exc)
        for message in self._measurement.warnings:
            warnings.warn(message, LedgerWarning, stacklevel=2)
        return False


def measured(func=None, **measure_kwargs):
    """Decorator: every call is measured; the latest report is at ``func.last_report``."""

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            kwargs_for_measure = dict(measure_kwargs)
            kwargs_for_measure.setdefault("label", function.__qualname__)
            block = measure(**kwargs_for_measure)
            try:
                with block:
                    return function(*args, **kwargs)
            finally:
                wrapper.last_report = block.report

        wrapper.last_report = None
        return wrapper

    return decorate(func) if func is not None else decorate


def history(limit: int | None = None, label: str | None = None):
    """Every stored measurement, newest first, as a pandas DataFrame."""
    from .ledger import Ledger

    return Ledger().history(limit=limit, label=label)


def resolve_reports(*items) -> list[EnergyReport]:
    """Reports from EnergyReport objects, ledger ids or labels (newest with that label)."""
    from .errors import InvalidInput
    from .ledger import Ledger

    ledger = None
    reports = []
    for item in items:
        if isinstance(item, EnergyReport):
            reports.append(item)
        elif isinstance(item, (int, str)) and not isinstance(item, bool):
            ledger = ledger or Ledger()
            reports.append(ledger.get(item))
        else:
            raise InvalidInput(
                f"cannot compare {type(item).__name__}: pass EnergyReport objects, ledger ids or labels"
            )
    if not reports:
        raise InvalidInput("nothing to compare: pass reports, ledger ids or labels")
    return reports


def compare(*items):
    """Energy per measurement, stacked by domain, with duration beside it and a table under it."""
    reports = resolve_reports(*items)
    try:
        from .widgets.compare import Comparison
    except ImportError:
        from .report_table import reports_table

        return reports_table(reports, "compare()")
    return Comparison(reports)


def sensor_summary() -> str:
    """What can be read here, and for everything that cannot, why and how to enable it."""
    from .sensors import discover

    found = discover()
    try:
        return found.summary()
    finally:
        found.close()
