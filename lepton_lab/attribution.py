"""This kernel's share of the machine's energy (``--attribute``).

RAPL, NVML and the estimate read the whole machine, so on a shared one (a JupyterHub server, a
group's node) a cell is charged other people's work. Attribution splits each domain's energy
over the measurement into

* **idle**: the machine's power with nothing running, times the duration: from ``--baseline``,
  else remembered from earlier baselines on this host in the ledger (the estimate's model has no
  idle part). Shown apart and charged to nobody, unless ``--charge-idle`` asks to split it evenly
  among the measured sessions active on this machine;
* **dynamic**: the rest, of which this kernel's share is
  - CPU domains (package, DRAM, the estimate): this process tree's CPU time (its threads, its
    children, the commands ``!`` starts) over the machine's busy CPU time in the same interval;
  - GPU domains: this process tree's part of the SM-utilisation samples NVML keeps, or, where the
    driver keeps none, an even share among the processes holding the GPU (by count, not work).

The split is a model: a CPU-second of vector code draws more power than one spent waiting on
memory, and SM utilisation counts busy time, not watts. So the process figure carries an
uncertainty that grows with the part others had (:data:`SPLIT_RELATIVE`), on top of the
sensor's own, the idle figure's and the counting granularity of CPU time.

Cost: two snapshots of CPU times per measurement (about 0.1 ms); GPUs are polled on the sampler
thread once a second.
"""
from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol, cast

from .errors import InvalidInput, SensorReadError
from .neighbours import SessionView, load_phrase, session_view
from .sensors import cpu_times

if TYPE_CHECKING:
    from .sensors.base import Sensor

VIEWS = ("auto", "machine", "process")
#: A CPU-second (or an SM-second) of someone else's work may draw this much more or less power
#: than one of ours: the split is uncertain by this part of the others' share.
SPLIT_RELATIVE = 0.25
#: How far idle power may be from the figure used: one just measured, one remembered.
IDLE_RELATIVE = {"baseline": 0.05, "remembered": 0.10}
#: GPUs are asked for their process samples at most this often (the driver keeps ~5 s of them).
GPU_POLL_S = 1.0
#: NVML's process-utilisation sampling period where too few samples show it.
DEFAULT_GPU_SAMPLE_PERIOD_S = 1 / 6
#: Linux counts machine-wide CPU time in ticks of 1/USER_HZ.
TICK_S = 0.01

CPU_METHOD = "+attributed-cpu-time"
GPU_METHOD = "+attributed-sm-util"
GPU_FALLBACK_METHOD = "+attributed-gpu-processes"


def validate_view(value: object) -> str:
    text = "auto" if value is None else str(value).strip().lower()
    if text not in VIEWS:
        raise InvalidInput(f"--attribute '{value}' is not a view: use auto, machine or process")
    return text


@dataclass(frozen=True)
class Share:
    """This kernel's part of one domain's dynamic energy, and how it was found."""

    fraction: float | None
    """0..1, or None where nothing can be attributed (a replay, unreadable CPU times)."""
    method: str = ""
    """What the domain's method gains when the process view is shown."""
    other_load: float = 0.0
    """The part of the domain's capacity (all CPUs, or one GPU's SM time) others used."""
    granularity: float = 0.0
    """Relative uncertainty of ``fraction`` from how coarsely the inputs are counted."""
    note: str | None = None


# -- CPU --------------------------------------------------------------------------------------
def cpu_snapshot() -> tuple[float, float, float]:
    """(this process tree's CPU s, the machine's busy CPU s, the machine's CPU s)."""
    busy, total = cpu_times.machine_times()
    return cpu_times.process_tree_seconds(), busy, total


