"""The leaderboard app as Python objects (no browser): what it ranks and in which section, what it
rejects and why, that everything a participant wrote is escaped, that 500 submissions rebuild
quickly and only when the folder changed, and that forged widget values are clamped.

Submissions are real: reports of short CPU workloads measured with ``lepton_lab.measure`` (this
machine has no power sensor readable by tests, so with ``sensors="estimate"`` they are ESTIMATED),
or replayed from a recorded trace (``replay=``), written with ``lepton_lab.board.submit``. The
"measured" ones are FAKED: see :func:`faked_measured`.
"""
from __future__ import annotations

import asyncio
import html
import json
import math
import re
import time
from pathlib import Path

import pytest

import lepton_lab
from lepton_lab import board, traces
from lepton_lab.report import EnergyReport

leaderboard = pytest.importorskip("lepton_lab.widgets.panels.leaderboard")
LeaderboardPanel = leaderboard.LeaderboardPanel

XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_LABEL = "<script>alert(1)</script>"


def workload(seconds: float = 0.4) -> int:
    total, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        total += sum(range(500))
    return total


def scoring_run(label: str, **options) -> EnergyReport:
    with lepton_lab.measure(label=label, save=False, attribute="machine", interval=0.05, **options) as m:
        workload()
    return m.report


def faked_measured(report: EnergyReport, label: str | None = None) -> EnergyReport:
    """A real estimated report made into a MEASURED one. Faked because no power sensor can be read
    here, and the board must be tested with measured results. The board checks that a domain's
    kind and method are those of the sensor that names it, and that the trace has the report's
    domains, so the fake is a consistent one (docs/workshop.md: what a forger can still do): the
    estimate's domain becomes a RAPL package in the report and in its trace, with RAPL's method.
    The energy, the power trace and their agreement stay those of the real run."""
    data = report.to_dict()
    renamed = {"cpu:estimated": "cpu:package-0"}
    data["domains"] = {renamed.get(k, k): dict(v, kind="measured", method=v["method"].replace("estimate", "rapl"))
                       for k, v in data["domains"].items()}
    data["trace"]["power_w"] = {renamed.get(k, k): v for k, v in data["trace"]["power_w"].items()}
    if label is not None:
        data["label"] = label
    return EnergyReport.from_dict(data)


@pytest.fixture(scope="module")
def reports():
    with pytest.MonkeyPatch.context() as mp:  # module scope: no sensor of this machine, no ledger
        mp.setenv("LEPTON_LAB_RAPL_ROOT", "/nonexistent/powercap")
        estimated = scoring_run(XSS_LABEL, sensors="estimate")
        replayed = scoring_run("replayed run", replay=traces.names()[0])
    assert estimated.kind == "estimated" and replayed.kind == "replayed"
    return {"estimated": estimated, "replayed": replayed, "measured": faked_measured(estimated, "fast model")}


def submit(report, folder, participant, accuracy=0.9, inferences=100, floor=0.8, notes="") -> Path:
    return board.submit(report, folder, participant=participant, accuracy=accuracy, inferences=inferences,
                        accuracy_floor=floor, notes=notes)


def sections(panel) -> dict[str, str]:
    """The board's sections in page order: group -> its HTML."""
    return dict(re.findall(r'<section class="ll-sec [^"]*" data-group="([^"]+)">(.*?)</section>',
                           panel.table.value))


def who(section_html: str) -> list[str]:
    """Participants (first column) of a section, in order, unescaped."""
    return [html.unescape(x) for x in re.findall(r'<td class="ll-who">(.*?)</td>', section_html)]


def plain(markup: str) -> str:
    """The text of some HTML, tags gone and spaces collapsed (entities unescaped)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def message(panel) -> str:
    return plain(panel.message.value)


def browser_update(widget, **state) -> None:
    """Apply ``state`` exactly as a comm 'update' message from the browser is applied."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}},
                        "buffers": []})


