"""A submission checked against what its own file proves, and against physics.

A board folder is hostile input: anyone in the room can write a file into it by hand. So a
submission's summary is never taken at its word. Everything shown is recomputed from, or checked
against, the measurement inside the file:

* the energy is the report's, the µJ per inference is that energy over the inferences, and the
  power trace integrates to the energy the sensors saw (within :data:`TRACE_TOLERANCE`);
* each domain's kind and method are those of the sensor that names such a domain (a RAPL
  package is measured by ``rapl``, ``cpu:estimated`` is estimated by ``estimate``, a replayed
  GPU is replayed), and the trace has the report's domains (or hosts) and no others;
* the view (machine or this kernel's share) is the one the numbers show, and the kernel's share
  is recomputed from the attribution inputs in the file (CPU seconds of the process tree over
  the machine's busy CPU seconds; idle taken off; charged idle split among the sessions);
* physics: mean power per host in (0, :data:`MAX_HOST_W`], µJ per inference within
  :data:`UJ_RANGE`, a duration under :data:`MAX_DURATION_S` that the trace's times match.

What a determined forger can still do is said in docs/workshop.md ("What the board checks").
Every check raises ValueError with a one-line reason; the reader turns it into a rejection.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from . import board_text
from .attribution import CPU_METHOD, GPU_FALLBACK_METHOD, GPU_METHOD
from .errors import InvalidInput
from .report import DomainEnergy, EnergyReport
from .sensors import kinds

FORMAT = "lepton_lab-submission/1"
MAX_NAME_CHARS = 80
MAX_NOTES_CHARS = 500
MAX_LABEL_CHARS = 200
MAX_MACHINE_CHARS = 120
#: The trace's integral and the report's energy may differ this much (relative) before a
#: submission is rejected: sampled power misses the edges of a run and the counters' steps.
TRACE_TOLERANCE = 0.20
#: Figures written from one another must agree this closely (rounding only).
EXACT = 1e-6
#: The stated ceiling of one host's mean power: an 8-GPU server at full load draws ~10 kW.
MAX_HOST_W = 20_000.0
#: µJ per inference a real run can give: from a tiny model batched on a large GPU (~0.01 µJ)
#: to a large model on a slow machine (~1 J): anything outside is an edit.
UJ_RANGE = (1e-4, 1e9)
#: A scoring run lasts seconds to minutes; a day is not a scoring run.
MAX_DURATION_S = 86_400.0
#: At most this many inferences (a billion a second for a week is under it).
MAX_INFERENCES = 10**15

#: Which sensor names which domains: (domain pattern, method pattern, kind). A domain's kind and
#: method must be the ones its name implies (issue 18: a relabelled estimate kept its domain).
SOURCES = (
    (r"cpu:estimated", r"estimate", kinds.ESTIMATED),
    (r"cpu:(package|dram)-[\w-]+", r"rapl", kinds.MEASURED),
    (r"gpu:\d+", r"nvml-(counter|power-integration)", kinds.MEASURED),
    (r"gpu:replay-[\w.-]+", r"replay:[\w.-]+", kinds.REPLAYED),
)
#: The method suffix each kind of domain gains in the process view.
SHARE_METHODS = {"cpu": (CPU_METHOD,), "gpu": (GPU_METHOD, GPU_FALLBACK_METHOD)}


@dataclass(frozen=True)
class Submission:
    """One checked submission: its text as shown (see :mod:`lepton_lab.board_text`)."""

    path: str
    participant: str
    label: str
    notes: str
    accuracy: float
    accuracy_floor: float
    """The floor the participant declared: informational, the board's floor ranks."""
    inferences: int
    uj_per_inference: float
    energy_j: float
    kind: str
    view: str
    machine: str
    submitted_at: str

    @property
    def group(self) -> str:
        """'measured', or what else the figure is (estimated, replayed, attributed)."""
        if not kinds.is_measurement(self.kind):
            return self.kind
        return "measured" if self.view == "machine" else "attributed"

    @property
    def key(self) -> str:
        """Who this is, as read: names that normalise the same are one participant."""
        return board_text.name_key(self.participant)


@dataclass(frozen=True)
class Rejected:
    path: str
    reason: str