@dataclass
class CpuWatch:
    """CPU times at the start of a measurement; :meth:`share` compares them with the end."""

    snapshot: Callable[[], tuple[float, float, float]] = cpu_snapshot
    start: tuple[float, float, float] | None = None
    error: str | None = None
    process_s: float | None = None
    busy_s: float | None = None

    def begin(self) -> CpuWatch:
        try:
            self.start = self.snapshot()
        except Exception as exc:  # psutil missing or /proc unreadable: say so, measure anyway
            self.error = f"{type(exc).__name__}: {exc}"
        return self

    def share(self) -> Share:
        if self.start is None:
            return Share(None, note=f"CPU times cannot be read here ({self.error})")
        try:
            end = self.snapshot()
        except Exception as exc:
            return Share(None, note=f"CPU times cannot be read here ({type(exc).__name__}: {exc})")
        process, busy, total = (b - a for a, b in zip(self.start, end))
        self.process_s, self.busy_s = max(process, 0.0), max(busy, 0.0)
        if busy <= 0:  # no tick of busy time at all: nothing dynamic to split
            return Share(0.0, CPU_METHOD, 0.0, granularity=1.0)
        fraction = min(1.0, max(0.0, process / busy))
        # The machine's counters tick per CPU: each edge may be off by a tick on every CPU. Other
        # load is counted beyond that, or a 5 ms cell would see half the machine busy in one tick.
        ticks_s = 2 * TICK_S * (os.cpu_count() or 1)
        others = max(0.0, busy - process - ticks_s) / total if total > 0 else 0.0
        return Share(fraction, CPU_METHOD, min(1.0, others), min(1.0, ticks_s / busy))


# -- GPU --------------------------------------------------------------------------------------
class GpuProcesses(Protocol):
    """What a GPU sensor tells about the processes on its GPUs (the NVML sensor has it)."""

    def is_mig(self, domain: str) -> bool: ...
    def process_samples(self, domain: str, since_us: int) -> list[tuple[int, int, float]]: ...
    def compute_pids(self, domain: str) -> list[int]: ...


@dataclass
class GpuWatch:
    """One GPU's process samples over a measurement, polled on the sampler thread."""

    sensor: GpuProcesses
    domain: str
    mig: bool = False
    samples_given: bool = True
    error: str | None = None
    last_seen_us: int = 0
    sm_by_pid: dict[int, float] = field(default_factory=dict)
    stamps: set[int] = field(default_factory=set)
    seen: set[tuple[int, int]] = field(default_factory=set)
    compute_pids: set[int] = field(default_factory=set)
    ours: set[int] = field(default_factory=set)

    def begin(self) -> GpuWatch:
        self.mig = bool(self.sensor.is_mig(self.domain))
        self.ours.update(cpu_times.tree_pids())
        if self.mig:
            return self
        try:
            # Whatever the driver's buffer holds now predates the work: only note where it ends.
            buffered = self._samples(0)
            self.last_seen_us = max((stamp for _, stamp, _ in buffered), default=0)
        except SensorReadError as exc:
            self.samples_given, self.error = False, str(exc)
        self._list_compute()
        return self

    def _samples(self, since_us: int) -> list[tuple[int, int, float]]:
        return list(self.sensor.process_samples(self.domain, since_us))

    def _list_compute(self) -> None:
        try:
            self.compute_pids.update(self.sensor.compute_pids(self.domain))
        except SensorReadError as exc:
            self.error = self.error or str(exc)

    def poll(self) -> None:
        if self.mig:
            return
        self.ours.update(cpu_times.tree_pids())
        if self.samples_given:
            try:
                samples = self._samples(self.last_seen_us)
            except SensorReadError as exc:
                self.error = str(exc)
                return
            for pid, stamp, sm in samples:
                if (pid, stamp) not in self.seen:  # a driver may return the last-seen sample again
                    self.seen.add((pid, stamp))
                    self.sm_by_pid[pid] = self.sm_by_pid.get(pid, 0.0) + sm
                    self.stamps.add(stamp)
            self.last_seen_us = max([self.last_seen_us] + [stamp for _, stamp, _ in samples])
        else:
            self._list_compute()

    def share(self, duration_s: float) -> Share:
        self.poll()
        if self.mig:
            return Share(1.0, "", note=(f"{self.domain}: MIG is on, and NVML has neither energy nor utilisation per "
                                        "slice: the whole GPU's energy is charged to this kernel"))
        ours = set(self.ours)
        if self.samples_given and self.sm_by_pid:
            total = sum(self.sm_by_pid.values())
            mine = sum(sm for pid, sm in self.sm_by_pid.items() if pid in ours)
            period = _sample_period_s(self.stamps)
            others = (total - mine) / 100 * period / duration_s if duration_s > 0 else 0.0
            note = None
            if mine == 0:
                note = (f"{self.domain}: none of NVML's process samples came from this kernel's processes (in a "
                        "container without the host's process ids, NVML's ids cannot be matched)")
            n = len(self.stamps)
            return Share(mine / total if total > 0 else 0.0, GPU_METHOD, min(1.0, others),
                         granularity=1 / math.sqrt(n), note=note)
        if self.samples_given:  # the driver gives samples, and none came: nobody computed on it
            return Share(0.0, GPU_METHOD, 0.0, note=f"{self.domain}: no process used its SMs during the run")
        self._list_compute()
        users = self.compute_pids
        if not users:
            return Share(0.0, GPU_FALLBACK_METHOD, 0.0,
                         note=f"{self.domain}: {self.error}; and no process held the GPU, so none of it is charged")
        mine_n = len(users & ours)
        return Share(mine_n / len(users), GPU_FALLBACK_METHOD, (len(users) - mine_n) / len(users),
                     note=(f"{self.domain}: the driver gives no per-process utilisation ({self.error}): "
                           f"shared evenly among the {len(users)} process(es) holding the GPU, by count, not work"))


