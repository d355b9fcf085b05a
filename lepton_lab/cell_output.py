"""lepton_lab's one place in a measured cell's output: shown late, updated in place, never firing the cell's clear.

A notebook front end applies a pending ``clear_output(wait=True)`` when the next *new* output of
the cell arrives (``display_data``, ``execute_result``, ``stream``, ``error``); an
``update_display_data`` to an output that exists replaces it and fires nothing (JupyterLab's
``OutputAreaModel.set``, nbclient's display-id map). Without the magic, a clear that a cell leaves
pending at its end never fires, and the cell keeps its last output. So:

- :class:`OutputSlot` is one display (one ``display_id``) that the live view and then the summary
  go into. Nothing is shown up front: a short cell gets its summary at its end, a long one its
  live view once there is something to draw, both sent from any thread with the running
  request's parent header, taken on the main thread when the cell began.
- When the cell clears its output, the slot is shown (empty) *before* a ``wait=True`` clear goes
  out if it was not yet, so that while a clear is pending the slot exists and anything lepton_lab
  shows is an update of it. When the clear does fire (the cell's next output, seen in the kernel
  session's ``send``), the slot is shown again just before that output: the clear then happens
  at the moment it would have, and the live view stays above what the cell prints.
- :class:`ClearOutputWatch` sees the cell's ``clear_output`` calls (IPython's one path for them).

The ``send`` hook exists only from a measured cell's first ``clear_output`` to its end: a cell
that never clears costs nothing here.
"""
from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

#: Messages that are a new output of the cell: each applies a pending wait-clear.
_NEW_OUTPUTS = frozenset({"stream", "display_data", "execute_result", "error"})
#: What the slot shows before there is anything to show (only when the cell clears that early).
EMPTY = {"text/plain": ""}


def _header_id(header) -> str | None:
    if not header:
        return None
    return (header.get("header") or header).get("msg_id")


class OutputSlot:
    """One display in the running cell's output, shown and updated from any thread."""

    def __init__(self, shell, metadata: dict, silent: bool = False):
        """``silent`` (``-q``): never shows anything, only tracks whether the cell left a clear
        pending (then nothing may be printed at its end either)."""
        publisher = getattr(shell, "display_pub", None)
        self._session = getattr(publisher, "session", None)
        self._socket = getattr(publisher, "pub_socket", None)
        self._topic = getattr(publisher, "topic", b"display_data")
        # The running request, read on the main thread: another thread's view of the "current
        # parent" differs between ipykernel versions (a global, or a context variable).
        self.parent = dict(getattr(publisher, "parent_header", None) or {})
        self.metadata = metadata
        self.display_id = uuid.uuid4().hex
        self.bundle: dict | None = None
        self.shown = False  # our display exists in the front end
        self.pending = False  # the cell's wait-clear went out and no new output has fired it
        self.sends = 0
        self.clears = 0  # the cell's own clear_output calls so far
        self._lock = threading.RLock()
        self._raw_send: Callable | None = None  # the session's own send, while ours is installed
        self._ignore_clear = False
        self._closed = silent  # nothing more is shown (from the start when silent)
        self._finished = False  # the cell ended: nothing is tracked any more

    @property
    def usable(self) -> bool:
        """A kernel that publishes on a session (ipykernel); terminal IPython has none."""
        return self._session is not None and self._socket is not None and bool(self.parent)

    # -- showing ----------------------------------------------------------------------------
    def show(self, bundle: dict) -> None:
        """Show ``bundle`` here: an update of the display if it exists, else a new one."""
        with self._lock:
            if self._closed:
                return
            self.bundle = bundle
            self._send("update_display_data" if self.shown else "display_data")
            self.shown = True

    def finish(self, bundle: dict | None) -> None:
        """The last thing shown (None: nothing); then stop watching the session."""
        with self._lock:
            if bundle is not None and not self._closed:
                self.bundle = bundle
                self._send("update_display_data" if self.shown else "display_data")
                self.shown = True
            self._closed = self._finished = True
        self._unhook()

    def _send(self, msg_type: str) -> None:
        content = {"data": self.bundle, "metadata": self.metadata, "transient": {"display_id": self.display_id}}
        send = self._raw_send or self._session.send
        send(self._socket, msg_type, content, parent=self.parent, ident=self._topic)
        self.sends += 1

    # -- the cell's clears ------------------------------------------------------------------
    def before_clear(self, wait: bool, for_the_cell: bool) -> None:
        """Main thread, just before the cell's ``clear_output(wait)`` is sent."""
        with self._lock:
            self._ignore_clear = not for_the_cell
            if not for_the_cell or self._finished:
                return
            self.clears += 1
            self._hook()
            if wait and not self.shown and not self._closed:
                self.bundle = self.bundle or EMPTY
                self._send("display_data")  # exists while the clear is pending: later shows update it
                self.shown = True

    def after_clear(self) -> None:
        with self._lock:
            self._ignore_clear = False

    def _hook(self) -> None:
        if self._raw_send is not None or self._session is None:
            return
        self._raw_send = raw = self._session.send
        slot = self

        def send(stream, msg_or_type, content=None, parent=None, *args, **kwargs):
            try:
                slot._seen(msg_or_type, content, parent)
            except Exception:  # lepton_lab's display must never cost the kernel a message
                pass
            return raw(stream, msg_or_type, content, parent, *args, **kwargs)  # also once unhooked

        self._hooked = send
        self._session.send = send

    def _unhook(self) -> None:
        session, raw = self._session, self._raw_send
        if raw is None or session is None:
            return
        if session.__dict__.get("send") is self._hooked:  # ours is the outermost wrapper
            if getattr(raw, "__self__", None) is session:
                del session.send  # the class's own method again
            else:
                session.send = raw
        self._raw_send = None

    def _seen(self, msg_or_type, content, parent) -> None:
        """Every message the kernel sends while hooked: track the cell's clears and new outputs."""
        if isinstance(msg_or_type, dict):  # a message built already (ipykernel 7's display_pub)
            msg_type = msg_or_type.get("msg_type") or msg_or_type["header"]["msg_type"]
            parent, content = msg_or_type.get("parent_header"), msg_or_type.get("content")
        else:
            msg_type = msg_or_type
        content = content or {}
        if msg_type != "clear_output" and msg_type not in _NEW_OUTPUTS:
            return
        if _header_id(parent) != _header_id(self.parent):
            return
        with self._lock:
            if self._finished:
                return
            if msg_type == "clear_output":
                if self._ignore_clear:
                    return
                self.pending = bool(content.get("wait"))
                self.shown = self.shown and self.pending  # a clear without wait removed us at once
                return
            if (content.get("transient") or {}).get("display_id") == self.display_id:
                return
            if self._closed:  # silent: the clear fires, as without the magic, and that is all
                self.pending = False
                return
            if (self.pending or not self.shown) and not _output_widget_capturing():
                # Our place is at the top of what follows a clear (empty until there is something
                # to show). Sent first, it applies a pending clear, as this output would have.
                self.bundle = self.bundle or EMPTY
                self._send("display_data")
                self.shown, self.pending = True, False


