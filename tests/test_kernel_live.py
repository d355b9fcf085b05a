"""%%energy in a real Jupyter kernel driven by nbclient, as a notebook front end would drive it.

One kernel runs one notebook (module fixture) to keep the suite quick: a 3 s busy cell with the
live view (widgets while it runs, a static SVG-image figure once it ends), a top-level ``await`` cell,
then a failing cell. Every iopub and shell message is recorded with the time it reached this
process, so the test can tell which widget updates arrived while the cell was still running,
i.e. before its execute_reply.
"""
from __future__ import annotations

import copy
import itertools
import sqlite3
import time
import xml.etree.ElementTree as ET

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from lepton_lab.widgets.svg import svgs_in

pytestmark = pytest.mark.kernel
WIDGET = "application/vnd.jupyter.widget-view+json"
SVG = "{http://www.w3.org/2000/svg}"


def svg_images(html: str) -> list[ET.Element]:
    """The SVG images (<img> data URIs) of an output, parsed; no inline <svg> (untrusted notebooks strip it)."""
    assert "<svg" not in html and html.count("<img ") == len(svgs_in(html))
    return [ET.fromstring(svg) for svg in svgs_in(html)]


def texts(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}text")]

BUSY_CELL = """%%energy -l live-3s
import time
t0 = time.perf_counter()
while time.perf_counter() - t0 < 3.0:
    pass
"""
SWEEP_CELL = """with lepton_lab.Sweep(total=3, title="tiny sweep") as sweep:
    for n in (1, 2, 3):
        with sweep.measure(label=f"n={n}", params={"n": n}):
            sum(range(n * 20_000))
list(sweep.table["n"])
"""
CELLS = [
    "%load_ext lepton_lab",
    BUSY_CELL,
    "import lepton_lab; len(lepton_lab.last_report().trace['t_s'])",
    "%%energy -q -l awaited\nimport asyncio\nawait asyncio.sleep(0.05)\n'awaited ok'",
    SWEEP_CELL,
    "%%energy -q -l failing\nx = 1\nx / 0",
    "print('must not run')",
]


