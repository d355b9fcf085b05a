"""``lepton_lab.prewarm()``: what the first measurement in a process would wait for, done ahead.

(Not named ``prewarm.py``: importing a submodule of that name would replace the function on the package.)
"""
from __future__ import annotations

import os
import socket
import threading

ENV_VAR = "LEPTON_LAB_PREWARM"


def prewarm(background: bool = False) -> threading.Thread | None:
    """Do now what the first measurement in a process would otherwise wait for (~0.1 s): load its
    modules, find the sensors, read the carbon table, open the ledger, replay its spool and fold
    journals left by crashed processes, read the idle power remembered for this machine, and start
    the sampling and journal threads. The first ``measure()`` then costs about what the next ones do.

    ``background=True`` does it in a daemon thread and returns it: ``%load_ext lepton_lab`` does
    so unless ``LEPTON_LAB_PREWARM=0``. A measurement that starts meanwhile waits only for the
    part it needs (each is behind its own lock). Failures are left for that measurement to report.
    """
    if not background:
        _steps()
        return None
    if os.environ.get(ENV_VAR, "1").strip() in ("0", "false", "no", "off"):
        return None
    thread = threading.Thread(target=_steps, name="lepton-prewarm", daemon=True)
    thread.start()
    return thread


def _steps() -> None:
    from . import api  # noqa: F401  (the modules a measurement loads, report building included)
    from .carbon import lookup
    from .ledger import Ledger
    from .sensors import discover
    from .ticker import prepare_thread

    ledger = Ledger()
    for step in (lambda: discover(cached=True), lookup, prepare_thread, ledger.prepare,
                 lambda: ledger.remembered_idle(socket.gethostname())):
        try:
            step()
        except Exception:
            pass
