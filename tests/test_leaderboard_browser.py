"""The workshop challenge, end to end: participants measure a scoring run and submit it to a board
folder; the leaderboard app, served by Voila (sources stripped) and read by headless Debian
Chromium, must rank it as the rules say and show nothing a participant wrote as markup.

Three participants run a real (small) classifier under ``lepton_lab.measure`` and submit with
``lepton_lab.board.submit``; on this machine those numbers are ESTIMATED (``sensors="estimate"``,
so the same on any machine). One more submission is a FAKED measurement (``faked_measured``: a
real report with its domains' kind set to measured, energy and trace unchanged), so the page has
a measured section to keep the estimated ones out of. One file is malformed JSON, one is a real
submission edited by hand. One participant is named ``<img src=x onerror=alert(1)>`` and labels
the run ``<script>alert(1)</script>``: both must read as text, and no dialog may open.
Screenshot: ``test-artifacts/leaderboard.png`` (and ``/tmp/leaderboard.png``).
"""
from __future__ import annotations

import json
import shutil

import pytest

import lepton_lab
from lepton_lab import board, serve
from tests.browser_util import ROOT, Server, chromium, free_port, screenshot
from tests.test_leaderboard import XSS_LABEL, XSS_NAME, faked_measured

pytestmark = pytest.mark.browser
np = pytest.importorskip("numpy")
FLOOR = 0.9
PASSES = 150
# JS: the board's sections in page order, each with its heading and rows' cells as text.
SECTIONS = """() => [...document.querySelectorAll('.ll-board section')].map(s => ({
    group: s.dataset.group,
    title: s.querySelector('.ll-sec-h').textContent,
    rows: [...s.querySelectorAll('tbody tr')].map(r => [...r.querySelectorAll('td')].map(c => c.textContent)),
}))"""


class Classifier:
    """Nearest centroid over synthetic data (seeded): ``features`` used, ``ensemble`` passes per
    prediction. Fewer features: cheaper and less accurate; a bigger ensemble: dearer, as accurate."""

    def __init__(self, features: int, ensemble: int = 1):
        rng = np.random.default_rng(7)
        self.centroids = rng.normal(0, 1, (4, 64))
        self.labels = rng.integers(0, 4, 2000)
        self.x = self.centroids[self.labels] + rng.normal(0, 1.6, (2000, 64))
        self.features, self.ensemble = features, ensemble

    def score(self, passes: int) -> tuple[float, int]:
        """Accuracy and number of inferences of ``passes`` passes over the test set."""
        f = self.features
        for _ in range(passes * self.ensemble):
            distances = ((self.x[:, None, :f] - self.centroids[None, :, :f]) ** 2).sum(-1)
        return float((distances.argmin(1) == self.labels).mean()), passes * len(self.labels)


def scoring_run(folder, participant: str, label: str, model: Classifier, passes: int = PASSES):
    """What a participant runs: the measured scoring run, then the submission."""
    with lepton_lab.measure(label=label, save=False, sensors="estimate", attribute="machine", interval=0.05) as m:
        accuracy, inferences = model.score(passes)
    path = board.submit(m.report, folder, participant=participant, accuracy=accuracy, inferences=inferences,
                        accuracy_floor=FLOOR)
    return m.report, path, accuracy


@pytest.fixture
def challenge(tmp_path):
    folder = tmp_path / "board"
    ada, ada_path, ada_acc = scoring_run(folder, "Ada", "centroids, 64 features", Classifier(64))
    _, _, bo_acc = scoring_run(folder, "Bo", "centroids, 4 features", Classifier(4), passes=PASSES * 3)
    _, _, x_acc = scoring_run(folder, XSS_NAME, XSS_LABEL, Classifier(64, ensemble=4))
    assert ada_acc >= FLOOR and x_acc >= FLOOR and bo_acc < FLOOR  # the data make sure of it
    board.submit(faked_measured(ada, "centroids on a metered box"), folder, participant="Mo", accuracy=ada_acc,
                 inferences=PASSES * 2000, accuracy_floor=FLOOR)
    board.set_floor(FLOOR, folder)  # the instructor's floor: the board's, not each file's
    (folder / "broken.json").write_text('{"format": "lepton_lab-submission/1", "participant": "Zed", ')
    edited = json.loads(ada_path.read_text())
    edited["participant"], edited["uj_per_inference"] = "Ada again", edited["uj_per_inference"] / 10
    (folder / "hand-edited.json").write_text(json.dumps(edited))
    return {"folder": folder, "ada": ada, "ada_accuracy": ada_acc, "tmp": tmp_path}


