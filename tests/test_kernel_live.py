"""%%energy in a real Jupyter kernel driven by nbclient, as a notebook front end would drive it.

One kernel runs one notebook (module fixture) to keep the suite quick: a busy cell straight after
``%load_ext`` (the widget libraries are still loading in the background: it draws the SVG image
live), short cells (no live view, no widget at all), a 3 s busy cell with the live widget
(widgets while it runs, a static SVG-image figure once it ends), the same with the image view
(``LEPTON_LAB_LIVE=svg``, as on Colab), a top-level ``await`` cell, then a failing cell. Every
iopub and shell message is recorded with the time it reached this process, so the test can tell
which updates arrived while the cell was still running, i.e. before its execute_reply.
"""
from __future__ import annotations

import copy
import importlib.metadata
import itertools
import sqlite3
import time
import xml.etree.ElementTree as ET

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from lepton_lab import stacks
from lepton_lab.widgets.svg import svgs_in

pytestmark = pytest.mark.kernel
WIDGET = "application/vnd.jupyter.widget-view+json"
#: ipykernel 5 (Colab's): %load_ext finishes its imports before returning (lepton_lab.stacks.
#: imports_reorder_output), so the first cell after it finds bqplot loaded and draws the widget.
LOADS_IN_THE_FOREGROUND = stacks.parse(importlib.metadata.version("ipykernel")) < (6,)
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
SHORT_CELLS = 5
NAMED = [
    ("load", "%load_ext lepton_lab"),
    ("cold", BUSY_CELL.replace("live-3s", "cold").replace("3.0", "1.5")),
    ("warm", "import lepton_lab.live_start as ls\nls.prewarm().join(120)\nls._warm.is_set()"),
    *((f"short{i}", "%%energy\nx = 1") for i in range(SHORT_CELLS)),
    ("busy", BUSY_CELL),
    ("length", "import lepton_lab; len(lepton_lab.last_report().trace['t_s'])"),
    ("svg-mode", "import os\nos.environ['LEPTON_LAB_LIVE'] = 'svg'"),
    ("svg", BUSY_CELL.replace("live-3s", "svg-2s").replace("3.0", "2.0")),
    ("widget-mode", "os.environ['LEPTON_LAB_LIVE'] = 'auto'"),
    ("awaited", "%%energy -q -l awaited\nimport asyncio\nawait asyncio.sleep(0.05)\n'awaited ok'"),
    ("sweep", SWEEP_CELL),
    ("failing", "%%energy -q -l failing\nx = 1\nx / 0"),
    ("after", "print('must not run')"),
]
CELLS = [cell for _, cell in NAMED]
AT = {name: index for index, (name, _) in enumerate(NAMED)}


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


def messages_of(client, name: str) -> list[tuple[float, dict]]:
    """(arrival time, message) of every iopub message of that cell."""
    request = execute_request_ids(client)[AT[name]]
    return [(t, m) for t, ch, m in client.received if ch == "iopub" and m["parent_header"].get("msg_id") == request]


def ours(messages) -> list[tuple[float, dict]]:
    return [(t, m) for t, m in messages if m["msg_type"] in ("display_data", "update_display_data")
            and "lepton_lab" in m["content"].get("metadata", {})]


def test_short_cells_build_no_live_view(executed):
    """Under ~0.3 s: the summary alone, one display message, and no widget created at all."""
    nb, client, _, _ = executed
    for i in range(SHORT_CELLS):
        messages = messages_of(client, f"short{i}")
        assert not [m for _, m in messages if m["msg_type"].startswith("comm")]
        (shown,) = ours(messages)
        assert shown[1]["msg_type"] == "display_data"
        assert set(shown[1]["content"]["data"]) == {"text/html", "text/plain"}
        (output,) = nb.cells[AT[f"short{i}"]].outputs
        assert "lepton-report" in output["data"]["text/html"] and "<img" not in output["data"]["text/html"]


def test_a_long_cell_gets_its_live_widget_within_a_moment(executed):
    _, client, _, _ = executed
    messages = messages_of(client, "busy")
    started = next(t for t, m in messages if m["msg_type"] == "execute_input")
    first = ours(messages)[0]
    assert WIDGET in first[1]["content"]["data"]
    # Due at 0.3 s; building the figure beside a busy cell on a loaded 2-core machine adds to it.
    assert first[0] - started < 1.0


def test_a_cell_right_after_load_ext_draws_the_image_live(executed):
    """bqplot is still loading in the background: that cell's live view is the SVG image."""
    nb, client, _, _ = executed
    shown = ours(messages_of(client, "cold"))
    if LOADS_IN_THE_FOREGROUND:
        assert WIDGET in shown[0][1]["content"]["data"]  # nothing was left loading
        return
    # The image, then the final figure (redraws between them depend on how busy the machine is:
    # that first image also waits for numpy beside the busy cell).
    assert len(shown) >= 2 and not any(WIDGET in m["content"]["data"] for _, m in shown)
    assert "<img" in shown[0][1]["content"]["data"]["text/html"]
    assert nb.cells[AT["warm"]].outputs[0]["data"]["text/plain"] == "True"


