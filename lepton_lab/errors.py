"""One exception tree for lepton_lab.

Every error a user can cause is a :class:`LeptonError` whose message is one line that says what
was wrong and what to do next. Presenters (the magic, the CLI) show that line and nothing else.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .sensors.base import DomainReading


class LeptonError(Exception):
    """Base of every error lepton_lab raises on purpose."""


class InvalidInput(LeptonError, ValueError):
    """A value given by the user (flag, argument, widget value) is out of range or malformed."""


class SensorUnavailable(LeptonError):
    """A sensor cannot be opened on this machine; the message says why and how to enable it."""


class SensorReadError(LeptonError):
    """A sensor that was open failed while being read (driver error, device lost).

    ``domains`` are the domains that failed (None: all of the sensor's); ``partial`` holds the
    readings of its other domains, where the sensor could still read them.
    """

    def __init__(
        self, message: str, *, domains: Iterable[str] | None = None, partial: Mapping[str, DomainReading] | None = None
    ) -> None:
        super().__init__(message)
        self.domains = tuple(domains) if domains is not None else None
        self.partial = dict(partial or {})


class MissingDependency(LeptonError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class LedgerError(LeptonError):
    """The ledger cannot be opened or written."""


class LedgerBusy(LedgerError):
    """Another process held the ledger's lock for longer than the save could wait."""


class LeptonWarning(UserWarning):
    """Base of lepton_lab's warnings."""


class LedgerWarning(LeptonWarning):
    """A measurement was taken but could not be saved in the ledger."""


class SensorWarning(LeptonWarning):
    """A sensor misbehaved during a measurement (read errors, short cell, counter quirks)."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import an optional dependency or raise a one-line MissingDependency naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            f"{purpose} needs the '{module.split('.')[0]}' package: "
            f"pip install 'lepton_lab[{extra}]'"
        ) from exc