def test_challenge_board_ranks_separates_rejects_and_escapes(challenge):
    folder = challenge["folder"]
    env = {board.BOARD_ENV: str(folder), "LEPTON_LAB_LEDGER": str(challenge["tmp"] / "ledger.sqlite"),
           "LEPTON_LAB_RAPL_ROOT": str(challenge["tmp"] / "no-powercap")}
    port = free_port()  # served as `lepton-lab serve leaderboard` serves it (its template: no CDN)
    argv = serve.voila_argv("leaderboard", port)
    env = serve.serve_env("127.0.0.1", {**env, "JUPYTER_PLATFORM_DIRS": "1"})
    with Server(argv, name="voila-leaderboard", env=env, port=port, cwd=ROOT) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 1450})  # Voila scrolls inside: all in view
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.url("/"))
        try:
            page.wait_for_selector(".ll-board section[data-group='rejected']", timeout=60_000)
        except Exception:
            screenshot(page, "leaderboard-failed")
            pytest.fail(f"the leaderboard did not render; Voila log:\n{server.log_tail()}", pytrace=False)
        sections = {s["group"]: s for s in page.evaluate(SECTIONS)}

        # measured first, then the estimated ones apart, then below the floor, then rejected files
        assert list(sections) == ["measured", "estimated", "below-floor", "rejected"]
        assert [r[1] for r in sections["measured"]["rows"]] == ["Mo"]
        estimated = sections["estimated"]
        assert estimated["title"] == "ESTIMATED — not ranked with measured results"
        assert [r[:3] for r in estimated["rows"]] == [["1", "Ada", "centroids, 64 features"],
                                                      ["2", XSS_NAME, XSS_LABEL]]  # literal text, in order
        assert all(r[5] == "ESTIMATED" for r in estimated["rows"])
        uj = [float(r[3].replace(",", "")) for r in estimated["rows"]]
        assert uj[0] < uj[1]  # the 4-pass ensemble costs more per inference
        assert [r[0] for r in sections["below-floor"]["rows"]] == ["Bo"]  # cheapest, but not accurate enough
        rejected = dict(r[:2] for r in sections["rejected"]["rows"])
        assert set(rejected) == {"broken.json", "hand-edited.json"}
        assert rejected["broken.json"] == "not readable JSON (JSONDecodeError)"
        assert "µJ/inference" in rejected["hand-edited.json"] and "(edited?)" in rejected["hand-edited.json"]

        # injected markup stays text: no <img src=x>, no script in the board, no dialog
        assert page.locator("img[src=x]").count() == 0 and page.locator(".ll-board script").count() == 0
        assert page.get_by_text(XSS_NAME, exact=True).count() == 1
        assert page.get_by_text(XSS_LABEL, exact=True).count() == 1

        # uploads in the page go through the same checks, and rank with the folder's files
        mine = board.submit(challenge["ada"], challenge["tmp"] / "mine", participant="Uploader",
                            accuracy=challenge["ada_accuracy"], inferences=PASSES * 2000 * 2, accuracy_floor=FLOOR)
        with page.expect_file_chooser() as chooser:
            page.locator(".widget-upload").click()
        chooser.value.set_files(files=[
            {"name": "mine.json", "mimeType": "application/json", "buffer": mine.read_bytes()},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"my notes, not a submission"}])
        page.get_by_text("uploaded: notes.txt", exact=True).wait_for(timeout=30_000)
        sections = {s["group"]: s for s in page.evaluate(SECTIONS)}
        assert [r[1] for r in sections["estimated"]["rows"]] == ["Uploader", "Ada", XSS_NAME]
        assert dict(r[:2] for r in sections["rejected"]["rows"])["uploaded: notes.txt"] == \
            "not readable JSON (JSONDecodeError)"

        # a new submission arrives: the poll picks it up, at the top of the measured section
        board.submit(faked_measured(challenge["ada"], "late and lean"), folder, participant="Late",
                     accuracy=challenge["ada_accuracy"], inferences=PASSES * 2000 * 4, accuracy_floor=FLOOR)
        page.wait_for_function("() => { const c = document.querySelector("
                               "\".ll-board section[data-group='measured'] tbody tr td.ll-who\");"
                               " return c && c.textContent === 'Late'; }", timeout=15_000)
        page.wait_for_timeout(500)
        assert dialogs == [], f"a dialog opened: {dialogs}"
        shot = screenshot(page, "leaderboard")
        shutil.copy(shot, "/tmp/leaderboard.png")
        assert "from lepton_lab" not in page.content()  # sources stripped
        page.close()