def _output_widget_capturing() -> bool:
    """Is an ``ipywidgets.Output`` capturing the cell's outputs (``with out:``) right now?"""
    import sys

    widgets = sys.modules.get("ipywidgets")
    output = getattr(widgets, "Output", None)
    if output is None:
        return False
    try:
        return any(isinstance(w, output) and getattr(w, "msg_id", "")
                   for w in list(widgets.Widget.widgets.values()))
    except Exception:  # the registry changed under us (another thread): assume not
        return False


class ClearOutputWatch:
    """Sees the ``clear_output`` calls made while a cell is measured and tells the slot.

    ``IPython.display.clear_output`` goes through ``shell.display_pub.clear_output``; wrapping it
    on the instance is the one place that sees the cell clear its own output area.
    """

    def __init__(self, shell, slot: OutputSlot | None):
        self.count = 0
        self._slot = slot
        self._publisher = getattr(shell, "display_pub", None)
        original = getattr(self._publisher, "clear_output", None)
        if original is None:
            self._publisher = None
            return
        watch = self

        def clear_output(wait: bool = False):
            if watch._publisher is None or watch._slot is None:
                return original(wait)
            watch.count += 1
            for_the_cell = not _output_widget_capturing()
            try:
                watch._slot.before_clear(wait, for_the_cell)
            except Exception:  # lepton_lab's display is a nicety: the cell's own clear must go on
                pass
            try:
                return original(wait)
            finally:
                watch._slot.after_clear()

        self._wrapper = clear_output
        self._original = original
        self._publisher.clear_output = clear_output

    def close(self) -> None:
        """Stop watching; unwrap when ours is the outermost wrapper (nested cells unwrap in turn)."""
        publisher, self._publisher = self._publisher, None
        if publisher is not None and publisher.__dict__.get("clear_output") is self._wrapper:
            if getattr(self._original, "__self__", None) is publisher:
                del publisher.clear_output  # the class's own method again
            else:
                publisher.clear_output = self._original
