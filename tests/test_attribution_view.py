"""One view per session (issue 18, item 7) and one judgement of other load for every note.

Pure: the session's decision is fed its environment and its list of other users, so nothing here
depends on who else uses the machine running the tests."""
from __future__ import annotations

import pytest

from lepton_lab import neighbours
from lepton_lab.attribution import Share, choose_view
from lepton_lab.neighbours import SessionView, decide_session, load_phrase

ALONE = SessionView("machine", "not shared: no JupyterHub, no other users' processes")
SHARED = SessionView("process", "shared machine: JupyterHub (JUPYTERHUB_USER is set)")


def test_the_session_is_decided_from_the_setting_the_hub_or_other_users_never_from_load():
    nobody = set
    assert decide_session({"LEPTON_LAB_SHARED": "1"}, nobody).view == "process"
    assert decide_session({"LEPTON_LAB_SHARED": "0", "JUPYTERHUB_USER": "ada"}, nobody).view == "machine"
    hub = decide_session({"JUPYTERHUB_USER": "ada"}, nobody)
    assert hub.view == "process" and "JupyterHub" in hub.why
    users = decide_session({}, lambda: {"bob", "eve"})
    assert users.view == "process" and "bob, eve" in users.why
    assert decide_session({}, nobody) == ALONE
    typo = decide_session({"LEPTON_LAB_SHARED": "maybe"}, nobody)  # said in the report, never a lost cell
    assert typo.view == "machine" and "LEPTON_LAB_SHARED='maybe' ignored: set it to 1" in typo.why


def test_auto_keeps_the_sessions_view_whatever_the_load_and_says_when_neighbours_are_busy():
    quiet, busy = Share(0.9, other_load=0.05), Share(0.3, other_load=0.45)
    view, why = choose_view("auto", {"cpu:package-0": quiet}, ALONE)
    assert view == "machine" and why.endswith("other processes used 5% of the CPUs, at most 10%")
    view, why = choose_view("auto", {"cpu:package-0": busy}, ALONE)
    assert view == "machine"  # not switched: the session's cells stay comparable
    assert why.startswith("other processes used 45% of the CPUs, over 10%: this session keeps the machine view")
    assert "\n" not in why and "--attribute process" in why
    assert choose_view("auto", {"cpu:package-0": quiet}, SHARED)[0] == "process"
    assert choose_view("auto", {"cpu:package-0": busy}, SHARED)[0] == "process"
    # Explicit views are not the session's business.
    assert choose_view("process", {"cpu:package-0": quiet}, ALONE)[0] == "process"
    assert choose_view("machine", {"cpu:package-0": busy}, SHARED)[0] == "machine"


def test_the_session_view_is_decided_once(monkeypatch):
    calls = []
    monkeypatch.setattr(neighbours, "other_users", lambda: calls.append(1) or set())
    monkeypatch.delenv("LEPTON_LAB_SHARED", raising=False)
    for name in neighbours.HUB_ENV:
        monkeypatch.delenv(name, raising=False)
    neighbours.reset_session_view()
    try:
        first = neighbours.session_view()
        monkeypatch.setenv("JUPYTERHUB_USER", "ada")  # too late: the session has decided
        assert neighbours.session_view() is first and first.view == "machine" and calls == [1]
    finally:
        neighbours.reset_session_view()


@pytest.mark.parametrize("load", [0.0, 0.04, 0.094, 0.096, 0.1, 0.104, 0.106, 0.2, 0.86])
def test_one_judgement_the_printed_percentage_never_contradicts_the_verdict(load):
    """Issue 18: "other processes used 10% of the CPUs, under 10%" after "otherwise idle"."""
    busy, phrase = load_phrase(load)
    shown = int(phrase.split("used ")[1].split("%")[0])
    assert busy == (shown > 10)
    assert phrase.endswith("over 10%" if busy else "at most 10%")
