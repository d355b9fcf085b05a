"""The challenge board (lepton_lab.board): real measurements submitted into a real folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lepton_lab
from lepton_lab.board import rank, read_board, submit
from lepton_lab.errors import InvalidInput

ROOT = Path(__file__).resolve().parent.parent


def _scored_run(label: str = "scoring", seconds: float = 0.4):
    """A real measurement of some work (the estimate here: this machine has no sensor)."""
    with lepton_lab.measure(label=label, save=False) as block:
        end, n = time.perf_counter() + seconds, 0
        while time.perf_counter() < end:
            n += 1
    return block.report


@pytest.fixture(scope="module")
def report():
    return _scored_run()


def test_a_submission_reads_back_checked(report, tmp_path):
    path = submit(report, tmp_path, participant="Ada", accuracy=0.96, inferences=2000, accuracy_floor=0.95,
                  notes="pruned 50 %")
    board = read_board(tmp_path)
    assert board.rejected == [] and len(board.submissions) == 1
    entry = board.submissions[0]
    assert entry.path == str(path) and entry.participant == "Ada" and entry.notes == "pruned 50 %"
    assert entry.uj_per_inference == pytest.approx(report.energy_j * 1e6 / 2000)
    assert entry.kind == report.kind == "estimated" and entry.group == "estimated"
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_bad_files_are_rejected_with_their_reason_and_never_break_the_board(report, tmp_path):
    good = submit(report, tmp_path, participant="Bea", accuracy=0.96, inferences=1000, accuracy_floor=0.95)
    data = json.loads(good.read_text())
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    edited = dict(data, uj_per_inference=data["uj_per_inference"] / 2)
    (tmp_path / "edited-uj.json").write_text(json.dumps(edited))
    halved = dict(data, energy_j=data["energy_j"] / 2, uj_per_inference=data["uj_per_inference"] / 2)
    (tmp_path / "edited-energy.json").write_text(json.dumps(halved))
    both = json.loads(json.dumps(halved))
    both["report"]["domains"] = {k: dict(v, energy_j=v["energy_j"] / 2, machine_energy_j=v["energy_j"] / 2)
                                 for k, v in both["report"]["domains"].items()}
    (tmp_path / "edited-report.json").write_text(json.dumps(both))
    (tmp_path / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    board = read_board(tmp_path)
    assert [s.participant for s in board.submissions] == ["Bea"]
    reasons = {Path(r.path).name: r.reason for r in board.rejected}
    assert reasons["garbage.json"].startswith("not readable JSON")
    assert reasons["other.json"] == "not a lepton_lab submission"
    assert "is not energy ÷ inferences" in reasons["edited-uj.json"]
    assert "is not its report's" in reasons["edited-energy.json"]
    assert "power trace integrates to" in reasons["edited-report.json"]  # the trace still says the truth
    assert "nested.json" in reasons


def test_ranking_keeps_the_board_floor_and_never_mixes_estimates_with_measurements(report):
    from lepton_lab.board import Submission

    def entry(name, uj, accuracy=0.96, kind="measured", view="machine", own_floor=0.95):
        return Submission("", name, "", "", accuracy, own_floor, 100, uj, uj * 1e-4, kind, view, "m", "t")

    ranking = rank([entry("slow", 50.0), entry("fast", 20.0), entry("sloppy", 5.0, accuracy=0.90),
                    entry("guess", 1.0, kind="estimated"), entry("share", 2.0, view="process"),
                    entry("fast", 30.0), entry("replay", 0.5, kind="replayed"),
                    entry("own floor", 1.0, accuracy=0.10, own_floor=0.05)], floor=0.95)
    assert list(ranking.groups) == ["measured", "attributed", "estimated", "replayed"]
    assert [s.participant for s in ranking.groups["measured"]] == ["fast", "slow"]  # best run per participant
    assert [s.participant for s in ranking.below_floor] == ["own floor", "sloppy"]  # own floors do not count


def test_the_floor_is_the_boards_set_once_by_its_owner(report, tmp_path):
    from lepton_lab.board import FLOOR_FILE, set_floor

    submit(report, tmp_path, participant="Ada", accuracy=0.96, inferences=2000, accuracy_floor=0.95)
    assert read_board(tmp_path).floor is None
    assert set_floor(0.955, tmp_path) == tmp_path / FLOOR_FILE
    board = read_board(tmp_path)
    assert board.floor == 0.955 and board.rejected == []
    with pytest.raises(InvalidInput, match="already set"):
        set_floor(0.5, tmp_path)
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        set_floor(95, tmp_path)
    (tmp_path / FLOOR_FILE).write_text("lots")
    board = read_board(tmp_path)
    assert board.floor is None and "not a share between 0 and 1" in board.rejected[0].reason


def test_bad_submissions_are_one_line(report, tmp_path, monkeypatch):
    monkeypatch.delenv("LEPTON_LAB_BOARD", raising=False)
    with pytest.raises(InvalidInput, match="no board folder"):
        submit(report, participant="x", accuracy=0.9, inferences=10, accuracy_floor=0.9)
    with pytest.raises(InvalidInput, match="participant is empty"):
        submit(report, tmp_path, participant=" ", accuracy=0.9, inferences=10, accuracy_floor=0.9)
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        submit(report, tmp_path, participant="x", accuracy=95, inferences=10, accuracy_floor=0.9)
    with pytest.raises(InvalidInput, match="positive whole number"):
        submit(report, tmp_path, participant="x", accuracy=0.9, inferences=0, accuracy_floor=0.9)
    with pytest.raises(InvalidInput, match="takes the EnergyReport"):
        submit({"energy_j": 1}, tmp_path, participant="x", accuracy=0.9, inferences=10, accuracy_floor=0.9)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(InvalidInput, match="cannot write to the board"):
        submit(report, blocked, participant="x", accuracy=0.9, inferences=10, accuracy_floor=0.9)


def test_thirty_participants_submitting_at_once_lose_nothing(report, tmp_path):
    saved = report.save(tmp_path / "report.json")
    board, go = tmp_path / "board", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LEPTON_LAB_PREWARM": "0"}
    procs = [subprocess.Popen([sys.executable, str(ROOT / "tests" / "board_submitter.py"), saved, str(board),
                               f"participant {i:02d}", str(go)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(30)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    result = read_board(board)
    assert result.rejected == []
    assert sorted(s.participant for s in result.submissions) == [f"participant {i:02d}" for i in range(30)]
    assert not [p for p in board.iterdir() if p.name.startswith(".incoming-")]
