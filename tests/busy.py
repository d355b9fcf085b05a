"""A busy machine on demand: neighbour processes burning CPUs for the whole test session.

    LEPTON_TEST_BURN=1 python -m pytest ...      # or: python -m pytest --burn 1 ...

The neighbour is lesson 01's :class:`~lepton_lab.tradeoffs.background.BackgroundBurner`: a
process outside the session's process tree (its launcher exits, so it is nobody's child here),
as another user's job on a shared machine, a CI runner's other jobs or a laptop's browser would
be; attribution must count it as someone else's load. The tests that measure real load
(tests/test_attribution.py, tests/test_cluster.py) must hold with it: they compare what they
measure against the CPU time the processes actually got, never against a quiet machine's.

It watches the session's process and stops when that is gone, so a killed run leaves nothing
spinning. The variable is removed from the environment once it runs, so that a pytest started
by a test does not start another.
"""
from __future__ import annotations

import os
from typing import Any

import pytest

ENV = "LEPTON_TEST_BURN"
#: A guard only: the neighbour stops with the session's process, or when the session ends.
LONGEST_SESSION_S = 4 * 3600.0

_neighbour: list[Any] = []  # the BackgroundBurner, while one runs


def burners(value: str | None, given_as: str = f"{ENV}=") -> int:
    """How many CPUs to keep busy: a count, '' or '0' for none. Bad values are one line."""
    text = (value or "").strip()
    if not text:
        return 0
    if not text.isdigit():
        raise pytest.UsageError(f"{given_as}{value!r} is not a number of CPUs to keep busy: use e.g. {given_as}1")
    return int(text)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--burn", metavar="CPUS", default=None,
                     help=f"keep this many CPUs busy with a neighbour process for the session (or set {ENV})")


def pytest_configure(config: pytest.Config) -> None:
    option = config.getoption("--burn")
    count = burners(option, "--burn ") if option is not None else burners(os.environ.get(ENV))
    os.environ.pop(ENV, None)
    if count:
        from lepton_lab.tradeoffs.background import BackgroundBurner

        _neighbour.append(BackgroundBurner(count, LONGEST_SESSION_S, watch_pid=os.getpid()).start())


def pytest_report_header(config: pytest.Config) -> str | None:
    if not _neighbour:
        return None
    burner = _neighbour[0]
    return (f"busy machine: a neighbour process (pid {burner.pid}, not this session's child) "
            f"burns {burner.threads} CPU(s)")


def pytest_unconfigure(config: pytest.Config) -> None:
    while _neighbour:
        _neighbour.pop().stop()