def upload(panel, files: dict[str, bytes]) -> None:
    """Upload files the way the browser does: a comm update with each file in a binary buffer."""
    state = {"value": [{"name": n, "type": "application/json", "size": len(c), "last_modified": 0} for n, c in
                       files.items()]}
    paths = [["value", i, "content"] for i in range(len(files))]
    panel.upload._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": paths}},
                              "buffers": [memoryview(c) for c in files.values()]})


def edited(path: Path, **changes) -> bytes:
    data = json.loads(path.read_text())
    data.update(changes)
    return json.dumps(data).encode()


# -- ranking and sections ---------------------------------------------------------------------

def test_measured_ranked_first_and_the_others_apart(tmp_path, reports):
    folder = tmp_path / "board"
    submit(reports["measured"], folder, "Bea", inferences=100)          # 2nd measured
    submit(reports["measured"], folder, "Ada", inferences=400)          # 1st measured: fewer µJ each
    submit(reports["estimated"], folder, "Cy", inferences=10_000)       # lowest µJ of all, but estimated
    submit(reports["estimated"], folder, "Dee", inferences=50)
    submit(reports["replayed"], folder, "Eve", inferences=100)
    submit(reports["measured"], folder, "Ada", inferences=200)          # Ada's worse try: not shown twice
    panel = LeaderboardPanel(board=folder)
    found = sections(panel)
    assert list(found) == ["measured", "estimated", "replayed"]  # measured first, never interleaved
    assert who(found["measured"]) == ["Ada", "Bea"]
    assert who(found["estimated"]) == ["Cy", "Dee"] and who(found["replayed"]) == ["Eve"]
    assert "ESTIMATED — not ranked with measured results" in found["estimated"]
    assert "REPLAYED — not ranked with measured results" in found["replayed"]
    assert 'data-rank="1"' in found["measured"] and "(rapl)" in found["measured"]
    expected = reports["measured"].energy_j * 1e6 / 400
    assert leaderboard.format_uj(expected) in found["measured"].split("Bea")[0]
    shown = html.unescape(panel.numbers.value)
    assert f"{leaderboard.format_uj(expected)} µJ/inference" in shown and "Ada: fast model" in shown
    assert "2 measured" in shown and "3 not measured" in shown
    panel.widget_of("best").value = False  # every submission: Ada twice, best first
    assert who(sections(panel)["measured"]) == ["Ada", "Ada", "Bea"]


def test_no_measured_result_says_so_and_estimated_stay_apart(tmp_path, reports):
    submit(reports["estimated"], tmp_path, "Cy")
    panel = LeaderboardPanel(board=tmp_path)
    found = sections(panel)
    assert who(found["measured"]) == [] and "No measured submission yet" in found["measured"]
    assert who(found["estimated"]) == ["Cy"] and "ESTIMATED" in found["estimated"]
    assert "none yet" in panel.numbers.value


def test_the_floor_is_the_boards_and_a_submissions_own_floor_is_only_shown(tmp_path, reports):
    submit(reports["measured"], tmp_path, "Ada", accuracy=0.95, floor=0.8)
    submit(reports["measured"], tmp_path, "Low", accuracy=0.70, floor=0.8, inferences=10_000)  # best µJ
    submit(reports["measured"], tmp_path, "Mid", accuracy=0.85, floor=0.0, inferences=200)  # declared no floor
    panel = LeaderboardPanel(board=tmp_path)
    assert who(sections(panel)["measured"]) == ["Low", "Mid", "Ada"]  # no board floor yet: own floors ignored
    panel.widget_of("floor_pct").value = 80.0  # the instructor's floor, set in the app
    found = sections(panel)
    assert who(found["measured"]) == ["Mid", "Ada"]
    assert who(found["below-floor"]) == ["Low"] and "BELOW THE ACCURACY FLOOR — not ranked" in found["below-floor"]
    assert "70.0 %" in found["below-floor"] and "80.0 %" in found["below-floor"]
    board.set_floor(0.90, tmp_path)  # the board's file fixes it: the slider follows, disabled
    assert panel.poll() is True
    found = sections(panel)
    assert who(found["measured"]) == ["Ada"] and who(found["below-floor"]) == ["Low", "Mid"]
    widget = panel.widget_of("floor_pct")
    assert widget.value == 90.0 and widget.disabled and "Fixed by the instructor" in panel.floor_note.value
    browser_update(widget, disabled=False, value=0.0)  # forged: the file still rules
    assert widget.value == 90.0 and who(sections(panel)["measured"]) == ["Ada"]


