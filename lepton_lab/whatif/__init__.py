"""Pure models behind the what-if apps: standard library only, no widgets, no I/O.

- :mod:`.datacenter`: facility energy and emissions from IT load, PUE or a cooling model,
  renewable share and grid intensity.
- :mod:`.lifecycle`: training plus N inferences, and the break-even point of an optimisation.
- :mod:`.scheduling`: the cleanest start time of a job over an hourly intensity profile.
- :mod:`.profiles`: synthetic daily intensity shapes (labelled as such).

Every function validates its arguments and raises :class:`lepton_lab.errors.InvalidInput` with a
one-line message; the panels in :mod:`lepton_lab.widgets.panels` clamp instead and say so.
"""
from __future__ import annotations

from .datacenter import CoolingModel, FacilityResult, facility
from .lifecycle import LifecycleResult, break_even_inferences, lifetime
from .scheduling import Profile, SchedulePlan, plan

__all__ = [
    "CoolingModel",
    "FacilityResult",
    "LifecycleResult",
    "Profile",
    "SchedulePlan",
    "break_even_inferences",
    "facility",
    "lifetime",
    "plan",
]