def test_the_image_view_updates_in_place_while_the_cell_runs(executed):
    """LEPTON_LAB_LIVE=svg (what Colab gets): no widget, the image redrawn at 2-3 Hz, one output."""
    nb, client, _, _ = executed
    messages = messages_of(client, "svg")
    assert not [m for _, m in messages if m["msg_type"].startswith("comm")]
    reply_at = next(t for t, ch, m in client.received if m["msg_type"] == "execute_reply"
                    and m["parent_header"]["msg_id"] == execute_request_ids(client)[AT["svg"]])
    shown = ours(messages)
    assert shown[0][1]["msg_type"] == "display_data"
    assert all(m["msg_type"] == "update_display_data" for _, m in shown[1:])
    live = [t for t, m in shown if t < reply_at]
    assert len(live) >= 4 and max(b - a for a, b in itertools.pairwise(live)) < 1.0  # ~2.5 Hz over 2 s
    assert all("<img" in m["content"]["data"]["text/html"] for _, m in shown)
    (final,) = [o for o in nb.cells[AT["svg"]].outputs if o["output_type"] == "display_data"]
    (svg,) = svg_images(final["data"]["text/html"])
    assert "svg-2s — ESTIMATED" in texts(svg) and "lepton-report" in final["data"]["text/html"]


def test_the_final_figure_is_the_same_whatever_the_live_view(executed):
    nb, _, _, _ = executed
    finals = {}
    for name in ("busy", "svg", "cold"):
        (final,) = [o for o in nb.cells[AT[name]].outputs if o["output_type"] == "display_data"]
        (svg,) = svg_images(final["data"]["text/html"])
        labels = {t for t in texts(svg) if t.isalpha() or " (" in t}  # axis and legend labels, not ticks
        finals[name] = (sorted({e.tag for e in svg.iter()}), len(list(svg.iter(f"{SVG}polyline"))), labels,
                        set(final["data"]), final["data"]["text/html"].count("lepton-report"))
    assert finals["busy"] == finals["svg"] == finals["cold"]


def test_widget_updates_arrive_while_the_cell_runs(executed):
    _, client, _, _ = executed
    busy_id = execute_request_ids(client)[AT["busy"]]
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
    trace_length = int(nb.cells[AT["length"]].outputs[0]["data"]["text/plain"])
    assert trace_length >= 15  # ~30 at 10 Hz over 3 s; fewer when other processes load the machine
    lines = power_line_ids(client)
    last_x = {}
    for _, _, msg in client.received:
        if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] in lines:
            x = msg["content"]["data"].get("state", {}).get("x")
            if x is not None:
                last_x[msg["content"]["comm_id"]] = x
    figures = 2 if LOADS_IN_THE_FOREGROUND else 1  # the busy cell's (and the cold cell's widget)
    assert len(last_x) == figures and [trace_length] in [x["shape"] for x in last_x.values()]


def test_final_output_is_the_static_figure(executed):
    """No widget mimetype after the cell: JupyterLab saves no widget state by default and would
    show 'model not found' for it after a reload instead of falling back to the HTML."""
    nb, _, _, _ = executed
    outputs = nb.cells[AT["busy"]].outputs
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
    busy_id = execute_request_ids(client)[AT["busy"]]
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
    assert nb.cells[AT["awaited"]].outputs[0]["data"]["text/plain"] == "'awaited ok'"


def test_a_sweep_shows_one_progress_and_comparison_display(executed):
    nb, client, _, _ = executed
    sweep_id = execute_request_ids(client)[AT["sweep"]]
    iopub = [m for _, ch, m in client.received if ch == "iopub" and m["parent_header"].get("msg_id") == sweep_id]
    opened = {m["content"]["comm_id"] for m in iopub if m["msg_type"] == "comm_open"}
    closed = {m["content"]["comm_id"] for m in iopub if m["msg_type"] == "comm_close"}
    assert opened and opened <= closed  # widgets while it ran (progress bar, bars), all closed at the end
    outputs = nb.cells[AT["sweep"]].outputs
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
    assert nb.cells[AT["after"]].get("outputs", []) == []  # the run stopped at the failed cell
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT label, status FROM measurements ORDER BY id").fetchall()
    assert ("failing", "error") in rows and ("live-3s", "ok") in rows


def test_a_kernel_without_ipywidgets_draws_the_image_live_and_says_how_to_get_the_widget(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    blocker = Path(__file__).parent / "fakes" / "no_widgets"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("LEPTON_LAB_LEDGER", str(tmp_path / "ledger.sqlite"))
    monkeypatch.setenv("LEPTON_LAB_RAPL_ROOT", str(tmp_path / "no-powercap"))
    cells = ["%load_ext lepton_lab", BUSY_CELL.replace("live-3s", "no-widgets").replace("3.0", "1.5"),
             "%%energy\nx = 1", "import sys\n'ipywidgets' in sys.modules or 'bqplot' in sys.modules"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = RecordingClient(nb, timeout=60, kernel_name="python3")
    client.execute()
    streams = "".join(o.get("text", "") for o in nb.cells[1].outputs if o["output_type"] == "stream")
    assert streams.count("pip install 'lepton_lab[lab]'") == 1
    live = [m for _, ch, m in client.received if m["msg_type"] == "update_display_data"
            and m["parent_header"]["msg_id"] == execute_request_ids(client)[1]]
    assert len(live) >= 1 and all(WIDGET not in m["content"]["data"] for m in live)
    (final,) = [o for o in nb.cells[1].outputs if o["output_type"] == "display_data"]
    assert "no-widgets — ESTIMATED" in texts(svg_images(final["data"]["text/html"])[0])
    assert "lepton-report" in nb.cells[2].outputs[-1]["data"]["text/html"]  # a short cell: its summary
    assert "pip install" not in "".join(o.get("text", "") for o in nb.cells[2].outputs)  # said once
    assert nb.cells[3].outputs[0]["data"]["text/plain"] == "False"