def test_bad_files_are_rejected_with_their_reason(tmp_path, reports):
    good = submit(reports["measured"], tmp_path, "Ada")
    (tmp_path / "broken.json").write_text('{"format": "lepton_lab-submission/1", "participant": ')
    (tmp_path / "cheat-uj.json").write_bytes(edited(good, participant="Cheat", uj_per_inference=1.0))
    (tmp_path / "cheat-energy.json").write_bytes(edited(good, participant="Cheat2", energy_j=0.001))
    (tmp_path / "notes.txt").write_text("not a .json: never read")
    panel = LeaderboardPanel(board=tmp_path)
    rejected = sections(panel)["rejected"]
    text = plain(rejected)
    assert "REJECTED FILES (3)" in text and "notes.txt" not in text and str(tmp_path) not in text
    assert "broken.json not readable JSON (JSONDecodeError)" in text
    assert re.search(r"cheat-uj\.json µJ/inference 1 is not energy ÷ inferences \([^)]+\) \(edited\?\)", text)
    assert re.search(r"cheat-energy\.json energy 0\.001 J is not its report's [\d.]+ J \(edited\?\)", text)
    assert who(sections(panel)["measured"]) == ["Ada"]
    assert "4 found, 3 rejected" in plain(panel.numbers.value)  # found, not "read": a FIFO is never read


def test_a_file_with_the_wrong_types_is_rejected_not_fatal(tmp_path, reports):
    """board.check lets a TypeError/AttributeError through for some malformed reports (a string
    as a domain's energy); one such file must not take the board down."""
    good = submit(reports["measured"], tmp_path, "Ada")
    data = json.loads(good.read_text())
    domain = next(iter(data["report"]["domains"].values()))
    domain["energy_j"] = "lots"
    (tmp_path / "typed.json").write_text(json.dumps(data))
    panel = LeaderboardPanel(board=tmp_path)
    assert who(sections(panel)["measured"]) == ["Ada"]
    assert "typed.json" in sections(panel)["rejected"] and "not a valid submission" in sections(panel)["rejected"]


# -- escaping --------------------------------------------------------------------------------

def test_everything_a_participant_wrote_is_escaped(tmp_path, reports):
    path = submit(reports["estimated"], tmp_path, XSS_NAME, notes="<b onmouseover=alert(2)>notes</b>")
    assert json.loads(path.read_text())["label"] == XSS_LABEL
    data = json.loads(path.read_text())
    data["report"]["host"] = "<svg onload=alert(3)>"  # not a checked field: anything goes (the Machine column)
    (tmp_path / "machine.json").write_text(json.dumps({**data, "participant": "M"}))
    for domain in data["report"]["domains"].values():  # a domain's kind: rejected, its reason quotes it
        domain["kind"] = "<svg onload=alert(7)>"
    (tmp_path / "kind.json").write_text(json.dumps({**data, "participant": "K"}))
    (tmp_path / "<img src=x onerror=alert(4)>.json").write_text("<script>alert(5)</script>")
    measured = faked_measured(reports["estimated"], label="<iframe src=javascript:alert(6)>")
    submit(measured, tmp_path, "&lt;already escaped&gt;", accuracy=0.1)  # below the floor section too
    panel = LeaderboardPanel(board=tmp_path)
    upload(panel, {"<b>up</b>.json": b"{}"})
    page = (panel.table.value + panel.numbers.value + panel.message.value).lower()
    for raw in ("<img", "<script", "<svg", "<iframe", "<b ", "<b>", "onerror=alert(1)>"):
        assert raw not in page, raw
    assert "its kind is not its report's <svg onload=alert(7)> (edited?)" in plain(panel.table.value)
    text = plain(panel.table.value)
    for literal in (XSS_NAME, XSS_LABEL, "<b onmouseover=alert(2)>notes</b>", "<svg onload=alert(3)>",
                    "<img src=x onerror=alert(4)>.json", "<iframe src=javascript:alert(6)>",
                    "&lt;already escaped&gt;", "uploaded: <b>up</b>.json"):
        assert literal in text, literal