def _sample_period_s(stamps: Iterable[int]) -> float:
    ordered = sorted(set(stamps))
    gaps = sorted(b - a for a, b in itertools.pairwise(ordered) if b > a)
    return gaps[len(gaps) // 2] / 1e6 if gaps else DEFAULT_GPU_SAMPLE_PERIOD_S


# -- one measurement --------------------------------------------------------------------------
class Attributor:
    """Watches CPU times and GPU process samples over one measurement; :meth:`shares` at the end."""

    def __init__(self, sensors: Iterable[Sensor], clock: Callable[[], float] = time.monotonic,
                 sessions: ActiveSessions | None = None):
        self.clock = clock
        self.sensors = list(sensors)
        self.cpu = CpuWatch()
        self.gpus: list[GpuWatch] = []
        self.sessions = sessions
        self._next_poll = 0.0

    def begin(self) -> Attributor:
        self.cpu.begin()
        for sensor in self.sensors:
            if hasattr(sensor, "process_samples"):
                gpu = cast(GpuProcesses, sensor)
                self.gpus += [GpuWatch(gpu, domain).begin() for domain in sensor.domains]
        self._next_poll = self.clock() + GPU_POLL_S
        if self.sessions is not None:
            self.sessions.enter()
        return self

    @property
    def polls_gpus(self) -> bool:
        return bool(self.gpus)

    def on_sample(self, _sample: object = None) -> None:
        """On the sampler thread: ask the GPUs for their process samples about once a second."""
        now = self.clock()
        if now < self._next_poll:
            return
        self._next_poll = now + GPU_POLL_S
        for gpu in self.gpus:
            gpu.poll()

    def shares(self, duration_s: float) -> dict[str, Share]:
        """Every domain's share, once the work is over."""
        shares: dict[str, Share] = {}
        cpu: Share | None = None
        by_gpu = {gpu.domain: gpu for gpu in self.gpus}
        for sensor in self.sensors:
            for domain in sensor.domains:
                if sensor.method(domain).startswith("replay:"):
                    shares[domain] = Share(None, note="a replayed trace is not this machine's load: not attributed")
                elif domain in by_gpu:
                    shares[domain] = by_gpu[domain].share(duration_s)
                elif domain.startswith("cpu:"):
                    cpu = cpu or self.cpu.share()
                    shares[domain] = cpu
                else:
                    shares[domain] = Share(None, note=f"{domain}: no way to attribute this domain")
        return shares

    def idle_sessions(self) -> int:
        return self.sessions.count() if self.sessions is not None else 0

    def end(self) -> None:
        if self.sessions is not None:
            self.sessions.leave()


# -- the split --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Split:
    """One domain's energy split into idle, dynamic and this kernel's part."""

    machine_j: float
    idle_j: float
    dynamic_j: float
    process_j: float
    uncertainty_j: float
    """Of ``process_j``: the sensor's part of it, the split's, the idle figure's and the counting's."""


def split(energy_j: float, sensor_uncertainty_j: float, duration_s: float, share: Share,
          idle_w: float | None = None, idle_source: str = "baseline", idle_sessions: int = 0) -> Split:
    """Split ``energy_j`` by ``share``; ``idle_sessions`` > 0 charges that part of the idle energy too."""
    fraction = share.fraction if share.fraction is not None else 1.0
    idle_j = min(max(energy_j, 0.0), max(idle_w or 0.0, 0.0) * max(duration_s, 0.0))
    dynamic_j = energy_j - idle_j
    charged_idle_j = idle_j / idle_sessions if idle_sessions > 0 else 0.0
    process_j = fraction * dynamic_j + charged_idle_j
    idle_uncertainty = IDLE_RELATIVE.get(idle_source, IDLE_RELATIVE["remembered"]) * idle_j
    uncertainty = math.sqrt(
        (fraction * sensor_uncertainty_j) ** 2
        + (SPLIT_RELATIVE * fraction * (1 - fraction) * dynamic_j) ** 2
        + (share.granularity * fraction * dynamic_j) ** 2
        + (fraction * idle_uncertainty) ** 2
    )
    return Split(energy_j, idle_j, dynamic_j, process_j, uncertainty)


def choose_view(asked: str, shares: Mapping[str, Share], session: SessionView | None = None) -> tuple[str, str]:
    """(the view shown, why: a phrase for the summary's first line). ``auto`` takes the session's
    view (:func:`session_view`, decided once), so that two cells of a session compare."""
    attributable = {d: s for d, s in shares.items() if s.fraction is not None}
    load = _others_phrase(attributable)
    if asked == "machine":
        return "machine", "asked for with --attribute machine" + (f"; {load}" if load else "")
    if not attributable:
        reason = next((s.note for s in shares.values() if s.note), "nothing here can be attributed")
        why = f"this kernel's share cannot be worked out: {reason}"
        return "machine", why
    if asked == "process":
        return "process", "asked for with --attribute process" + (f"; {load}" if load else "")
    session = session or session_view()
    if session.view == "process":
        return "process", f"{session.why}" + (f"; {load}" if load else "")
    domain, busiest = max(((d, s.other_load) for d, s in attributable.items()), key=lambda item: item[1])
    busy, judged = load_phrase(busiest, "the CPUs" if domain.startswith("cpu:") else f"{domain}'s SM time")
    if busy:  # said, not switched: a view that flips between cells makes them incomparable
        return "machine", (f"{judged}: this session keeps the machine view ({session.why}); "
                           "--attribute process shows this kernel's share")
    return "machine", f"{session.why}; {judged}"


def _others_phrase(shares: Mapping[str, Share]) -> str:
    parts = []
    cpu = [s.other_load for d, s in shares.items() if d.startswith("cpu:")]
    if cpu:
        parts.append(f"other processes used {round(100 * max(cpu))}% of the CPUs")
    for domain, s in shares.items():
        if domain.startswith("gpu:"):
            parts.append(f"{round(100 * s.other_load)}% of {domain}'s SM time")
    return ", ".join(parts)


# -- sessions, for --charge-idle ----------------------------------------------------------------
class ActiveSessions:
    """Measurements on this machine, one marker file per measuring process, so that ``--charge-idle``
    can split idle energy among those that overlapped this one. Markers live in a sticky shared
    folder (like /tmp), so every user's kernels see each other: a measuring process's holds the start
    of its current measurements, an idle one's their start and end (kept a few minutes, then
    tidied); one whose process died mid-measurement is not counted."""

    KEEP_FINISHED_S = 300.0

    def __init__(self, folder: str | None = None):
        import tempfile

        self.folder = folder or os.path.join(tempfile.gettempdir(), "lepton_lab-sessions")
        self._start = 0.0
        self._entered = False

    def enter(self) -> None:
        self._start = time.time()
        self._entered = True
        _ProcessMarker.of(self.folder).enter(self._start)

    def count(self) -> int:
        """Measured sessions (processes) whose measurement overlapped this one, this one included."""
        now = time.time()
        try:
            names = os.listdir(self.folder)
        except OSError:
            return 1
        overlapping = {os.getpid()}
        for name in names:
            path = os.path.join(self.folder, name)
            try:
                with open(path) as handle:
                    times = [float(x) for x in handle.read().split()]
                pid = int(name.split("-", 1)[0])
            except (OSError, ValueError):
                continue  # being written, or not a marker
            if not times or name.endswith(".new"):
                continue
            started, ended = times[0], times[1] if len(times) > 1 else None
            stale = (ended is None and not _alive(pid)) or (ended is not None and now - ended > self.KEEP_FINISHED_S)
            if stale:  # tidy it if it is ours (the sticky folder refuses to delete others')
                try:
                    os.unlink(path)
                except OSError:
                    pass
            elif started < now and (ended is None or ended > self._start):
                overlapping.add(pid)
        return len(overlapping)

    def leave(self) -> None:
        if self._entered:
            self._entered = False
            _ProcessMarker.of(self.folder).leave(time.time())


class _ProcessMarker:
    """This process's marker in one folder: the start of its busy period (while any of its
    measurements runs), then that start and the period's end.

    One marker per process, rewritten in place, not one file created, renamed and appended per
    measurement: that cost 0.4 ms of each ``measure()``. The count stays exact: a process overlapped
    a measurement exactly when its latest busy period did (every earlier one ended before it began)."""

    WIDTH = 64  # every write the same length, so a shorter one leaves nothing of a longer one behind
    _by_folder: ClassVar[dict[str, _ProcessMarker]] = {}
    _lock = threading.Lock()

    def __init__(self, folder: str):
        self.folder = folder
        self._fd: int | None = None
        self._pid = 0
        self._running = 0
        self._since = 0.0

    @classmethod
    def of(cls, folder: str) -> _ProcessMarker:
        with cls._lock:
            return cls._by_folder.setdefault(folder, cls(folder))

    def enter(self, start: float) -> None:
        with self._lock:
            self._running += 1
            if self._running == 1:
                self._since = start
                self._write(repr(start))

    def leave(self, end: float) -> None:
        with self._lock:
            self._running = max(0, self._running - 1)
            if self._running == 0:
                self._write(f"{self._since!r} {end!r}")

    def _write(self, text: str) -> None:
        try:
            os.pwrite(self._file(), text.ljust(self.WIDTH).encode(), 0)
        except OSError:  # not counted: the split stays right for everyone else
            self._fd = None

    def _file(self) -> int:
        if self._fd is not None and self._pid == os.getpid():
            if os.fstat(self._fd).st_nlink > 0:
                return self._fd
            os.close(self._fd)  # tidied away by another process's count while idle: a new one
        if not os.path.isdir(self.folder):
            os.makedirs(self.folder, exist_ok=True)
            os.chmod(self.folder, 0o1777)  # shared by every user, each deleting only their own
        name = os.path.join(self.folder, f"{os.getpid()}-{time.monotonic_ns()}")
        self._fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
        self._pid = os.getpid()
        return self._fd


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # another user's process
    except OSError:
        return False
    return True