class RecordingClient(NotebookClient):
    """Records (arrival time, message) for every message on the iopub and shell channels."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[float, str, dict]] = []

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        for name in ("iopub", "shell"):
            self._record(getattr(client, f"{name}_channel"), name)
        return client

    def _record(self, channel, name: str) -> None:
        get_msg = channel.get_msg

        async def recording_get_msg(*args, **kwargs):
            msg = await get_msg(*args, **kwargs)
            self.received.append((time.monotonic(), name, msg))
            return msg

        channel.get_msg = recording_get_msg


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    ledger = tmp_path_factory.mktemp("kernel") / "ledger.sqlite"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = RecordingClient(nb, timeout=60, kernel_name="python3", allow_errors=False)
    with pytest.MonkeyPatch.context() as mp:  # the kernel inherits this process's environment
        mp.setenv("LEPTON_LAB_LEDGER", str(ledger))
        mp.setenv("LEPTON_LAB_RAPL_ROOT", str(ledger.parent / "no-powercap"))
        with pytest.raises(CellExecutionError) as failure:
            client.execute()
    return nb, client, failure.value, ledger


def execute_request_ids(client) -> list[str]:
    return [m["parent_header"]["msg_id"] for _, ch, m in client.received if m["msg_type"] == "execute_reply"]


def power_line_ids(client) -> set[str]:
    """comm ids of the bqplot Lines that draw watts (not the dashed cumulative-energy line)."""
    ids = set()
    for _, _, msg in client.received:
        data = msg["content"].get("data", {}) if msg["msg_type"] == "comm_open" else {}
        state = data.get("state", {})
        if state.get("_model_name") == "LinesModel" and state.get("line_style") != "dashed":
            ids.add(msg["content"]["comm_id"])
    return ids


def test_widget_updates_arrive_while_the_cell_runs(executed):
    _, client, _, _ = executed
    busy_id = execute_request_ids(client)[1]
    reply_at = next(t for t, ch, m in client.received
                    if m["msg_type"] == "execute_reply" and m["parent_header"]["msg_id"] == busy_id)
    lines = power_line_ids(client)
    updates = [(t, m) for t, ch, m in client.received if m["msg_type"] == "comm_msg"
               and m["content"]["comm_id"] in lines and "x" in m["content"]["data"].get("state", {})]
    early = [t for t, m in updates if t < reply_at]
    assert len(early) >= 6, f"only {len(early)} live updates reached the client before execute_reply"
    assert early[-1] - early[0] >= 2.0  # spread over the 3 s cell, not flushed at its end
    gaps = [b - a for a, b in itertools.pairwise(early)]
    assert max(gaps) < 1.0  # steady 2-5 Hz, no stall
    # Kernel-side send times agree: these were sent before the reply, while the cell ran.
    reply_date = next(m["header"]["date"] for t, ch, m in client.received
                      if m["msg_type"] == "execute_reply" and m["parent_header"]["msg_id"] == busy_id)
    assert sum(m["header"]["date"] < reply_date for t, m in updates) >= 6


def test_final_state_holds_the_whole_trace(executed):
    nb, client, _, _ = executed
    trace_length = int(nb.cells[2].outputs[0]["data"]["text/plain"])
    assert trace_length >= 15  # ~30 at 10 Hz over 3 s; fewer when other processes load the machine
    lines = power_line_ids(client)
    last_x = {}
    for _, _, msg in client.received:
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] in lines:
            x = msg["content"]["data"].get("state", {}).get("x")
            if x is not None:
                last_x[msg["content"]["comm_id"]] = x
    assert len(last_x) == 1 and all(x["shape"] == [trace_length] for x in last_x.values())


def test_final_output_is_the_static_figure(executed):
    """No widget mimetype after the cell: JupyterLab saves no widget state by default and would
    show 'model not found' for it after a reload instead of falling back to the HTML."""
    nb, _, _, _ = executed
    outputs = nb.cells[1].outputs
    final = [o for o in outputs if o["output_type"] == "display_data"][-1]
    assert WIDGET not in final["data"]
    assert set(final["data"]) == {"text/html", "text/plain"}
    html = final["data"]["text/html"]
    (svg,) = svg_images(html)
    assert list(svg.iter(f"{SVG}polyline")) and "live-3s — ESTIMATED" in texts(svg)
    assert "lepton-report" in html and "J" in html  # the summary under the figure
    assert "ESTIMATED" in html  # no sensor on this machine, and the figure says so
    assert "live-3s" in final["data"]["text/plain"]


def test_widgets_are_closed_after_their_final_state_and_the_static_display(executed):
    _, client, _, _ = executed
    busy_id = execute_request_ids(client)[1]
    iopub = [m for _, ch, m in client.received if ch == "iopub" and m["parent_header"].get("msg_id") == busy_id]
    opened = {m["content"]["comm_id"] for m in iopub if m["msg_type"] == "comm_open"}
    closed = {m["content"]["comm_id"]: i for i, m in enumerate(iopub) if m["msg_type"] == "comm_close"}
    assert opened and opened <= set(closed)  # every widget of the live view: figure, marks, scales, ...
    (line,) = power_line_ids(client) & opened
    last_update = max(i for i, m in enumerate(iopub) if m["msg_type"] == "comm_msg"
                      and m["content"]["comm_id"] == line and "x" in m["content"]["data"].get("state", {}))
    static = [i for i, m in enumerate(iopub) if m["msg_type"] == "update_display_data"]
    assert static and last_update < static[-1] < min(closed.values())
    assert not any(m["msg_type"] == "comm_msg" for m in iopub[min(closed.values()):])  # none after closing


def test_exported_html_shows_the_static_figure(executed):
    """As JupyterLab saves by default (no widget state), nbconvert falls back to our SVG."""
    from nbconvert import HTMLExporter

    nb = copy.deepcopy(executed[0])
    nb.metadata.pop("widgets", None)
    body, _ = HTMLExporter().from_notebook_node(nb)
    svgs = svgs_in(body)
    assert any("<polyline" in svg and "live-3s" in svg and "energy so far" in svg for svg in svgs)


def test_top_level_await_works_in_the_kernel(executed):
    nb, _, _, _ = executed
    assert nb.cells[3].outputs[0]["data"]["text/plain"] == "'awaited ok'"


def test_a_sweep_shows_one_progress_and_comparison_display(executed):
    nb, client, _, _ = executed
    sweep_id = execute_request_ids(client)[4]
    iopub = [m for _, ch, m in client.received if ch == "iopub" and m["parent_header"].get("msg_id") == sweep_id]
    opened = {m["content"]["comm_id"] for m in iopub if m["msg_type"] == "comm_open"}
    closed = {m["content"]["comm_id"] for m in iopub if m["msg_type"] == "comm_close"}
    assert opened and opened <= closed  # widgets while it ran (progress bar, bars), all closed at the end
    outputs = nb.cells[4].outputs
    displays = [o for o in outputs if o["output_type"] == "display_data"]
    assert len(displays) == 1  # updated in place after each run, not one figure per run
    # Its final state is static (the widgets are closed): SVG images and the table, no widget.
    assert set(displays[0]["data"]) == {"text/html", "text/plain"}
    html = displays[0]["data"]["text/html"]
    energy, duration = svg_images(html)
    assert {"n=1", "n=2", "n=3"} <= set(texts(energy)) and "Duration" in texts(duration)
    assert "<table" in html and "3/3" in html
    assert outputs[-1]["data"]["text/plain"] == "[1, 2, 3]"


def test_a_failed_cell_stops_the_notebook_and_is_recorded(executed):
    nb, _, failure, ledger = executed
    assert "ZeroDivisionError" in str(failure)
    assert nb.cells[6].get("outputs", []) == []  # the run stopped at the failed cell
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT label, status FROM measurements ORDER BY id").fetchall()
    assert ("failing", "error") in rows and ("live-3s", "ok") in rows
