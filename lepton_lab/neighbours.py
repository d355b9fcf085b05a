"""Who else uses this machine: the session's view for ``--attribute auto``, and the one judgement
of other processes' load that every note and report uses.

A view that flips from one cell to the next makes two reports incomparable (one the kernel's
share, the next the whole machine), and whether a laptop's browser redrew in that second is no
reason to flip. So ``auto`` decides once per session, from whether the machine is shared, and
keeps that view; when neighbours' load is high in the machine view, the report says so instead.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: Neighbours' load over this part of the machine is "busy": one threshold for every note.
OTHER_LOAD_THRESHOLD = 0.10


def load_phrase(other_load: float, what: str = "the CPUs") -> tuple[bool, str]:
    """(are neighbours busy?, "other processes used 12% of the CPUs, over 10%"): the one judgement
    of other load every view uses, so that no two lines disagree. The judgement is made on the
    percentage as printed, so "10%" is never both "idle" and "over 10%"."""
    percent = round(100 * max(other_load, 0.0))
    busy = percent > round(100 * OTHER_LOAD_THRESHOLD)
    side = "over" if busy else "at most"
    return busy, f"other processes used {percent}% of {what}, {side} {OTHER_LOAD_THRESHOLD:.0%}"


#: Set to 1 (shared: show this kernel's share) or 0 (not shared: the whole machine) to decide for
#: the session instead of the judgement below.
SHARED_ENV = "LEPTON_LAB_SHARED"
#: JupyterHub sets these in every single-user server it spawns: a hub's machine is shared.
HUB_ENV = ("JUPYTERHUB_USER", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_SERVICE_PREFIX")
#: Login users' ids start here on Linux (system daemons and root below; 65534 is nobody).
FIRST_USER_UID = 1000


@dataclass(frozen=True)
class SessionView:
    """What ``--attribute auto`` shows for the whole session, and why (a phrase)."""

    view: str
    why: str


_session: SessionView | None = None
_session_lock = threading.Lock()


def session_view() -> SessionView:
    """The session's view, decided at the first measurement and kept: the same for every cell."""
    global _session
    with _session_lock:
        if _session is None:
            _session = decide_session(os.environ, other_users)
        return _session


def reset_session_view() -> None:
    """Forget the decision (tests, or after changing ``LEPTON_LAB_SHARED``)."""
    global _session
    with _session_lock:
        _session = None


def decide_session(environ: Mapping[str, str], users: Callable[[], set[str]]) -> SessionView:
    """Shared (this kernel's share) or not (the whole machine), from an explicit setting, JupyterHub,
    or other login users' processes; never from the load of the moment, which changes by the second."""
    setting = environ.get(SHARED_ENV, "").strip().lower()
    if setting in ("1", "yes", "true", "on"):
        return SessionView("process", f"shared machine: {SHARED_ENV}={environ[SHARED_ENV]}")
    if setting in ("0", "no", "false", "off"):
        return SessionView("machine", f"not shared: {SHARED_ENV}={environ[SHARED_ENV]}")
    if setting:  # decided at a cell's end: a typo must not cost the cell its report, so say it there
        judged = decide_session({k: v for k, v in environ.items() if k != SHARED_ENV}, users)
        return SessionView(judged.view, f"{judged.why}; {SHARED_ENV}={environ[SHARED_ENV]!r} ignored: set it to 1 "
                                        "(shared machine) or 0 (not shared)")
    hub = next((name for name in HUB_ENV if environ.get(name)), None)
    if hub:
        return SessionView("process", f"shared machine: JupyterHub ({hub} is set)")
    others = users()
    if others:
        names = ", ".join(sorted(others)[:3]) + (", ..." if len(others) > 3 else "")
        return SessionView("process", f"shared machine: other users' processes ({names})")
    return SessionView("machine", "not shared: no JupyterHub, no other users' processes")


def other_users() -> set[str]:
    """Login users other than this one with processes on this machine (empty where unreadable)."""
    try:
        import psutil

        mine = os.getuid()
        found = set()
        for proc in psutil.process_iter(["uids", "username"]):
            uids = proc.info.get("uids")
            uid = uids.real if uids else -1
            if uid >= FIRST_USER_UID and uid != mine and uid != 65534:
                found.add(str(proc.info.get("username") or uid))
        return found
    except Exception:  # no psutil, or /proc hidden: nothing says the machine is shared
        return set()
