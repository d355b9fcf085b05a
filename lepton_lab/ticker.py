"""The one thread that reads every running :class:`~lepton_lab.sampler.Sampler` of this process.

Each sampler is read (its ``tick()``: one read, published to its subscribers) every
``interval_s`` between ``add`` and ``remove``; a tick that returns False ends its reads.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Any

_thread_ids = itertools.count(1)


class Ticker:
    """One daemon thread that reads every running sampler of this process when it is due.

    A thread per measurement made every ``measure()`` wait for a new thread to be scheduled, and a
    parked thread handed each sampler still had to be woken at start and at stop: on a busy machine
    each wake-up costs the measured code its CPU for a while. This thread is woken only when a
    sampler is due sooner than it would wake anyway: back-to-back measurements never wake it. Its
    name starts with ``lepton-sampler-`` while it has samplers to read (tests look for leaks by it).
    """

    IDLE_NAME = "lepton-sampling-idle"
    #: With no sampler, it still wakes this often for a while after the last one: a block that
    #: starts meanwhile (back-to-back blocks) is due later than that and need not wake it.
    IDLE_POLL_S = 0.05
    LINGER_S = 2.0

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._due: dict[Any, float] = {}
        self._wakes_at = float("inf")  # when the thread wakes next; -inf while it is awake
        self._last_active = 0.0
        self._thread: threading.Thread | None = None

    def ensure_thread(self) -> threading.Thread:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name=self.IDLE_NAME, daemon=True)
                self._wakes_at = float("-inf")
                self._thread.start()
            return self._thread

    def add(self, sampler: Any) -> None:
        thread = self.ensure_thread()
        with self._cond:
            due = time.monotonic() + sampler.interval_s
            self._due[sampler] = due
            thread.name = f"lepton-sampler-{next(_thread_ids)}"
            if due < self._wakes_at:
                self._cond.notify()

    def remove(self, sampler: Any) -> None:
        with self._cond:  # no wake-up: the thread finds nothing due when it wakes
            self._due.pop(sampler, None)
            self._last_active = time.monotonic()
            if not self._due and self._thread is not None:
                self._thread.name = self.IDLE_NAME

    def _serve(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                due = [s for s, t in self._due.items() if t <= now]
                if not due:
                    if self._due:
                        self._wakes_at = min(self._due.values())
                    elif now - self._last_active < self.LINGER_S:
                        self._wakes_at = now + self.IDLE_POLL_S
                    else:
                        self._wakes_at = float("inf")
                    self._cond.wait(None if self._wakes_at == float("inf") else self._wakes_at - now)
                    self._wakes_at = float("-inf")
                    continue
                for sampler in due:
                    self._due[sampler] = now + sampler.interval_s
                self._cond.release()
                try:
                    finished = [s for s in due if not _tick(s)]
                finally:
                    self._cond.acquire()
                for sampler in finished:
                    self._due.pop(sampler, None)


def _tick(sampler: Any) -> bool:
    try:
        return bool(sampler.tick())
    except Exception:  # a sampler that breaks stops being read; the others, and this thread, go on
        return False


_ticker = Ticker()


def _forget_ticker() -> None:
    """In a forked child: the parent's thread does not exist here."""
    global _ticker
    _ticker = Ticker()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_ticker)


def add(sampler: Any) -> None:
    """Read ``sampler`` (its ``tick()``) every ``sampler.interval_s`` from now until :func:`remove`."""
    _ticker.add(sampler)


def remove(sampler: Any) -> None:
    _ticker.remove(sampler)


def prepare_thread() -> None:
    """Start the sampling thread now (prewarm), so the first measurement does not wait for it."""
    _ticker.ensure_thread()
