"""The options of a measurement, declared once.

``%%energy``, ``lepton-lab measure`` and ``lepton_lab.measure()`` accept exactly these, with the
same defaults and the same one-line errors, because all three are built from :data:`OPTIONS`:
the magic's and the CLI's flags (:func:`add_to_parser`), ``measure(**options)`` and
:class:`MeasureOptions` (:func:`from_user`). Adding an option is one entry here (and the code
that uses it). Options that only one presenter has stay with it: ``--var``, ``-q`` and
``--no-plot`` with the magic, ``save=`` with ``measure()``; a check they need still lives here
(``--var``'s :func:`validate_variable_name`).

Every check takes what a user typed (text on a command line, or a Python value) and returns the
normalised value, or raises :class:`~lepton_lab.errors.InvalidInput` with one line saying what
was wrong and what to do.
"""
from __future__ import annotations

import difflib
import keyword
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, make_dataclass, replace
from typing import Any

from . import carbon
from .attribution import validate_view
from .errors import InvalidInput
from .sampler import DEFAULT_INTERVAL_S, validate_interval
from .sensors import parse_gpu_indices, parse_sensor_names, sensor_names

MAX_BASELINE_S = 600.0
MAX_LABEL_CHARS = 200
#: What ``--dask`` given alone means: this kernel's default client.
DASK_DEFAULT = "default"


def validate_label(label: Any) -> str | None:
    if label is None:
        return None
    text = str(label).strip()
    if len(text) > MAX_LABEL_CHARS:
        raise InvalidInput(f"label is {len(text)} characters long: keep it under {MAX_LABEL_CHARS}")
    return text or None


def validate_baseline(value: Any) -> float:
    try:
        seconds = float(value or 0.0)
    except (TypeError, ValueError):
        raise InvalidInput(f"baseline '{value}' is not a number: give idle seconds, e.g. --baseline 5") from None
    if math.isnan(seconds) or seconds < 0:
        raise InvalidInput(f"baseline must be 0 or more seconds, got {value}: e.g. --baseline 5")
    if seconds > MAX_BASELINE_S:
        raise InvalidInput(f"baseline of {value} s is too long: use at most {MAX_BASELINE_S:.0f} s")
    return seconds


def validate_region(value: Any) -> str | None:
    """A region the carbon table knows (or a number of gCO2e/kWh); None means $LEPTON_LAB_REGION or WORLD."""
    if value is None:
        return None
    carbon.lookup(str(value))
    return str(value).strip()


def validate_trace(value: Any) -> str | None:
    """The name of a shipped trace (``lepton_lab.traces.names()``); None: no replay."""
    if value is None:
        return None
    from . import traces

    return traces.check_name(value)


def validate_repeat(value: Any) -> float | None:
    """The ``--repeat`` target: the CI's half-width as a share of the energy per run, 0 < x < 1
    (``0.02`` or ``2%``); None: measure once."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        target = float(text.removesuffix("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise InvalidInput(f"repeat target '{value}' is not a number: give the CI you want, e.g. "
                           "--repeat 0.02 (±2 %)") from None
    if not 0 < target < 1:
        raise InvalidInput(f"repeat target must be between 0 and 1 (a share of the energy), got {value}: "
                           "e.g. --repeat 0.02 for ±2 %")
    return target


def validate_switch(name: str) -> Callable[[Any], bool]:
    """The check of an on/off option: True, False (or 1/0); None is its default, off."""
    def check(value: Any) -> bool:
        if value is None or isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise InvalidInput(f"{name} is on or off: pass True or False, got {value!r}")

    return check


def validate_dask(value: Any) -> Any:
    """``--dask`` alone (the default client), a scheduler address, or a ``distributed.Client``."""
    if value is None or value is False:
        return None
    if value is True or (isinstance(value, str) and value.strip() in ("", DASK_DEFAULT)):
        return DASK_DEFAULT
    if isinstance(value, str):
        address = value.strip()
        if " " in address or ":" not in address:
            raise InvalidInput(f"--dask {value!r} is not a scheduler address: give e.g. --dask tcp://10.0.0.5:8786, "
                               "or --dask alone for this kernel's client")
        return address
    if callable(getattr(value, "run", None)) and callable(getattr(value, "scheduler_info", None)):
        return value
    raise InvalidInput(f"dask={type(value).__name__} is not a Dask client: pass a distributed.Client, "
                       "a scheduler address, or True for the default client")


def validate_pue(value: Any) -> float | None:
    """None means $LEPTON_LAB_PUE or 1.0."""
    return None if value is None else carbon.validate_pue(value)


def validate_variable_name(name: Any) -> str:
    """The check of ``%%energy --var NAME`` (a magic-only option, so not in :data:`OPTIONS`)."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise InvalidInput(f"'{name}' is not a valid Python variable name: use e.g. --var energy_report")
    return name


