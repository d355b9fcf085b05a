"""One cell, a whole Dask cluster: one sampler per host, their reports summed into one.

``%%energy --dask`` (the default client), ``--dask tcp://HOST:8786`` or ``measure(dask=client)``.

How it works, and why:

- **Hosts, not workers.** Several workers often share a node; each would read the same RAPL and
  NVML counters, and summing them would count that node several times. Every worker reports its
  host id (:func:`host_id`: ``$LEPTON_LAB_HOST_ID``, else hostname + boot id), and one worker per
  host (the first by address) is elected to sample it.
- **``client.run``, not a ``WorkerPlugin``.** ``client.run`` reaches exactly the elected workers,
  answers synchronously (so a start that fails fails the cell before its body runs), needs no
  state on the scheduler and leaves nothing installed on the cluster after the cell. A plugin would
  run on every worker, stay registered after the cell, and still need the per-host election.
  It runs beside the worker's tasks, not in a task slot, so it never waits behind the computation.
- **Each host measures itself** with the ordinary :class:`~lepton_lab.measurement.Measurement`
  (its own sensors: NVML, RAPL or the labelled estimate), unsaved; the notebook polls every host
  about twice a second for its joules so far and a few recent samples (bounded on both sides),
  which feeds the live view and keeps what a host had read if it dies.
- **Faults.** A host that stops answering keeps the energy of its last successful poll and is
  marked ``lost``; workers that join mid-cell on a new host are measured from then, ``joined``.
  A host sampler that nobody polls for :data:`ORPHAN_S` stops by itself (the notebook died).
"""
from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import carbon as carbon_module
from .errors import InvalidInput, require
from .options import DASK_DEFAULT as DEFAULT
from .report import CarbonInfo, DomainEnergy, EnergyReport
from .sampler import Sample
from .sensors import kinds

HOST_ID_ENV = "LEPTON_LAB_HOST_ID"
#: The notebook asks every host for its joules so far this often (also the live view's pace).
POLL_S = 0.5
#: Samples a host sends per poll at most (decimated beyond): bounded memory and messages.
SAMPLES_PER_POLL = 10
#: A host sampler not polled for this long stops itself and is forgotten.
ORPHAN_S = 30.0
#: Lines in the live view (the rest summed into one line).
LIVE_HOSTS = 8


def host_id() -> str:
    """This machine's identity within a cluster: ``$LEPTON_LAB_HOST_ID``, else hostname + boot id.

    Hostnames alone repeat across containers and clusters; the boot id (or machine id) tells two
    machines with one name apart, and two workers on one machine agree on it."""
    given = os.environ.get(HOST_ID_ENV, "").strip()
    if given:
        return given
    for path in ("/proc/sys/kernel/random/boot_id", "/etc/machine-id"):
        try:
            return f"{socket.gethostname()}-{Path(path).read_text().strip().replace('-', '')[:8]}"
        except OSError:
            continue
    return socket.gethostname()


