"""One measured piece of work: options → sensors → sampler → report → ledger.

Every presenter (the magic, ``measure()``, the CLI) goes through :class:`Measurement`, so a cell,
a ``with`` block and a shell command are measured, reported and stored the same way.
"""
from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import attribution as attribution_module
from . import carbon as carbon_module
from . import units
from .attribution import ActiveSessions, Attributor, Share
from .errors import LeptonError
from .options import MeasureOptions
from .report import STATUSES, AttributionInfo, CarbonInfo, DomainEnergy, EnergyReport
from .sampler import Sample, Sampler, SamplerResult
from .sensors import ESTIMATED, Discovery, Sensor, discover, kinds

if TYPE_CHECKING:
    from .ledger import Ledger  # imported when saving: opening the ledger is not free

#: Flag cells shorter than this many counter updates: their energy is mostly quantisation.
MIN_UPDATES = 3

_last_report: EnergyReport | None = None


def last_report() -> EnergyReport | None:
    """The report of the latest measurement in this process (any presenter), or None."""
    return _last_report


def remember(report: EnergyReport) -> None:
    global _last_report
    _last_report = report


def keep_report(report: EnergyReport, save: bool, ledger: Ledger | None = None, journaled: bool = False) -> list[str]:
    """Store a finished report in the ledger (unless ``save`` is off), or with ``journaled`` in its
    journal, folded into it a moment later (:meth:`Ledger.record`); the warnings, if any."""
    if not save:
        report.saved = True  # not asked to save: nothing was lost
        return []
    from .ledger import Ledger

    keeper = ledger or Ledger()
    row_id, warning = keeper.record(report) if journaled else keeper.keep(report)
    if row_id is not None:  # a journaled report gets its row id a moment later, when it is folded
        report.id = row_id
    report.saved = warning is None
    return [warning] if warning else []


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class Measurement:
    """Start, then stop with the work's outcome; the report is built, stored and remembered."""

    options: Any = field(default_factory=MeasureOptions)  # a MeasureOptions, typed Any like the class itself
    clock: Callable[[], float] = time.monotonic
    ledger: Ledger | None = None
    cached_sensors: bool = True
    #: Journal the report (one write, in SQLite a moment later) instead of a transaction: ``measure()``
    #: costs ≤ 0.5 ms so. A cell's costs more anyway, and tools read the ledger right after it.
    journaled: bool = False

    def __post_init__(self) -> None:
        self.options = self.options.validated()
        if self.options.pue is None:
            self.options = replace(self.options, pue=carbon_module.default_pue())
        self.intensity = carbon_module.lookup(self.options.region)
        self.discovery: Discovery | None = None
        self.sampler: Sampler | None = None
        self.baseline_w: dict[str, float] | None = None
        self.attributor: Attributor | None = None
        self.warnings: list[str] = []
        self.report: EnergyReport | None = None
        self._started_at = ""

    @property
    def _found(self) -> Discovery:
        if self.discovery is None:
            raise LeptonError("this Measurement was not started: call start() first")
        return self.discovery

    @property
    def _sampling(self) -> Sampler:
        if self.sampler is None:
            raise LeptonError("this Measurement was not started: call start() first")
        return self.sampler

    @property
    def fallback_reason(self) -> str | None:
        return self.discovery.fallback_reason if self.discovery else None

    def start(self) -> Measurement:
        self.discovery = discover(
            self.options.sensors, self.options.gpus, trace=self.options.replay, clock=self.clock,
            cached=self.cached_sensors,
        )
        if self.options.baseline_s > 0:
            self.baseline_w = self._measure_idle(self.options.baseline_s)
        self.sampler = Sampler(self.discovery.sensors, self.options.interval_s, clock=self.clock)
        self.attributor = Attributor(self.discovery.sensors, self.clock, ActiveSessions()).begin()
        if self.attributor.polls_gpus:
            self.sampler.subscribe(self.attributor.on_sample)
        self._started_at = now_iso()
        self.sampler.start()
        return self

    def subscribe(self, callback: Callable[[Sample], None]) -> Callable[[], None]:
        return self._sampling.subscribe(callback)

    def _measure_idle(self, seconds: float) -> dict[str, float]:
        idle = Sampler(self._found.sensors, self.options.interval_s, clock=self.clock)
        idle.start()
        try:
            time.sleep(seconds)
        finally:
            result = idle.stop()
        duration = max(result.duration_s, 1e-9)
        return {d: result.energy_j(d) / duration for d in result.end.domains}

    def discard(self) -> None:
        """Stop sampling without a report (the work never ran); idempotent."""
        if self.sampler is not None and self.report is None:
            self.sampler.stop()
        if self.attributor is not None:
            self.attributor.end()

    def live_description(self) -> tuple[list[str], str, str, str]:
        """(lines, kind, note, source) for the live view: one line per domain, and what the numbers are."""
        sensors = self._found.sensors
        kind = kinds.combined(s.kind for s in sensors)
        note = self.fallback_reason or ""
        if not note and not kinds.is_measurement(kind):
            note = next((n for s in sensors if not kinds.is_measurement(s.kind) for n in s.notes), "")
        source = ", ".join(str(t) for s in sensors if (t := getattr(s, "trace", None)))  # replayed traces
        return [d for s in sensors for d in s.domains], kind, note, source

    def stop(self, status: str = "ok", error: BaseException | None = None) -> EnergyReport:
        """Stop sampling, build the report, save it; safe to call twice (returns the same report)."""
        if self.report is not None:
            return self.report
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        result = self._sampling.stop()
        try:
            self.report = self._build_report(result, status, error)
        finally:
            if self.attributor is not None:
                self.attributor.end()
        self.warnings.extend(keep_report(self.report, self.options.save, self.ledger, self.journaled))
        remember(self.report)
        return self.report

    # -- report building ------------------------------------------------------------------
    def _build_report(self, result: SamplerResult, status: str, error: BaseException | None) -> EnergyReport:
        duration = max(result.duration_s, 0.0)
        notes = self._setup_notes()
        measured: list[tuple[Sensor, str]] = []
        for sensor in self._found.sensors:
            notes.extend(n for n in sensor.notes if n not in notes)
            measured += [(sensor, d) for d in sensor.domains
                         if d in result.end.domains and d in result.start.domains]
        shares = self.attributor.shares(duration) if self.attributor else {}
        view, why = attribution_module.choose_view(self.options.attribute, shares)
        idle_w, idle_source, idle_words = self._idle_power([d for s, d in measured if s.kind != ESTIMATED])
        sessions = self.attributor.idle_sessions() if self.attributor and self.options.charge_idle else 0
        domains = {domain: self._domain_energy(sensor, domain, result, duration, view,
                                               shares.get(domain, Share(None)), idle_w.get(domain),
                                               idle_source, sessions)
                   for sensor, domain in measured}
        notes.extend(n for s, d in measured if (n := s.uncertainty_note(d, result.energy_j(d), duration)))
        warnings = self._warnings(result, duration)
        if view == "process":
            notes.extend(s.note for s in shares.values() if s.note and s.note not in notes)
        elif self.options.attribute == "process":  # asked for, and impossible: say why, once
            warnings.append(f"--attribute process: {why}; the machine's energy is shown")
        cpu = self.attributor.cpu if self.attributor else None
        i = self.intensity
        return EnergyReport(
            label=self.options.label or _default_label(),
            status=status,
            started_at=self._started_at,
            duration_s=duration,
            domains=domains,
            carbon=CarbonInfo(i.region, i.name, i.g_per_kwh, i.year, i.source, self.options.pue),
            interval_s=self._sampling.interval_s,
            notes=notes,
            warnings=warnings,
            error=describe_error(error),
            baseline_s=self.options.baseline_s or None,
            read_errors=result.read_errors,
            trace=_trace(result),
            host=socket.gethostname(),
            uid=uuid.uuid4().hex,
            attribution=AttributionInfo(
                asked=self.options.attribute, view=view, why=why, idle=idle_words,
                other_load={d: round(s.other_load, 4) for d, s in shares.items() if s.fraction is not None},
                process_cpu_s=cpu.process_s if cpu else None, busy_cpu_s=cpu.busy_s if cpu else None,
                idle_sessions=sessions or None,
            ),
        )

    def _idle_power(self, model_free: list[str]) -> tuple[dict[str, float], str, str]:
        """(idle watts of the measured domains, 'baseline' or 'remembered', where they came from in words);
        an estimate has no idle part in its model."""
        if not model_free:  # a baseline measured with the estimate is the model's, not the machine's idle
            return {}, "baseline", kinds.ESTIMATE_HAS_NO_IDLE
        if self.baseline_w is not None:
            return ({d: w for d, w in self.baseline_w.items() if d in model_free}, "baseline",
                    f"idle from this run's {self.options.baseline_s:g} s baseline")
        from .ledger import Ledger

        remembered = (self.ledger or Ledger()).remembered_idle(socket.gethostname())
        known = {d: remembered.watts[d] for d in model_free if d in remembered.watts}
        if not known:
            return {}, "remembered", ("idle power unknown on this machine (so its share of idle is counted as "
                                      "dynamic): `%%energy --baseline 5` once on a quiet machine remembers it")
        return known, "remembered", remembered.describe()

    def _domain_energy(self, sensor: Sensor, domain: str, result: SamplerResult, duration: float, view: str,
                       share: Share, idle_w: float | None, idle_source: str, sessions: int) -> DomainEnergy:
        energy = result.energy_j(domain)
        uncertainty = sensor.uncertainty_j(domain, energy, duration)
        baseline_idle = self.baseline_w.get(domain) if self.baseline_w else None
        method = sensor.method(domain)
        process = None
        if share.fraction is not None:
            process = attribution_module.split(energy, uncertainty, duration, share, idle_w, idle_source, sessions)
        shown = energy
        if view == "process" and process is not None:
            shown, uncertainty, method = process.process_j, process.uncertainty_j, method + share.method
        return DomainEnergy(
            energy_j=shown,
            mean_w=shown / duration if duration > 0 else 0.0,
            peak_w=result.peak_w.get(domain),
            method=method,
            kind=sensor.kind,
            uncertainty_j=uncertainty,
            label=sensor.describe(domain),
            idle_w=baseline_idle,
            net_energy_j=energy - baseline_idle * duration if baseline_idle is not None else None,
            read_until_s=result.lost[domain].last_read_s if domain in result.lost else None,
            machine_energy_j=energy,
            process_energy_j=process.process_j if process else None,
            share=share.fraction,
            idle_energy_j=process.idle_j if process else None,
        )

    def _setup_notes(self) -> list[str]:
        """How this machine was measured: true of every run here (the summary folds them away)."""
        unread = self._found.unavailable
        if self._found.fallback_reason:
            return [f"no energy sensor can be read here ({', '.join(unread)}): "
                    "`%energy sensors` or `lepton-lab sensors` says how to enable one"]
        return [f"{name} not measured: {why}" for name, why in unread.items()]

    def _warnings(self, result: SamplerResult, duration: float) -> list[str]:
        """What went wrong with this run, or limits its numbers: shown in full."""
        warnings = []
        for sensor in self._found.sensors:
            period = sensor.update_period_s
            if period and duration < MIN_UPDATES * period:
                warnings.append(
                    f"short measurement ({duration * 1000:.0f} ms < {MIN_UPDATES} {sensor.name} updates of "
                    f"{period * 1000:.0f} ms): the energy is dominated by counter quantisation; "
                    "measure a longer run or a loop of many"
                )
        for domain, lost in result.lost.items():
            warnings.append(f"{domain}: reads failed from {units.format_duration(lost.since_s)} into the run on "
                            f"({lost.error}); its energy covers the first "
                            f"{units.format_duration(lost.last_read_s)} only")
        if result.read_errors and not result.lost:
            warnings.append(f"{result.read_errors} sensor read(s) failed (last: {result.last_error})")
        if result.decimation > 1:
            warnings.append(f"long run: trace kept at 1 in {result.decimation} samples")
        return warnings


def _default_label() -> str:
    return "measurement " + datetime.now().strftime("%H:%M:%S")


def describe_error(error: BaseException | None) -> str | None:
    if error is None:
        return None
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _trace(result: SamplerResult) -> dict:
    domains = list(result.end.domains)
    t_s = [round(s.t_s, 4) for s in result.samples]
    power = {d: [round(s.power_w.get(d, 0.0), 3) for s in result.samples] for d in domains}
    return {"t_s": t_s, "power_w": power}
