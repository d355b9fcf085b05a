"""OutputSlot and ClearOutputWatch against a fake kernel session (what the machine lacks here is
only a front end: the real kernel paths are in test_kernel_live.py, test_corpus.py and the Lab test).

The fake records every message in the order the kernel would put it on the iopub socket; the
front end's rule (a new output applies a pending wait-clear, an update does not) is applied by
:func:`front_end`, as JupyterLab's OutputAreaModel and nbclient apply it.
"""
from __future__ import annotations

import threading

from lepton_lab.cell_output import EMPTY, ClearOutputWatch, OutputSlot

PARENT = {"msg_id": "request-1", "msg_type": "execute_request"}
NEW_OUTPUTS = {"stream", "display_data", "execute_result", "error"}


class FakeSession:
    def __init__(self):
        self.sent: list[tuple[str, dict, dict]] = []

    def send(self, stream, msg_or_type, content=None, parent=None, ident=None, buffers=None, track=False,
             header=None, metadata=None):
        if isinstance(msg_or_type, dict):  # a built message, as ipykernel 7's display publisher sends
            msg_or_type, content, parent = msg_or_type["msg_type"], msg_or_type["content"], msg_or_type["parent_header"]
        self.sent.append((msg_or_type, content or {}, parent or {}))


class FakePublisher:
    topic = b"display_data"

    def __init__(self, session):
        self.session, self.pub_socket, self.parent_header = session, object(), dict(PARENT)

    def clear_output(self, wait=False):
        self.session.send(self.pub_socket, "clear_output", {"wait": wait}, parent=self.parent_header)


class FakeShell:
    def __init__(self):
        self.display_pub = FakePublisher(FakeSession())

    @property
    def sent(self):
        return self.display_pub.session.sent

    def output(self, text: str, parent=PARENT) -> None:  # the cell prints (sent from any thread)
        self.display_pub.session.send(self.display_pub.pub_socket, "stream", {"name": "stdout", "text": text},
                                      parent=parent)


def front_end(sent) -> list[str]:
    """What a notebook shows at the end: JupyterLab's and nbclient's rules for these messages."""
    outputs, ids, clear_next = [], {}, False
    for msg_type, content, _ in sent:
        display_id = (content.get("transient") or {}).get("display_id")
        if msg_type == "clear_output":
            if content["wait"]:
                clear_next = True
            else:
                outputs, ids = [], {}
        elif msg_type == "update_display_data":
            if display_id in ids:
                outputs[ids[display_id]] = content["data"].get("text/plain", "")
        elif msg_type in NEW_OUTPUTS:
            if clear_next:
                outputs, ids, clear_next = [], {}, False
            if display_id:
                ids[display_id] = len(outputs)
            outputs.append(content["data"].get("text/plain", "") if "data" in content else content["text"])
    return outputs


def started(shell):
    slot = OutputSlot(shell, {"lepton_lab": {"output": "measurement"}})
    return slot, ClearOutputWatch(shell, slot)


def test_nothing_is_sent_until_there_is_something_to_show():
    shell = FakeShell()
    slot, watch = started(shell)
    assert slot.usable and shell.sent == []
    slot.show({"text/plain": "live"})
    slot.show({"text/plain": "live, later"})
    slot.finish({"text/plain": "summary"})
    watch.close()
    assert [m for m, _, _ in shell.sent] == ["display_data", "update_display_data", "update_display_data"]
    assert all(p == PARENT and c["transient"]["display_id"] == slot.display_id and "lepton_lab" in c["metadata"]
               for _, c, p in shell.sent)  # the running request's parent, taken when the cell began
    assert front_end(shell.sent) == ["summary"]


def test_a_clear_left_pending_at_the_end_keeps_the_cells_output():
    """nbclient's Clear Output cell 3: print, then clear_output(wait=True), nothing after."""
    shell = FakeShell()
    slot, watch = started(shell)
    shell.output("Hello world")
    shell.display_pub.clear_output(wait=True)
    assert slot.pending and slot.shown  # shown (empty) before the clear went out
    slot.finish({"text/plain": "summary"})
    watch.close()
    assert front_end(shell.sent) == ["Hello world", "summary"]
    assert [m for m, _, _ in shell.sent][-1] == "update_display_data"  # fires nothing