def resolve_client(value: Any) -> Any:
    """The Client that ``--dask`` names; a one-line error when there is none or it cannot be reached."""
    distributed = require("distributed", "dask", "--dask (measuring a Dask cluster)")
    if value == DEFAULT:
        try:
            return distributed.default_client()
        except ValueError:
            raise InvalidInput("--dask: this kernel has no Dask client: create one first "
                               "(from distributed import Client; client = Client()) or give the "
                               "scheduler's address, --dask tcp://HOST:8786") from None
    if isinstance(value, str):
        try:
            return distributed.Client(value, timeout=5, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InvalidInput(f"--dask {value}: no Dask scheduler answers there ({reason[:160]}): check the "
                               "address (the dashboard's 'Scheduler' field, e.g. tcp://10.0.0.5:8786)") from None
    return value


# -- on each host (run by client.run inside an elected worker) ------------------------------
@dataclass
class _HostRun:
    measurement: Any
    polled: float
    sent: int = 0


_RUNS: dict[str, _HostRun] = {}
_RUNS_LOCK = threading.Lock()
_watchdog: threading.Thread | None = None


def host_identity() -> dict:
    return {"host": host_id(), "pid": os.getpid()}


def host_start(token: str, options: dict) -> dict:
    """Start measuring this host for the cell ``token``; what it can read, in words."""
    from .measurement import Measurement
    from .options import MeasureOptions

    measurement = Measurement(MeasureOptions.from_user(**options, attribute="machine", save=False))
    measurement.start()
    with _RUNS_LOCK:
        _RUNS[token] = _HostRun(measurement, time.monotonic())
    _ensure_watchdog()
    return _describe(measurement)


def _describe(measurement: Any) -> dict:
    """What a host's started measurement reads, for the notebook: its sensors, kind, fallback."""
    sensors = measurement.discovery.sensors if measurement.discovery else []
    return {"host": host_id(), "sensors": [s.name for s in sensors],
            "domains": [d for s in sensors for d in s.domains],
            "kind": kinds.combined(s.kind for s in sensors), "fallback": measurement.fallback_reason}


def host_poll(token: str) -> dict:
    """Joules so far per domain, and the samples since the last poll (at most SAMPLES_PER_POLL)."""
    with _RUNS_LOCK:
        run = _RUNS.get(token)
        if run is None:
            return {"missing": True}
        run.polled = time.monotonic()
    samples = run.measurement.sampler.snapshot() if run.measurement.sampler else []
    fresh = samples[run.sent:]
    run.sent = len(samples)
    step = max(1, -(-len(fresh) // SAMPLES_PER_POLL))
    picked = fresh[step - 1::step] if fresh else []
    last = samples[-1] if samples else None
    return {"energy_j": dict(last.energy_j) if last else {}, "t_s": last.t_s if last else 0.0,
            "samples": [(s.t_s, dict(s.power_w), dict(s.energy_j)) for s in picked]}


def host_stop(token: str, status: str) -> dict | None:
    """Stop this host's measurement; its report as a dict (None if it was never started here)."""
    with _RUNS_LOCK:
        run = _RUNS.pop(token, None)
    if run is None:
        return None
    report: EnergyReport = run.measurement.stop(status)
    return report.to_dict()


def host_samplers() -> list[str]:
    """The cells measured on this host right now, and any lepton_lab sampler thread still running
    in this process (tests check that none outlives its cell)."""
    from .sampler import active_samplers

    with _RUNS_LOCK:
        tokens = list(_RUNS)
    return tokens + [f"sampler:{id(s)}" for s in active_samplers() if not any(
        r.measurement.sampler is s for r in list(_RUNS.values()))]


def _ensure_watchdog() -> None:
    global _watchdog
    if _watchdog is not None and _watchdog.is_alive():
        return

    def watch() -> None:
        while True:
            time.sleep(min(5.0, ORPHAN_S / 4))
            now = time.monotonic()
            with _RUNS_LOCK:
                orphans = [t for t, r in _RUNS.items() if now - r.polled > ORPHAN_S]
                runs = [_RUNS.pop(t) for t in orphans]
            for run in runs:
                try:
                    run.measurement.discard()
                except Exception:
                    pass

    _watchdog = threading.Thread(target=watch, name="lepton-cluster-watchdog", daemon=True)
    _watchdog.start()


# -- in the notebook ------------------------------------------------------------------------
@dataclass
class HostState:
    host: str
    worker: str | None
    """The elected worker's address; None for the notebook's own host, measured in-process."""
    workers: int
    joined_s: float | None = None
    """Seconds into the cell when a host that joined began to be measured."""
    status: str = "ok"
    info: dict = field(default_factory=dict)
    energy_j: dict[str, float] = field(default_factory=dict)
    """Joules per domain at the last successful poll."""
    power_w: float = 0.0


class ClusterMeasurement:
    """The cluster counterpart of :class:`~lepton_lab.measurement.Measurement`: the same start,
    subscribe, stop and discard, so every presenter handles both alike."""

    def __init__(self, options: Any, clock: Callable[[], float] = time.monotonic, ledger: Any = None):
        self.options = options.validated()
        if self.options.pue is None:
            self.options = replace(self.options, pue=carbon_module.default_pue())
        self.intensity = carbon_module.lookup(self.options.region)
        self.clock, self.ledger = clock, ledger
        self.client: Any = None
        self.token = uuid.uuid4().hex
        self.hosts: dict[str, HostState] = {}
        self.local: Any = None
        self.warnings: list[str] = []
        self.report: EnergyReport | None = None
        self.discovery = None
        self._subscribers: list[Callable[[Sample], None]] = []
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._t0 = 0.0
        self._started_at = ""
        self._trace_t: list[float] = []
        self._trace_w: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self._seen_workers: set[str] = set()

    # -- the Measurement interface --------------------------------------------------------
    @property
    def fallback_reason(self) -> str | None:
        estimated = [h.host for h in self.hosts.values() if h.info.get("fallback")]
        return f"{len(estimated)} of {len(self.hosts)} host(s) can only estimate" if estimated else None

    def start(self) -> ClusterMeasurement:
        from .measurement import now_iso

        self.client = resolve_client(self.options.dask)
        try:
            identities = self.client.run(host_identity)
        except Exception as exc:
            raise InvalidInput(f"--dask: the cluster's workers did not answer ({type(exc).__name__}: {exc}): "
                               "check that they run and have lepton_lab installed") from None
        self._seen_workers = set(identities)
        for worker, host in self._elect(identities).items():
            self.hosts[host] = HostState(host, worker, sum(1 for i in identities.values() if i["host"] == host))
        self._started_at = now_iso()
        self._t0 = self.clock()
        try:
            self._start_hosts(list(self.hosts.values()))
            if host_id() not in self.hosts:  # the machine the user sits at, when no worker runs there
                self._start_local()
        except BaseException:
            self.discard()
            raise
        self._poller = threading.Thread(target=self._poll_loop, name="lepton-cluster-poll", daemon=True)
        self._poller.start()
        return self

    def subscribe(self, callback: Callable[[Sample], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def live_description(self) -> tuple[list[str], str, str, str]:
        """(lines, kind, note, source) for the live view: one line per host up to LIVE_HOSTS."""
        names = sorted(self.hosts)
        lines = names if len(names) <= LIVE_HOSTS else names[:LIVE_HOSTS - 1] + [self._others_line()]
        kind = kinds.combined(h.info.get("kind", kinds.ESTIMATED) for h in self.hosts.values())
        return lines, kind, self.fallback_reason or "", ""

    def discard(self) -> None:
        self._stop.set()
        try:
            self._stop_hosts("interrupted")
        except Exception:
            pass

    def stop(self, status: str = "ok", error: BaseException | None = None) -> EnergyReport:
        from .measurement import describe_error, keep_report, remember

        if self.report is not None:
            return self.report
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=2 * POLL_S + 5)
        duration = max(self.clock() - self._t0, 0.0)
        reports = self._stop_hosts(status)
        self.report = self._combine(reports, status, duration, describe_error(error))
        self.warnings.extend(keep_report(self.report, self.options.save, self.ledger))
        remember(self.report)
        return self.report

    # -- starting and stopping ------------------------------------------------------------
    @staticmethod
    def _elect(identities: dict[str, dict]) -> dict[str, str]:
        """worker address → host, one worker per host (the first address: stable across calls)."""
        elected: dict[str, str] = {}
        for worker in sorted(identities):
            host = identities[worker]["host"]
            if host not in elected.values():
                elected[worker] = host
        return elected

    def _host_options(self) -> dict:
        return {"sensors": self.options.sensors, "interval": self.options.interval_s}

    def _start_hosts(self, hosts: list[HostState]) -> None:
        by_worker = {h.worker: h for h in hosts if h.worker}
        if not by_worker:
            return
        answers = self.client.run(host_start, self.token, self._host_options(), workers=list(by_worker),
                                  on_error="return")
        for worker, answer in answers.items():
            host = by_worker[worker]
            if isinstance(answer, BaseException):
                host.status = "lost"
                self.warnings.append(f"{host.host}: could not start measuring ({type(answer).__name__}: {answer})")
            else:
                host.info = answer

    def _start_local(self) -> None:
        from .measurement import Measurement
        from .options import MeasureOptions

        local = HostState(host_id(), None, 0)
        self.local = Measurement(MeasureOptions.from_user(sensors=self.options.sensors,
                                                          interval=self.options.interval_s,
                                                          attribute="machine", save=False)).start()
        local.info = {**_describe(self.local), "notebook": True}
        self.hosts[local.host] = local

    def _stop_hosts(self, status: str) -> dict[str, dict]:
        reports: dict[str, dict] = {}
        remote = {h.worker: h for h in self.hosts.values() if h.worker and h.status != "lost"}
        alive = self._alive_workers()
        asked = [w for w in remote if alive is None or w in alive]
        answers = self.client.run(host_stop, self.token, status, workers=asked, on_error="return") if asked else {}
        for worker, host in remote.items():
            answer = answers.get(worker)
            if isinstance(answer, dict):
                reports[host.host] = answer
            else:
                host.status = "lost"
        if self.local is not None and self.local.report is None:
            reports[host_id()] = self.local.stop(status).to_dict()
        return reports

    def _alive_workers(self) -> set[str] | None:
        try:
            return set(self.client.scheduler_info()["workers"])
        except Exception:
            return None

    # -- polling ----------------------------------------------------------------------------
    def _poll_loop(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self._poll_once()
            except Exception:  # a poll that fails is retried; it must never reach the cell
                continue

    def _poll_once(self) -> None:
        alive = self._alive_workers()  # one scheduler round trip per poll, for arrivals and losses alike
        self._adopt_new_workers(alive)
        remote = {h.worker: h for h in self.hosts.values() if h.worker and h.status != "lost"}
        for worker, host in remote.items():
            if alive is not None and worker not in alive:
                host.status = "lost"
        asked = [w for w, h in remote.items() if h.status != "lost"]
        answers = self.client.run(host_poll, self.token, workers=asked, on_error="return") if asked else {}
        now = self.clock() - self._t0
        with self._lock:
            for worker, answer in answers.items():
                host = remote[worker]
                if isinstance(answer, dict) and not answer.get("missing"):
                    self._take(host, answer)
            if self.local is not None and self.local.sampler is not None:
                samples = self.local.sampler.snapshot()
                if samples:
                    last = samples[-1]
                    local = self.hosts[host_id()]
                    local.energy_j, local.power_w = dict(last.energy_j), sum(last.power_w.values())
            self._publish(now)

    def _take(self, host: HostState, answer: dict) -> None:
        host.energy_j = answer["energy_j"]
        if answer["samples"]:
            host.power_w = sum(answer["samples"][-1][1].values())

    def _adopt_new_workers(self, alive: set[str] | None) -> None:
        if alive is None:
            return
        new = [w for w in alive if w not in self._seen_workers]
        if not new:
            return
        self._seen_workers.update(new)
        identities = self.client.run(host_identity, workers=new, on_error="return")
        joined: list[HostState] = []
        for worker, identity in identities.items():
            if not isinstance(identity, dict):
                continue
            host = self.hosts.get(identity["host"])
            if host is not None:
                if host.worker is not None:
                    host.workers += 1
                continue
            state = HostState(identity["host"], worker, 1, status="joined")
            self.hosts[state.host] = state
            joined.append(state)
        self._start_hosts(joined)
        started = self.clock() - self._t0  # its sampler runs from here: what its energy covers
        for state in joined:
            state.joined_s = started

    def _others_line(self) -> str:
        return f"{len(self.hosts) - (LIVE_HOSTS - 1)} other hosts"

    def _publish(self, t_s: float) -> None:
        lines, _, _, _ = self.live_description()
        power: dict[str, float] = {}
        energy: dict[str, float] = {}
        for name, host in self.hosts.items():
            line = name if name in lines else lines[-1]
            power[line] = power.get(line, 0.0) + host.power_w
            energy[line] = energy.get(line, 0.0) + sum(host.energy_j.values())
        self._trace_t.append(round(t_s, 3))
        for line in lines:
            self._trace_w.setdefault(line, []).append(round(power.get(line, 0.0), 2))
        sample = Sample(t_s, power, energy)
        for callback in list(self._subscribers):
            try:
                callback(sample)
            except Exception:
                pass

    # -- the report ---------------------------------------------------------------------------
    def _combine(self, reports: dict[str, dict], status: str, duration: float, error: str | None) -> EnergyReport:
        domains: dict[str, DomainEnergy] = {}
        notes: list[str] = []
        warnings = list(self.warnings)
        self.warnings.clear()
        hosts: dict[str, dict] = {}
        for name, host in sorted(self.hosts.items()):
            data = reports.get(name)
            if data is not None:
                part = EnergyReport.from_dict(data)
                for domain, energy in part.domains.items():
                    domains[f"{name}/{domain}"] = energy
                notes.extend(f"{name}: {n}" for n in part.notes)
                warnings.extend(f"{name}: {w}" for w in part.warnings)
                energy_j, peak_w = part.energy_j, part.peak_w
                methods = sorted({d.method for d in part.domains.values()})
            else:  # lost: what its last poll had read
                kind = host.info.get("kind", kinds.ESTIMATED)
                for domain, joules in host.energy_j.items():
                    domains[f"{name}/{domain}"] = DomainEnergy(
                        energy_j=joules, mean_w=joules / duration if duration > 0 else 0.0, peak_w=None,
                        method="lost", kind=kind, uncertainty_j=0.1 * joules, label=f"{name} (lost)")
                energy_j, methods, peak_w = sum(host.energy_j.values()), ["lost"], None
            hosts[name] = {"energy_j": energy_j, "status": host.status, "methods": methods, "peak_w": peak_w,
                           "workers": host.workers, "joined_s": host.joined_s}
        lost = [n for n, h in hosts.items() if h["status"] == "lost"]
        if lost:
            warnings.append(f"{len(lost)} host(s) lost during the cell ({', '.join(lost)}): their energy "
                            "counts up to their last answer only")
        joined = [n for n, h in hosts.items() if h["status"] == "joined"]
        if joined:
            warnings.append(f"{len(joined)} host(s) joined during the cell ({', '.join(joined)}): measured from "
                            "when they joined")
        i = self.intensity
        trace = self._hosts_trace(reports) or {"t_s": self._trace_t, "power_w": self._trace_w}
        return EnergyReport(
            label=self.options.label or f"cluster {time.strftime('%H:%M:%S')}",
            status=status, started_at=self._started_at, duration_s=duration, domains=domains,
            carbon=CarbonInfo(i.region, i.name, i.g_per_kwh, i.year, i.source, self.options.pue),
            interval_s=self.options.interval_s, notes=list(dict.fromkeys(notes)), warnings=warnings, error=error,
            trace=trace, host=host_id(), uid=uuid.uuid4().hex,
            hosts=hosts,
        )


    def _hosts_trace(self, reports: dict[str, dict]) -> dict | None:
        """The report's trace from the hosts' own samples (not the polls), one line per live-view
        line, on one time grid: its peak is the peak of the hosts' *simultaneous* summed power,
        and a cell shorter than a poll still has a figure. None when no host sent samples."""
        lines, _, _, _ = self.live_description()
        parts: dict[str, list[tuple[float, dict]]] = {}
        for name, data in reports.items():
            line = name if name in lines else lines[-1]
            host = self.hosts.get(name)
            start = (host.joined_s or 0.0) if host else 0.0
            parts.setdefault(line, []).append((start, data.get("trace") or {}))
        return sum_traces(parts)


def sum_traces(parts: dict[str, list[tuple[float, dict]]]) -> dict | None:
    """{"t_s", "power_w": {line: watts}} on the union of every part's sample times.

    Each part is (its start in the cell's seconds, a report trace); a sample's power holds over the
    interval that ends at it, so at a grid time a part contributes its first sample at or after it,
    and nothing outside its own samples (before it started, after it was lost)."""
    import numpy as np

    series = []
    for line, traces in parts.items():
        for offset, trace in traces:
            t = np.asarray(trace.get("t_s") or [], dtype=float) + offset
            domains = [np.asarray(w, dtype=float) for w in (trace.get("power_w") or {}).values() if len(w) == len(t)]
            if len(t):
                series.append((line, offset, t, np.nan_to_num(sum(domains)) if domains else np.zeros(len(t))))
    if not series:
        return None
    grid = np.unique(np.round(np.concatenate([t for _, _, t, _ in series]), 4))
    power = {line: np.zeros(len(grid)) for line in parts}
    for line, start, t, watts in series:
        index = np.searchsorted(t, grid - 1e-4, side="left")  # grid times are rounded to 0.1 ms
        inside = (grid > start) & (index < len(t))
        power[line] += np.where(inside, watts[np.minimum(index, len(t) - 1)], 0.0)
    return {"t_s": [float(x) for x in grid], "power_w": {line: [round(float(w), 3) for w in p]
                                                        for line, p in power.items()}}


def running_on_workers(client: Any) -> dict[str, list[str]]:
    """Worker address → the lepton_lab samplers running in it (none, after every cell)."""
    running: dict[str, list[str]] = client.run(host_samplers)
    return running