# -- uploads -----------------------------------------------------------------------------------

def test_uploads_are_checked_like_folder_files(tmp_path, reports):
    folder, elsewhere = tmp_path / "board", tmp_path / "mine"
    good = submit(reports["measured"], elsewhere, "Uploader", inferences=1000)
    bad = elsewhere / "bad.json"
    bad.write_bytes(edited(good, energy_j=1e6))
    submit(reports["measured"], folder, "Folder")
    panel = LeaderboardPanel(board=folder)
    upload(panel, {"good.json": good.read_bytes(), "bad.json": bad.read_bytes()})
    assert who(sections(panel)["measured"]) == ["Uploader", "Folder"]
    reason = {Path(r.path).name: r.reason for r in board.read_board(elsewhere).rejected}["bad.json"]
    assert [(r.path, r.reason) for r in panel.rejected] == [("uploaded: bad.json", reason)]  # same words
    assert panel.upload.value == () and panel.forget.layout.display is None
    panel.forget_uploads()
    assert who(sections(panel)["measured"]) == ["Folder"] and "rejected" not in sections(panel)


def test_forged_upload_structure_is_refused(tmp_path):
    panel = LeaderboardPanel(board=tmp_path)
    panel._uploaded({"new": [{"no": "content"}]})
    assert "an upload could not be read" in message(panel)


# -- scale and refresh --------------------------------------------------------------------------

def test_500_submissions_rebuild_quickly_and_only_when_the_folder_changed(tmp_path, reports, record_property):
    for i in range(500):
        submit(reports["measured" if i % 2 else "estimated"], tmp_path, f"p{i:03d}", inferences=100 + i,
               accuracy=0.5 if i % 25 == 0 else 0.9)
    board.set_floor(0.8, tmp_path)
    started, started_cpu = time.perf_counter(), time.process_time()
    panel = LeaderboardPanel(board=tmp_path)
    first_s, first_cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    found = sections(panel)
    assert len(found["measured"].split("<tr data-rank=")) - 1 == 50  # capped per section
    assert "and 190 more" in found["measured"] and panel.show_all.layout.display is None
    cold_s = panel.last_rebuild_s
    rebuilds = panel.rebuilds
    assert panel.poll() is False and panel.rebuilds == rebuilds  # nothing changed: nothing rebuilt
    panel.show_all.click()
    found = sections(panel)
    assert len(found["measured"].split("<tr data-rank=")) - 1 == 240 and "more" not in found["measured"]
    assert len(who(found["estimated"])) == 240 and len(who(found["below-floor"])) == 20
    assert panel.show_all.layout.display == "none"
    all_rows_s = panel.last_rebuild_s
    submit(reports["measured"], tmp_path, "late", inferences=100_000)  # the best: top of the board
    started, started_cpu = time.perf_counter(), time.process_time()
    assert panel.poll() is True
    one_new_s, one_new_cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    assert who(sections(panel)["measured"])[0] == "late"
    record_property("rebuild_500_s", {"first (all files parsed)": round(cold_s, 4),
                                      "all 500 rows": round(all_rows_s, 4),
                                      "one new file (poll + rebuild)": round(one_new_s, 4),
                                      "panel created": round(first_s, 4)})
    print(f"500 submissions: first rebuild {cold_s * 1000:.0f} ms, all rows {all_rows_s * 1000:.0f} ms, "
          f"one new file {one_new_s * 1000:.0f} ms, panel {first_s * 1000:.0f} ms")
    # The work's CPU time, which other processes on a busy machine do not stretch as they do the
    # wall clock (timing targets live in benchmarks/). Generous: ~0.1 s and ~0.03 s on a 2-CPU VM.
    assert first_cpu_s < 3.0 and one_new_cpu_s < 1.0, (first_cpu_s, one_new_cpu_s)