@dataclass(frozen=True)
class Option:
    """One option: its keyword (``measure(name=...)``), flags, default, help, check and metavar."""

    name: str
    flags: tuple[str, ...]
    default: Any
    help: str
    check: Callable[[Any], Any]
    metavar: str
    attribute: str = ""  # the MeasureOptions field, when it carries a unit the keyword does not
    switch: bool = False  # an on/off flag that takes no value (``--charge-idle``)
    bare: Any = None  # a flag whose value is optional: what it means given alone (``--dask``)

    @property
    def field_name(self) -> str:
        return self.attribute or self.name


OPTIONS: tuple[Option, ...] = (
    Option("label", ("-l", "--label"), None, "name stored with the measurement", validate_label, "LABEL"),
    Option("interval", ("-i", "--interval"), DEFAULT_INTERVAL_S,
           f"sampling interval in seconds (default {DEFAULT_INTERVAL_S:g})", validate_interval, "SECONDS",
           attribute="interval_s"),
    Option("sensors", ("--sensors",), None,
           f"comma-separated sensors to read: {','.join(sensor_names())} (default: every readable one)",
           parse_sensor_names, "NAMES"),
    Option("gpus", ("--gpus",), None, "comma-separated GPU indices among the visible ones (default: all)",
           parse_gpu_indices, "INDICES"),
    Option("region", ("--region",), None,
           "carbon-intensity region: ISO code (FR, FRA), WORLD, or gCO2e/kWh (default $LEPTON_LAB_REGION or WORLD)",
           validate_region, "REGION"),
    Option("pue", ("--pue",), None,
           "power usage effectiveness of the facility, >= 1.0 (default $LEPTON_LAB_PUE or 1.0)", validate_pue, "PUE"),
    Option("baseline", ("--baseline",), 0.0,
           "measure idle power for this many seconds first, and report net energy beside gross",
           validate_baseline, "SECONDS", attribute="baseline_s"),
    Option("replay", ("--replay",), None,
           "instead of this machine's sensors, play a recorded real GPU trace (labelled REPLAYED): "
           "lepton_lab.traces.names() lists them", validate_trace, "TRACE"),
    Option("attribute", ("--attribute",), "auto",
           "whose energy to show: machine (everything the sensors saw), process (this kernel's share of "
           "it, by CPU time and GPU utilisation), or auto: decided once per session, process on a shared "
           "machine (JupyterHub, other users' processes, $LEPTON_LAB_SHARED=1), else machine, which notes "
           "neighbours' load (default auto; both are stored)",
           validate_view, "VIEW"),
    Option("charge_idle", ("--charge-idle",), False,
           "with the process view, also charge an even part of the machine's idle energy (split among "
           "the measurements running on this machine)", validate_switch("charge_idle"), "", switch=True),
    Option("dask", ("--dask",), None,
           "measure every host of a Dask cluster, one sampler per host: alone, this kernel's default "
           "client; or a scheduler address (tcp://HOST:8786)", validate_dask, "ADDRESS", bare=DASK_DEFAULT),
    Option("repeat", ("--repeat",), None,
           "repeat until precise: run the work (a cell's WHOLE BODY, side effects included) in measured trials "
           "of ~1 s, warm-up first and each trial shifted against the sensor's update period, until the 95 %% CI "
           "of the energy per run is within TARGET of it (0.02 or 2%%) or 30 trials; reports energy per run ± CI",
           validate_repeat, "TARGET"),
)
BY_NAME: Mapping[str, Option] = {option.name: option for option in OPTIONS}