def test_the_slot_comes_back_at_the_top_of_what_follows_a_clear():
    """A progress loop: each clear fires at the loop's next print, as without the magic, and the
    live view is shown again just before that print."""
    shell = FakeShell()
    slot, watch = started(shell)
    slot.show({"text/plain": "live"})
    for step in range(3):
        shell.display_pub.clear_output(wait=True)
        assert slot.pending and front_end(shell.sent)[0] == "live"  # the clear waits for the print
        shell.output(f"step {step}")
        assert front_end(shell.sent) == ["live", f"step {step}"]
    shell.display_pub.clear_output(wait=True)  # and one left pending at the end
    slot.finish({"text/plain": "summary"})
    watch.close()
    assert front_end(shell.sent) == ["summary", "step 2"]


def test_a_clear_without_wait_removes_the_slot_until_the_next_output():
    shell = FakeShell()
    slot, watch = started(shell)
    slot.show({"text/plain": "live"})
    shell.display_pub.clear_output()
    assert not slot.shown and front_end(shell.sent) == []
    shell.output("after")
    slot.finish({"text/plain": "summary"})
    assert front_end(shell.sent) == ["summary", "after"]
    # A clear before anything was shown: an empty slot takes the top of what follows.
    shell = FakeShell()
    slot, watch = started(shell)
    shell.display_pub.clear_output()
    shell.output("kept")
    slot.finish({"text/plain": "summary"})
    watch.close()
    assert front_end(shell.sent) == ["summary", "kept"] and EMPTY["text/plain"] == ""


def test_other_requests_and_captured_clears_are_not_the_cells():
    shell = FakeShell()
    slot, watch = started(shell)
    slot.show({"text/plain": "live"})
    shell.output("from another request", parent={"msg_id": "request-0"})
    shell.display_pub.clear_output()  # the cell's: the hook is on from here
    slot.before_clear(True, for_the_cell=False)  # what the watch does inside `with ipywidgets.Output():`
    FakePublisher.clear_output(shell.display_pub, wait=True)
    slot.after_clear()
    assert not slot.pending
    slot.finish({"text/plain": "summary"})
    watch.close()
    assert front_end(shell.sent) == ["summary"]


def test_the_hook_exists_only_from_the_first_clear_to_the_end():
    shell = FakeShell()
    session = shell.display_pub.session
    slot, watch = started(shell)
    assert "send" not in session.__dict__  # a cell that never clears costs nothing there
    shell.display_pub.clear_output(wait=True)
    assert "send" in session.__dict__ and "clear_output" in shell.display_pub.__dict__
    slot.finish(None)
    watch.close()
    assert "send" not in session.__dict__ and "clear_output" not in shell.display_pub.__dict__


def test_shows_from_another_thread_while_the_cell_clears():
    """The sampler thread shows the live view while the main thread clears and prints: every
    state the front end passes through holds the slot exactly once, and the output survives."""
    shell = FakeShell()
    slot, watch = started(shell)
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            slot.show({"text/plain": "live"})

    thread = threading.Thread(target=sampler)
    thread.start()
    try:
        for step in range(200):
            shell.display_pub.clear_output(wait=True)
            shell.output(f"step {step}")
    finally:
        stop.set()
        thread.join()
    shell.display_pub.clear_output(wait=True)
    slot.finish({"text/plain": "summary"})
    watch.close()
    assert front_end(shell.sent) == ["summary", "step 199"]


def test_terminal_ipython_has_no_slot():
    class Plain:
        display_pub = object()

    assert not OutputSlot(Plain(), {}).usable


def test_a_quiet_slot_shows_nothing_but_knows_a_clear_is_pending():
    shell = FakeShell()
    slot = OutputSlot(shell, {}, silent=True)
    watch = ClearOutputWatch(shell, slot)
    shell.output("step 0")
    shell.display_pub.clear_output(wait=True)
    shell.output("step 1")  # fires it, as without the magic
    assert not slot.pending
    shell.display_pub.clear_output(wait=True)
    assert slot.pending  # so the cell's end prints nothing (it would fire the clear)
    slot.show({"text/plain": "live"})
    slot.finish(None)
    watch.close()
    assert [m for m, _, _ in shell.sent] == ["stream", "clear_output", "stream", "clear_output"]
    assert front_end(shell.sent) == ["step 1"]