def test_polling_on_the_event_loop_picks_up_a_new_file(tmp_path, reports):
    async def scenario():
        panel = LeaderboardPanel(board=tmp_path, poll_s=0.05)
        try:
            assert panel._task is not None
            assert who(sections(panel)["measured"]) == []
            submit(reports["measured"], tmp_path, "Newcomer")
            for _ in range(100):
                await asyncio.sleep(0.05)
                if who(sections(panel)["measured"]):
                    break
            assert who(sections(panel)["measured"]) == ["Newcomer"]
        finally:
            panel.close()

    asyncio.run(scenario())


def test_no_running_loop_means_no_poller(tmp_path):
    panel = LeaderboardPanel(board=tmp_path)
    assert panel._task is None and panel.start_polling() is False


def test_board_folder_from_the_environment_and_a_missing_one_is_a_message(tmp_path, reports, monkeypatch):
    submit(reports["measured"], tmp_path, "Env")
    monkeypatch.setenv(board.BOARD_ENV, str(tmp_path))
    panel = LeaderboardPanel()
    assert panel.folder.value == str(tmp_path) and who(sections(panel)["measured"]) == ["Env"]
    panel.folder.value = str(tmp_path / "nowhere")
    assert "cannot read the board" in message(panel) and "check the path" in message(panel)
    assert who(sections(panel)["measured"]) == []
    (tmp_path / "nowhere").mkdir()
    submit(reports["measured"], tmp_path / "nowhere", "Later")
    assert panel.poll() is True and who(sections(panel)["measured"]) == ["Later"]
    monkeypatch.delenv(board.BOARD_ENV)
    assert "no board folder" in html.unescape(LeaderboardPanel().numbers.value)


# -- forged widget values ---------------------------------------------------------------------

def test_forged_floor_is_clamped_with_a_visible_message(tmp_path, reports):
    submit(reports["measured"], tmp_path, "Ada", accuracy=0.99)
    panel = LeaderboardPanel(board=tmp_path)
    widget = panel.widget_of("floor_pct")
    browser_update(widget, max=1e9, value=1e9)
    assert widget.value == 100.0 and widget.max == 100.0
    assert "Accuracy floor 1e+09 % is outside 0 % to 100 %; using 100 %" in message(panel)
    assert who(sections(panel)["below-floor"]) == ["Ada"] and who(sections(panel)["measured"]) == []
    browser_update(widget, value=math.nan)
    assert widget.value == 0.0 and "finite" in message(panel) and who(sections(panel)["measured"]) == ["Ada"]


def test_forged_rows_choice_is_refused(tmp_path):
    panel = LeaderboardPanel(board=tmp_path)
    browser_update(panel.widget_of("rows"), index=99)  # ipywidgets refuses it (and logs)
    assert panel.widget_of("rows").value == 50
    panel.widget_of("rows").set_state({"index": 3})
    assert panel.read()["rows"] == 0


def test_folder_is_fixed_when_served_to_a_network(tmp_path, reports, monkeypatch):
    """``lepton-lab serve --ip 0.0.0.0`` hides the ledger; a visitor must not list folders either."""
    board_dir = tmp_path / "board"
    submit(reports["measured"], board_dir, "Ada")
    monkeypatch.setenv(board.BOARD_ENV, str(board_dir))
    monkeypatch.setenv("LEPTON_LAB_APPS_LEDGER", "off")
    panel = LeaderboardPanel(board="/etc")
    assert panel.folder.disabled and panel.folder.value == str(board_dir)
    browser_update(panel.folder, disabled=False, value=str(tmp_path))  # forged
    assert panel.folder.value == str(board_dir) and "fixed on this server" in message(panel)
    assert who(sections(panel)["measured"]) == ["Ada"] and str(board_dir) not in panel.numbers.value


def test_a_forged_long_folder_path_is_refused(tmp_path):
    panel = LeaderboardPanel(board=tmp_path)
    browser_update(panel.folder, value="x" * 5000)
    assert "path under 1024 characters" in message(panel) and len(panel.folder.value) < 1024
