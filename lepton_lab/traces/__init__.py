"""Recorded real GPU power traces that ship with lepton_lab, with their provenance.

    lepton_lab.traces.names()             # what is there
    lepton_lab.traces.load(name)          # a pandas DataFrame: t_s, then watts per series; .attrs = provenance
    lepton_lab.traces.info(name)          # the provenance alone (source, licence, GPU, workload, ...)
    lepton_lab.traces.check_against_meter(onboard, meter, gpu=...)   # a GPU's printed ± against a meter

Third-party data (``lepton_lab/data/traces/``, licences beside it), converted from the raw public
files by :mod:`lepton_lab.traces.convert`. Anything drawn from them is *replayed*, never measured:
``%%energy --replay NAME`` plays one through the replay sensor, and every view says REPLAYED.
Reading a trace needs only the standard library; :func:`load` needs pandas (the ``data`` extra).
"""
from __future__ import annotations

from typing import Any

from ..errors import require
from .store import check_name, info, load, names, series

__all__ = ["check_against_meter", "check_name", "info", "load", "names", "series"]


def check_against_meter(onboard: Any, meter: Any, *, gpu: str, field: str = "instant",
                        windows_s: Any = (0.1, 0.25, 0.5, 1, 2, 5), count: int = 2000, seed: int = 0,
                        starts: Any = None, interval_s: float = 0.1, counter: bool = False) -> list[Any]:
    """Does the ± lepton_lab prints for this GPU cover what your meter saw? One row per window length.

    ``onboard`` and ``meter`` are ``(times_s, watts)`` on one clock; ``gpu`` the name NVML reports;
    ``field`` "instant" or "usage". See :func:`lepton_lab.traces.meter_check.check_against_meter`
    (needs numpy: the ``data`` extra)."""
    require("numpy", "data", "check_against_meter()")
    from .meter_check import check_against_meter as check

    return check(onboard, meter, gpu=gpu, field=field, windows_s=windows_s, count=count, seed=seed,
                 starts=starts, interval_s=interval_s, counter=counter)

