"""lepton_lab: see in Jupyter what a computation costs in joules.

``%load_ext lepton_lab`` then ``%%energy`` on a cell; or ``with lepton_lab.measure(): ...``.
Importing this package uses the standard library only; everything heavier loads on first use.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

__all__ = [
    "EnergyReport",
    "LeptonError",
    "Sweep",
    "compare",
    "discover",
    "history",
    "last_report",
    "load_ipython_extension",
    "measure",
    "measured",
    "prewarm",
    "repeat",
    "sensor_summary",
    "submit",
    "unload_ipython_extension",
]

# name -> module that defines it; loaded on first attribute access (PEP 562) to keep import light.
_LAZY = {
    "EnergyReport": ".report",
    "LeptonError": ".errors",
    "Sweep": ".sweep",
    "compare": ".api",
    "discover": ".sensors",
    "history": ".api",
    "last_report": ".api",
    "measure": ".api",
    "measured": ".api",
    "prewarm": ".prewarming",
    "repeat": ".repetition",
    "sensor_summary": ".api",
    "submit": ".board",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lepton_lab' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython) -> None:
    """``%load_ext lepton_lab``: registers %%energy / %energy."""
    from .magic import load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    from .magic import unload

    unload(ipython)