def _finite(data: dict[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{key} is not a number")
    return float(value)


def _close(a: float, b: float, relative: float = EXACT) -> bool:
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return abs(a - b) <= relative * max(abs(a), abs(b)) + 1e-12


def trace_energy_j(trace: dict[str, Any]) -> float | None:
    """The integral of a report's power trace over every domain, or None without samples.

    A sample's watts are the mean since the sample before (the first: since the start, t = 0),
    as the sampler derives them from its counters; so each is held over the interval it ends."""
    times = trace.get("t_s") or []
    powers = trace.get("power_w") or {}
    if not times or not powers:
        return None
    steps = [b - a for a, b in zip([0.0, *times[:-1]], times)]
    if any(not math.isfinite(s) or s < 0 for s in steps):
        raise ValueError("its times do not increase")
    total = 0.0
    for series in powers.values():
        if len(series) != len(times):
            raise ValueError("a power series and the times differ in length")
        if any(not math.isfinite(w) or w < 0 for w in series):
            raise ValueError("a power is negative or not a number")
        total += sum(step * watts for step, watts in zip(steps, series))
    return total


def _source(domain: str, d: DomainEnergy) -> None:
    """The domain's kind and method are those of the sensor that names such a domain."""
    name = domain.rsplit("/", 1)[-1]  # a cluster's domains are HOST/DOMAIN
    if d.method == "lost":
        raise ValueError(f"{name}: a host was lost during the run, so its energy is incomplete")
    base = d.method
    for suffix in (*SHARE_METHODS["cpu"], *SHARE_METHODS["gpu"]):
        base = base.removesuffix(suffix)
    for domain_re, method_re, kind in SOURCES:
        if re.fullmatch(domain_re, name):
            if not re.fullmatch(method_re, base) or d.kind != kind:
                raise ValueError(f"{board_text.shown(name, 40)} is {kind} by its sensor, not "
                                 f"{board_text.shown(d.kind, 20)} by {board_text.shown(d.method, 40)} (edited?)")
            return
    raise ValueError(f"{board_text.shown(name, 40)} is not a domain of lepton_lab's sensors")


def _trace_domains(report: EnergyReport) -> None:
    """The trace has a line for each domain (a cluster: each host) and no others."""
    expected = set(report.hosts) if report.hosts else set(report.domains)
    found = set((report.trace.get("power_w") or {}).keys())
    if found != expected:
        raise ValueError("its power trace is of other domains than its report (edited?)")
    if report.hosts and not all(d.split("/", 1)[0] in report.hosts for d in report.domains):
        raise ValueError("a domain of its report is on no host of its cluster (edited?)")


def _share(domain: str, d: DomainEnergy, report: EnergyReport) -> None:
    """The kernel's share, recomputed from the attribution inputs in the file."""
    a = report.attribution
    if d.share is None:
        if d.process_energy_j is not None:
            raise ValueError(f"{domain}: a process energy without a share (edited?)")
        return
    if not 0.0 <= d.share <= 1.0 or d.process_energy_j is None:
        raise ValueError(f"{domain}: its share is not between 0 and 1 (edited?)")
    idle = d.idle_energy_j or 0.0
    if not 0.0 <= idle <= d.machine_j * (1 + EXACT):
        raise ValueError(f"{domain}: its idle energy is not part of its energy (edited?)")
    charged = idle / a.idle_sessions if a and a.idle_sessions else 0.0
    if not _close(d.process_energy_j, d.share * (d.machine_j - idle) + charged):
        raise ValueError(f"{domain}: its process energy is not its share of the dynamic energy (edited?)")
    if domain.rsplit("/", 1)[-1].startswith("cpu:"):
        process, busy = (a.process_cpu_s, a.busy_cpu_s) if a else (None, None)
        if process is None or busy is None or process < 0 or busy < 0:
            raise ValueError(f"{domain}: a share without the CPU times it comes from (edited?)")
        expected = min(1.0, process / busy) if busy > 0 else 0.0
        if not _close(d.share, expected, 1e-4):
            raise ValueError(f"{domain}: its share {d.share:.3g} is not its CPU time's "
                             f"{process:.3g} s of {busy:.3g} s busy (edited?)")


def _view(report: EnergyReport) -> None:
    """Each domain shows the view the report says: the machine's energy, or the kernel's share."""
    view = report.view
    if view not in ("machine", "process"):
        raise ValueError("its view is neither machine nor process")
    for domain, d in report.domains.items():
        _share(domain, d, report)
        family = "gpu" if domain.rsplit("/", 1)[-1].startswith("gpu:") else "cpu"
        suffixed = d.method.endswith(SHARE_METHODS[family])
        if view == "process" and d.share is not None:
            if not suffixed or not _close(d.energy_j, d.process_energy_j or 0.0):
                raise ValueError(f"{domain}: the process view shows another energy than its share (edited?)")
        elif suffixed or not _close(d.energy_j, d.machine_j):
            raise ValueError(f"{domain}: the machine view shows another energy than the machine's (edited?)")


def _physics(report: EnergyReport, uj: float, inferences: int) -> None:
    """Numbers a real run can have: power per host, µJ per inference, duration, trace times."""
    duration = report.duration_s
    if not (isinstance(duration, (int, float)) and 0 < duration <= MAX_DURATION_S):
        raise ValueError(f"its duration is not between 0 and {MAX_DURATION_S:.0f} s")
    host_w = report.machine_energy_j / duration / report.host_count
    if not 0 < host_w <= MAX_HOST_W:
        raise ValueError(f"its mean power per host, {host_w:.4g} W, is not between 0 and {MAX_HOST_W:.0f} W")
    if not UJ_RANGE[0] <= uj <= UJ_RANGE[1]:
        raise ValueError(f"{uj:.4g} µJ per inference is not between {UJ_RANGE[0]:g} and {UJ_RANGE[1]:g}")
    if inferences > MAX_INFERENCES:
        raise ValueError(f"more than {MAX_INFERENCES:.0e} inferences")
    times = report.trace.get("t_s") or []
    if times and not duration * 0.5 <= times[-1] <= duration * (1 + TRACE_TOLERANCE) + 0.05:
        raise ValueError(f"its trace lasts {times[-1]:.4g} s, not its {duration:.4g} s (edited?)")


def _means(report: EnergyReport) -> None:
    if report.hosts:  # a host that joined late has its own, shorter duration
        return
    for d in report.domains.values():
        if d.energy_j < 0 or d.machine_j < 0 or not _close(d.mean_w * report.duration_s, d.energy_j, 1e-3):
            raise ValueError("a domain's mean power is not its energy over the duration (edited?)")


def _summary(data: dict[str, Any], report: EnergyReport, energy: float, uj: float, inferences: int) -> None:
    """The submission's own figures are the report's."""
    if not _close(report.energy_j, energy):
        raise ValueError(f"energy {energy:.4g} J is not its report's {report.energy_j:.4g} J (edited?)")
    if not _close(uj, energy * 1e6 / inferences):
        raise ValueError(f"µJ/inference {uj:.4g} is not energy ÷ inferences ({energy * 1e6 / inferences:.4g}) "
                         "(edited?)")


def _stated(data: dict[str, Any], report: EnergyReport) -> None:
    """The figures the file states beside its domains are the domains'."""
    stated = data["report"]
    for key, value in (("kind", report.kind), ("view", report.view)):
        if data.get(key, value) != value or (key == "kind" and stated.get(key, value) != value):
            raise ValueError(f"its {key} is not its report's {value} (edited?)")
    for key in ("energy_j", "machine_energy_j"):
        if isinstance(stated.get(key), (int, float)) and not _close(stated[key], getattr(report, key)):
            raise ValueError(f"its report's {key} is not the sum of its domains (edited?)")


def _trace(report: EnergyReport) -> None:
    try:
        integral = trace_energy_j(report.trace)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"its power trace is unreadable ({exc})") from None
    if integral is None:
        raise ValueError("its power trace is too short to check (measure a longer scoring run)")
    machine = report.machine_energy_j
    if abs(integral - machine) > TRACE_TOLERANCE * machine:
        raise ValueError(f"its power trace integrates to {integral:.4g} J, not the {machine:.4g} J it reports "
                         "(edited?)")


def _fields(data: Any) -> tuple[float, float, float, float, int]:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a lepton_lab submission")
    try:
        accuracy, floor = _finite(data, "accuracy"), _finite(data, "accuracy_floor")
        energy, uj = _finite(data, "energy_j"), _finite(data, "uj_per_inference")
        inferences = data["inferences"]
    except KeyError as exc:
        raise ValueError(f"missing {exc.args[0]}") from None
    if isinstance(inferences, bool) or not isinstance(inferences, int) or inferences < 1:
        raise ValueError("inferences is not a positive whole number")
    if not (0.0 <= accuracy <= 1.0 and 0.0 <= floor <= 1.0):
        raise ValueError("accuracy is not between 0 and 1")
    if energy <= 0:
        raise ValueError("energy is not positive")
    return accuracy, floor, energy, uj, inferences


def check(data: Any, path: str = "") -> Submission:
    """A checked submission from a parsed file; ValueError saying what is wrong otherwise."""
    accuracy, floor, energy, uj, inferences = _fields(data)
    try:
        report = EnergyReport.from_dict(data["report"])
    except (InvalidInput, KeyError, TypeError) as exc:
        raise ValueError(f"its report is unreadable ({board_text.shown(exc, 80)})") from None
    _summary(data, report, energy, uj, inferences)
    _physics(report, uj, inferences)
    _trace(report)
    _stated(data, report)
    _means(report)
    _trace_domains(report)
    for domain, d in report.domains.items():
        _source(domain, d)
    _view(report)
    methods = report.methods  # where it ran is said by the report, not by the file's summary line
    return Submission(
        path=path, participant=board_text.shown(data.get("participant"), MAX_NAME_CHARS) or "anonymous",
        label=board_text.shown(data.get("label"), MAX_LABEL_CHARS),
        notes=board_text.shown(data.get("notes"), MAX_NOTES_CHARS), accuracy=accuracy, accuracy_floor=floor,
        inferences=inferences, uj_per_inference=uj, energy_j=energy, kind=report.kind, view=report.view,
        machine=board_text.shown(f"{report.host} ({methods})", MAX_MACHINE_CHARS),
        submitted_at=board_text.shown(data.get("submitted_at"), 40),
    )