#: Options that cannot go together: (both set?, the one-line error). Checked after each alone.
CONFLICTS: tuple[tuple[Callable[[dict[str, Any]], bool], str], ...] = (
    (lambda v: v["replay"] is not None and v["gpus"] is not None,
     "--gpus picks GPUs of this machine and --replay plays a recorded one: use one of them"),
    (lambda v: v["replay"] is not None and bool(v["baseline_s"]),
     "--baseline measures this machine's idle power, which a replayed trace does not have: drop --baseline"),
    (lambda v: v["dask"] is not None and v["gpus"] is not None,
     "--gpus picks GPUs of this machine and --dask measures every GPU of every host: use one of them"),
    (lambda v: v["repeat"] is not None and v["dask"] is not None,
     "--repeat reruns the work on this kernel and --dask measures a whole cluster: use one of them"),
    (lambda v: v["dask"] is not None and v["replay"] is not None,
     "--replay plays one recorded GPU and --dask measures a real cluster: use one of them"),
    (lambda v: v["dask"] is not None and (v["attribute"] == "process" or v["charge_idle"] or bool(v["baseline_s"])),
     "--dask counts every host's whole energy; --attribute process, --charge-idle and --baseline work on one "
     "machine only: drop them"),
)


def _from_user(cls: Any, **values: Any) -> Any:
    """Checked options from the names users type (``measure(interval=...)``, ``--interval``).

    Unknown names are one-line errors that list the known ones."""
    unknown = [name for name in values if name not in BY_NAME and name != "save"]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(BY_NAME), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InvalidInput(f"unknown option '{unknown[0]}'{hint}: choose from {', '.join(BY_NAME)}")
    checked = {o.field_name: o.check(values.get(o.name, o.default)) for o in OPTIONS}
    for clash, message in CONFLICTS:
        if clash(checked):
            raise InvalidInput(message)
    return cls(**checked, save=bool(values.get("save", True)))


def _from_namespace(cls: Any, args: Any, **overrides: Any) -> Any:
    """From parsed flags (``%%energy``, ``lepton-lab measure``): what was not given takes its default."""
    given = {o.name: getattr(args, o.name) for o in OPTIONS if getattr(args, o.name, None) is not None}
    return cls.from_user(**{**given, **overrides})


def _validated(self: Any) -> Any:
    """A copy with every field checked again (a MeasureOptions built by hand, say)."""
    return replace(self, **{o.field_name: o.check(getattr(self, o.field_name)) for o in OPTIONS})


#: The options of one measurement, checked: one field per :data:`OPTIONS` entry, plus ``save``.
#: Typed Any: its fields come from the table at run time, which mypy cannot see.
MeasureOptions: Any = make_dataclass(
    "MeasureOptions",
    [(o.field_name, Any, field(default=o.default)) for o in OPTIONS] + [("save", bool, field(default=True))],
    namespace={"from_user": classmethod(_from_user), "from_namespace": classmethod(_from_namespace),
               "validated": _validated, "__module__": __name__},
)


def add_to_parser(add_argument: Callable[..., Any]) -> None:
    """Declare every option with ``add_argument`` (argparse's, or IPython's ``@argument``).

    Defaults stay None here: :func:`from_namespace` fills in the table's, so a parser never
    holds a second copy of them."""
    for option in OPTIONS:
        if option.switch:
            add_argument(*option.flags, dest=option.name, default=None, action="store_true", help=option.help)
        elif option.bare is not None:
            add_argument(*option.flags, dest=option.name, default=None, nargs="?", const=option.bare,
                         metavar=option.metavar, help=option.help)
        else:
            add_argument(*option.flags, dest=option.name, default=None, metavar=option.metavar, help=option.help)
