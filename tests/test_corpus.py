"""A cell runs exactly as it would without ``%%energy``: checked on notebooks nobody here wrote.

Every code cell of the public notebooks in ``tests/corpus/sources.py`` (IPython's own example
notebooks, nbsphinx's, nbval's and papermill's, from their PyPI sdists) and every cell of
``tests/corpus/cases.py`` (IPython's documented behaviour) runs in a real kernel twice: as
published, and with ``%%energy`` on its first line. Their outputs must match after the
normalisation that ``tests/corpus/compare.py`` documents; the few differences made on purpose are
listed, with their reasons, beside the cells they concern. No hardware is faked: the measured
run uses whatever sensor this machine has (the labelled estimate in CI).
"""
from __future__ import annotations

import pytest

from tests.corpus.cases import cells_and_reasons, measured, plain
from tests.corpus.compare import code_cells, compare_runs
from tests.corpus.fetch import fetch
from tests.corpus.sources import NOTEBOOKS, SDISTS

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="session")
def corpus_root():
    return fetch()  # `make test` has fetched it already; this only checks the hashes


def _environment(tmp_path) -> dict[str, str]:
    return {"LEPTON_LAB_LEDGER": str(tmp_path / "ledger.sqlite"),
            "LEPTON_LAB_RAPL_ROOT": str(tmp_path / "no-powercap")}


def _fail_on(differences, what: str) -> None:
    if differences:
        pytest.fail(f"{len(differences)} cell(s) of {what} behave differently under %%energy:\n\n"
                    + "\n\n".join(str(d) for d in differences), pytrace=False)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda nb: nb.id)
def test_public_notebook_runs_the_same_under_the_magic(notebook, corpus_root, tmp_path):
    source = corpus_root / SDISTS[notebook.sdist].root / notebook.path
    cells = code_cells(source)
    assert cells, f"{source} has no code cells"
    for index, why in notebook.skipped.items():
        cells[index] = f"# not run in either kernel: {why}"
    _, _, differences = compare_runs(cells, source.parent, tmp_path, _environment(tmp_path),
                                     documented=frozenset(notebook.documented))
    _fail_on(differences, notebook.id)


def test_the_corpus_is_big_enough(corpus_root):
    """The issue's floor: at least 60 cells from at least 5 public notebooks."""
    counted = {nb.id: len(code_cells(corpus_root / SDISTS[nb.sdist].root / nb.path)) - len(nb.skipped)
               for nb in NOTEBOOKS}
    assert len(counted) >= 5 and sum(counted.values()) >= 60, counted


@pytest.mark.parametrize("flags", ["", "-q", "--no-plot"])
def test_documented_ipython_behaviour_is_the_same_under_the_magic(flags, tmp_path):
    cells, on_purpose = cells_and_reasons()
    folder = tmp_path / "empty"
    folder.mkdir()
    _, _, differences = compare_runs([plain(c) for c in cells], folder, tmp_path, _environment(tmp_path),
                                     measured_cells=[measured(c, flags) for c in cells],
                                     on_purpose=frozenset(on_purpose))
    _fail_on(differences, f"the documented cases (%%energy {flags})")
